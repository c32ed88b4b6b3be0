//! Feature `tracing`: lines whose `tracing` span is not the active OpenTelemetry
//! context (explicit parents, a bridge without context activation).
#![cfg(feature = "tracing")]

mod support;

use opentelemetry::trace::{SpanKind, TracerProvider as _};
use support::{Output, assert_ids_of, assert_no_ids};
use trace_core::testing::SpanCapture;
use trace_core::{ScopedTracer, SpanStart};
use trace_log::JsonFormat;
use tracing_subscriber::layer::SubscriberExt as _;

static TRACER: ScopedTracer = ScopedTracer::new("trace-log-test", "0.0.0");

#[test]
fn an_explicit_parent_wins_over_the_active_context() {
    let capture = SpanCapture::install();
    let output = Output::default();
    let format = JsonFormat::new();
    let subscriber = tracing_subscriber::registry()
        .with(trace_core::tracing_bridge::layer())
        .with(format.tracing_span_lookup())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(format)
                .with_writer(output.clone()),
        );
    let _subscriber = tracing::subscriber::set_default(subscriber);

    let server = TRACER.start(SpanKind::Server, || SpanStart::new("POST /batches"));
    {
        let _active = server.context().clone().attach();
        let batch = tracing::info_span!("batch");
        tracing::info!(parent: &batch, "item stored");
        tracing::info!("batch queued");
        drop(batch);
    }
    server.end();

    let server = capture.find("POST /batches");
    let batch = capture.find("batch");
    batch.assert_child_of(&server);
    assert_ids_of(&output.json_line("item stored"), &batch);
    assert_eq!(output.json_line("item stored")["span"]["name"], "batch");
    assert_ids_of(&output.json_line("batch queued"), &server);
}

#[test]
fn without_context_activation_the_current_tracing_span_gives_the_ids() {
    let capture = SpanCapture::install();
    let bridge = || {
        tracing_opentelemetry::layer()
            .with_tracer(capture.provider().tracer("tracing"))
            .with_context_activation(false)
    };

    let with_lookup = Output::default();
    let format = JsonFormat::new();
    let subscriber = tracing_subscriber::registry()
        .with(bridge())
        .with(format.tracing_span_lookup())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(format)
                .with_writer(with_lookup.clone()),
        );
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("job").in_scope(|| tracing::info!("working"));
    });
    assert_ids_of(&with_lookup.json_line("working"), &capture.find("job"));

    // The lookup layer is what reads the span: without it the line has no ids.
    let without_lookup = Output::default();
    let subscriber = tracing_subscriber::registry().with(bridge()).with(
        tracing_subscriber::fmt::layer()
            .event_format(JsonFormat::new())
            .with_writer(without_lookup.clone()),
    );
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("job 2").in_scope(|| tracing::info!("working"));
    });
    assert_no_ids(&without_lookup.json_line("working"));
}

#[test]
fn one_format_shared_by_two_subscribers_reads_no_tracing_spans() {
    let _capture = SpanCapture::install();
    let format = JsonFormat::new();
    let output = Output::default();
    let make = |output: &Output| {
        tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(_capture.provider().tracer("tracing"))
                    .with_context_activation(false),
            )
            .with(format.tracing_span_lookup())
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(format.clone())
                    .with_writer(output.clone()),
            )
    };
    let first = tracing::Dispatch::new(make(&output));
    let _second = tracing::Dispatch::new(make(&Output::default()));
    tracing::dispatcher::with_default(&first, || {
        tracing::info_span!("job").in_scope(|| tracing::info!("ambiguous"));
    });
    assert_no_ids(&output.json_line("ambiguous"));
}
