//! trace-core's batch export pipeline (`OtlpBatchProcessor`) in a provider the test
//! builds itself: spans arrive at an independent receiver (PyPI `oteltest`, decoding with
//! the official protobuf definitions) as they were ended, over http/protobuf and gRPC,
//! with and without gzip; 503 with `Retry-After` is retried; and every loss is counted and
//! named: a dead collector, a full queue.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::json;
use support::{
    OtlpSink, SinkFaults, SinkProtocol, closed_port, hanging_listener, pipeline_provider,
};
use trace_core::Config;
use trace_core::config::{BatchConfig, Compression, Protocol};
use trace_core::export::OtlpBatchProcessor;

/// What a test ended: the span's ids and its index attribute.
struct Ended {
    trace_id: String,
    span_id: String,
}

fn config(endpoint: String, protocol: Protocol, compression: Compression) -> Config {
    Config {
        service_name: Some("batch-export".into()),
        endpoint: Some(endpoint),
        protocol,
        compression,
        headers: BTreeMap::from([("x-api-key".to_owned(), "k-9".to_owned())]),
        shutdown_timeout_ms: 10_000,
        batch: BatchConfig {
            max_export_batch_size: 100,
            scheduled_delay_ms: 100,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Ends `count` spans with every attribute type; the `index` attribute tells them apart.
fn end_spans(provider: &SdkTracerProvider, count: usize) -> Vec<Ended> {
    let tracer = provider.tracer("batch-export-test");
    (0..count)
        .map(|index| {
            let mut span = tracer
                .span_builder(format!("span {index}"))
                .with_kind(SpanKind::Client)
                .start(&tracer);
            span.set_attributes([
                KeyValue::new("index", index as i64),
                KeyValue::new("text", format!("héllo {index}")),
                KeyValue::new("ratio", 0.25),
                KeyValue::new("flag", index % 2 == 0),
                KeyValue::new(
                    "tags",
                    Value::Array(opentelemetry::Array::String(vec!["a".into(), "b".into()])),
                ),
            ]);
            if index % 10 == 0 {
                span.add_event("retry", vec![KeyValue::new("attempt", 2)]);
                span.set_status(Status::error("boom"));
            }
            let context = span.span_context().clone();
            span.end();
            Ended {
                trace_id: context.trace_id().to_string(),
                span_id: context.span_id().to_string(),
            }
        })
        .collect()
}

fn export_and_compare(sink_protocol: SinkProtocol, protocol: Protocol, compression: Compression) {
    let Some(sink) = OtlpSink::start(sink_protocol) else {
        return;
    };
    let config = config(sink.endpoint(), protocol, compression);
    let (provider, status) = pipeline_provider(&config);
    const SPANS: usize = 350;
    let ended = end_spans(&provider, SPANS);
    provider.shutdown().expect("the receiver takes every span");
    let report = status.report();
    assert_eq!(
        (report.ended, report.exported, report.failed),
        (350, 350, 0)
    );
    assert_eq!(status.losses(), None);

    let received = sink.wait_for_spans(SPANS, Duration::from_secs(20));
    assert_eq!(received.len(), SPANS, "each span exactly once");
    for (index, sent) in ended.iter().enumerate() {
        let span = received
            .iter()
            .find(|span| span.span_id() == sent.span_id)
            .unwrap_or_else(|| panic!("span {index} ({}) not received", sent.span_id));
        assert_eq!(span.trace_id(), sent.trace_id);
        assert_eq!(span.name(), format!("span {index}"));
        assert_eq!(span.kind(), "SPAN_KIND_CLIENT");
        assert_eq!(span.scope, "batch-export-test");
        assert_eq!(span.attribute("index"), Some(json!(index)));
        assert_eq!(
            span.attribute("text"),
            Some(json!(format!("héllo {index}")))
        );
        assert_eq!(span.attribute("ratio"), Some(json!(0.25)));
        assert_eq!(span.attribute("flag"), Some(json!(index % 2 == 0)));
        assert_eq!(span.attribute("tags"), Some(json!(["a", "b"])));
        assert_eq!(
            span.resource_attribute("service.name"),
            Some(json!("batch-export"))
        );
        if index % 10 == 0 {
            assert_eq!(span.span["events"][0]["name"], json!("retry"));
            assert_eq!(span.span["status"]["code"], json!("STATUS_CODE_ERROR"));
            assert_eq!(span.span["status"]["message"], json!("boom"));
        } else {
            assert!(span.span["events"].is_null(), "{}", span.span);
        }
    }
    let requests = sink.requests();
    assert!(
        requests.len() >= 4,
        "batches of 100: {} requests",
        requests.len()
    );
    assert!(
        requests
            .iter()
            .all(|r| r.headers["x-api-key"] == json!("k-9"))
    );
}

#[test]
fn http_protobuf_spans_arrive_as_they_were_ended() {
    export_and_compare(
        SinkProtocol::Http,
        Protocol::HttpProtobuf,
        Compression::None,
    );
}

#[test]
fn http_protobuf_gzip_spans_arrive_as_they_were_ended() {
    export_and_compare(
        SinkProtocol::Http,
        Protocol::HttpProtobuf,
        Compression::Gzip,
    );
}

#[test]
fn grpc_spans_arrive_as_they_were_ended() {
    export_and_compare(SinkProtocol::Grpc, Protocol::Grpc, Compression::None);
}

#[test]
fn grpc_gzip_spans_arrive_as_they_were_ended() {
    export_and_compare(SinkProtocol::Grpc, Protocol::Grpc, Compression::Gzip);
}

#[test]
fn a_503_with_retry_after_is_retried_then_delivered() {
    let faults = SinkFaults {
        unavailable_first: 2,
        retry_after_secs: 1,
        ..SinkFaults::default()
    };
    // Two answers asked for a second each.
    retried_then_delivered(SinkProtocol::Http, Protocol::HttpProtobuf, faults, 1_900);
}

#[test]
fn a_grpc_unavailable_is_retried_with_backoff_then_delivered() {
    let faults = SinkFaults {
        unavailable_first: 2,
        ..SinkFaults::default()
    };
    // UNAVAILABLE carries no RetryInfo here: the backoff (1 s, then about 2 s, with
    // jitter) decides the waits, within the export timeout.
    retried_then_delivered(SinkProtocol::Grpc, Protocol::Grpc, faults, 900);
}

/// Ends 40 spans into a sink that answers the first two requests with `faults`: the
/// flush waits at least `min_wait_ms`, then every span is delivered once, nothing lost.
fn retried_then_delivered(
    sink_protocol: SinkProtocol,
    protocol: Protocol,
    faults: SinkFaults,
    min_wait_ms: u64,
) {
    let Some(sink) = OtlpSink::start_with(sink_protocol, faults) else {
        return;
    };
    let config = config(sink.endpoint(), protocol, Compression::None);
    let (provider, status) = pipeline_provider(&config);
    let ended = end_spans(&provider, 40);
    let started = Instant::now();
    provider.force_flush().expect("delivered after the retries");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(min_wait_ms),
        "the two refused requests were retried after only {waited:?}"
    );
    let report = status.report();
    assert_eq!((report.exported, report.failed), (40, 0), "{report:?}");
    let statuses: Vec<u16> = sink.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
    let received = sink.spans();
    assert_eq!(received.len(), 40);
    assert!(
        ended
            .iter()
            .all(|e| received.iter().any(|r| r.span_id() == e.span_id))
    );
    provider.shutdown().expect("nothing lost");
}

#[test]
fn a_dead_collector_fails_every_span_and_shutdown_keeps_its_timeout() {
    let port = closed_port();
    let mut config = config(
        format!("http://127.0.0.1:{port}"),
        Protocol::HttpProtobuf,
        Compression::None,
    );
    config.batch.max_export_batch_size = 512;
    let (provider, status) = pipeline_provider(&config);
    end_spans(&provider, 3_000);
    let started = Instant::now();
    let error = provider
        .shutdown_with_timeout(Duration::from_millis(1_000))
        .expect_err("nothing can be delivered");
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1_300),
        "shutdown took {took:?}"
    );
    let report = status.report();
    assert_eq!((report.ended, report.exported), (3_000, 0));
    assert_eq!(report.dropped_queue_full, 0, "{report:?}");
    // Every batch was tried at least once before the deadline.
    assert_eq!(report.failed, 3_000, "{report:?}");
    // The provider wraps the processor's message in its own.
    assert!(
        error.to_string().contains(&format!(
            "span export lost spans: 3000 failed (collector unreachable at \
             http://127.0.0.1:{port}/v1/traces: connection refused); 0 of 3000 spans exported"
        )),
        "{error}"
    );
}

