//! Feature `otlp-logs`: log export takes trace-core's exporter settings and resource,
//! so the log records and the spans of one process reach the same collector with the
//! same headers, TLS trust and `service.instance.id`.
#![cfg(feature = "otlp-logs")]

mod support;

use std::time::Duration;

use opentelemetry::trace::SpanKind;
use support::receiver::{Receiver, resource_attribute};
use trace_core::config::{ExporterKind, Protocol};
use trace_core::{Config, ScopedTracer, SpanStart};
use tracing_subscriber::layer::SubscriberExt as _;

static TRACER: ScopedTracer = ScopedTracer::new("trace-log-test", "0.0.0");

/// A CA certificate (a public root): valid PEM, so exporters build with it.
const CA_PEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ca.pem");

#[test]
fn spans_and_log_records_of_one_process_share_the_service_instance_id() {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    // No `service_instance_id`: trace-core picks the process's random one, for both.
    let config = Config {
        service_name: Some("payments".into()),
        endpoint: Some(format!("http://127.0.0.1:{}", receiver.http_port)),
        protocol: Protocol::HttpProtobuf,
        headers: [("x-tenant".to_owned(), "shop".to_owned())].into(),
        compression: trace_core::config::Compression::Gzip,
        // Read for HTTP whatever the scheme: the logs exporter must take it too.
        certificate: Some(CA_PEM.into()),
        exporters: vec![ExporterKind::Otlp],
        ..Config::default()
    };
    let guard = trace_core::init(&config).expect("tracing starts");
    let logs = trace_log::otlp::logger_provider(&config).expect("log export starts");
    let subscriber = tracing_subscriber::registry().with(trace_log::otlp::layer(&logs));
    let span_context = tracing::subscriber::with_default(subscriber, || {
        let span = TRACER.start(SpanKind::Server, || SpanStart::new("POST /payments"));
        {
            let _active = span.context().clone().attach();
            tracing::info!("payment accepted");
        }
        let span_context = span.span_context();
        span.end();
        span_context
    });
    guard.force_flush().expect("the receiver took the spans");
    logs.force_flush()
        .expect("the receiver took the log records");

    let requests = receiver.requests();
    let traces = requests
        .iter()
        .find(|r| r.signal == "traces")
        .unwrap_or_else(|| panic!("a traces request: {requests:#?}"));
    let logs_request = requests
        .iter()
        .find(|r| r.signal == "logs")
        .unwrap_or_else(|| panic!("a logs request: {requests:#?}"));
    // Same collector, each signal on its own path, with the configured headers.
    assert_eq!(
        (traces.transport.as_str(), traces.path.as_str()),
        ("http", "/v1/traces")
    );
    assert_eq!(
        (logs_request.transport.as_str(), logs_request.path.as_str()),
        ("http", "/v1/logs")
    );
    assert_eq!(traces.headers["x-tenant"], "shop");
    assert_eq!(logs_request.headers["x-tenant"], "shop");
    assert_eq!(logs_request.headers["content-encoding"], "gzip");

    let (span_resource, exported_span) = traces.items()[0];
    let (log_resource, record) = logs_request
        .items()
        .into_iter()
        .find(|(_, record)| record["body"]["stringValue"] == "payment accepted")
        .unwrap_or_else(|| panic!("the record: {logs_request:#?}"));
    let instance = |resource| resource_attribute(resource, "service.instance.id");
    let instance_id = instance(span_resource).expect("spans carry service.instance.id");
    assert_eq!(instance(log_resource), Some(instance_id.clone()));
    assert_eq!(
        Some(instance_id.as_str()),
        guard
            .resource()
            .and_then(|r| r.get(&opentelemetry::Key::new("service.instance.id")))
            .map(|v| v.as_str().into_owned())
            .as_deref()
    );
    for resource in [span_resource, log_resource] {
        assert_eq!(
            resource_attribute(resource, "service.name").as_deref(),
            Some("payments")
        );
    }
    assert_eq!(exported_span["name"], "POST /payments");
    assert_eq!(record["traceId"], span_context.trace_id().to_string());
    assert_eq!(record["spanId"], span_context.span_id().to_string());

    logs.shutdown().expect("shut down");
    guard.shutdown().expect("shut down");
}

