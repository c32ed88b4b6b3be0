//! The server layer on a real axum router, called with real reqwest requests.

mod support;

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use futures_util::stream;
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use support::{WAIT, layer, serve_axum};
use tower_http::catch_panic::CatchPanicLayer;
use trace_core::config::SamplerKind;
use trace_core::testing::SpanCapture;
use trace_core::{Sampling, ScopedTracer, SpanStart};
use trace_http::axum::ServerSpan;
use trace_http::server::{HttpServerLayer, TraceIdHeader};

static HANDLER: ScopedTracer = ScopedTracer::new("handler", "0.0.0");

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn user(Path(id): Path<u32>) -> String {
    // Work inside the handler nests under the server span through Context::current().
    HANDLER
        .start(SpanKind::Internal, || SpanStart::new("load user"))
        .end();
    format!("user {id}")
}

fn app(layer: HttpServerLayer) -> Router {
    Router::new()
        .route("/users/{id}", get(user))
        .route("/healthz", get(current_trace_id))
        .route("/trace-id", get(extracted_trace_id))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/broken", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/echo", post(|body: String| async move { body }))
        .layer(layer)
}

async fn panicking() -> &'static str {
    panic!("boom in handler")
}

async fn current_trace_id() -> String {
    let cx = Context::current();
    cx.span().span_context().trace_id().to_string()
}

async fn extracted_trace_id(span: ServerSpan) -> String {
    let current = Context::current().span().span_context().span_id();
    assert_eq!(span.span_context().span_id(), current);
    span.trace_id().map(|id| id.to_string()).unwrap_or_default()
}

