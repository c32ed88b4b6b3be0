//! Tests for `ConsoleTreeExporter`: tree layout, local roots, flushing and the
//! buffer cap.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracer, SdkTracerProvider, SpanData, SpanEvents, SpanExporter,
    SpanLinks,
};
use trace_core::export::ConsoleTreeExporter;

/// A cloneable in-memory writer so the test can read what the exporter wrote.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn tree_count(&self) -> usize {
        self.text()
            .lines()
            .filter(|l| l.starts_with("trace "))
            .count()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn provider_with(exporter: ConsoleTreeExporter) -> (SdkTracerProvider, SdkTracer) {
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("checkout").build())
        .with_simple_exporter(exporter)
        .build();
    let tracer = provider.tracer("console-test");
    (provider, tracer)
}

fn remote_context(trace_id: u128, span_id: u64) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

#[test]
fn nested_trace_prints_one_tree_when_the_root_ends() {
    let buf = SharedBuf::default();
    let (provider, tracer) = provider_with(ConsoleTreeExporter::with_writer(buf.clone()));

    let root = tracer
        .span_builder("POST /orders")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("http.route", "/orders"),
        ])
        .start(&tracer);
    let trace_id = root.span_context().trace_id();
    let root_cx = Context::new().with_span(root);

    let mut select = tracer
        .span_builder("SELECT orders")
        .with_kind(SpanKind::Client)
        .with_attributes([KeyValue::new("db.system.name", "sqlite")])
        .start_with_context(&tracer, &root_cx);
    select.end();

    let mut charge = tracer
        .span_builder("charge")
        .with_kind(SpanKind::Internal)
        .with_attributes([KeyValue::new("error.type", "timeout")])
        .start_with_context(&tracer, &root_cx);
    charge.add_event("retrying", vec![KeyValue::new("attempt", 2)]);
    let charge_cx = root_cx.with_span(charge);
    let mut call = tracer
        .span_builder("GET")
        .with_kind(SpanKind::Client)
        .with_attributes([KeyValue::new("http.response.status_code", 504)])
        .start_with_context(&tracer, &charge_cx);
    call.end();
    charge_cx.span().set_status(Status::error("timeout"));
    charge_cx.span().end();
    assert_eq!(buf.text(), "", "nothing prints before the local root ends");

    root_cx.span().end();
    let text = buf.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].starts_with(&format!("trace {trace_id}  (service: checkout, 4 spans, ")),
        "{text}"
    );
    assert!(lines[1].starts_with("└─ POST /orders  SERVER  "), "{text}");
    assert!(
        lines[1].ends_with("http.response.status_code=200 http.route=/orders"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("   ├─ SELECT orders  CLIENT  "),
        "{text}"
    );
    assert!(lines[2].ends_with("db.system.name=sqlite"), "{text}");
    assert!(lines[3].starts_with("   └─ charge  INTERNAL  "), "{text}");
    assert!(
        lines[3].ends_with("✗ error: timeout  error.type=timeout  +1 event"),
        "{text}"
    );
    assert!(lines[4].starts_with("      └─ GET  CLIENT  "), "{text}");
    assert!(
        lines[4].ends_with("http.response.status_code=504"),
        "{text}"
    );
    provider.shutdown().unwrap();
}

