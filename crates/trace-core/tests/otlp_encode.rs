//! trace-core's OTLP encoder against opentelemetry-otlp's own path, over random spans:
//! our bytes decode (with opentelemetry-proto's types) to the request
//! opentelemetry-proto builds for the same spans, and are byte for byte prost's
//! encoding of it; the gzip body inflates back to them; and the independent receiver
//! of the test suite (`support`) decodes them.
#![cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::trace::{Span as _, TraceContextExt as _};
use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor, SpanData, SpanEvents, SpanLinks,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::string::string_regex;
use prost::Message as _;
use serde_json::json;
use support::{OtlpSink, SinkProtocol};
use trace_core::testing::{OtlpTraceEncoder, grpc_message_prefix};

mod support;

/// Cases per property; each is a batch of up to eight spans.
const CASES: u32 = 512;

thread_local! {
    /// One encoder for every case, as an exporter keeps one: each batch is encoded into
    /// buffers the previous batches left.
    static ENCODER: RefCell<OtlpTraceEncoder> = RefCell::new(OtlpTraceEncoder::new());
}

/// What opentelemetry-otlp sends for `spans` (it hands the batch to
/// opentelemetry-proto's grouping, then prost encodes the request).
fn reference(resource: &Resource, spans: &[SpanData]) -> ExportTraceServiceRequest {
    let resource = ResourceAttributesWithSchema::from(resource);
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans.to_vec(), &resource),
    }
}

/// `request` with its scope groups in one canonical order (OTLP gives their order no
/// meaning), then encoded: comparing these bytes compares the requests with doubles
/// bit for bit, NaN included, which `PartialEq` cannot.
fn canonical_bytes(mut request: ExportTraceServiceRequest) -> Vec<u8> {
    for resource_spans in &mut request.resource_spans {
        resource_spans
            .scope_spans
            .sort_by_cached_key(|scope_spans| scope_spans.encode_to_vec());
    }
    request.encode_to_vec()
}

/// Where two byte strings first differ, for a failure message that does not print
/// megabytes.
fn first_difference(ours: &[u8], theirs: &[u8]) -> String {
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    format!(
        "{} bytes vs {} expected; first difference at byte {at}",
        ours.len(),
        theirs.len()
    )
}

/// Checks our encoding of `spans` against opentelemetry-otlp's, and our gzip body.
fn check(resource: &Resource, spans: &[SpanData]) -> Result<(), TestCaseError> {
    ENCODER.with_borrow_mut(|encoder| {
        let ours = encoder.encode(resource, spans).to_vec();
        let reference = reference(resource, spans);
        let reference_bytes = reference.encode_to_vec();

        let decoded = ExportTraceServiceRequest::decode(ours.as_slice())
            .map_err(|e| TestCaseError::fail(format!("our bytes do not decode: {e}")))?;
        let (decoded, expected) = (canonical_bytes(decoded), canonical_bytes(reference));
        prop_assert!(
            decoded == expected,
            "decoded request differs from opentelemetry-otlp's: {}",
            first_difference(&decoded, &expected)
        );
        // Byte for byte too: scope groups come in the order of their first span, as
        // opentelemetry-proto's grouping makes them, and fields in field-number order
        // with proto3 defaults left out, as prost writes them.
        prop_assert!(
            ours == reference_bytes,
            "bytes differ from prost's encoding of opentelemetry-otlp's request: {}",
            first_difference(&ours, &reference_bytes)
        );

        let gzip = encoder
            .encode_gzip(resource, spans)
            .map_err(|e| TestCaseError::fail(format!("gzip failed: {e}")))?
            .to_vec();
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(gzip.as_slice())
            .read_to_end(&mut inflated)
            .map_err(|e| TestCaseError::fail(format!("our gzip does not inflate: {e}")))?;
        prop_assert!(inflated == ours, "gzip body inflates to other bytes");
        Ok(())
    })
}

/// Strings as spans carry them: often empty, any Unicode (controls, NUL, astral
/// planes), now and then a huge one (hundreds of KiB: lengths of three varint bytes).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        12 => string_regex("(?s).{0,24}").expect("valid regex"),
        1 => (1usize..4, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n * 40_000)),
    ]
}

/// Doubles of every class: NaNs with any payload and sign, infinities, signed zeros,
/// subnormals.
fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        any::<u64>().prop_map(f64::from_bits),
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 2.0),
    ]
}

