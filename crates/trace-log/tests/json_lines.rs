//! JSON lines: the ids of each line match the spans that were exported.
//!
//! Traces started in these tests are sampled roots of the SDK: `trace_flags` is `01`.

mod support;

use opentelemetry::Context;
use opentelemetry::trace::SpanKind;
use serde_json::Value;
use support::{Output, assert_ids_of, assert_no_ids};
use trace_core::testing::SpanCapture;
use trace_core::{ScopedTracer, SpanStart};
use trace_log::{JsonFormat, TraceIdFields};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt as _;

static TRACER: ScopedTracer = ScopedTracer::new("trace-log-test", "0.0.0");

/// A subscriber as a service sets it up: the `tracing` bridge and a JSON `fmt` layer.
fn install(format: JsonFormat) -> (Output, DefaultGuard) {
    let output = Output::default();
    let subscriber = tracing_subscriber::registry()
        .with(trace_core::tracing_bridge::layer())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(format)
                .with_writer(output.clone()),
        );
    (output, tracing::subscriber::set_default(subscriber))
}

#[test]
fn lines_in_a_server_span_carry_its_ids() {
    let capture = SpanCapture::install();
    let (output, _subscriber) = install(JsonFormat::new());
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /orders/{id}"));
    {
        let _active = server.context().clone().attach();
        tracing::info!(order.id = 42, "handling order");
    }
    server.end();

    let line = output.json_line("handling order");
    assert_ids_of(&line, &capture.find("GET /orders/{id}"));
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["target"], "json_lines");
    assert_eq!(line["fields"]["order.id"], 42);
    assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn lines_outside_any_span_carry_no_ids() {
    let _capture = SpanCapture::install();
    let (output, _subscriber) = install(JsonFormat::new());
    tracing::warn!("starting up");
    let line = output.json_line("starting up");
    assert_no_ids(&line);
    assert!(line.get("span").is_none());
}

#[test]
fn lines_in_a_nested_span_carry_the_innermost_ids_and_the_parent_after_it_ends() {
    let capture = SpanCapture::install();
    let (output, _subscriber) = install(JsonFormat::new());
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /orders/{id}"));
    {
        let _server_active = server.context().clone().attach();
        let query = TRACER.start(SpanKind::Client, || SpanStart::new("SELECT orders"));
        {
            let _query_active = query.context().clone().attach();
            tracing::debug!("querying");
        }
        query.end();
        tracing::info!("answered");
    }
    server.end();

    let server = capture.find("GET /orders/{id}");
    let query = capture.find("SELECT orders");
    query.assert_child_of(&server);
    assert_ids_of(&output.json_line("querying"), &query);
    assert_ids_of(&output.json_line("answered"), &server);
}

#[tracing::instrument]
fn price_order(order_id: u64) {
    tracing::info!("pricing");
}

#[test]
fn lines_in_an_instrumented_function_carry_the_tracing_spans_ids() {
    let capture = SpanCapture::install();
    let (output, _subscriber) = install(JsonFormat::new());
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("POST /orders"));
    {
        let _active = server.context().clone().attach();
        price_order(7);
        tracing::info!("priced");
    }
    server.end();

    let server = capture.find("POST /orders");
    let instrumented = capture.find("price_order");
    instrumented.assert_child_of(&server);
    let line = output.json_line("pricing");
    assert_ids_of(&line, &instrumented);
    assert_eq!(line["span"]["name"], "price_order");
    assert_ids_of(&output.json_line("priced"), &server);
}

#[tokio::test]
async fn lines_in_a_task_spawned_with_the_context_carry_the_callers_ids() {
    let capture = SpanCapture::install();
    let (output, _subscriber) = install(JsonFormat::new());
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("POST /events"));
    trace_core::in_context(server.context().clone(), async {
        trace_core::spawn_in_current_context(async {
            tracing::info!("in background task");
        })
        .await
        .unwrap();
        // A plain spawn loses the context: its line must carry no ids.
        tokio::spawn(async { tracing::info!("in detached task") })
            .await
            .unwrap();
    })
    .await;
    server.end();

    assert_ids_of(
        &output.json_line("in background task"),
        &capture.find("POST /events"),
    );
    assert_no_ids(&output.json_line("in detached task"));
}