#[test]
fn a_full_queue_drops_and_counts_exactly() {
    let port = hanging_listener();
    let mut config = config(
        format!("http://127.0.0.1:{port}"),
        Protocol::HttpProtobuf,
        Compression::None,
    );
    config.timeout_ms = 60_000;
    config.batch = BatchConfig {
        max_queue_size: 300,
        max_export_batch_size: 100,
        scheduled_delay_ms: 60_000,
        export_timeout_ms: 60_000,
        max_concurrent_exports: 1,
    };
    let (provider, status) = pipeline_provider(&config);
    // The first batch goes out and hangs: the only export slot stays taken.
    end_spans(&provider, 100);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status.queued() > 0 {
        assert!(Instant::now() < deadline, "the first batch was never taken");
        std::thread::sleep(Duration::from_millis(5));
    }
    end_spans(&provider, 1_000);
    assert_eq!(status.queued(), 300);
    let report = status.report();
    assert_eq!((report.ended, report.dropped_queue_full), (1_100, 700));
    assert_eq!(report.unsent(), 400, "300 queued, 100 in flight");
    assert_eq!(
        status.losses().as_deref(),
        Some("700 dropped because the queue was full (300 spans)")
    );
    let error = provider
        .shutdown_with_timeout(Duration::from_millis(500))
        .expect_err("the hung export cannot finish");
    assert!(
        error.to_string().contains(&format!(
            "span export lost spans: 100 failed (no answer from \
             http://127.0.0.1:{port}/v1/traces: shutdown timed out after 500 ms), 700 \
             dropped because the queue was full (300 spans), 300 left unsent; 0 of 1100 \
             spans exported"
        )),
        "{error}"
    );
}

