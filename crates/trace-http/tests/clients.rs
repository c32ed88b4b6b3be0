//! Traced clients against real servers: a two-service chain, retries, redaction,
//! reqwest-tracing beside us, and the hyper-util client layer.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http::Extensions;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::{SpanKind, Status};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use support::{WAIT, layer, serve_axum};
use tower::{Service, ServiceBuilder, ServiceExt};
use trace_core::testing::SpanCapture;
use trace_http::client::UrlTemplate;
use trace_http::client::reqwest::HttpClientMiddleware;
use trace_http::client::tower::HttpClientLayer;
use tracing::instrument::WithSubscriber;
use tracing_subscriber::layer::SubscriberExt;

fn traced_client() -> ClientWithMiddleware {
    ClientBuilder::new(support::client())
        .with(HttpClientMiddleware::new())
        .build()
}

/// Service B: a leaf that reports the traceparent it received.
async fn backend() -> String {
    serve_axum(
        Router::new()
            .route(
                "/items/{id}",
                get(|headers: http::HeaderMap| async move {
                    headers
                        .get("traceparent")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default()
                }),
            )
            .route("/gone", get(|| async { StatusCode::GONE }))
            .layer(layer()),
    )
    .await
}

#[tokio::test]
async fn a_chain_across_two_services_shares_one_trace() {
    let capture = SpanCapture::install();
    let backend = backend().await;
    // Service A calls B with the traced client from inside its handler.
    let frontend = serve_axum(
        Router::new()
            .route(
                "/orders/{id}",
                get(move || {
                    let backend = backend.clone();
                    async move {
                        traced_client()
                            .get(format!("{backend}/items/7"))
                            .with_extension(UrlTemplate("/items/{id}"))
                            .send()
                            .await
                            .unwrap()
                            .text()
                            .await
                            .unwrap()
                    }
                }),
            )
            .layer(layer()),
    )
    .await;
    let seen_by_b = support::get(format!("{frontend}/orders/1"))
        .await
        .text()
        .await
        .unwrap();
    capture.wait_for_spans(3, WAIT).await;
    assert_eq!(
        capture.outline(),
        "Server GET /orders/{id}\n  Client GET /items/{id}\n    Server GET /items/{id}\n"
    );
    let a = capture.find("GET /orders/{id}");
    let spans = capture.find_all("GET /items/{id}");
    let b = spans.iter().find(|s| s.kind() == SpanKind::Server).unwrap();
    let client = spans.iter().find(|s| s.kind() == SpanKind::Client).unwrap();
    client.assert_child_of(&a);
    b.assert_child_of(client);
    // Sampled: the trace was started by service A.
    assert_eq!(
        seen_by_b,
        format!("00-{}-{}-01", client.trace_id(), client.span_id())
    );
    assert_eq!(client.attr("url.template"), "/items/{id}");
    assert_eq!(client.attr("http.response.status_code"), "200");
    assert_eq!(client.attr("server.address"), "127.0.0.1");
    assert!(!client.is_error());
}

/// Retries each call once when the answer is 5xx or 4xx, like reqwest-retry does: the
/// same extensions travel through both attempts.
struct RetryOnce;

#[async_trait::async_trait]
impl Middleware for RetryOnce {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let retry = request.try_clone().unwrap();
        let first = next.clone().run(request, extensions).await?;
        if first.status().is_success() {
            return Ok(first);
        }
        next.run(retry, extensions).await
    }
}

