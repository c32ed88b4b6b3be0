//! Tests for `ConsoleTreeExporter`: one waterfall per trace, stitched across remote
//! parents; when it prints; pieces and missing parents; limits; hostile data.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracer, SdkTracerProvider, SpanData, SpanEvents, SpanExporter,
    SpanLinks,
};
use trace_core::export::{ConsoleTreeExporter, JsonLinesExporter, OtlpJsonTraces, WaterfallStyle};

/// A cloneable in-memory writer so the test can read what the exporter wrote.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn waterfall_count(&self) -> usize {
        self.text()
            .lines()
            .filter(|l| l.starts_with("trace "))
            .count()
    }

    /// Waits until `count` waterfalls were printed, or `limit` passed.
    fn wait_for_waterfalls(&self, count: usize, limit: Duration) -> String {
        let started = Instant::now();
        while self.waterfall_count() < count && started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.text()
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

/// An exporter that prints as soon as a trace's local roots have ended.
fn immediate(buf: &SharedBuf) -> ConsoleTreeExporter {
    ConsoleTreeExporter::with_writer(buf.clone()).with_quiet_period(Duration::ZERO)
}

/// The label (guides and name) of each span line, in order.
fn span_rows(text: &str) -> Vec<String> {
    let kinds = [
        "  SERVER  ",
        "  CLIENT  ",
        "  INTERNAL  ",
        "  PRODUCER  ",
        "  CONSUMER  ",
    ];
    (text.lines())
        .filter_map(|line| {
            let at = kinds.iter().filter_map(|kind| line.find(kind)).min()?;
            Some(line[..at].trim_end().to_owned())
        })
        .collect()
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

/// The context a server extracts from the request a local client span sent.
fn as_remote(cx: &Context) -> Context {
    let sent = cx.span().span_context().clone();
    Context::new().with_remote_span_context(SpanContext::new(
        sent.trace_id(),
        sent.span_id(),
        sent.trace_flags(),
        true,
        TraceState::default(),
    ))
}

#[test]
fn a_trace_prints_once_as_a_waterfall_when_its_root_ends() {
    let buf = SharedBuf::default();
    let (provider, tracer) = provider_with(immediate(&buf));

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
        .with_attributes([KeyValue::new("error.type", "timeout")])
        .start_with_context(&tracer, &root_cx);
    charge.add_event("retrying", vec![KeyValue::new("attempt", 2)]);
    charge.set_status(Status::error("timeout"));
    charge.end();
    assert_eq!(buf.text(), "", "nothing prints before the local root ends");

    root_cx.span().end();
    let text = buf.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "{text}");
    assert!(
        lines[0].starts_with(&format!("trace {trace_id} · checkout · 3 spans · ")),
        "{text}"
    );
    assert!(lines[0].ends_with(" · ✗ 1 error"), "{text}");
    assert!(
        lines[1].trim_start().starts_with('0'),
        "the time axis: {text}"
    );
    assert!(lines[2].starts_with("POST /orders "), "{text}");
    assert!(lines[2].contains("  SERVER  "), "{text}");
    assert!(lines[2].ends_with('█'), "a bar on the time axis: {text}");
    assert_eq!(
        lines[3],
        "│  http.response.status_code=200 http.route=/orders"
    );
    assert!(lines[4].starts_with("├─ SELECT orders "), "{text}");
    assert_eq!(lines[5], "│     db.system.name=sqlite");
    assert!(lines[6].starts_with("└─ ✗ charge "), "{text}");
    assert_eq!(
        lines[7],
        "      ✗ error: timeout  error.type=timeout  +1 event"
    );
    provider.shutdown().unwrap();
    assert_eq!(buf.waterfall_count(), 1, "printed once: {}", buf.text());
}

#[test]
fn client_server_and_consumer_of_one_process_print_as_one_stitched_waterfall() {
    let buf = SharedBuf::default();
    let exporter =
        ConsoleTreeExporter::with_writer(buf.clone()).with_quiet_period(Duration::from_millis(300));
    let (provider, tracer) = provider_with(exporter);

    let client = tracer
        .span_builder("POST")
        .with_kind(SpanKind::Client)
        .start(&tracer);
    let client_cx = Context::new().with_span(client);
    // The server continues the client's context, received as a remote parent.
    let server = tracer
        .span_builder("POST /orders")
        .with_kind(SpanKind::Server)
        .start_with_context(&tracer, &as_remote(&client_cx));
    let server_cx = Context::new().with_span(server);
    let producer = tracer
        .span_builder("send orders")
        .with_kind(SpanKind::Producer)
        .start_with_context(&tracer, &server_cx);
    let producer_cx = server_cx.with_span(producer);
    let message_cx = as_remote(&producer_cx);
    producer_cx.span().end();
    server_cx.span().end();
    client_cx.span().end();
    // The consumer runs after the request has finished.
    std::thread::sleep(Duration::from_millis(20));
    let consumer = tracer
        .span_builder("process orders")
        .with_kind(SpanKind::Consumer)
        .with_links(vec![Link::with_context(
            producer_cx.span().span_context().clone(),
        )])
        .start_with_context(&tracer, &message_cx);
    let consumer_cx = Context::new().with_span(consumer);
    tracer
        .start_with_context("INSERT orders", &consumer_cx)
        .end();
    consumer_cx.span().end();
    assert_eq!(buf.text(), "", "the quiet period has not passed yet");

    let text = buf.wait_for_waterfalls(1, Duration::from_secs(5));
    assert_eq!(
        span_rows(&text),
        [
            "POST",
            "└─ POST /orders",
            "   └─ send orders",
            "      └─ process orders",
            "         └─ INSERT orders",
        ],
        "{text}"
    );
    assert!(!text.contains("parent"), "no missing parent: {text}");
    provider.shutdown().unwrap();
    assert_eq!(buf.waterfall_count(), 1, "{}", buf.text());
}

#[test]
fn pieces_from_another_process_name_their_missing_parent_once() {
    let trace_id = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128;
    let upstream = remote_context(trace_id, 0x00f0_67aa_0ba9_02b7);
    let servers = |names: &[&str]| {
        recorded_spans(|tracer| {
            for name in names {
                tracer
                    .span_builder(name.to_string())
                    .with_kind(SpanKind::Server)
                    .start_with_context(tracer, &upstream)
                    .end();
            }
            Context::new()
        })
    };
    let buf = SharedBuf::default();
    let exporter = immediate(&buf);

    // Two server spans called by the same upstream span, in one batch.
    futures_block_on(exporter.export(servers(&["GET /a", "GET /b"]))).unwrap();
    let text = buf.text();
    assert_eq!(buf.waterfall_count(), 1, "{text}");
    assert_eq!(
        text.matches("parent 00f067aa0ba902b7").count(),
        1,
        "one line for the missing parent: {text}"
    );
    assert!(
        text.lines()
            .nth(2)
            .unwrap()
            .starts_with("⋯ parent 00f067aa0ba902b7, not seen by this process"),
        "{text}"
    );
    assert_eq!(
        span_rows(&text),
        ["├─ GET /a", "└─ GET /b"],
        "both under the missing parent's line: {text}"
    );
    assert!(!text.contains("more of a trace"), "{text}");

    // A later piece of the same trace says so.
    futures_block_on(exporter.export(servers(&["GET /c"]))).unwrap();
    let text = buf.text();
    assert_eq!(buf.waterfall_count(), 2, "{text}");
    let later = text
        .lines()
        .filter(|line| line.starts_with("trace "))
        .nth(1)
        .unwrap();
    assert!(
        later.ends_with(" · more of a trace shown above"),
        "a second piece of an already printed trace: {text}"
    );
    exporter.shutdown().unwrap();
}

#[test]
fn shutdown_prints_what_is_left_under_its_missing_parent() {
    let buf = SharedBuf::default();
    let (provider, tracer) = provider_with(ConsoleTreeExporter::with_writer(buf.clone()));
    let root = tracer.start("still running");
    let root_id = root.span_context().span_id();
    let root_cx = Context::new().with_span(root);
    tracer.start_with_context("done early", &root_cx).end();
    assert_eq!(buf.text(), "");

    provider.shutdown().unwrap();
    let text = buf.text();
    assert_eq!(buf.waterfall_count(), 1, "{text}");
    assert!(
        text.contains(&format!("⋯ parent {root_id}, not seen by this process")),
        "{text}"
    );
    assert_eq!(span_rows(&text), ["└─ done early"], "{text}");
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

/// Runs an exporter future; the console exporter never waits on anything.
fn futures_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
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
    assert_eq!(buf.waterfall_count(), 1, "{text}");
    assert!(text.contains(" · 2 spans · "), "{text}");
    assert_eq!(span_rows(&text), ["├─ child a", "└─ child b"], "{text}");
    assert!(!text.contains("checkout"), "no resource was set: {text}");

    exporter.force_flush().unwrap();
    assert_eq!(
        buf.waterfall_count(),
        1,
        "a second flush prints nothing new"
    );
    exporter.shutdown().unwrap();
    assert!(matches!(
        exporter.export(Vec::new()).await,
        Err(OTelSdkError::AlreadyShutdown)
    ));
}

#[test]
fn past_the_span_limit_the_oldest_trace_prints_early_and_is_counted() {
    let buf = SharedBuf::default();
    let exporter = ConsoleTreeExporter::with_writer(buf.clone()).with_max_buffered_spans(5);
    let counters = exporter.counters();
    let (provider, tracer) = provider_with(exporter);
    // Roots stay open, so no trace ever completes on its own.
    let mut open_roots = Vec::new();
    for i in 0..20 {
        let cx = Context::new().with_span(tracer.start(format!("root {i}")));
        tracer.start_with_context(format!("child {i}"), &cx).end();
        open_roots.push(cx);
    }
    let text = buf.text();
    assert_eq!(buf.waterfall_count(), 15, "{text}");
    assert_eq!(counters.traces_shown_early(), 15);
    assert_eq!(text.matches(" · shown early: buffer full").count(), 15);
    // The oldest traces are the ones printed early, in order.
    assert!(text.find("child 0 ").unwrap() < text.find("child 14 ").unwrap());
    assert!(!text.contains("child 15 "), "{text}");

    provider.shutdown().unwrap();
    assert_eq!(buf.waterfall_count(), 20);
    assert_eq!(counters.traces_shown_early(), 15, "shutdown is not early");
    drop(open_roots);
}

#[test]
fn past_the_trace_limit_the_oldest_trace_prints_early() {
    let buf = SharedBuf::default();
    let exporter = ConsoleTreeExporter::with_writer(buf.clone()).with_max_buffered_traces(2);
    let counters = exporter.counters();
    let (provider, tracer) = provider_with(exporter);
    let mut open_roots = Vec::new();
    for i in 0..3 {
        let cx = Context::new().with_span(tracer.start(format!("root {i}")));
        tracer.start_with_context(format!("child {i}"), &cx).end();
        open_roots.push(cx);
    }
    assert_eq!(counters.traces_shown_early(), 1);
    assert!(buf.text().contains("child 0 "), "{}", buf.text());
    provider.shutdown().unwrap();
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
        attributes: vec![KeyValue::new("note", "x".repeat(2_000))],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::error(""),
        instrumentation_scope: InstrumentationScope::builder("test").build(),
    }
}

