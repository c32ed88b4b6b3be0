//! Tests for `HtmlExporter`: the page it writes, what it holds, its limits. The
//! browser check of the drawn page runs in `cargo xtask test` (xtask/src/browser.rs).
#![cfg(feature = "html")]

use std::path::Path;
use std::time::Duration;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use serde_json::Value;
use trace_core::config::ExporterKind;
use trace_core::export::{HtmlExporter, OtlpJsonTraces};
use trace_core::{Config, ConfigError};

/// The JSON data block of the page at `path`.
fn page_data(path: &Path) -> Value {
    let page = std::fs::read_to_string(path).unwrap();
    let data = page
        .split("<script type=\"application/json\" id=\"trace-data\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the page has its data block");
    serde_json::from_str(data).unwrap()
}

fn row_names(trace: &Value) -> Vec<String> {
    (trace["rows"].as_array().unwrap().iter())
        .map(|row| match row["span"]["name"].as_str() {
            Some(name) => format!(
                "{}{name}",
                "  ".repeat(row["depth"].as_u64().unwrap() as usize)
            ),
            None => format!("missing {}", row["missing"]),
        })
        .collect()
}

fn provider_with(exporter: HtmlExporter) -> (SdkTracerProvider, SdkTracer) {
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("checkout").build())
        .with_simple_exporter(exporter)
        .build();
    let tracer = provider.tracer("html-test");
    (provider, tracer)
}

#[test]
fn the_page_exists_from_the_start_and_holds_each_finished_trace_stitched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.html");
    let exporter = HtmlExporter::create(&path)
        .unwrap()
        .with_quiet_period(Duration::ZERO);
    assert_eq!(page_data(&path)["traces"], serde_json::json!([]));
    let (provider, tracer) = provider_with(exporter);

    let client = tracer
        .span_builder("POST")
        .with_kind(SpanKind::Client)
        .start(&tracer);
    let client_cx = Context::new().with_span(client);
    let sent = client_cx.span().span_context().clone();
    let received = Context::new().with_remote_span_context(SpanContext::new(
        sent.trace_id(),
        sent.span_id(),
        sent.trace_flags(),
        true,
        TraceState::default(),
    ));
    let server = tracer
        .span_builder("POST /orders")
        .with_kind(SpanKind::Server)
        .start_with_context(&tracer, &received);
    let server_cx = Context::new().with_span(server);
    let mut charge = tracer
        .span_builder("charge")
        .with_attributes([KeyValue::new("error.type", "timeout")])
        .start_with_context(&tracer, &server_cx);
    charge.add_event("retrying", vec![KeyValue::new("attempt", 2)]);
    charge.set_status(Status::error("gave up"));
    charge.end();
    server_cx.span().end();
    client_cx.span().end();
    provider.force_flush().unwrap();

    let data = page_data(&path);
    assert_eq!(data["title"], "Traces · checkout");
    let trace = &data["traces"][0];
    assert_eq!(trace["traceId"], sent.trace_id().to_string());
    assert_eq!(trace["root"], "POST");
    assert_eq!(
        trace["entry"], "POST /orders",
        "the server the client called"
    );
    assert_eq!(trace["service"], "checkout");
    assert_eq!(trace["spanCount"], 3);
    assert_eq!(trace["errorCount"], 1);
    assert_eq!(row_names(trace), ["POST", "  POST /orders", "    charge"]);
    let charge = &trace["rows"][2];
    assert_eq!(charge["parent"], 1);
    assert_eq!(charge["span"]["status"], "error");
    assert_eq!(charge["span"]["message"], "gave up");
    assert_eq!(charge["span"]["errorType"], "timeout");
    assert_eq!(charge["span"]["events"][0]["name"], "retrying");
    assert_eq!(
        charge["span"]["events"][0]["attributes"],
        serde_json::json!([["attempt", "2"]])
    );
    assert_eq!(trace["rows"][1]["span"]["remoteParent"], true);
    provider.shutdown().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temporary file is left: {leftovers:?}"
    );
}

#[test]
fn a_later_piece_joins_its_trace_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.html");
    let exporter = HtmlExporter::create(&path)
        .unwrap()
        .with_quiet_period(Duration::ZERO);
    let (provider, tracer) = provider_with(exporter);
    let upstream = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(7),
        SpanId::from(9),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ));
    for name in ["GET /a", "GET /b"] {
        tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .start_with_context(&tracer, &upstream)
            .end();
    }
    provider.force_flush().unwrap();
    let data = page_data(&path);
    assert_eq!(data["traces"].as_array().unwrap().len(), 1);
    assert_eq!(
        row_names(&data["traces"][0]),
        ["missing \"0000000000000009\"", "  GET /a", "  GET /b"]
    );
    provider.shutdown().unwrap();
}

#[test]
fn the_page_keeps_the_newest_traces_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.html");
    let exporter = HtmlExporter::create(&path)
        .unwrap()
        .with_quiet_period(Duration::ZERO)
        .with_max_traces(2);
    let counters = exporter.counters();
    let (provider, tracer) = provider_with(exporter);
    for i in 0..5 {
        tracer.start(format!("job {i}")).end();
    }
    provider.shutdown().unwrap();
    let data = page_data(&path);
    let roots: Vec<&str> = (data["traces"].as_array().unwrap().iter())
        .map(|trace| trace["root"].as_str().unwrap())
        .collect();
    assert_eq!(roots, ["job 4", "job 3"], "newest first");
    assert_eq!(counters.traces_evicted(), 3);
    assert_eq!(data["evicted"], 3);
}

#[test]
fn a_page_in_a_missing_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir/traces.html");
    let error = HtmlExporter::create(&path).unwrap_err();
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
}

#[test]
fn a_file_from_elsewhere_renders_as_the_same_page() {
    let traces = OtlpJsonTraces::parse(include_str!("data/tour.jsonl"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tour.html");
    std::fs::write(&path, traces.to_html_page("Traces · tour")).unwrap();
    let data = page_data(&path);
    let traces = data["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 3);
    let counts: Vec<u64> = traces
        .iter()
        .map(|t| t["spanCount"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [17, 12, 12], "newest first: chain 3, 2, 1");
    assert_eq!(
        row_names(&traces[2])[..3],
        ["POST", "  POST /service/{module}/command", "    load_user"]
    );
}

#[test]
fn init_writes_the_page_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.html");
    let config = Config {
        service_name: Some("html-config".into()),
        exporters: vec![ExporterKind::Html],
        html_file_path: Some(path.display().to_string()),
        ..Config::default()
    };
    let guard = trace_core::init(&config).unwrap();
    assert!(
        guard
            .summary()
            .contains(&format!("html {}", path.display()))
    );
    let tracer = opentelemetry::global::tracer("html-config");
    let mut span = tracer.start("work");
    span.set_attribute(KeyValue::new("n", 1));
    span.end();
    guard.shutdown().unwrap();
    let data = page_data(&path);
    assert_eq!(data["title"], "Traces · html-config");
    assert_eq!(data["traces"][0]["root"], "work");

    let missing_path = Config {
        exporters: vec![ExporterKind::Html],
        ..Config::default()
    };
    let error: ConfigError = missing_path.validate().unwrap_err();
    assert!(error.to_string().contains("html_file_path"), "{error}");
}
