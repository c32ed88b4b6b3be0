//! The server layer on a plain hyper 1 service (no router), with a route hook.

mod support;

use std::convert::Infallible;
use std::fmt;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use support::{WAIT, serve_hyper};
use tower::{Layer, Service, ServiceExt, service_fn};
use trace_core::testing::SpanCapture;
use trace_http::server::HttpServerLayer;

async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let trace_id = Context::current().span().span_context().trace_id();
    let status = if request.uri().path() == "/fail" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(trace_id.to_string())))
        .unwrap())
}

/// A tiny router's own route lookup, handed to the layer as a hook.
fn route_of(parts: &http::request::Parts) -> Option<String> {
    let path = parts.uri.path();
    if path.starts_with("/files/") {
        Some("/files/{name}".to_owned())
    } else {
        None
    }
}

#[tokio::test]
async fn hyper_services_get_spans_named_by_the_route_hook_with_the_peer_address() {
    let capture = SpanCapture::install();
    let layer = HttpServerLayer::new().route_with(route_of);
    let base = serve_hyper(move |peer| layer.layer(service_fn(hello)).with_peer_addr(peer)).await;
    let body = support::get(format!("{base}/files/report.pdf"))
        .await
        .text()
        .await
        .unwrap();
    let failed = support::get(format!("{base}/fail")).await.status();
    assert_eq!(failed, 500);
    capture.wait_for_spans(2, WAIT).await;
    let span = capture.find("GET /files/{name}");
    assert_eq!(span.kind(), SpanKind::Server);
    assert_eq!(body, span.trace_id().to_string(), "handler ran in the span");
    assert_eq!(span.attr("url.path"), "/files/report.pdf");
    assert_eq!(span.attr("network.peer.address"), "127.0.0.1");
    assert_eq!(span.attr("client.address"), "127.0.0.1");
    let fail = capture.find("GET");
    assert!(fail.is_error());
    assert_eq!(fail.attr("error.type"), "500");
}

#[derive(Debug)]
struct HandlerError;

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("database unavailable")
    }
}

#[tokio::test]
async fn a_handler_error_is_recorded_and_returned_unchanged() {
    let capture = SpanCapture::install();
    let mut service = HttpServerLayer::new().layer(service_fn(|_: Request<()>| async {
        Err::<Response<Full<Bytes>>, _>(HandlerError)
    }));
    let request = Request::post("http://example.test/jobs").body(()).unwrap();
    let result = service.ready().await.unwrap().call(request).await;
    assert!(matches!(result, Err(HandlerError)));
    let span = capture.find("POST");
    assert!(span.is_error());
    assert!(span.attr("error.type").ends_with("HandlerError"));
    assert!(format!("{:?}", span.status).contains("database unavailable"));
    assert_eq!(span.attr("server.address"), "example.test");
}
