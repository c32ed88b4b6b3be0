//! Redis Streams against a real redis-server (`TRACE_RS_REDIS_URL`, provisioned by
//! `cargo xtask test`): one trace across publish and consume, in this process and in a
//! separate consumer process, redelivery after a handler error, batch links, hostile
//! stream fields, and a polling consumer that neither slows the application's commands
//! down nor starts spans.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::prelude::{Builder, ClientLike, Config as RedisConfig, KeysInterface, StreamsInterface};
use fred::types::{CustomCommand, Key, Value};
use opentelemetry::Context;
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use tower::service_fn;
use tower_layer::Layer;
use trace_core::testing::SpanCapture;
use trace_core::{ScopedTracer, SpanStart};
use trace_pubsub::redis_streams::{Handled, RedisStreamConsumer, RedisStreamPublisher};
use trace_pubsub::{
    Batch, ConsumeBatchLayer, ConsumeLayer, Delivery, Message, Publisher, Settlement,
    TracedPublisher,
};
use tracing_subscriber::layer::SubscriberExt;

static TRACER: ScopedTracer = ScopedTracer::new("pubsub-redis-test", "0.0.0");

#[derive(Debug)]
struct HandlerFailed;

impl std::fmt::Display for HandlerFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("handler failed")
    }
}

impl std::error::Error for HandlerFailed {}

/// The Redis URL, or `None` (skip) outside CI when it is not provided.
fn redis_url() -> Option<String> {
    match std::env::var("TRACE_RS_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("TRACE_RS_REDIS_URL is not set; run `cargo xtask test -p trace-pubsub`")
        }
        Err(_) => {
            eprintln!(
                "skipped: TRACE_RS_REDIS_URL is not set (run `cargo xtask test -p trace-pubsub`)"
            );
            None
        }
    }
}

async fn connect(url: &str) -> fred::clients::Client {
    let client = Builder::from_config(RedisConfig::from_url(url).unwrap())
        .build()
        .unwrap();
    client.init().await.expect("Redis is reachable");
    client
}

/// A stream key of its own for each test.
fn stream_name(test: &str) -> String {
    format!("trace-pubsub-test:{}:{test}", std::process::id())
}

async fn publish_in_request(
    publisher: &TracedPublisher<RedisStreamPublisher>,
    stream: &str,
    request_name: &str,
    payload: &'static str,
) -> String {
    let request = TRACER.start(SpanKind::Server, || SpanStart::new(request_name.to_owned()));
    let id = trace_core::in_context(
        request.context().clone(),
        publisher.publish(stream, Message::new(payload)),
    )
    .await
    .unwrap();
    request.end();
    id
}

fn ack_handler() -> impl tower_service::Service<
    Delivery,
    Response = Settlement,
    Error = HandlerFailed,
    Future = impl Send,
> {
    service_fn(|_: Delivery| async {
        TRACER
            .start(SpanKind::Internal, || SpanStart::new("handle"))
            .end();
        Ok::<_, HandlerFailed>(Settlement::Ack)
    })
}

#[tokio::test]
async fn publish_and_consume_in_a_group_continue_one_trace() {
    let Some(url) = redis_url() else { return };
    let capture = SpanCapture::install();
    let client = connect(&url).await;
    let stream = stream_name("one-trace");
    let mut consumer = RedisStreamConsumer::new(&client, &stream, "workers", "c1")
        .block(Duration::from_millis(100));
    consumer.create_group().await.unwrap();
    consumer
        .create_group()
        .await
        .expect("creating it twice is fine");
    let publisher = TracedPublisher::new(RedisStreamPublisher::new(client.clone()));

    let id = publish_in_request(&publisher, &stream, "POST /events", "hello").await;
    let mut handler = ConsumeLayer::new().layer(ack_handler());
    let handled = consumer.handle_next(&mut handler).await.unwrap();
    assert_eq!(
        handled,
        Handled {
            acked: 1,
            pending: 0
        }
    );

    capture.wait_for_spans(4, Duration::from_secs(5)).await;
    let stream_name = stream.as_str();
    assert_eq!(
        capture.outline(),
        format!(
            "Server POST /events\n  Producer send {stream_name}\n    Consumer process {stream_name}\n      Internal handle\n"
        )
    );
    let send = capture.find(&format!("send {stream}"));
    let process = capture.find(&format!("process {stream}"));
    process.assert_child_of(&send);
    assert_eq!(process.links.len(), 1);
    assert_eq!(process.links[0].span_context.span_id(), send.span_id());
    for span in [&send, &process] {
        assert_eq!(span.attr("messaging.system"), "redis_streams");
        assert_eq!(span.attr("messaging.destination.name"), stream);
        assert_eq!(span.attr("messaging.message.id"), id, "the entry id");
    }
    assert_eq!(process.attr("messaging.consumer.group.name"), "workers");
    assert_eq!(process.attr("trace_rs.messaging.outcome"), "ack");

    // Acked: nothing is pending any more.
    let pending: Value = client.xpending(&stream, "workers", ()).await.unwrap();
    assert_eq!(
        pending.into_array().first().and_then(Value::as_i64),
        Some(0)
    );
    let _: i64 = client.del(&stream).await.unwrap();
}

