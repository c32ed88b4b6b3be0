//! Feature `otlp-logs`: exported log records carry the same ids as the printed lines
//! and the exported spans.
#![cfg(feature = "otlp-logs")]

mod support;

use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use support::receiver::Receiver;
use support::{Output, assert_ids_of, assert_no_ids};
use trace_core::testing::{CapturedSpan, SpanCapture};
use trace_core::{ScopedTracer, SpanStart};
use trace_log::JsonFormat;
use tracing_subscriber::layer::SubscriberExt as _;

static TRACER: ScopedTracer = ScopedTracer::new("trace-log-test", "0.0.0");

#[tracing::instrument]
fn charge(amount: u64) {
    tracing::info!("charging card");
}

#[track_caller]
fn assert_record_of(exporter: &InMemoryLogExporter, body: &str, span: Option<&CapturedSpan>) {
    let records = exporter.get_emitted_logs().unwrap();
    let matching: Vec<_> = records
        .iter()
        .filter(|log| {
            log.record
                .body()
                .is_some_and(|value| format!("{value:?}").contains(body))
        })
        .collect();
    assert_eq!(matching.len(), 1, "one record with body {body:?}");
    let trace_context = matching[0].record.trace_context();
    match span {
        Some(span) => {
            let trace_context = trace_context.expect("record carries a trace context");
            assert_eq!(trace_context.trace_id, span.trace_id());
            assert_eq!(trace_context.span_id, span.span_id());
            assert_eq!(
                trace_context.trace_flags.map(|f| f.is_sampled()),
                Some(true)
            );
        }
        None => assert!(trace_context.is_none(), "no trace context outside a trace"),
    }
}

#[test]
fn exported_records_and_printed_lines_carry_the_ids_of_the_exported_spans() {
    let capture = SpanCapture::install();
    let exporter = InMemoryLogExporter::default();
    let provider = SdkLoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let output = Output::default();
    let subscriber = tracing_subscriber::registry()
        .with(trace_core::tracing_bridge::layer())
        .with(trace_log::otlp::layer(&provider))
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(JsonFormat::new())
                .with_writer(output.clone()),
        );
    let _subscriber = tracing::subscriber::set_default(subscriber);

    tracing::info!("booting");
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("POST /payments"));
    {
        let _active = server.context().clone().attach();
        tracing::info!("payment received");
        charge(1_999);
    }
    server.end();

    let server = capture.find("POST /payments");
    let charge = capture.find("charge");
    charge.assert_child_of(&server);

    assert_record_of(&exporter, "booting", None);
    assert_no_ids(&output.json_line("booting"));
    assert_record_of(&exporter, "payment received", Some(&server));
    assert_ids_of(&output.json_line("payment received"), &server);
    assert_record_of(&exporter, "charging card", Some(&charge));
    assert_ids_of(&output.json_line("charging card"), &charge);
    provider.shutdown().unwrap();
}

#[test]
fn a_provider_from_config_builds_for_http() {
    let config = trace_core::Config {
        service_name: Some("orders".into()),
        endpoint: Some("http://127.0.0.1:1".into()),
        ..trace_core::Config::default()
    };
    let provider = trace_log::otlp::logger_provider(&config).expect("HTTP log exporter");
    // Nothing listens on port 1: shutdown reports the failed export, it does not hang.
    let _ = provider.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_reach_a_real_otlp_receiver_with_the_span_ids() {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let capture = SpanCapture::install();
    let config = trace_core::Config {
        service_name: Some("payments".into()),
        protocol: trace_core::config::Protocol::Grpc,
        endpoint: Some(format!("http://127.0.0.1:{}", receiver.grpc_port)),
        ..trace_core::Config::default()
    };
    let provider = trace_log::otlp::logger_provider(&config).expect("OTLP/gRPC log exporter");
    let output = Output::default();
    let subscriber = tracing_subscriber::registry()
        .with(trace_core::tracing_bridge::layer())
        .with(trace_log::otlp::layer(&provider))
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(JsonFormat::new())
                .with_writer(output.clone()),
        );
    {
        let _subscriber = tracing::subscriber::set_default(subscriber);
        let server = TRACER.start(SpanKind::Server, || SpanStart::new("POST /refunds"));
        {
            let _active = server.context().clone().attach();
            tracing::warn!(refund.id = 9, "refund \"9\" requested");
        }
        server.end();
        tracing::info!("outside any trace");
    }
    // The batch processor exports from its own thread; flushing blocks until it is done.
    let flushed = tokio::task::spawn_blocking(move || {
        let flushed = provider.force_flush();
        let _ = provider.shutdown();
        flushed
    })
    .await
    .unwrap();
    flushed.expect("the receiver accepted the log records");

    let server = capture.find("POST /refunds");
    let records = receiver.records();
    let body = |record: &serde_json::Value| {
        record["body"]["stringValue"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let inside = records
        .iter()
        .find(|(_, record)| body(record) == "refund \"9\" requested")
        .unwrap_or_else(|| panic!("record received: {records:?}"));
    assert_eq!(inside.0, "payments");
    assert_eq!(inside.1["traceId"], server.trace_id().to_string());
    assert_eq!(inside.1["spanId"], server.span_id().to_string());
    // The span's W3C trace flags as received: sampled.
    assert_eq!(
        inside.1["flags"],
        u64::from(server.span_context.trace_flags().to_u8())
    );
    assert_eq!(inside.1["flags"], 1);
    assert_eq!(inside.1["severityText"], "WARN");
    assert_ids_of(&output.json_line("refund \"9\" requested"), &server);

    let outside = records
        .iter()
        .find(|(_, record)| body(record) == "outside any trace")
        .unwrap_or_else(|| panic!("record received: {records:?}"));
    assert!(
        outside.1.get("traceId").is_none(),
        "no trace id: {:?}",
        outside.1
    );
}