#[test]
fn remote_parent_span_prints_on_its_own_and_each_local_root_gets_a_tree() {
    let buf = SharedBuf::default();
    let (provider, tracer) = provider_with(ConsoleTreeExporter::with_writer(buf.clone()));
    let trace_id = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128;
    let parent_cx = remote_context(trace_id, 0x00f0_67aa_0ba9_02b7);

    let mut consumer = tracer
        .span_builder("orders process")
        .with_kind(SpanKind::Consumer)
        .start_with_context(&tracer, &parent_cx);
    consumer.end();
    let first = buf.text();
    assert_eq!(first.lines().count(), 2, "{first}");
    assert!(
        first.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736  (service: checkout, 1 span, ")
    );
    assert!(first.contains("└─ orders process  CONSUMER  "), "{first}");
    assert!(
        first.contains("(remote parent 00f067aa0ba902b7)"),
        "{first}"
    );

    // A second local root of the same trace, later, prints its own tree.
    let mut retry = tracer
        .span_builder("orders retry")
        .with_kind(SpanKind::Consumer)
        .start_with_context(&tracer, &parent_cx);
    retry.end();
    assert_eq!(buf.tree_count(), 2);
    assert!(buf.text().contains("└─ orders retry  CONSUMER  "));
    provider.shutdown().unwrap();
}

#[test]
fn shutdown_prints_partial_traces_with_orphan_marker() {
    let buf = SharedBuf::default();
    let (provider, tracer) = provider_with(ConsoleTreeExporter::with_writer(buf.clone()));
    let root = tracer.start("still running");
    let root_id = root.span_context().span_id();
    let root_cx = Context::new().with_span(root);
    tracer.start_with_context("done early", &root_cx).end();
    assert_eq!(buf.text(), "");

    provider.shutdown().unwrap();
    let text = buf.text();
    assert_eq!(buf.tree_count(), 1, "{text}");
    assert!(text.contains("└─ done early  INTERNAL  "), "{text}");
    assert!(
        text.contains(&format!("(parent {root_id} not in this tree)")),
        "{text}"
    );
    drop(root_cx);
}

/// Records spans through a real provider; the context `build` returns stays
/// open until the finished spans have been collected.
fn recorded_spans(build: impl FnOnce(&SdkTracer) -> Context) -> Vec<SpanData> {
    let memory = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(memory.clone())
        .build();
    let open = build(&provider.tracer("console-test"));
    let spans = memory.get_finished_spans().unwrap();
    drop(open);
    spans
}

#[tokio::test]
async fn force_flush_prints_buffered_spans_and_keeps_the_exporter_usable() {
    let spans = recorded_spans(|tracer| {
        let root = tracer.start("root");
        let cx = Context::new().with_span(root);
        tracer.start_with_context("child a", &cx).end();
        tracer.start_with_context("child b", &cx).end();
        cx
    });
    assert_eq!(spans.len(), 2);
    let buf = SharedBuf::default();
    let exporter = ConsoleTreeExporter::with_writer(buf.clone());
    exporter.export(spans).await.unwrap();
    assert_eq!(buf.text(), "");

    exporter.force_flush().unwrap();
    let text = buf.text();
    assert_eq!(buf.tree_count(), 1, "{text}");
    assert!(text.contains("(2 spans, "), "{text}");
    assert!(text.contains("├─ child a  INTERNAL"), "{text}");
    assert!(text.contains("└─ child b  INTERNAL"), "{text}");
    assert!(!text.contains("service:"), "no resource was set: {text}");

    exporter.force_flush().unwrap();
    assert_eq!(buf.tree_count(), 1, "a second flush prints nothing new");
    exporter.shutdown().unwrap();
    assert!(matches!(
        exporter.export(Vec::new()).await,
        Err(OTelSdkError::AlreadyShutdown)
    ));
}

#[test]
fn buffer_cap_flushes_the_oldest_traces_instead_of_growing() {
    let buf = SharedBuf::default();
    let exporter = ConsoleTreeExporter::with_writer(buf.clone()).with_max_buffered_spans(5);
    let (provider, tracer) = provider_with(exporter);
    // Roots stay open, so no trace ever completes on its own.
    let mut open_roots = Vec::new();
    for i in 0..20 {
        let cx = Context::new().with_span(tracer.start(format!("root {i}")));
        tracer.start_with_context(format!("child {i}"), &cx).end();
        open_roots.push(cx);
    }
    let text = buf.text();
    assert_eq!(buf.tree_count(), 15, "{text}");
    // The oldest traces are the ones flushed early, in order.
    assert!(text.find("child 0 ").unwrap() < text.find("child 14 ").unwrap());
    assert!(!text.contains("child 15 "), "{text}");

    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    assert_eq!(buf.tree_count(), 20);
    drop(open_roots);
}

fn span(trace: u128, id: u64, parent: u64, name: &str, start_ms: u64, end_ms: u64) -> SpanData {
    let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(name.to_owned()),
        start_time: at(start_ms),
        end_time: at(end_ms),
        attributes: vec![KeyValue::new("note", "x".repeat(200))],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::error(""),
        instrumentation_scope: InstrumentationScope::builder("test").build(),
    }
}

#[test]
fn render_tree_survives_hostile_span_data() {
    let spans = vec![
        // Ends before it starts.
        span(1, 1, 0, "root\nwith newline", 50, 10),
        // Children sorted by start time, not arrival order.
        span(1, 3, 1, "late", 30, 40),
        span(1, 2, 1, "early", 20, 1_220),
        // A parent-id cycle reachable from no root.
        span(1, 7, 8, "cycle a", 1, 2),
        span(1, 8, 7, "cycle b", 1, 2),
        // Self-parented and duplicated ids.
        span(1, 9, 9, "self", 3, 4),
        span(1, 2, 1, "duplicate id", 25, 26),
        // A second trace in the same slice.
        span(2, 1, 0, "other trace", 0, 0),
    ];
    let text = ConsoleTreeExporter::render_tree(&spans, Some("svc"));
    assert_eq!(text.lines().filter(|l| l.starts_with("trace ")).count(), 2);
    assert!(
        text.contains("root\\nwith newline  INTERNAL  0 ns  ✗ error"),
        "{text}"
    );
    assert!(text.find("early").unwrap() < text.find("late").unwrap());
    assert!(text.contains("1.200 s"), "{text}");
    for name in ["cycle a", "cycle b", "self", "duplicate id", "other trace"] {
        assert!(text.contains(name), "{name} missing from {text}");
    }
    assert!(text.contains("is part of a cycle"), "{text}");
    assert!(
        text.contains(&format!("note={}…", "x".repeat(80))),
        "{text}"
    );

    let timed: Vec<SpanData> = [812, 12_410, 1_203_000]
        .into_iter()
        .enumerate()
        .map(|(i, micros)| {
            let mut s = span(4, i as u64 + 1, 0, "timed", 0, 0);
            s.end_time = s.start_time + Duration::from_micros(micros);
            s
        })
        .collect();
    let text = ConsoleTreeExporter::render_tree(&timed, None);
    for expected in ["  812 µs  ", "  12.41 ms  ", "  1.203 s  "] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }

    let deep: Vec<SpanData> = (1..=5_000)
        .map(|i| span(3, i, i - 1, "deep", i, i + 1))
        .collect();
    let text = ConsoleTreeExporter::render_tree(&deep, None);
    assert_eq!(text.lines().count(), 5_001);
    assert!(text.lines().all(|l| l.chars().count() < 400));
}

/// A writer that always fails.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "pipe closed"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn write_errors_are_reported_not_panicked() {
    let exporter = ConsoleTreeExporter::with_writer(Broken);
    let err = exporter
        .export(vec![span(1, 1, 0, "root", 0, 1)])
        .await
        .unwrap_err();
    match err {
        OTelSdkError::InternalFailure(msg) => assert!(msg.contains("pipe closed"), "{msg}"),
        other => panic!("unexpected error {other:?}"),
    }
}