/// The message of the error `init` gives for `config`, and the one log export gives.
fn both_errors(config: &Config) -> (String, String) {
    let traces = trace_core::init(config)
        .expect_err("init fails")
        .to_string();
    let logs = trace_log::otlp::logger_provider(config)
        .expect_err("log export fails")
        .to_string();
    (traces, logs)
}

#[test]
fn a_certificate_file_that_cannot_be_read_fails_log_export_as_it_fails_init() {
    let path =
        std::env::temp_dir().join(format!("trace-log-no-such-ca-{}.pem", std::process::id()));
    let config = Config {
        endpoint: Some("https://collector.invalid:4318".into()),
        certificate: Some(path.display().to_string()),
        ..Config::default()
    };
    let (traces, logs) = both_errors(&config);
    let detail = format!(
        "cannot read `certificate` file {}: No such file or directory (os error 2)",
        path.display()
    );
    assert_eq!(
        traces,
        format!("tracing not started: cannot build the OTLP exporter: {detail}")
    );
    assert_eq!(
        logs,
        format!("log export not started: cannot build the OTLP log exporter: {detail}")
    );
}

#[test]
fn the_certificate_file_is_read_and_parsed_by_the_logs_exporter() {
    // Read, and parsed: a file that is not valid PEM fails both signals alike.
    let file = std::env::temp_dir().join(format!("trace-log-bad-ca-{}.pem", std::process::id()));
    std::fs::write(
        &file,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let config = Config {
        endpoint: Some("https://collector.invalid:4318".into()),
        certificate: Some(file.display().to_string()),
        ..Config::default()
    };
    let (traces, logs) = both_errors(&config);
    let _ = std::fs::remove_file(&file);
    // Spans go through trace-core's own client, logs through opentelemetry-otlp's:
    // each names the problem in its TLS stack's words.
    assert!(
        traces.starts_with(
            "tracing not started: cannot build the OTLP/HTTP client: `certificate` is not \
             valid PEM"
        ),
        "{traces}"
    );
    assert!(
        logs.starts_with(
            "log export not started: cannot build the OTLP/HTTP client: `certificate` is not \
             valid PEM"
        ),
        "{logs}"
    );

    // A valid CA file builds, and an export to an https collector then fails on the
    // connection, not on the settings.
    let config = Config {
        certificate: Some(CA_PEM.into()),
        timeout_ms: 200,
        ..config
    };
    let logs = trace_log::otlp::logger_provider(&config).expect("a valid CA file builds");
    let _ = logs.shutdown_with_timeout(Duration::from_secs(1));
}

#[tokio::test]
async fn grpc_reads_the_certificate_for_an_https_collector_as_init_does() {
    let config = Config {
        protocol: Protocol::Grpc,
        endpoint: Some("https://collector.invalid:4317".into()),
        certificate: Some("/nonexistent/trace-log-ca.pem".into()),
        ..Config::default()
    };
    let (traces, logs) = both_errors(&config);
    let detail = "cannot read `certificate` file /nonexistent/trace-log-ca.pem";
    assert!(traces.contains(detail), "{traces}");
    assert!(
        logs.starts_with(&format!(
            "log export not started: cannot build the OTLP log exporter: {detail}"
        )),
        "{logs}"
    );
}

#[test]
fn a_bad_logs_endpoint_is_a_config_error_naming_the_key() {
    let config = Config {
        logs_endpoint: Some("http//collector:4318/v1/logs".into()),
        ..Config::default()
    };
    let error = trace_log::otlp::logger_provider(&config)
        .expect_err("log export fails")
        .to_string();
    assert!(
        error.starts_with(
            "log export not started: invalid tracing config: `logs_endpoint` = \
             http//collector:4318/v1/logs (from code)"
        ),
        "{error}"
    );
}
