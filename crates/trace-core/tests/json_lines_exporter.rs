//! Tests for `JsonLinesExporter`: the OTLP/JSON line shape, typed values,
//! id encoding and one line per batch.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter};
use serde_json::{Value, json};
use trace_core::export::JsonLinesExporter;

fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("checkout")
        .build()
}

/// Records a SERVER root with a CLIENT child and an INTERNAL grandchild.
fn nested_trace() -> Vec<SpanData> {
    let memory = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(memory.clone())
        .build();
    let tracer = provider.tracer("json-test");
    let root = tracer
        .span_builder("POST /orders")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("http.route", "/orders"),
            KeyValue::new("retry", true),
            KeyValue::new("ratio", 1.5),
        ])
        .start(&tracer);
    let root_cx = Context::new().with_span(root);
    let client = tracer
        .span_builder("SELECT orders")
        .with_kind(SpanKind::Client)
        .start_with_context(&tracer, &root_cx);
    let client_cx = root_cx.with_span(client);
    let mut inner = tracer.start_with_context("decode", &client_cx);
    inner.add_event("row\nread", vec![KeyValue::new("rows", 3)]);
    inner.set_status(Status::error("bad row"));
    inner.end();
    client_cx.span().end();
    root_cx.span().end();
    memory.get_finished_spans().unwrap()
}

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn attribute<'a>(attributes: &'a Value, key: &str) -> &'a Value {
    attributes
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
        .unwrap_or_else(|| panic!("attribute {key} missing from {attributes}"))
}

#[tokio::test]
async fn batch_is_one_otlp_json_line_with_hex_ids_and_typed_values() {
    let spans = nested_trace();
    let ids: Vec<_> = spans.iter().map(|s| s.span_context.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spans.jsonl");
    let mut exporter = JsonLinesExporter::create(&path).unwrap();
    exporter.set_resource(&resource());
    exporter.export(spans).await.unwrap();
    exporter.shutdown().unwrap();

    let lines = read_lines(&path);
    assert_eq!(lines.len(), 1);
    let request = &lines[0];
    let resource_spans = request["resourceSpans"].as_array().unwrap();
    assert_eq!(resource_spans.len(), 1);
    assert_eq!(
        attribute(&resource_spans[0]["resource"]["attributes"], "service.name"),
        &json!({"stringValue": "checkout"})
    );
    let scope_spans = &resource_spans[0]["scopeSpans"][0];
    assert_eq!(scope_spans["scope"]["name"], "json-test");
    let spans = scope_spans["spans"].as_array().unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["decode", "SELECT orders", "POST /orders"]);
    let kinds: Vec<i64> = spans.iter().map(|s| s["kind"].as_i64().unwrap()).collect();
    assert_eq!(kinds, [1, 3, 2], "INTERNAL, CLIENT, SERVER as integers");

    for (span, cx) in spans.iter().zip(&ids) {
        assert_eq!(span["traceId"], cx.trace_id().to_string());
        assert_eq!(span["spanId"], cx.span_id().to_string());
        let trace_id = span["traceId"].as_str().unwrap();
        assert_eq!(trace_id.len(), 32);
        assert!(trace_id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        let start = span["startTimeUnixNano"].as_str().unwrap();
        let end = span["endTimeUnixNano"].as_str().unwrap();
        assert!(start.parse::<u64>().unwrap() <= end.parse::<u64>().unwrap());
    }
    assert_eq!(spans[0]["parentSpanId"], spans[1]["spanId"]);
    assert_eq!(spans[1]["parentSpanId"], spans[2]["spanId"]);
    assert!(
        spans[2]["parentSpanId"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );

    let attributes = &spans[2]["attributes"];
    assert_eq!(
        attribute(attributes, "http.response.status_code"),
        &json!({"intValue": "200"})
    );
    assert_eq!(
        attribute(attributes, "http.route"),
        &json!({"stringValue": "/orders"})
    );
    assert_eq!(attribute(attributes, "retry"), &json!({"boolValue": true}));
    assert_eq!(attribute(attributes, "ratio"), &json!({"doubleValue": 1.5}));

    assert_eq!(spans[0]["status"], json!({"code": 2, "message": "bad row"}));
    assert_eq!(spans[0]["events"][0]["name"], "row\nread");
    assert!(spans[0]["events"][0]["timeUnixNano"].is_string());
    assert_eq!(
        attribute(&spans[0]["events"][0]["attributes"], "rows"),
        &json!({"intValue": "3"})
    );
    assert_eq!(spans[1]["status"]["code"].as_i64().unwrap_or(0), 0);
}

#[tokio::test]
async fn each_batch_is_a_line_that_decodes_back_to_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spans.jsonl");
    let exporter = JsonLinesExporter::create(&path).unwrap();
    exporter.export(nested_trace()).await.unwrap();
    exporter.export(nested_trace()).await.unwrap();
    exporter.export(Vec::new()).await.unwrap();
    exporter.force_flush().unwrap();
    drop(exporter);

    // Reopening appends rather than truncating.
    let exporter = JsonLinesExporter::create(&path).unwrap();
    exporter.export(nested_trace()).await.unwrap();
    exporter.shutdown().unwrap();
    assert!(matches!(
        exporter.export(nested_trace()).await,
        Err(OTelSdkError::AlreadyShutdown)
    ));

    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.ends_with('\n'));
    let mut trace_ids = Vec::new();
    for line in text.lines() {
        let request: ExportTraceServiceRequest = serde_json::from_str(line).unwrap();
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0].trace_id.len(), 16);
        trace_ids.push(spans[0].trace_id.clone());
    }
    trace_ids.dedup();
    assert_eq!(trace_ids.len(), 3, "each line holds its own trace");
}

#[test]
fn provider_sets_the_resource_and_simple_export_writes_a_line_per_span() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spans.jsonl");
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_simple_exporter(JsonLinesExporter::create(&path).unwrap())
        .build();
    let tracer = provider.tracer("json-test");
    tracer.in_span("outer", |_cx| tracer.in_span("inner", |_cx| {}));
    provider.shutdown().unwrap();

    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(
            attribute(
                &line["resourceSpans"][0]["resource"]["attributes"],
                "service.name"
            ),
            &json!({"stringValue": "checkout"})
        );
    }
}

#[test]
fn create_error_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("spans.jsonl");
    let err = JsonLinesExporter::create(&path).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

/// A writer that fails writes and counts flushes.
#[derive(Clone, Default)]
struct Failing(Arc<Mutex<usize>>);

impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }

    fn flush(&mut self) -> io::Result<()> {
        *self.0.lock().unwrap() += 1;
        Ok(())
    }
}

#[tokio::test]
async fn writer_errors_are_reported_and_flush_reaches_the_writer() {
    let writer = Failing::default();
    let exporter = JsonLinesExporter::from_writer(writer.clone());
    match exporter.export(nested_trace()).await {
        Err(OTelSdkError::InternalFailure(msg)) => assert!(msg.contains("disk full"), "{msg}"),
        other => panic!("unexpected result {other:?}"),
    }
    exporter.force_flush().unwrap();
    exporter.shutdown().unwrap();
    assert_eq!(*writer.0.lock().unwrap(), 2);
}