#[tokio::test]
async fn a_handler_error_is_recorded_and_the_entry_redelivered() {
    let Some(url) = redis_url() else { return };
    let capture = SpanCapture::install();
    let client = connect(&url).await;
    let stream = stream_name("redelivery");
    let mut consumer = RedisStreamConsumer::new(&client, &stream, "workers", "c1")
        .block(Duration::from_millis(100));
    consumer.create_group().await.unwrap();
    let publisher = TracedPublisher::new(RedisStreamPublisher::new(client.clone()));
    let id = publish_in_request(&publisher, &stream, "request", "job").await;

    let mut seen = Vec::new();
    let mut handler = ConsumeLayer::new().layer(service_fn(|delivery: Delivery| {
        seen.push(delivery.message().id().unwrap().to_owned());
        let first = seen.len() == 1;
        async move {
            if first {
                Err(HandlerFailed)
            } else {
                Ok(Settlement::Ack)
            }
        }
    }));
    assert_eq!(
        consumer.handle_next(&mut handler).await.unwrap(),
        Handled {
            acked: 0,
            pending: 1
        }
    );
    assert_eq!(
        consumer.handle_next(&mut handler).await.unwrap(),
        Handled {
            acked: 1,
            pending: 0
        }
    );
    assert_eq!(
        consumer.handle_next(&mut handler).await.unwrap(),
        Handled::default()
    );
    assert_eq!(seen, [id.clone(), id], "the same entry, delivered twice");

    capture.wait_for_spans(4, Duration::from_secs(5)).await;
    let send = capture.find(&format!("send {stream}"));
    let attempts = capture.find_all(&format!("process {stream}"));
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        attempt.assert_child_of(&send);
    }
    assert!(attempts[0].is_error());
    assert_eq!(
        attempts[0].attr("error.type"),
        "redis_streams::HandlerFailed"
    );
    assert_eq!(attempts[0].attr("trace_rs.messaging.outcome"), "error");
    assert!(!attempts[1].is_error());
    let _: i64 = client.del(&stream).await.unwrap();
}

#[tokio::test]
async fn a_batch_read_links_every_entry() {
    let Some(url) = redis_url() else { return };
    let capture = SpanCapture::install();
    let client = connect(&url).await;
    let stream = stream_name("batch");
    let mut consumer = RedisStreamConsumer::new(&client, &stream, "workers", "c1")
        .batch_size(10)
        .block(Duration::from_millis(100));
    consumer.create_group().await.unwrap();
    let publisher = TracedPublisher::new(RedisStreamPublisher::new(client.clone()));
    for i in 0..3 {
        publish_in_request(&publisher, &stream, &format!("request {i}"), "item").await;
    }

    let mut handler = ConsumeBatchLayer::new().layer(service_fn(|batch: Batch| async move {
        assert_eq!(batch.messages().len(), 3);
        Ok::<_, HandlerFailed>(Settlement::Ack)
    }));
    let handled = consumer.handle_next_batch(&mut handler).await.unwrap();
    assert_eq!(
        handled,
        Handled {
            acked: 3,
            pending: 0
        }
    );

    capture.wait_for_spans(7, Duration::from_secs(5)).await;
    let process = capture.find(&format!("process {stream}"));
    assert_eq!(process.kind(), SpanKind::Consumer);
    assert_eq!(process.attr("messaging.batch.message_count"), "3");
    assert_eq!(process.attr("messaging.consumer.group.name"), "workers");
    let sends = capture.find_all(&format!("send {stream}"));
    let linked: HashSet<SpanId> = process
        .links
        .iter()
        .map(|l| l.span_context.span_id())
        .collect();
    let expected: HashSet<SpanId> = sends.iter().map(|s| s.span_id()).collect();
    assert_eq!(sends.len(), 3);
    assert_eq!(process.links.len(), 3);
    assert_eq!(linked, expected);
    let _: i64 = client.del(&stream).await.unwrap();
}