/// A string value in each of `StringValue`'s representations.
fn string_value() -> impl Strategy<Value = StringValue> {
    prop_oneof![
        text().prop_map(StringValue::from),
        text().prop_map(|s| StringValue::from(Arc::<str>::from(s))),
        Just(StringValue::from("static")),
    ]
}

/// Every kind of attribute value opentelemetry has.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        double().prop_map(Value::F64),
        string_value().prop_map(Value::String),
        vec(any::<bool>(), 0..4).prop_map(|items| Value::Array(Array::Bool(items))),
        vec(any::<i64>(), 0..4).prop_map(|items| Value::Array(Array::I64(items))),
        vec(double(), 0..4).prop_map(|items| Value::Array(Array::F64(items))),
        vec(string_value(), 0..4).prop_map(|items| Value::Array(Array::String(items))),
    ]
}

fn attributes(max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (text(), value()).prop_map(|(key, value)| KeyValue::new(key, value)),
        0..=max,
    )
}

fn dropped() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), any::<u32>()]
}

/// Times at, before (written as 0) and after the epoch, up to past 2554 (where
/// nanoseconds wrap in 64 bits).
fn time() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        Just(UNIX_EPOCH),
        any::<u64>().prop_map(|nanos| UNIX_EPOCH + Duration::from_nanos(nanos)),
        (1..u64::MAX).prop_map(|nanos| UNIX_EPOCH - Duration::from_nanos(nanos)),
        (0..1u64 << 40).prop_map(|secs| UNIX_EPOCH + Duration::from_secs(secs)),
    ]
}

fn trace_state() -> impl Strategy<Value = TraceState> {
    let member = (
        string_regex("[a-z][a-z0-9_*/-]{0,8}").expect("valid regex"),
        string_regex("[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,10}").expect("valid regex"),
    );
    prop_oneof![
        Just(TraceState::default()),
        vec(member, 0..4)
            .prop_map(|members| TraceState::from_key_value(members).unwrap_or_default()),
    ]
}

fn span_context() -> impl Strategy<Value = SpanContext> {
    (
        any::<u128>(),
        any::<u64>(),
        any::<u8>(),
        any::<bool>(),
        trace_state(),
    )
        .prop_map(|(trace_id, span_id, flags, remote, state)| {
            SpanContext::new(
                TraceId::from(trace_id),
                SpanId::from(span_id),
                TraceFlags::new(flags),
                remote,
                state,
            )
        })
}

fn event() -> impl Strategy<Value = Event> {
    (text(), time(), attributes(3), dropped())
        .prop_map(|(name, time, attributes, dropped)| Event::new(name, time, attributes, dropped))
}

fn link() -> impl Strategy<Value = Link> {
    (span_context(), attributes(3), dropped())
        .prop_map(|(context, attributes, dropped)| Link::new(context, attributes, dropped))
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Unset),
        Just(Status::Ok),
        text().prop_map(Status::error),
    ]
}

fn kind() -> impl Strategy<Value = SpanKind> {
    prop_oneof![
        Just(SpanKind::Internal),
        Just(SpanKind::Server),
        Just(SpanKind::Client),
        Just(SpanKind::Producer),
        Just(SpanKind::Consumer),
    ]
}

fn scope() -> impl Strategy<Value = InstrumentationScope> {
    (
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        attributes(3),
    )
        .prop_map(|(name, version, schema_url, attributes)| {
            let mut scope = InstrumentationScope::builder(name).with_attributes(attributes);
            if let Some(version) = version {
                scope = scope.with_version(version);
            }
            if let Some(schema_url) = schema_url {
                scope = scope.with_schema_url(schema_url);
            }
            scope.build()
        })
}

/// Scopes for a batch: random ones, plus a copy of the first with its attributes in
/// reverse order, which is the same scope.
fn scopes() -> impl Strategy<Value = Vec<InstrumentationScope>> {
    vec(scope(), 1..4).prop_map(|mut scopes| {
        let first = &scopes[0];
        let mut attributes: Vec<KeyValue> = first.attributes().cloned().collect();
        attributes.reverse();
        let mut reversed =
            InstrumentationScope::builder(first.name().to_owned()).with_attributes(attributes);
        if let Some(version) = first.version() {
            reversed = reversed.with_version(version.to_owned());
        }
        if let Some(schema_url) = first.schema_url() {
            reversed = reversed.with_schema_url(schema_url.to_owned());
        }
        scopes.push(reversed.build());
        scopes
    })
}

