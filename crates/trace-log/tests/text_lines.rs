//! Human-readable lines: the inner format's line with the ids appended.
//!
//! Traces started in these tests are sampled roots of the SDK: `trace_flags` is `01`.

mod support;

use opentelemetry::trace::SpanKind;
use support::Output;
use trace_core::testing::SpanCapture;
use trace_core::{ScopedTracer, SpanStart};
use trace_log::{TraceIdFields, WithTraceIds};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt as _;

static TRACER: ScopedTracer = ScopedTracer::new("trace-log-test", "0.0.0");

/// The `tracing` bridge and a text `fmt` layer writing into an [`Output`].
macro_rules! install {
    ($format:expr) => {{
        let output = Output::default();
        let subscriber = tracing_subscriber::registry()
            .with(trace_core::tracing_bridge::layer())
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format($format)
                    .with_writer(output.clone()),
            );
        let guard: DefaultGuard = tracing::subscriber::set_default(subscriber);
        (output, guard)
    }};
}

#[test]
fn lines_in_a_span_end_with_its_ids_and_lines_outside_are_unchanged() {
    let capture = SpanCapture::install();
    let (output, _subscriber) = install!(WithTraceIds::new(plain().without_time()));
    tracing::info!("before");
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /orders/{id}"));
    {
        let _active = server.context().clone().attach();
        tracing::info!(order.id = 42, "handling order");
    }
    server.end();

    let server = capture.find("GET /orders/{id}");
    let lines = output.lines();
    assert_eq!(lines.len(), 2, "{}", output.text());
    assert_eq!(lines[0], " INFO text_lines: before");
    assert_eq!(
        lines[1],
        format!(
            " INFO text_lines: handling order order.id=42 trace_id={} span_id={} trace_flags=01",
            server.trace_id(),
            server.span_id()
        )
    );
    assert!(output.text().ends_with('\n'));
}

/// tracing-subscriber's `Full` format without colours.
fn plain() -> tracing_subscriber::fmt::format::Format {
    tracing_subscriber::fmt::format().with_ansi(false)
}

#[test]
fn renamed_fields_and_ansi_colours_of_the_inner_format() {
    let capture = SpanCapture::install();
    let format = WithTraceIds::new(plain().with_ansi(true)).fields(
        TraceIdFields::default()
            .trace_id("traceID")
            .span_id("spanID"),
    );
    let (output, _subscriber) = install!(format);
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /"));
    {
        let _active = server.context().clone().attach();
        tracing::warn!("coloured");
    }
    server.end();

    let server = capture.find("GET /");
    let text = output.text();
    assert!(
        text.contains("\u{1b}["),
        "inner format kept its colours: {text:?}"
    );
    assert!(
        text.ends_with(&format!(
            " traceID={} spanID={} trace_flags=01\n",
            server.trace_id(),
            server.span_id()
        )),
        "{text:?}"
    );
}

#[test]
fn multi_line_formats_get_the_ids_after_their_last_line() {
    let capture = SpanCapture::install();
    let (output, _subscriber) = install!(WithTraceIds::new(plain().pretty()));
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /pretty"));
    {
        let _active = server.context().clone().attach();
        tracing::info!("pretty");
    }
    server.end();

    let server = capture.find("GET /pretty");
    let text = output.text();
    assert!(text.lines().count() > 1, "{text}");
    assert!(
        text.trim_end_matches('\n').ends_with(&format!(
            " trace_id={} span_id={} trace_flags=01",
            server.trace_id(),
            server.span_id()
        )),
        "{text}"
    );
}
