//! A request through every sibling crate, in a service whose provider was set up
//! without `trace_core::init`: HTTP server and client (trace-http), a SQLite query
//! (trace-db), a command on the real redis-server (trace-redis), a publish and its
//! consumption (trace-pubsub) and a pipeline run (trace-pipeline).

use std::convert::Infallible;
use std::sync::Arc;

use fred::prelude::{Builder, ClientLike as _, Config, KeysInterface as _};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use sea_orm::{ConnectOptions, ConnectionTrait as _, DbBackend, Statement};
use tower::{ServiceExt as _, service_fn};
use tower_layer::Layer as _;
use trace_db::{TraceOptions, TracedConnection};
use trace_pipeline::{Event, Outcome, PipelineRun};
use trace_pubsub::{
    ConsumeLayer, Delivery, InProcessBus, Message, Publisher as _, TracedPublisher,
};
use tracing_subscriber::layer::SubscriberExt as _;

use super::{Services, StartRecorder, Work, assert_descends_from, outline, wait_for_spans};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The names of the spans one request makes, with their kinds.
const EXPECTED: [(&str, SpanKind); 9] = [
    ("GET /orders/{id}", SpanKind::Server),
    ("SELECT", SpanKind::Client),
    ("GET", SpanKind::Client),
    ("send orders", SpanKind::Producer),
    ("process orders", SpanKind::Consumer),
    ("pipeline.fulfil.execute", SpanKind::Internal),
    ("pipeline.fulfil.step.reserve", SpanKind::Internal),
    ("GET /stock/{id}", SpanKind::Server),
    // The HTTP client span is also named `GET`: told apart from Redis's by its kind's
    // attributes below.
    ("GET", SpanKind::Client),
];

/// The URL of the redis-server `cargo xtask test` started; `None` (skip) outside CI
/// when it is missing, a panic under `CI=true`.
pub fn redis_url() -> Option<String> {
    match std::env::var("TRACE_RS_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !std::env::var("CI").is_ok_and(|ci| ci == "true"),
                "TRACE_RS_REDIS_URL is not set; run the tests through `cargo xtask test`"
            );
            eprintln!("skipping: TRACE_RS_REDIS_URL is not set (run through `cargo xtask test`)");
            None
        }
    }
}

/// Sends one request with a sampled caller's `traceparent` through every sibling and
/// checks that each span reached `exporter`, had its `on_start` seen by `starts`, and
/// nests under the caller.
pub async fn every_sibling_records_into(
    exporter: &InMemorySpanExporter,
    starts: &StartRecorder,
    redis_url: &str,
) {
    // trace-redis turns fred's own `tracing` spans into OpenTelemetry spans.
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(trace_redis::RedisSubscriberLayer::new()),
    )
    .expect("no other global subscriber in this test process");
    let mut options = ConnectOptions::new("sqlite::memory:");
    options.max_connections(1).sqlx_logging(false);
    let db = TracedConnection::connect(options, TraceOptions::new())
        .await
        .expect("SQLite opens");
    let mut config = Config::from_url(redis_url).expect("a valid redis URL");
    trace_redis::enable_command_spans(&mut config);
    let redis = Builder::from_config(config).build().expect("a fred client");
    trace_redis::register(&redis);
    redis.init().await.expect("redis-server answers");
    let bus = InProcessBus::new();
    let mut subscription = bus.subscribe("orders");
    let publisher = Arc::new(TracedPublisher::new(bus.clone()));

    let work: Work = Arc::new(move |id| {
        let (db, redis, publisher) = (db.clone(), redis.clone(), Arc::clone(&publisher));
        Box::pin(async move {
            let statement =
                Statement::from_sql_and_values(DbBackend::Sqlite, "SELECT ?", [id.into()]);
            db.query_one_raw(statement).await.expect("the query runs");
            let _: Option<String> = redis.get("any-provider:stock").await.expect("GET runs");
            publisher
                .publish("orders", Message::new(format!("order {id}")))
                .await
                .expect("published");
            let run = PipelineRun::start("fulfil", Event::new("evt-1", "order:placed"));
            let step = run.step("reserve", "stock", "reserve");
            step.run(async { Ok::<_, std::io::Error>(()) })
                .await
                .expect("the step runs");
            run.finish(Outcome::Success);
        })
    });
    let services = Services::start(Some(work)).await;
    let consumer = tokio::spawn(async move {
        let delivery = subscription.next().await.expect("a delivery");
        ConsumeLayer::new()
            .layer(service_fn(|_: Delivery| async {
                Ok::<_, Infallible>(trace_pubsub::Settlement::Ack)
            }))
            .oneshot(delivery)
            .await
            .expect("consumed");
    });

    let caller = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    assert_eq!(services.order(7, Some(&caller)).await, "12");
    consumer.await.expect("the consumer finishes");

    let spans = wait_for_spans(exporter, EXPECTED.len(), |spans| {
        EXPECTED
            .iter()
            .all(|(name, _)| spans.iter().any(|s| s.name == *name))
    })
    .await;
    assert_eq!(spans.len(), EXPECTED.len(), "{}", outline(&spans));
    let caller_trace = TraceId::from_hex(CALLER_TRACE).unwrap();
    let caller_span = SpanId::from_hex(CALLER_SPAN).unwrap();
    let started = starts.started();
    for (name, kind) in EXPECTED {
        let span = spans
            .iter()
            .find(|s| s.name == name && s.span_kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} span {name:?}:\n{}", outline(&spans)));
        assert_eq!(span.span_context.trace_id(), caller_trace, "{name}");
        assert_descends_from(&spans, span, caller_span);
    }
    for span in &spans {
        assert!(
            started.contains(&span.span_context.span_id()),
            "on_start never saw {:?}",
            span.name
        );
    }
    assert_eq!(started.len(), spans.len(), "one on_start per span");
    assert_one_of_each_sibling(&spans);
}

/// Each sibling's spans carry their scope, so none came from elsewhere.
fn assert_one_of_each_sibling(spans: &[SpanData]) {
    let mut scopes: Vec<&str> = spans
        .iter()
        .map(|s| s.instrumentation_scope.name())
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    for sibling in [
        "trace-http",
        "trace-db",
        "trace-redis",
        "trace-pubsub",
        "trace-pipeline",
    ] {
        assert!(
            scopes.contains(&sibling),
            "no span of {sibling}: {scopes:?}"
        );
    }
}
