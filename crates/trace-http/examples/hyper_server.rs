//! A hyper 1 server traced by `HttpServerLayer`, calling itself twice, then exiting.
//!
//! ```text
//! cargo run -p trace-http --example hyper_server
//! ```
//!
//! Prints each trace as a tree on the console (no collector needed).

use std::convert::Infallible;
use std::process::ExitCode;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use opentelemetry::trace::SpanKind;
use tokio::net::{TcpListener, TcpStream};
use tower::Layer;
use trace_core::config::ExporterKind;
use trace_core::{Config, ScopedTracer, SpanStart};
use trace_http::server::HttpServerLayer;

static TRACER: ScopedTracer = ScopedTracer::new("hyper-server-example", "0.1.0");

/// The application: it knows its own routes, and tells the layer through `route_with`.
async fn app(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match request.uri().path().strip_prefix("/greet/") {
        Some(name) => {
            // Runs inside the server span: this span becomes its child.
            let span = TRACER.start(SpanKind::Internal, || SpanStart::new("compose greeting"));
            let body = format!("hello, {name}");
            span.end();
            (StatusCode::OK, body)
        }
        None => (StatusCode::NOT_FOUND, "not found".to_owned()),
    };
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .expect("valid response"))
}

fn route(parts: &http::request::Parts) -> Option<String> {
    parts
        .uri
        .path()
        .starts_with("/greet/")
        .then(|| "/greet/{name}".to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hyper_server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let guard = trace_core::init(&Config {
        service_name: Some("hyper-server-example".into()),
        exporters: vec![ExporterKind::Console],
        ..Config::default()
    })?;

    let layer = HttpServerLayer::new().route_with(route);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let service = layer.layer(tower::service_fn(app)).with_peer_addr(peer);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                    .await;
            });
        }
    });

    for path in ["/greet/ada", "/nowhere"] {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let request = Request::get(path)
            .header("host", addr.to_string())
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        println!("GET {path} -> {status} {}", String::from_utf8_lossy(&body));
    }

    guard.shutdown()?;
    Ok(())
}
