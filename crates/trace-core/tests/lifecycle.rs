//! Lifecycle: `init`, spans, and a bounded shutdown, also with a collector that is
//! down or hangs.

mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use support::{closed_port, hanging_listener};
use trace_core::config::{ExporterKind, Protocol};
use trace_core::{Config, ScopedTracer, SpanStart};

static TRACER: ScopedTracer = ScopedTracer::new("lifecycle-test", "0.0.0");

/// `init` installs process-wide state: these tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn collector_config(protocol: Protocol, port: u16, timeout_ms: u64) -> Config {
    Config {
        service_name: Some("lifecycle-test".into()),
        protocol,
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        timeout_ms,
        shutdown_timeout_ms: 1_500,
        batch: trace_core::config::BatchConfig {
            scheduled_delay_ms: 50,
            max_queue_size: 2048,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn emit_spans(count: usize) {
    for index in 0..count {
        TRACER
            .start(SpanKind::Internal, || {
                SpanStart::new("work").with_attribute(KeyValue::new("index", index as i64))
            })
            .end();
    }
}

const SPANS: usize = 5_000;

fn assert_bounded_shutdown_with_dead_collector(config: Config) {
    let started = Instant::now();
    let guard = trace_core::init(&config).expect("init does not need the collector");
    emit_spans(SPANS);
    let outcome = guard.shutdown();
    let elapsed = started.elapsed();
    let bound = Duration::from_millis(config.shutdown_timeout_ms) + Duration::from_secs(2);
    assert!(elapsed < bound, "init + spans + shutdown took {elapsed:?}");
    let error = outcome.expect_err("no span can be delivered");
    let report = error.report();
    assert_eq!(report.ended, SPANS as u64);
    assert_eq!(report.exported, 0);
    assert_eq!(report.lost(), SPANS as u64);
    // At most 4 batches of 512 in flight and 2048 spans queued: the rest is dropped.
    assert!(
        report.dropped_queue_full >= (SPANS - 4 * 512 - 2048) as u64,
        "{report:?}"
    );
    assert!(report.failed > 0, "{report:?}");
    let message = error.to_string();
    let endpoint = config.resolved_traces_endpoint();
    for part in [
        format!("tracing shutdown lost spans: {} failed (", report.failed),
        format!("collector unreachable at {endpoint}: connection refused"),
        format!(
            "{} dropped because the queue was full (2048 spans)",
            report.dropped_queue_full
        ),
    ] {
        assert!(message.contains(&part), "`{part}` missing from: {message}");
    }
}

#[test]
fn http_collector_down_init_spans_and_shutdown_stay_bounded() {
    let _serial = serial();
    assert_bounded_shutdown_with_dead_collector(collector_config(
        Protocol::HttpProtobuf,
        closed_port(),
        500,
    ));
}

#[test]
fn http_collector_that_never_answers_cannot_stall_shutdown() {
    let _serial = serial();
    // The export timeout is far longer than the shutdown timeout on purpose.
    let config = collector_config(Protocol::HttpProtobuf, hanging_listener(), 30_000);
    let started = Instant::now();
    let guard = trace_core::init(&config).unwrap();
    emit_spans(SPANS);
    let report_before = guard.report();
    let outcome = guard.shutdown();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(1_500 + 2_000),
        "took {elapsed:?}"
    );
    assert_eq!(report_before.ended, SPANS as u64);
    assert_eq!(report_before.exported, 0);
    let error = outcome.expect_err("a hung export cannot finish in time");
    let report = error.report();
    assert_eq!(report.exported, 0);
    assert_eq!(report.lost(), SPANS as u64);
    let endpoint = config.resolved_traces_endpoint();
    assert!(
        error.to_string().contains(&format!(
            "{} failed (no answer from {endpoint}: shutdown timed out after 1500 ms)",
            report.failed
        )),
        "{error}"
    );
    // Exports in flight failed; what was still queued is named too.
    assert!(report.failed > 0, "{report:?}");
    assert!(
        error
            .to_string()
            .contains(&format!("{} left unsent", report.unsent())),
        "{error}"
    );
}

#[test]
fn grpc_collector_down_and_hung_stay_bounded() {
    let _serial = serial();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_bounded_shutdown_with_dead_collector(collector_config(
            Protocol::Grpc,
            closed_port(),
            500,
        ));
        let config = collector_config(Protocol::Grpc, hanging_listener(), 30_000);
        let started = Instant::now();
        let guard = trace_core::init(&config).unwrap();
        emit_spans(SPANS);
        let _ = guard.shutdown();
        assert!(started.elapsed() < Duration::from_millis(3_500));
    });
}

#[test]
fn the_start_up_summary_names_service_exporter_endpoint_and_sampler() {
    let _serial = serial();
    let mut config = collector_config(Protocol::HttpProtobuf, closed_port(), 200);
    config.service_name = Some("checkout".into());
    config.sample_rate = 0.25;
    let guard = trace_core::init(&config).unwrap();
    let summary = guard.summary().to_owned();
    guard.shutdown().ok();
    for part in [
        "service=checkout",
        "otlp http/protobuf http://127.0.0.1:",
        "/v1/traces",
        "0.25",
    ] {
        assert!(summary.contains(part), "`{part}` missing from: {summary}");
    }
}

#[test]
fn grpc_needs_no_tokio_runtime() {
    let _serial = serial();
    let config = collector_config(Protocol::Grpc, closed_port(), 500);
    let guard = trace_core::init(&config).expect("the export thread has a runtime of its own");
    let report = guard.shutdown().expect("nothing to export, nothing lost");
    assert_eq!(report.ended, 0);
}

#[test]
fn disabled_config_installs_nothing_and_spans_are_no_ops() {
    let _serial = serial();
    let config = Config {
        enabled: false,
        ..Default::default()
    };
    let guard = trace_core::init(&config).unwrap();
    assert!(!guard.is_enabled());
    assert!(!trace_core::is_enabled());
    assert!(
        guard.summary().contains("tracing disabled"),
        "{}",
        guard.summary()
    );
    let span = TRACER.start(SpanKind::Server, || {
        panic!("attributes must not be built when tracing is disabled")
    });
    assert!(!span.is_recording());
    span.end();
    let report = guard.shutdown().unwrap();
    assert_eq!(report.ended, 0);
}

#[test]
fn local_exporters_write_a_tree_and_otlp_json_lines() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.jsonl");
    let config = Config {
        service_name: Some("local-exporters".into()),
        exporters: vec![ExporterKind::Console, ExporterKind::JsonFile],
        json_file_path: Some(path.display().to_string()),
        ..Default::default()
    };
    let guard = trace_core::init(&config).unwrap();
    let root = TRACER.start(SpanKind::Server, || SpanStart::new("GET /orders/{id}"));
    TRACER
        .start_with_parent(root.context(), SpanKind::Client, || {
            SpanStart::new("SELECT orders")
        })
        .end();
    let trace_id = root.span_context().trace_id();
    root.end();
    let report = guard.shutdown().unwrap();
    // Two exporters each saw both spans.
    assert_eq!(report.ended, 4);
    assert_eq!(report.exported, 4);
    let written = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    let resource_spans = &line["resourceSpans"][0];
    assert!(
        resource_spans["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |kv| kv["key"] == "service.name" && kv["value"]["stringValue"] == "local-exporters"
            )
    );
    let spans = resource_spans["scopeSpans"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| s["traceId"] == trace_id.to_string()));
}