#[test]
fn hostile_span_data_is_drawn_without_panicking_or_breaking_the_layout() {
    let spans = vec![
        // Ends before it starts; a name with a newline and terminal commands.
        span(1, 1, 0, "root\nwith \u{1b}[2Jnewline\u{202E}", 50, 10),
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
    let style = WaterfallStyle::plain();
    let text = ConsoleTreeExporter::render_waterfall(&spans, Some("svc"), &style);
    assert_eq!(text.matches("\ntrace ").count() + 1, 2, "{text}");
    assert!(
        text.contains("✗ root\\nwith \\u{1b}[2Jnewline\\u{202e}  INTERNAL       0 ns"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no raw escape: {text}");
    assert!(text.find("early").unwrap() < text.find("late").unwrap());
    assert!(text.contains("1.200 s"), "{text}");
    for name in ["cycle a", "cycle b", "self", "duplicate id", "other trace"] {
        assert!(text.contains(name), "{name} missing from {text}");
    }
    assert!(text.contains("is part of a cycle"), "{text}");
    for line in text.lines().filter(|line| !line.starts_with("trace ")) {
        assert!(line.chars().count() <= 100, "{line}");
    }

    let deep: Vec<SpanData> = (1..=5_000)
        .map(|i| span(3, i, i - 1, "deep", i, i + 1))
        .collect();
    let text = ConsoleTreeExporter::render_waterfall(&deep, None, &style);
    assert_eq!(text.lines().count(), 2 + 2 * 5_000);
    assert!(text.lines().all(|l| l.chars().count() <= 100));
}

#[test]
fn verbose_shows_every_attribute_event_and_link_with_ids() {
    let mut spans = vec![span(1, 1, 0, "root", 0, 10)];
    spans[0].attributes = (0..10)
        .map(|i| KeyValue::new(format!("key{i}"), i64::from(i)))
        .collect();
    spans[0]
        .events
        .events
        .push(opentelemetry::trace::Event::new(
            "retrying",
            SystemTime::UNIX_EPOCH + Duration::from_millis(4),
            vec![KeyValue::new("attempt", 2)],
            0,
        ));
    spans[0]
        .links
        .links
        .push(Link::with_context(SpanContext::new(
            TraceId::from(9),
            SpanId::from(9),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        )));
    let condensed = ConsoleTreeExporter::render_waterfall(&spans, None, &WaterfallStyle::plain());
    assert!(
        condensed.contains("key5=5 +4 attrs  +1 event  +1 link"),
        "{condensed}"
    );
    let verbose = ConsoleTreeExporter::render_waterfall(
        &spans,
        None,
        &WaterfallStyle::plain().with_verbose(true),
    );
    assert!(
        verbose.contains("   span 0000000000000001  scope test\n"),
        "{verbose}"
    );
    for i in 0..10 {
        assert!(verbose.contains(&format!("   key{i} = {i}\n")), "{verbose}");
    }
    assert!(
        verbose.contains("   event +4.00 ms retrying  attempt=2\n"),
        "{verbose}"
    );
    assert!(
        verbose.contains("   link 00000000000000000000000000000009/0000000000000009\n"),
        "{verbose}"
    );
}

#[test]
fn colour_only_when_asked() {
    let spans = vec![span(1, 1, 0, "root", 0, 10), span(1, 2, 1, "child", 2, 5)];
    let plain = ConsoleTreeExporter::render_waterfall(&spans, None, &WaterfallStyle::plain());
    assert!(!plain.contains('\u{1b}'), "{plain}");
    let colour = ConsoleTreeExporter::render_waterfall(
        &spans,
        None,
        &WaterfallStyle::plain().with_color(true),
    );
    assert!(
        colour.contains("\u{1b}[1;31m✗ child\u{1b}[0m"),
        "{colour:?}"
    );
    assert!(
        colour.contains("\u{1b}[31m"),
        "error bars are red: {colour:?}"
    );
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
    let exporter = ConsoleTreeExporter::with_writer(Broken).with_quiet_period(Duration::ZERO);
    let err = exporter
        .export(vec![span(1, 1, 0, "root", 0, 1)])
        .await
        .unwrap_err();
    match err {
        OTelSdkError::InternalFailure(msg) => assert!(msg.contains("pipe closed"), "{msg}"),
        other => panic!("unexpected error {other:?}"),
    }
}

/// The console and a file of the same spans read back draw the same waterfall.
#[test]
fn the_console_and_an_otlp_json_file_of_the_same_spans_draw_the_same() {
    let console = SharedBuf::default();
    let file = SharedBuf::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("checkout").build())
        .with_simple_exporter(immediate(&console))
        .with_simple_exporter(JsonLinesExporter::from_writer(file.clone()))
        .build();
    let tracer = provider.tracer("console-test");
    let root = tracer
        .span_builder("POST /orders")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.route", "/orders"),
            KeyValue::new("ok", true),
        ])
        .start(&tracer);
    let cx = Context::new().with_span(root);
    let mut failed = tracer
        .span_builder("charge")
        .with_attributes([
            KeyValue::new("error.type", "timeout"),
            KeyValue::new("n", 2.5),
        ])
        .start_with_context(&tracer, &cx);
    failed.add_event("retrying", vec![KeyValue::new("attempt", 2)]);
    failed.set_status(Status::error("gave up"));
    failed.end();
    cx.span().end();
    provider.shutdown().unwrap();

    let traces = OtlpJsonTraces::parse(&file.text());
    assert!(traces.problems().is_empty(), "{:?}", traces.problems());
    assert_eq!((traces.span_count(), traces.trace_count()), (2, 1));
    assert_eq!(
        traces.to_waterfall(&WaterfallStyle::plain()),
        console.text()
    );
    let verbose = WaterfallStyle::plain().with_verbose(true);
    let spans: Vec<SpanData> = Vec::new();
    assert_eq!(
        ConsoleTreeExporter::render_waterfall(&spans, None, &verbose),
        ""
    );
}

#[test]
fn unreadable_lines_are_reported_and_the_rest_is_drawn() {
    let good = include_str!("data/tour.jsonl").lines().next().unwrap();
    let text = format!(
        "not json\n{good}\n{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{{\"traceId\":\"abcd\",\"spanId\":\"00f067aa0ba902b7\"}}]}}]}}]}}\n"
    );
    let traces = OtlpJsonTraces::parse(&text);
    let problems = traces.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("line 1: "), "{problems:?}");
    assert!(problems[1].contains("line 3: span skipped"), "{problems:?}");
    assert!(traces.span_count() > 0);
}