#[tokio::test]
async fn spans_are_named_after_the_route_template_with_stable_attributes() {
    let capture = SpanCapture::install();
    let base = serve_axum(app(layer())).await;
    let response = support::client()
        .get(format!("{base}/users/42?page=2&token=hunter2"))
        .header("user-agent", "trace-http-test")
        .header("traceparent", PARENT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "user 42");
    capture.wait_for_spans(2, WAIT).await;

    let server = capture.find("GET /users/{id}");
    assert_eq!(server.kind(), SpanKind::Server);
    assert_eq!(server.attr("http.route"), "/users/{id}");
    assert_eq!(server.attr("http.request.method"), "GET");
    assert_eq!(server.attr("url.path"), "/users/42");
    assert_eq!(server.attr("url.scheme"), "http");
    assert_eq!(server.attr("url.query"), "page=2&token=REDACTED");
    assert_eq!(server.attr("server.address"), "127.0.0.1");
    assert!(server.has_attribute("server.port"));
    assert_eq!(server.attr("client.address"), "127.0.0.1");
    assert_eq!(server.attr("user_agent.original"), "trace-http-test");
    assert_eq!(server.attr("http.response.status_code"), "200");
    assert_eq!(server.attr("network.protocol.version"), "1.1");
    assert!(!server.is_error());
    // Parent from the incoming traceparent.
    assert_eq!(
        server.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(server.parent_span_id().to_string(), "00f067aa0ba902b7");
    capture.find("load user").assert_child_of(&server);
}

#[tokio::test]
async fn unknown_routes_and_methods_never_use_the_raw_path() {
    let capture = SpanCapture::install();
    let base = serve_axum(app(layer())).await;
    let client = support::client();
    let status = client
        .get(format!("{base}/no/such/page/123"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    let method = reqwest::Method::from_bytes(b"PURGE").unwrap();
    client
        .request(method, format!("{base}/users/7"))
        .send()
        .await
        .unwrap();
    let spans = capture.wait_for_spans(2, WAIT).await;
    let names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    assert!(names.contains(&"GET"), "{names:?}");
    assert!(names.contains(&"HTTP /users/{id}"), "{names:?}");
    let other = capture.find("HTTP /users/{id}");
    assert_eq!(other.attr("http.request.method"), "_OTHER");
    assert_eq!(other.attr("http.request.method_original"), "PURGE");
    let not_found = capture.find("GET");
    assert!(!not_found.has_attribute("http.route"));
    assert!(!not_found.is_error(), "404 is not a server error");
}

#[tokio::test]
async fn skipped_paths_get_no_span_but_keep_the_incoming_context() {
    let capture = SpanCapture::install();
    let base = serve_axum(app(layer())).await;
    let body = support::client()
        .get(format!("{base}/healthz"))
        .header("traceparent", PARENT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "4bf92f3577b34da6a3ce929d0e0e4736");
    // A traced request afterwards proves the server was running and exporting.
    support::get(format!("{base}/users/1")).await;
    capture.wait_for_spans(2, WAIT).await;
    assert_eq!(
        capture.outline(),
        "Server GET /users/{id}\n  Internal load user\n"
    );
}

#[tokio::test]
async fn skip_predicates_and_custom_paths_replace_the_defaults() {
    let capture = SpanCapture::install();
    let layer = HttpServerLayer::new()
        .skip_paths(["/users/1"])
        .skip_if(|parts| parts.headers.contains_key("x-synthetic"));
    let base = serve_axum(app(layer)).await;
    let client = support::client();
    client.get(format!("{base}/users/1")).send().await.unwrap();
    client
        .get(format!("{base}/users/2"))
        .header("x-synthetic", "1")
        .send()
        .await
        .unwrap();
    client.get(format!("{base}/healthz")).send().await.unwrap();
    capture.wait_for_spans(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let servers: Vec<String> = capture
        .spans()
        .iter()
        .filter(|span| span.kind() == SpanKind::Server)
        .map(|span| span.name().to_owned())
        .collect();
    assert_eq!(servers, ["GET /healthz"]);
}

#[tokio::test]
async fn server_errors_are_errors_and_client_errors_are_not() {
    let capture = SpanCapture::install();
    let base = serve_axum(app(layer())).await;
    support::get(format!("{base}/missing")).await;
    support::get(format!("{base}/broken")).await;
    capture.wait_for_spans(2, WAIT).await;
    let missing = capture.find("GET /missing");
    assert_eq!(missing.attr("http.response.status_code"), "404");
    assert!(!missing.is_error());
    assert!(!missing.has_attribute("error.type"));
    let broken = capture.find("GET /broken");
    assert_eq!(broken.attr("http.response.status_code"), "503");
    assert!(broken.is_error());
    assert_eq!(broken.attr("error.type"), "503");
}

#[tokio::test]
async fn the_span_ends_when_the_streamed_body_is_finished() {
    let capture = SpanCapture::install();
    let streaming = get(|| async {
        let chunks = stream::unfold(0u8, |sent| async move {
            if sent == 3 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((Ok::<_, std::io::Error>(format!("chunk{sent}")), sent + 1))
        });
        Body::from_stream(chunks)
    });
    let router = Router::new().route("/stream", streaming).layer(layer());
    let base = serve_axum(router).await;
    let response = support::get(format!("{base}/stream")).await;
    let headers_at = SystemTime::now();
    assert_eq!(response.text().await.unwrap(), "chunk0chunk1chunk2");
    let body_done_at = SystemTime::now();
    capture.wait_for_spans(1, WAIT).await;
    let span = capture.find("GET /stream");
    assert!(
        span.end_time >= headers_at + Duration::from_millis(150),
        "the span ended with the headers, not with the body"
    );
    assert!(span.end_time <= body_done_at + Duration::from_millis(50));
}

#[tokio::test]
async fn a_panic_inside_catch_panic_is_recorded_on_the_span() {
    let capture = SpanCapture::install();
    let router = Router::new()
        .route("/panic", get(panicking))
        .layer(layer())
        .layer(CatchPanicLayer::new());
    let base = serve_axum(router).await;
    let response = support::get(format!("{base}/panic")).await;
    assert_eq!(response.status(), 500);
    capture.wait_for_spans(1, WAIT).await;
    let span = capture.find("GET /panic");
    assert!(span.is_error());
    assert_eq!(span.attr("error.type"), "panic");
    assert!(format!("{:?}", span.status).contains("boom in handler"));
}

#[tokio::test]
async fn a_panic_turned_into_a_500_outside_records_the_status() {
    let capture = SpanCapture::install();
    let router = Router::new()
        .route("/panic", get(panicking))
        .layer(CatchPanicLayer::new())
        .layer(layer());
    let base = serve_axum(router).await;
    let response = support::get(format!("{base}/panic")).await;
    assert_eq!(response.status(), 500);
    capture.wait_for_spans(1, WAIT).await;
    let span = capture.find("GET /panic");
    assert!(span.is_error());
    assert_eq!(span.attr("http.response.status_code"), "500");
    assert_eq!(span.attr("error.type"), "500");
}

#[tokio::test]
async fn public_endpoints_start_a_new_trace_linked_to_the_caller() {
    let capture = SpanCapture::install();
    let base = serve_axum(app(layer().public_endpoint(true))).await;
    support::client()
        .get(format!("{base}/users/5"))
        .header("traceparent", PARENT)
        .header("baggage", "tenant=evil")
        .send()
        .await
        .unwrap();
    capture.wait_for_spans(2, WAIT).await;
    let server = capture.find("GET /users/{id}");
    assert_ne!(
        server.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(server.parent_span_id().to_string(), "0000000000000000");
    assert_eq!(server.links.links.len(), 1);
    let link = &server.links.links[0].span_context;
    assert_eq!(
        link.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(link.span_id().to_string(), "00f067aa0ba902b7");
}

#[tokio::test]
async fn the_trace_id_is_returned_and_the_extractor_sees_the_span() {
    let capture = SpanCapture::install();
    let base = serve_axum(app(
        layer().trace_id_header(TraceIdHeader::TraceId("x-trace-id".parse().unwrap()))
    ))
    .await;
    let response = support::client()
        .get(format!("{base}/trace-id"))
        .header("traceparent", PARENT)
        .send()
        .await
        .unwrap();
    let header = response.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(header, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(response.text().await.unwrap(), header);

    let base = serve_axum(app(layer().trace_id_header(TraceIdHeader::TraceResponse))).await;
    let response = support::get(format!("{base}/users/3")).await;
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_owned();
    capture.wait_for_spans(3, WAIT).await;
    let server = capture.find("GET /users/{id}");
    // A trace started here, and sampled.
    assert_eq!(
        traceresponse,
        format!("00-{}-{}-01", server.trace_id(), server.span_id())
    );
}

#[tokio::test]
async fn captured_headers_are_recorded_and_secrets_never_are() {
    let capture = SpanCapture::install();
    let layer = layer()
        .capture_request_headers(["x-request-id", "Authorization", "cookie", "x-multi"])
        .capture_response_headers(["content-type", "set-cookie"]);
    let router = Router::new()
        .route(
            "/login",
            post(|| async { ([("set-cookie", "session=planted-secret-4")], "ok") }),
        )
        .layer(layer);
    let base = serve_axum(router).await;
    let url = base.replace("http://", "http://alice:planted-secret-1@");
    support::client()
        .post(format!(
            "{url}/login?sig=planted-secret-2&password=planted-secret-5&user=alice"
        ))
        .header("authorization", "Bearer planted-secret-3")
        .header("cookie", "session=planted-secret-6")
        .header("proxy-authorization", "Basic planted-secret-7")
        .header("x-request-id", "req-1")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .send()
        .await
        .unwrap();
    capture.wait_for_spans(1, WAIT).await;
    let span = capture.find("POST /login");
    assert_eq!(span.attr("http.request.header.x-request-id"), "[\"req-1\"]");
    assert_eq!(span.attr("http.request.header.x-multi"), "[\"a\",\"b\"]");
    assert_eq!(
        span.attr("http.response.header.content-type"),
        "[\"text/plain; charset=utf-8\"]"
    );
    assert_eq!(
        span.attr("url.query"),
        "sig=REDACTED&password=REDACTED&user=alice"
    );
    for kv in &span.attributes {
        let text = kv.value.as_str();
        assert!(
            !text.contains("planted-secret") && !kv.key.as_str().contains("authorization"),
            "secret in {}={text}",
            kv.key
        );
    }
}

#[tokio::test]
async fn hostile_propagation_headers_never_panic_and_start_new_traces() {
    let capture = SpanCapture::install();
    let base = serve_axum(app(layer())).await;
    let client = support::client();
    let long = "a".repeat(64 * 1024);
    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".into(),
        )],
        vec![(
            "traceparent",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        )],
        vec![(
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".into(),
        )],
        vec![("traceparent", format!("{PARENT}-{long}"))],
        vec![
            ("traceparent", PARENT.into()),
            ("traceparent", PARENT.into()),
        ],
        vec![("traceparent", "00-xyz-!!-zz".into())],
        vec![
            ("tracestate", format!("k={long}")),
            ("baggage", format!("k={long}")),
        ],
        vec![
            ("baggage", "=;;,,=%%%".into()),
            ("tracestate", ",,,=,".into()),
        ],
    ];
    for headers in &cases {
        let mut request = client.get(format!("{base}/users/9"));
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{headers:?}");
    }
    let spans = capture.wait_for_spans(cases.len() * 2, WAIT).await;
    for span in spans.iter().filter(|s| s.kind() == SpanKind::Server) {
        assert_eq!(span.parent_span_id().to_string(), "0000000000000000");
        assert_ne!(
            span.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(
            span.attributes
                .iter()
                .all(|kv| !kv.value.as_str().contains(&long))
        );
    }
}

#[tokio::test]
async fn unsampled_requests_record_nothing_and_propagate_their_own_span_context() {
    let capture =
        SpanCapture::install_with(Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.0));
    let base = serve_axum(app(layer().trace_id_header(TraceIdHeader::TraceResponse))).await;
    let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let response = support::client()
        .get(format!("{base}/trace-id?x=1"))
        .header("traceparent", unsampled)
        .send()
        .await
        .unwrap();
    // The span does not record but has a span context of its own: the caller's trace
    // id, a new span id, the sampled flag clear.
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        traceresponse.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
            && traceresponse.ends_with("-00")
            && !traceresponse.contains("00f067aa0ba902b7"),
        "{traceresponse}"
    );
    assert_eq!(
        response.text().await.unwrap(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    // A root the sampler drops still gets a trace id, for the header and the logs.
    let response = support::get(format!("{base}/users/1")).await;
    assert_eq!(response.status(), 200);
    let traceresponse = response.headers()["traceresponse"].to_str().unwrap();
    assert!(
        traceresponse.len() == 55 && traceresponse.ends_with("-00"),
        "{traceresponse}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(capture.spans().is_empty(), "{}", capture.outline());
}

#[tokio::test]
async fn a_client_leaving_mid_stream_ends_the_span_without_an_error() {
    let capture = SpanCapture::install();
    let endless = get(|| async {
        let chunks = stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok::<_, std::io::Error>("tick"), ()))
        });
        Body::from_stream(chunks)
    });
    let base = serve_axum(Router::new().route("/endless", endless).layer(layer())).await;
    let mut response = support::get(format!("{base}/endless")).await;
    assert_eq!(
        response.chunk().await.unwrap().as_deref(),
        Some(&b"tick"[..])
    );
    drop(response);
    capture.wait_for_spans(1, WAIT).await;
    let span = capture.find("GET /endless");
    assert_eq!(span.attr("http.response.status_code"), "200");
    assert!(!span.is_error(), "caller cancellation is not an error");
}