fn resource() -> impl Strategy<Value = Resource> {
    (attributes(4), proptest::option::of(text())).prop_map(|(attributes, schema_url)| {
        let builder = Resource::builder_empty();
        match schema_url {
            Some(schema_url) => builder.with_schema_url(attributes, schema_url),
            None => builder.with_attributes(attributes),
        }
        .build()
    })
}

/// A span, with its scope to be picked from the batch's by index.
fn span(scopes: Vec<InstrumentationScope>) -> impl Strategy<Value = SpanData> {
    let ids = (
        span_context(),
        prop_oneof![Just(SpanId::INVALID), any::<u64>().prop_map(SpanId::from)],
        any::<bool>(),
        kind(),
        text(),
    );
    let body = (time(), time(), attributes(6), dropped(), status());
    let children = (vec(event(), 0..3), dropped(), vec(link(), 0..3), dropped());
    (ids, body, children, 0..scopes.len()).prop_map(move |(ids, body, children, scope)| {
        let (span_context, parent_span_id, parent_span_is_remote, span_kind, name) = ids;
        let (start_time, end_time, attributes, dropped_attributes_count, status) = body;
        let (events, dropped_events, links, dropped_links) = children;
        let mut span_events = SpanEvents::default();
        span_events.events = events;
        span_events.dropped_count = dropped_events;
        let mut span_links = SpanLinks::default();
        span_links.links = links;
        span_links.dropped_count = dropped_links;
        SpanData {
            span_context,
            parent_span_id,
            parent_span_is_remote,
            span_kind,
            name: Cow::Owned(name),
            start_time,
            end_time,
            attributes,
            dropped_attributes_count,
            events: span_events,
            links: span_links,
            status,
            instrumentation_scope: scopes[scope].clone(),
        }
    })
}

fn batch() -> impl Strategy<Value = (Resource, Vec<SpanData>)> {
    (resource(), scopes())
        .prop_flat_map(|(resource, scopes)| (Just(resource), vec(span(scopes), 0..8)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn our_request_is_opentelemetry_otlps((resource, spans) in batch()) {
        check(&resource, &spans)?;
    }
}

/// The resource of [`provider_spans`]' provider.
fn provider_resource() -> Resource {
    Resource::builder()
        .with_service_name("checkout")
        .with_attribute(KeyValue::new("deployment.environment.name", "test"))
        .build()
}

/// Spans as a provider really ends them: a remote parent, children, an error status,
/// events and links, two tracers. Three queries (scope `trace-db`), then the request
/// (scope `trace-http`).
fn provider_spans() -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(provider_resource())
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build();
    let server = provider.tracer_with_scope(
        InstrumentationScope::builder("trace-http")
            .with_version("0.1.0")
            .with_schema_url("https://opentelemetry.io/schemas/1.26.0")
            .build(),
    );
    let db = provider.tracer("trace-db");
    let remote = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        true,
        "vendor=value,other=1".parse().expect("valid trace state"),
    );
    let parent = Context::new().with_remote_span_context(remote.clone());
    let request = server
        .span_builder("GET /orders/{id}")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.response.status_code", 500),
            KeyValue::new("url.path", "/orders/7"),
        ])
        .with_links(vec![Link::new(
            remote,
            vec![KeyValue::new("link", true)],
            0,
        )])
        .start_with_context(&server, &parent);
    let cx = parent.with_span(request);
    for n in 0..3_i64 {
        let mut query = db
            .span_builder("SELECT orders")
            .with_kind(SpanKind::Client)
            .start_with_context(&db, &cx);
        query.add_event("row", vec![KeyValue::new("n", n)]);
        query.end();
    }
    cx.span().set_status(Status::error("HTTP 500"));
    cx.span().end();
    provider.force_flush().expect("in-memory flush");
    let spans = exporter.get_finished_spans().expect("captured spans");
    let _ = provider.shutdown();
    spans
}

#[test]
fn spans_from_a_provider_encode_as_opentelemetry_otlp_does() {
    let spans = provider_spans();
    assert_eq!(spans.len(), 4);
    let resource = provider_resource();
    check(&resource, &spans).expect("same request as opentelemetry-otlp");
    // The batch's order is kept within a scope: the three queries, then the request.
    let request =
        ExportTraceServiceRequest::decode(OtlpTraceEncoder::new().encode(&resource, &spans))
            .expect("decodes");
    let scopes = &request.resource_spans[0].scope_spans;
    assert_eq!(scopes.len(), 2);
    assert_eq!(
        scopes[0].scope.as_ref().map(|s| s.name.as_str()),
        Some("trace-db")
    );
    assert_eq!(scopes[0].spans.len(), 3);
    assert_eq!(scopes[1].spans[0].flags, 0x301, "sampled, remote parent");
}