/// The `redis_consumer` example, built by `cargo test` / `cargo nextest` beside the
/// test binaries (`target/<profile>/examples`), or built here when missing.
fn consumer_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile_dir
        .join("examples")
        .join(format!("redis_consumer{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-p",
                "trace-pubsub",
                "--features",
                "redis-streams",
                "--example",
                "redis_consumer",
            ])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "building the redis_consumer example failed"
        );
    }
    assert!(binary.is_file(), "{} does not exist", binary.display());
    binary
}

#[tokio::test]
async fn a_consumer_in_another_process_continues_the_trace() {
    let Some(url) = redis_url() else { return };
    let binary = consumer_binary();
    let capture = SpanCapture::install();
    let client = connect(&url).await;
    let stream = stream_name("cross-process");
    RedisStreamConsumer::new(&client, &stream, "workers", "setup")
        .create_group()
        .await
        .unwrap();
    let publisher = TracedPublisher::new(RedisStreamPublisher::new(client.clone()));
    publish_in_request(&publisher, &stream, "POST /webhook", "event").await;
    capture.wait_for_spans(2, Duration::from_secs(5)).await;
    let send = capture.find(&format!("send {stream}"));

    let dir = tempfile::tempdir().unwrap();
    let spans_file = dir.path().join("spans.jsonl");
    let output = tokio::process::Command::new(&binary)
        .env("REDIS_URL", &url)
        .env("STREAM", &stream)
        .env("GROUP", "workers")
        .env("COUNT", "1")
        .env("TIMEOUT_SECS", "20")
        .env("OTEL_TRACES_EXPORTER", "json-file")
        .env("APP_TRACING_JSON_FILE_PATH", &spans_file)
        .env("OTEL_SERVICE_NAME", "consumer-process")
        .env_remove("OTEL_SDK_DISABLED")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("the consumer process finishes")
        .unwrap();
    assert!(
        output.status.success(),
        "consumer failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let text = std::fs::read_to_string(&spans_file).unwrap();
    let mut spans = Vec::new();
    for line in text.lines() {
        let request: serde_json::Value = serde_json::from_str(line).unwrap();
        for resource in request["resourceSpans"].as_array().unwrap() {
            for scope in resource["scopeSpans"].as_array().unwrap() {
                spans.extend(scope["spans"].as_array().unwrap().iter().cloned());
            }
        }
    }
    let by_name = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no span {name:?} in {text}"))
            .clone()
    };
    let process = by_name(&format!("process {stream}"));
    assert_eq!(
        process["traceId"],
        send.trace_id().to_string(),
        "same trace"
    );
    assert_eq!(
        process["parentSpanId"],
        send.span_id().to_string(),
        "child of the producer"
    );
    assert_eq!(process["kind"], 5, "CONSUMER");
    assert_eq!(process["links"][0]["spanId"], send.span_id().to_string());
    let store = by_name("store event");
    assert_eq!(store["parentSpanId"], process["spanId"]);
    let _: i64 = client.del(&stream).await.unwrap();
}