#[test]
fn an_unsampled_remote_parent_gives_its_ids_with_flags_00() {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };

    let _capture = SpanCapture::install();
    let (output, _subscriber) = install(JsonFormat::new());
    let remote = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::NOT_SAMPLED,
        true,
        TraceState::default(),
    );
    {
        let _active = Context::new().with_remote_span_context(remote).attach();
        tracing::info!("not sampled upstream");
    }
    let line = output.json_line("not sampled upstream");
    assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(line["span_id"], "00f067aa0ba902b7");
    assert_eq!(line["trace_flags"], "00");
}

#[test]
fn field_values_with_quotes_newlines_and_unicode_stay_valid_json() {
    let _capture = SpanCapture::install();
    let (output, _subscriber) = install(JsonFormat::new());
    let hostile = "say \"hi\"\\\n\r\t\u{0}\u{1b}[31m ✓ 日本 🦀 \u{2028}";
    let error = std::io::Error::other("disk \"full\"\nretry later");
    tracing::error!(
        user.note = hostile,
        debugged = ?hostile,
        error = &error as &dyn std::error::Error,
        ratio = f64::NAN,
        big = u128::MAX,
        flag = true,
        r#type = "raw",
        "message with \"quotes\"\nand a newline"
    );

    let lines = output.json();
    assert_eq!(lines.len(), 1, "one event, one line:\n{}", output.text());
    let fields = &lines[0]["fields"];
    assert_eq!(fields["message"], "message with \"quotes\"\nand a newline");
    assert_eq!(fields["user.note"], hostile);
    assert_eq!(fields["debugged"], format!("{hostile:?}"));
    assert_eq!(fields["error"], "disk \"full\"\nretry later");
    assert_eq!(fields["ratio"], "NaN");
    // Written as an exact JSON number (serde_json reads it back as a float).
    assert!(output.text().contains(&format!("\"big\":{}", u128::MAX)));
    assert_eq!(fields["flag"], true);
    assert_eq!(fields["type"], "raw");
}

#[test]
fn names_options_and_flattening_are_honoured() {
    let capture = SpanCapture::install();
    let format = JsonFormat::new()
        .fields(
            TraceIdFields::default()
                .trace_id("trace.id")
                .span_id("span.id")
                .trace_flags("trace.flags"),
        )
        .flatten_fields(true)
        .with_timestamp(false)
        .with_target(false);
    let (output, _subscriber) = install(format);
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /health/deep"));
    {
        let _active = server.context().clone().attach();
        tracing::info!(attempt = 2, "probing");
    }
    server.end();

    let server = capture.find("GET /health/deep");
    let line: Value = serde_json::from_str(&output.lines()[0]).unwrap();
    assert_eq!(line["trace.id"], server.trace_id().to_string());
    assert_eq!(line["span.id"], server.span_id().to_string());
    assert_eq!(line["trace.flags"], "01");
    assert_eq!(line["message"], "probing");
    assert_eq!(line["attempt"], 2);
    assert_no_ids(&line);
    for absent in ["timestamp", "target", "fields"] {
        assert!(line.get(absent).is_none(), "{absent} in {line}");
    }
}

#[test]
fn correlation_can_be_switched_off() {
    let _capture = SpanCapture::install();
    let (output, _subscriber) = install(JsonFormat::new().with_trace_ids(false));
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /"));
    {
        let _active = server.context().clone().attach();
        tracing::info!("uncorrelated");
    }
    server.end();
    assert_no_ids(&output.json_line("uncorrelated"));
}

#[test]
fn lines_under_an_unsampled_root_carry_its_ids_with_the_sampled_flag_clear() {
    use trace_core::Sampling;
    use trace_core::config::SamplerKind;

    let _capture =
        SpanCapture::install_with(Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.0));
    let (output, _subscriber) = install(JsonFormat::new());
    let dropped = TRACER.start(SpanKind::Server, || SpanStart::new("GET /unsampled"));
    let own = dropped.span_context();
    {
        let _active = dropped.context().clone().attach();
        tracing::info!("not sampled");
    }
    dropped.end();
    // The trace is not exported, but its id still ties the service's log lines
    // together and to the caller's.
    let line = output.json_line("not sampled");
    assert_eq!(line["trace_id"], own.trace_id().to_string());
    assert_eq!(line["span_id"], own.span_id().to_string());
    assert_eq!(line["trace_flags"], "00");
}
