//! The test service (a front service calling a downstream one over loopback, both
//! behind trace-http) and what the tests read spans with: a span processor that
//! records every `on_start`, and the SDK's in-memory exporter.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use opentelemetry::Context;
use opentelemetry::trace::{Span as _, SpanId, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{InMemorySpanExporter, Span, SpanData, SpanProcessor};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use trace_http::client::reqwest::HttpClientMiddleware;
use trace_http::server::HttpServerLayer;

/// Records the span id of every span a processor's `on_start` sees.
#[derive(Debug, Clone, Default)]
pub struct StartRecorder(Arc<Mutex<Vec<SpanId>>>);

impl StartRecorder {
    pub fn started(&self) -> Vec<SpanId> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SpanProcessor for StartRecorder {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        let id = span.span_context().span_id();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Waits until `exporter` holds at least `count` spans and `done` says the set is
/// complete; panics after 10 s listing what arrived.
pub async fn wait_for_spans(
    exporter: &InMemorySpanExporter,
    count: usize,
    done: impl Fn(&[SpanData]) -> bool,
) -> Vec<SpanData> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = exporter.get_finished_spans().unwrap_or_default();
        if spans.len() >= count && done(&spans) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} spans, got {}:\n{}",
            spans.len(),
            outline(&spans)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One line per span: `{name} {kind:?} {trace id} {span id} <- {parent span id}`.
pub fn outline(spans: &[SpanData]) -> String {
    spans
        .iter()
        .map(|span| {
            format!(
                "{} {:?} {} {} <- {}\n",
                span.name,
                span.span_kind,
                span.span_context.trace_id(),
                span.span_context.span_id(),
                span.parent_span_id
            )
        })
        .collect()
}

/// The span named `name`; panics listing every span when there is not exactly one.
pub fn find<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
    match found.as_slice() {
        [span] => span,
        _ => panic!(
            "expected one span named {name:?}, found {}:\n{}",
            found.len(),
            outline(spans)
        ),
    }
}

/// Asserts that `span` descends from the span `ancestor` through exported spans.
pub fn assert_descends_from(spans: &[SpanData], span: &SpanData, ancestor: SpanId) {
    let by_id: HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    let mut current = span;
    loop {
        if current.parent_span_id == ancestor {
            return;
        }
        match by_id.get(&current.parent_span_id) {
            Some(parent) => current = parent,
            None => panic!(
                "{:?} does not descend from {ancestor} through exported spans:\n{}",
                span.name,
                outline(spans)
            ),
        }
    }
}

/// Traces whose spans do not all hang together: a span whose parent is neither
/// exported nor a remote caller. Returns (traces, fragments).
pub fn fragments(spans: &[SpanData]) -> (usize, usize) {
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
    let traces: HashSet<TraceId> = spans.iter().map(|s| s.span_context.trace_id()).collect();
    let broken = spans
        .iter()
        .filter(|s| {
            s.parent_span_id != SpanId::INVALID
                && !s.parent_span_is_remote
                && !ids.contains(&s.parent_span_id)
        })
        .count();
    let orphaned_remote = spans
        .iter()
        .filter(|s| s.parent_span_is_remote && !ids.contains(&s.parent_span_id))
        .count();
    (traces.len(), broken + orphaned_remote)
}

/// What the downstream service saw: the `traceparent` of each request, in order.
#[derive(Debug, Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<Option<String>>>>);

impl Seen {
    pub fn traceparents(&self) -> Vec<Option<String>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A front service (`GET /orders/{id}`, which calls the downstream) and a downstream
/// service (`GET /stock/{id}`), both behind trace-http's server layer, on loopback.
pub struct Services {
    pub front: SocketAddr,
    pub client: ClientWithMiddleware,
    pub seen: Seen,
}

/// Work the front service does inside its request span, before its downstream call.
pub type Work = Arc<dyn Fn(u32) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Front {
    client: ClientWithMiddleware,
    downstream: SocketAddr,
    work: Option<Work>,
}

impl Services {
    /// Starts both services; the front service runs `work` in each request first.
    pub async fn start(work: Option<Work>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let seen = Seen::default();
        let recorded = seen.clone();
        let downstream = serve(
            Router::new()
                .route(
                    "/stock/{id}",
                    get(move |headers: HeaderMap| {
                        let recorded = recorded.clone();
                        async move {
                            let traceparent = headers
                                .get("traceparent")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            recorded
                                .0
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(traceparent);
                            "12"
                        }
                    }),
                )
                .layer(HttpServerLayer::new()),
        )
        .await;
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(HttpClientMiddleware::new())
            .build();
        let front = serve(
            Router::new()
                .route("/orders/{id}", get(order))
                .layer(HttpServerLayer::new())
                .with_state(Front {
                    client: client.clone(),
                    downstream,
                    work,
                }),
        )
        .await;
        Self {
            front,
            client,
            seen,
        }
    }

    /// `GET /orders/{id}` on the front service, with `traceparent` if given.
    pub async fn order(&self, id: u32, traceparent: Option<&str>) -> String {
        let mut request = reqwest::Client::new().get(format!("http://{}/orders/{id}", self.front));
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        let response = request.send().await.expect("the front service answers");
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.expect("a body")
    }
}

async fn order(State(front): State<Front>, Path(id): Path<u32>) -> String {
    if let Some(work) = &front.work {
        work(id).await;
    }
    front
        .client
        .get(format!("http://{}/stock/{id}", front.downstream))
        .send()
        .await
        .expect("the downstream service answers")
        .text()
        .await
        .expect("a body")
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("a local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

pub mod siblings;