#[tokio::test]
async fn hostile_stream_fields_start_new_traces_without_failing() {
    let Some(url) = redis_url() else { return };
    let capture = SpanCapture::install();
    let client = connect(&url).await;
    let stream = stream_name("hostile");
    let mut consumer = RedisStreamConsumer::new(&client, &stream, "workers", "c1")
        .batch_size(100)
        .block(Duration::from_millis(100));
    consumer.create_group().await.unwrap();

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const OTHER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let text = |s: &str| Value::from(s);
    let raw = |b: &[u8]| Value::Bytes(Bytes::copy_from_slice(b));
    let cases: Vec<(&str, Vec<(Key, Value)>)> = vec![
        ("control", vec![("traceparent".into(), text(PARENT))]),
        ("control-case", vec![("TraceParent".into(), text(PARENT))]),
        (
            "duplicate",
            vec![
                ("traceparent".into(), text(PARENT)),
                ("traceparent".into(), text(OTHER)),
            ],
        ),
        ("malformed", vec![("traceparent".into(), text("00-xyz-01"))]),
        (
            "invalid-utf8-value",
            vec![("traceparent".into(), raw(b"00-\xff\xfe-01"))],
        ),
        (
            "invalid-utf8-tracestate",
            vec![
                ("traceparent".into(), text(PARENT)),
                ("tracestate".into(), raw(b"a=\xff")),
            ],
        ),
        (
            "invalid-utf8-name",
            vec![
                (Key::from(&b"\xfftrace"[..]), text("x")),
                ("traceparent".into(), text(PARENT)),
            ],
        ),
        (
            "oversized-baggage",
            vec![
                ("traceparent".into(), text(PARENT)),
                (
                    "baggage".into(),
                    text(&format!("k={}", "v".repeat(100_000))),
                ),
            ],
        ),
        (
            "oversized-traceparent",
            vec![("traceparent".into(), text(&"0".repeat(1_000_000)))],
        ),
    ];
    let mut expected_parent = Vec::new();
    for (name, mut fields) in cases {
        fields.insert(0, ("payload".into(), text(name)));
        let _: String = client
            .xadd(&stream, false, None::<()>, "*", fields)
            .await
            .unwrap();
        expected_parent.push((
            name,
            name.starts_with("control") || name == "invalid-utf8-name",
        ));
    }
    // Many fields, the context last: beyond the 64 entries read.
    let mut many: Vec<(Key, Value)> = vec![("payload".into(), text("many-fields"))];
    many.extend((0..5000).map(|i| (Key::from(format!("f{i}")), text("v"))));
    many.push(("traceparent".into(), text(PARENT)));
    let _: String = client
        .xadd(&stream, false, None::<()>, "*", many)
        .await
        .unwrap();
    expected_parent.push(("many-fields", false));

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let mut handler = ConsumeLayer::new().layer(service_fn(move |delivery: Delivery| {
        let name = String::from_utf8_lossy(delivery.message().payload()).into_owned();
        let metadata_len = delivery.message().metadata().len();
        let span_context =
            opentelemetry::trace::TraceContextExt::span(&opentelemetry::Context::current())
                .span_context()
                .clone();
        record
            .lock()
            .unwrap()
            .push((name, metadata_len, span_context));
        async { Ok::<_, HandlerFailed>(Settlement::Ack) }
    }));
    let handled = consumer.handle_next(&mut handler).await.unwrap();
    assert_eq!(handled.acked, expected_parent.len());

    let parent_trace = PARENT.split('-').nth(1).unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    for ((name, continues), (seen_name, metadata_len, span_context)) in
        expected_parent.iter().zip(seen.iter())
    {
        assert_eq!(name, seen_name);
        assert!(
            *metadata_len <= 64,
            "{name}: metadata is bounded, got {metadata_len} entries"
        );
        assert!(
            span_context.is_valid(),
            "{name}: the handler runs in a span"
        );
        assert_eq!(
            span_context.trace_id().to_string() == parent_trace,
            *continues,
            "{name}: continues the sender's trace: expected {continues}"
        );
    }
    let spans = capture
        .wait_for_spans(expected_parent.len(), Duration::from_secs(5))
        .await;
    for span in spans {
        let continues = span.trace_id().to_string() == parent_trace;
        assert_eq!(
            span.links.len(),
            usize::from(continues),
            "{}: a link only to a valid context",
            span.name()
        );
        if !continues {
            assert_eq!(
                span.parent_span_id(),
                SpanId::INVALID,
                "a new trace is a root"
            );
        }
    }
    let _: i64 = client.del(&stream).await.unwrap();
}