/// POSTs `body` to the receiver's `/v1/traces` over plain HTTP/1.1 (our own few lines,
/// so that nothing of opentelemetry-otlp's client is involved); the status code.
fn post(sink: &OtlpSink, body: &[u8], gzip: bool) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", sink.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let encoding = if gzip {
        "Content-Encoding: gzip\r\n"
    } else {
        ""
    };
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n\
         {encoding}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    let mut response = String::new();
    let _ = BufReader::new(stream).read_line(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_default()
}

/// The independent receiver (official protobuf definitions, in Python) accepts our
/// bytes, plain and gzip, and finds every span in them.
#[test]
fn the_independent_receiver_decodes_our_bodies() {
    let Some(sink) = OtlpSink::start(SinkProtocol::Http) else {
        return;
    };
    let spans = provider_spans();
    let resource = provider_resource();
    let mut encoder = OtlpTraceEncoder::new();
    let body = encoder.encode(&resource, &spans).to_vec();
    assert_eq!(post(&sink, &body, false), 200);
    let gzip = encoder
        .encode_gzip(&resource, &spans)
        .expect("gzip")
        .to_vec();
    assert_eq!(post(&sink, &gzip, true), 200);

    let received = sink.wait_for_spans(8, Duration::from_secs(20));
    assert_eq!(received.len(), 8);
    for span in &received {
        assert_eq!(
            span.resource_attribute("service.name"),
            Some(json!("checkout"))
        );
    }
    let request = received
        .iter()
        .find(|s| s.name() == "GET /orders/{id}")
        .expect("the server span");
    assert_eq!(request.scope, "trace-http");
    assert_eq!(request.kind(), "SPAN_KIND_SERVER");
    assert_eq!(request.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(request.parent_span_id(), Some("00f067aa0ba902b7"));
    assert_eq!(
        request.attribute("http.response.status_code"),
        Some(json!(500))
    );
    assert_eq!(request.span["status"]["message"], json!("HTTP 500"));
    assert_eq!(
        request.span["links"][0]["traceState"],
        json!("vendor=value,other=1")
    );
    let queries = received.iter().filter(|s| s.name() == "SELECT orders");
    assert!(
        queries
            .clone()
            .all(|q| q.scope == "trace-db" && q.kind() == "SPAN_KIND_CLIENT")
    );
    assert_eq!(queries.count(), 6);
}

#[test]
fn an_empty_batch_is_one_resource_and_no_scope() {
    let resource = Resource::builder_empty()
        .with_schema_url(
            [KeyValue::new("service.name", "idle")],
            "https://example.com/1",
        )
        .build();
    check(&resource, &[]).expect("same request as opentelemetry-otlp");
}

#[test]
fn grpc_prefix_is_the_flag_then_the_length_big_endian() {
    assert_eq!(grpc_message_prefix(0, false), Some([0, 0, 0, 0, 0]));
    assert_eq!(
        grpc_message_prefix(0x0102_0304, true),
        Some([1, 1, 2, 3, 4])
    );
    assert_eq!(
        grpc_message_prefix(u32::MAX as usize, false),
        Some([0, 255, 255, 255, 255])
    );
    if let Ok(too_long) = usize::try_from(u64::from(u32::MAX) + 1) {
        assert_eq!(grpc_message_prefix(too_long, false), None);
    }
}

/// Gzip at every level, on a body deflate cannot shrink (so the output outgrows the
/// room first reserved for it) and on an empty batch's.
#[test]
fn gzip_at_every_level_inflates_to_the_body() {
    // Printable noise from a linear congruential generator: 512 KiB that stay large.
    let mut state = 0x2545_f491_u64;
    let noise: String = (0..512 * 1024)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            char::from(b'!' + (state >> 58) as u8)
        })
        .collect();
    let noisy = Resource::builder_empty()
        .with_attribute(KeyValue::new("noise", noise))
        .build();
    let empty = Resource::builder_empty().build();
    for level in 0..=9 {
        let mut encoder = OtlpTraceEncoder::with_gzip_level(level);
        for resource in [&noisy, &empty, &noisy] {
            let body = encoder.encode(resource, &[]).to_vec();
            let gzip = encoder.encode_gzip(resource, &[]).expect("gzip").to_vec();
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(gzip.as_slice())
                .read_to_end(&mut inflated)
                .expect("inflates");
            assert!(inflated == body, "level {level}: inflates to other bytes");
        }
    }
}