#[tokio::test]
async fn each_attempt_gets_a_span_with_its_resend_count_and_4xx_is_an_error() {
    let capture = SpanCapture::install();
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let flaky = serve_axum(Router::new().route(
        "/flaky",
        get(move || {
            let attempt = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if attempt == 0 {
                    StatusCode::TOO_MANY_REQUESTS
                } else {
                    StatusCode::OK
                }
            }
        }),
    ))
    .await;
    let client = ClientBuilder::new(support::client())
        .with(RetryOnce)
        .with(HttpClientMiddleware::new())
        .build();
    let status = client
        .get(format!("{flaky}/flaky"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let spans = capture.wait_for_spans(2, WAIT).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    let first = &spans[0];
    let second = &spans[1];
    assert_eq!(first.name(), "GET");
    assert_eq!(first.kind(), SpanKind::Client);
    assert!(first.is_error(), "429 is an error on a client span");
    assert_eq!(first.attr("error.type"), "429");
    assert!(!first.has_attribute("http.request.resend_count"));
    assert_eq!(second.attr("http.request.resend_count"), "1");
    assert!(!second.is_error());
}

#[tokio::test]
async fn url_credentials_and_signatures_never_reach_the_span() {
    let capture = SpanCapture::install();
    let backend = backend().await;
    let url = backend.replace("http://", "http://bob:planted-secret-1@");
    traced_client()
        .get(format!(
            "{url}/gone?X-Goog-Signature=planted-secret-2&access_token=planted-secret-3&q=ok"
        ))
        .send()
        .await
        .unwrap();
    capture.wait_for_spans(2, WAIT).await;
    let spans = capture.spans();
    let client = spans.iter().find(|s| s.kind() == SpanKind::Client).unwrap();
    // reqwest moves URL credentials into an `Authorization` header before the
    // middleware runs; the span sees neither (the redactor's unit tests cover
    // credentials that do reach it).
    let url_full = client.attr("url.full");
    assert_eq!(
        url_full,
        format!("{backend}/gone?X-Goog-Signature=REDACTED&access_token=REDACTED&q=ok")
    );
    assert!(!url_full.contains("bob"));
    assert!(client.is_error());
    assert_eq!(client.attr("error.type"), "410");
    for span in &spans {
        for kv in &span.attributes {
            assert!(!kv.value.as_str().contains("planted-secret"), "{}", kv.key);
        }
    }
}

#[tokio::test]
async fn connection_failures_are_recorded_with_a_short_error_type() {
    let capture = SpanCapture::install();
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let result = traced_client()
        .get(format!(
            "http://127.0.0.1:{port}/?access_token=planted-secret&q=ok"
        ))
        .send()
        .await;
    let error = result.expect_err("nothing listens there");
    // reqwest's message carries the URL as sent; the span's carries it redacted.
    assert!(error.to_string().contains("planted-secret"), "{error}");
    let spans = capture.wait_for_spans(1, WAIT).await;
    assert!(spans[0].is_error());
    assert_eq!(spans[0].attr("error.type"), "connect");
    let Status::Error { description } = &spans[0].status else {
        panic!("{:?}", spans[0].status);
    };
    assert!(
        description.contains("access_token=REDACTED&q=ok"),
        "{description}"
    );
    assert!(!description.contains("planted-secret"), "{description}");
}

#[tokio::test]
async fn beside_reqwest_tracing_the_client_span_nests_under_its_tracing_span() {
    let capture = SpanCapture::install();
    let backend = backend().await;
    let subscriber = tracing_subscriber::registry().with(trace_core_tracing_layer(&capture));
    let client = ClientBuilder::new(support::client())
        .with(reqwest_tracing::TracingMiddleware::default())
        .with(HttpClientMiddleware::new())
        .build();
    let seen = async move {
        client
            .get(format!("{backend}/items/1"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
    .with_subscriber(subscriber)
    .await;
    capture.wait_for_spans(3, WAIT).await;
    let spans = capture.spans();
    let ours = spans
        .iter()
        .find(|s| s.kind() == SpanKind::Client && s.name() == "GET")
        .expect("our client span");
    let theirs = spans
        .iter()
        .find(|s| s.span_id() == ours.parent_span_id())
        .unwrap_or_else(|| {
            panic!(
                "reqwest-tracing's span is the parent:\n{}",
                capture.outline()
            )
        });
    assert_eq!(theirs.instrumentation_scope.name(), "tracing");
    let server = spans.iter().find(|s| s.kind() == SpanKind::Server).unwrap();
    server.assert_child_of(ours);
    // Exactly one traceparent reached the server: ours.
    assert_eq!(
        seen,
        format!("00-{}-{}-01", ours.trace_id(), ours.span_id())
    );
}

/// The tracing-opentelemetry layer on the capture's provider, with context activation,
/// as trace-core's `tracing` feature builds it.
fn trace_core_tracing_layer<S>(
    capture: &SpanCapture,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use opentelemetry::trace::TracerProvider as _;
    tracing_opentelemetry::layer()
        .with_tracer(capture.provider().tracer("tracing"))
        .with_context_activation(true)
}

#[tokio::test]
async fn the_hyper_client_layer_traces_and_injects() {
    let capture = SpanCapture::install();
    let backend = backend().await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut traced = ServiceBuilder::new()
        .layer(HttpClientLayer::new())
        .service(client);
    let request = http::Request::get(format!("{backend}/items/3?sig=planted-secret"))
        .body(Empty::new())
        .unwrap();
    let response = traced.ready().await.unwrap().call(request).await.unwrap();
    let seen = response.into_body().collect().await.unwrap().to_bytes();
    capture.wait_for_spans(2, WAIT).await;
    let client = capture.find("GET");
    let server = capture.find("GET /items/{id}");
    server.assert_child_of(&client);
    // Sampled: the client span started the trace.
    assert_eq!(
        std::str::from_utf8(&seen).unwrap(),
        format!("00-{}-{}-01", client.trace_id(), client.span_id())
    );
    assert!(client.attr("url.full").ends_with("/items/3?sig=REDACTED"));
    assert_eq!(client.attr("http.response.status_code"), "200");
}