/// The server's connections on database `db` (`CLIENT LIST` lines).
async fn connections_on(client: &fred::clients::Client, db: u8) -> Vec<String> {
    let list: String = client
        .custom(
            CustomCommand::new_static("CLIENT", None, false),
            vec!["LIST"],
        )
        .await
        .unwrap();
    let db = format!(" db={db} ");
    list.lines()
        .filter(|line| line.contains(&db))
        .map(str::to_owned)
        .collect()
}

/// Whether one of `connections` is blocked in `XREADGROUP`.
fn blocked_in_xreadgroup(connections: &[String]) -> bool {
    connections.iter().any(|line| {
        line.contains(" cmd=xreadgroup ")
            && line
                .split(' ')
                .any(|field| field.starts_with("flags=") && field.contains('b'))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_commands_do_not_wait_for_a_polling_consumer() {
    let Some(url) = redis_url() else { return };
    // Alone among this file's tests (they capture spans), which would compete for the CPU.
    let _alone = SpanCapture::install();
    // A database no other test uses, to tell this test's connections apart.
    const DB: u8 = 9;
    let mut config = RedisConfig::from_url(&url).unwrap();
    config.database = Some(DB);
    let client = Builder::from_config(config).build().unwrap();
    client.init().await.expect("Redis is reachable");
    let stream = stream_name("app-latency");
    let key = format!("{stream}:key");
    // Built from the application's client, polling on a connection of its own.
    let consumer =
        RedisStreamConsumer::new(&client, &stream, "workers", "c1").block(Duration::from_secs(3));
    consumer.create_group().await.unwrap();
    let polling = tokio::spawn(consumer.serve(ConsumeLayer::new().layer(ack_handler())));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !blocked_in_xreadgroup(&connections_on(&client, DB).await) {
        assert!(Instant::now() < deadline, "the consumer never blocked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Windows of 20 SET + GET. Blocked behind the poll, every command of a window would
    // wait up to 3 s; a loaded machine can stretch one window past 5 ms, so the
    // quickest of three counts.
    let millis = |d: &[Duration]| {
        d.iter()
            .map(|d| format!("{:.2}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut maxima = Vec::new();
    for window in 1..=3 {
        let (mut set, mut get) = (Vec::new(), Vec::new());
        for i in 0..20 {
            let start = Instant::now();
            let _: () = client.set(&key, i, None, None, false).await.unwrap();
            set.push(start.elapsed());
            let start = Instant::now();
            let value: Option<i64> = client.get(&key).await.unwrap();
            get.push(start.elapsed());
            assert_eq!(value, Some(i));
        }
        println!(
            "window {window}, a consumer blocked in XREADGROUP (3 s):\n  SET ms: {}\n  GET ms: {}",
            millis(&set),
            millis(&get)
        );
        let max = set.iter().chain(&get).max().copied().unwrap_or_default();
        maxima.push(max);
        if max < Duration::from_millis(5) {
            break;
        }
    }
    let connections = connections_on(&client, DB).await;
    assert!(
        blocked_in_xreadgroup(&connections),
        "the consumer was polling all along"
    );
    assert_eq!(connections.len(), 2, "the application's and the consumer's");
    assert!(
        maxima.iter().any(|max| *max < Duration::from_millis(5)),
        "application commands took up to {maxima:?} while the consumer polled"
    );

    // Dropping the consumer closes its connection.
    polling.abort();
    assert!(polling.await.unwrap_err().is_cancelled());
    let deadline = Instant::now() + Duration::from_secs(5);
    while connections_on(&client, DB).await.len() > 1 {
        assert!(
            Instant::now() < deadline,
            "the consumer's connection stayed open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _: i64 = client.del((stream.as_str(), key.as_str())).await.unwrap();
}

/// Tasks alive in the test's runtime (fred runs one per connected client).
fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test]
async fn the_consumers_connection_task_ends_with_it() {
    let Some(url) = redis_url() else { return };
    let client = Builder::from_config(RedisConfig::from_url(&url).unwrap())
        .build()
        .unwrap();
    assert_eq!(tasks(), 0, "the application's client is not connected");
    let consumer = RedisStreamConsumer::new(&client, &stream_name("task"), "workers", "c1");
    consumer.create_group().await.unwrap();
    assert_eq!(tasks(), 1, "the consumer's connection");
    drop(consumer);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(tasks(), 0, "closed on drop");

    // A server that accepts but never answers: the caller gives up connecting.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("redis://{}/", silent.local_addr().unwrap());
    let mut builder = Builder::from_config(RedisConfig::from_url(&silent_url).unwrap());
    builder.set_policy(fred::types::config::ReconnectPolicy::new_constant(0, 100));
    let consumer = RedisStreamConsumer::new(&builder.build().unwrap(), "s", "g", "c1");
    let gave_up = tokio::time::timeout(Duration::from_millis(200), consumer.create_group()).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(tasks(), 0, "no connection task outlives the attempt");

    // Nothing listens: the error is returned, no task is left.
    drop(silent);
    let consumer = RedisStreamConsumer::new(
        &Builder::from_config(RedisConfig::from_url(&silent_url).unwrap())
            .build()
            .unwrap(),
        "s",
        "g",
        "c1",
    );
    let error = consumer.create_group().await.unwrap_err();
    assert_eq!(error.error_type().as_str(), "io", "{error}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(tasks(), 0);
    let _: i64 = connect(&url).await.del(stream_name("task")).await.unwrap();
}

/// Counts the spans a provider starts (`on_start`) and ends (`on_end`).
#[derive(Debug, Default)]
struct SpanCounts {
    started: AtomicUsize,
    ended: AtomicUsize,
}

#[derive(Debug)]
struct CountingProcessor(Arc<SpanCounts>);

impl SpanProcessor for CountingProcessor {
    fn on_start(&self, _: &mut Span, _: &Context) {
        self.0.started.fetch_add(1, Ordering::SeqCst);
    }

    fn on_end(&self, _: SpanData) {
        self.0.ended.fetch_add(1, Ordering::SeqCst);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Counts fred's `fred.command` spans: the spans any `tracing`-based Redis
/// instrumentation (trace-redis among them) turns into OpenTelemetry spans.
#[derive(Clone, Default)]
struct FredCommandSpans(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for FredCommandSpans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() == "fred.command" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn an_idle_consumer_starts_no_span() {
    let Some(url) = redis_url() else { return };
    // The capture only serializes the tests that install a provider.
    let _capture = SpanCapture::install();
    let counts = Arc::new(SpanCounts::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(CountingProcessor(Arc::clone(&counts)))
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    trace_core::set_provider(provider.clone());
    // The application's client has fred's command spans on, as a service traced by
    // trace-redis does.
    let fred_spans = FredCommandSpans::default();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(fred_spans.clone()));
    let mut config = RedisConfig::from_url(&url).unwrap();
    config.tracing = fred::types::config::TracingConfig::new(true);
    let client = Builder::from_config(config).build().unwrap();
    client.init().await.expect("Redis is reachable");
    let _: Option<String> = client.get("trace-pubsub-test:absent").await.unwrap();
    assert_eq!(
        fred_spans.0.load(Ordering::SeqCst),
        1,
        "the application's GET has a command span"
    );

    let stream = stream_name("idle");
    let mut consumer = RedisStreamConsumer::new(&client, &stream, "workers", "c1")
        .block(Duration::from_millis(100));
    consumer.create_group().await.unwrap();
    let mut handler = ConsumeLayer::new().layer(ack_handler());
    let mut batch_handler = ConsumeBatchLayer::new().layer(service_fn(|_: Batch| async {
        Ok::<_, HandlerFailed>(Settlement::Ack)
    }));
    for _ in 0..3 {
        let handled = consumer.handle_next(&mut handler).await.unwrap();
        assert_eq!(handled, Handled::default());
        let handled = consumer
            .handle_next_batch(&mut batch_handler)
            .await
            .unwrap();
        assert_eq!(handled, Handled::default());
    }
    let started = counts.started.load(Ordering::SeqCst);
    let ended = counts.ended.load(Ordering::SeqCst);
    let commands = fred_spans.0.load(Ordering::SeqCst) - 1;
    println!(
        "idle consumer, 6 empty polls: {started} spans started, {ended} ended, \
         {commands} fred command spans"
    );
    assert_eq!((started, ended), (0, 0), "empty polls start no span");
    assert_eq!(
        commands, 0,
        "the consumer's own connection opens no command span"
    );
    drop(consumer);
    let _: i64 = client.del(&stream).await.unwrap();
    provider.shutdown().unwrap();
}