#[test]
fn a_flush_reports_what_was_lost_since_the_previous_flush() {
    let port = closed_port();
    let mut config = config(
        format!("http://127.0.0.1:{port}"),
        Protocol::Grpc,
        Compression::None,
    );
    // One attempt per batch: no time is left for a retry.
    config.batch.export_timeout_ms = 300;
    let (provider, _status) = pipeline_provider(&config);
    end_spans(&provider, 5);
    let error = provider.force_flush().expect_err("the collector is down");
    assert!(
        error.to_string().contains(&format!(
            "span export lost spans: 5 failed (collector unreachable at \
             http://127.0.0.1:{port}: connection refused)"
        )),
        "{error}"
    );
    provider.force_flush().expect("nothing lost since");
    let _ = provider.shutdown();
}

#[test]
fn unsampled_spans_are_not_exported() {
    let port = closed_port();
    let config = config(
        format!("http://127.0.0.1:{port}"),
        Protocol::HttpProtobuf,
        Compression::None,
    );
    let processor = OtlpBatchProcessor::from_config(&config).unwrap();
    let status = processor.status();
    let provider = SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
        .with_span_processor(processor)
        .build();
    end_spans(&provider, 10);
    provider.shutdown().expect("nothing to export");
    assert_eq!(status.report().ended, 0);
}

#[test]
fn a_config_it_cannot_use_is_an_error_naming_the_problem() {
    let mut config = config(
        "http://127.0.0.1:4318".into(),
        Protocol::HttpJson,
        Compression::None,
    );
    let error = OtlpBatchProcessor::from_config(&config).unwrap_err();
    assert!(error.to_string().contains("`http/json`"), "{error}");
    config.protocol = Protocol::HttpProtobuf;
    config.certificate = Some("/nonexistent/ca.pem".into());
    let error = OtlpBatchProcessor::from_config(&config).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot read `certificate` file /nonexistent/ca.pem"),
        "{error}"
    );
    config.certificate = None;
    config.batch.max_concurrent_exports = 0;
    let error = OtlpBatchProcessor::from_config(&config).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`batch.max_concurrent_exports` = 0"),
        "{error}"
    );
}
