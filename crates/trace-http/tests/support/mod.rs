//! Real servers on loopback for the tests.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Service;
use trace_http::server::HttpServerLayer;

pub const WAIT: Duration = Duration::from_secs(5);

/// Serves `router` on 127.0.0.1:0 (with `ConnectInfo`) and returns its base URL.
pub async fn serve_axum(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

/// Serves a hyper service built per connection by `make` (given the peer address)
/// on 127.0.0.1:0 and returns its base URL.
pub async fn serve_hyper<M, S, B>(make: M) -> String
where
    M: Fn(SocketAddr) -> S + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(make(peer));
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// A reqwest client; installs the rustls provider that trace-core's reqwest features
/// leave to the application.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// GETs `url` with a fresh client.
pub async fn get(url: String) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

/// The default layer, as most services would use it.
pub fn layer() -> HttpServerLayer {
    HttpServerLayer::new()
}

/// Runs `future` and gives the exporter a moment after the response completed.
pub async fn settle<F: Future>(future: F) -> F::Output {
    let output = future.await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    output
}
