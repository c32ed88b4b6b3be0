//! Export to an independent OTLP receiver (PyPI `oteltest`, decoding with the official
//! protobuf definitions) over http/protobuf, http/json and gRPC.

mod support;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, Value};
use serde_json::json;
use support::{OtlpSink, SinkProtocol};
use trace_core::config::{Compression, Protocol};
use trace_core::{Config, ScopedTracer, SpanStart};

static TRACER: ScopedTracer = ScopedTracer::new("otlp-export-test", "1.2.3");
static SERIAL: Mutex<()> = Mutex::new(());

struct Sent {
    trace_id: String,
    root_id: String,
    child_id: String,
}

fn config_for(sink: &OtlpSink, protocol: Protocol, compression: Compression) -> Config {
    Config {
        service_name: Some("checkout".into()),
        service_version: Some("2.4.0".into()),
        service_namespace: Some("shop".into()),
        service_instance_id: Some("checkout-1".into()),
        environment: Some("test".into()),
        resource_attributes: BTreeMap::from([("team".to_owned(), "payments".to_owned())]),
        endpoint: Some(sink.endpoint()),
        protocol,
        compression,
        headers: BTreeMap::from([("x-api-key".to_owned(), "k-123".to_owned())]),
        ..Default::default()
    }
}

fn send_trace() -> Sent {
    let root = TRACER.start(SpanKind::Server, || {
        SpanStart::new("POST /orders").with_attributes([
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.response.status_code", 201),
            KeyValue::new("retry", false),
            KeyValue::new("ratio", 0.5),
            KeyValue::new(
                "tags",
                Value::Array(opentelemetry::Array::String(vec!["a".into(), "b".into()])),
            ),
        ])
    });
    let child = TRACER.start_with_parent(root.context(), SpanKind::Client, || {
        SpanStart::new("INSERT orders").with_attribute(KeyValue::new("db.system.name", "sqlite"))
    });
    child.record_error("constraint", "duplicate key");
    let sent = Sent {
        trace_id: root.span_context().trace_id().to_string(),
        root_id: root.span_context().span_id().to_string(),
        child_id: child.span_context().span_id().to_string(),
    };
    child.end();
    root.end();
    sent
}

fn export_and_check(sink_protocol: SinkProtocol, protocol: Protocol, compression: Compression) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(sink) = OtlpSink::start(sink_protocol) else {
        return;
    };
    let guard = trace_core::init(&config_for(&sink, protocol, compression)).unwrap();
    let sent = send_trace();
    let report = guard.shutdown().expect("the receiver accepts the export");
    assert_eq!((report.ended, report.exported), (2, 2));

    let spans = sink.wait_for_spans(2, Duration::from_secs(20));
    assert_eq!(spans.len(), 2);
    let root = spans.iter().find(|s| s.name() == "POST /orders").unwrap();
    let child = spans.iter().find(|s| s.name() == "INSERT orders").unwrap();
    assert_eq!(root.trace_id(), sent.trace_id);
    assert_eq!(child.trace_id(), sent.trace_id);
    assert_eq!(root.span_id(), sent.root_id);
    assert_eq!(child.span_id(), sent.child_id);
    assert_eq!(root.parent_span_id(), None);
    assert_eq!(child.parent_span_id(), Some(sent.root_id.as_str()));
    assert_eq!(root.kind(), "SPAN_KIND_SERVER");
    assert_eq!(child.kind(), "SPAN_KIND_CLIENT");
    assert_eq!(root.scope, "otlp-export-test");
    assert_eq!(root.attribute("http.request.method"), Some(json!("POST")));
    assert_eq!(
        root.attribute("http.response.status_code"),
        Some(json!(201))
    );
    assert_eq!(root.attribute("retry"), Some(json!(false)));
    assert_eq!(root.attribute("ratio"), Some(json!(0.5)));
    assert_eq!(root.attribute("tags"), Some(json!(["a", "b"])));
    assert_eq!(child.attribute("error.type"), Some(json!("constraint")));
    assert_eq!(child.span["status"]["code"], json!("STATUS_CODE_ERROR"));
    assert_eq!(child.span["status"]["message"], json!("duplicate key"));
    for (key, value) in [
        ("service.name", "checkout"),
        ("service.version", "2.4.0"),
        ("service.namespace", "shop"),
        ("service.instance.id", "checkout-1"),
        ("deployment.environment.name", "test"),
        ("team", "payments"),
        ("telemetry.sdk.language", "rust"),
    ] {
        assert_eq!(root.resource_attribute(key), Some(json!(value)), "{key}");
    }
    let requests = sink.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.headers["x-api-key"] == json!("k-123")),
        "{:?}",
        requests.iter().map(|r| &r.headers).collect::<Vec<_>>()
    );
}

#[test]
fn http_protobuf_export_is_decoded_by_an_independent_receiver() {
    export_and_check(
        SinkProtocol::Http,
        Protocol::HttpProtobuf,
        Compression::None,
    );
}

#[test]
fn http_protobuf_gzip_export_is_decoded_by_an_independent_receiver() {
    export_and_check(
        SinkProtocol::Http,
        Protocol::HttpProtobuf,
        Compression::Gzip,
    );
}

#[test]
fn http_json_export_is_decoded_by_an_independent_receiver() {
    export_and_check(SinkProtocol::Http, Protocol::HttpJson, Compression::None);
}

#[test]
fn grpc_export_is_decoded_by_an_independent_receiver() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        export_and_check(SinkProtocol::Grpc, Protocol::Grpc, Compression::None);
    });
}

#[test]
fn grpc_gzip_export_is_decoded_by_an_independent_receiver() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        export_and_check(SinkProtocol::Grpc, Protocol::Grpc, Compression::Gzip);
    });
}
