//! Records from the `log` crate, through tracing-log's `LogTracer`, get the same ids.

mod support;

use std::sync::Once;

use opentelemetry::trace::SpanKind;
use support::{Output, assert_ids_of, assert_no_ids};
use trace_core::testing::SpanCapture;
use trace_core::{ScopedTracer, SpanStart};
use trace_log::JsonFormat;
use tracing_subscriber::layer::SubscriberExt as _;

static TRACER: ScopedTracer = ScopedTracer::new("trace-log-test", "0.0.0");

/// `LogTracer` is the process-wide `log` logger: install it once.
fn forward_log_records() {
    static INIT: Once = Once::new();
    INIT.call_once(|| trace_log::LogTracer::init().expect("no other `log` logger is installed"));
}

#[test]
fn log_records_carry_the_ids_of_the_active_span_and_their_own_target() {
    forward_log_records();
    let capture = SpanCapture::install();
    let output = Output::default();
    let subscriber = tracing_subscriber::registry()
        .with(trace_core::tracing_bridge::layer())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(JsonFormat::new())
                .with_writer(output.clone()),
        );
    let _subscriber = tracing::subscriber::set_default(subscriber);

    log::info!(target: "legacy::client", "connecting");
    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /legacy"));
    {
        let _active = server.context().clone().attach();
        log::warn!(target: "legacy::client", "retrying \"upstream\" after {}ms", 250);
    }
    server.end();

    let outside = output.json_line("connecting");
    assert_no_ids(&outside);
    assert_eq!(outside["target"], "legacy::client");

    let inside = output.json_line("retrying \"upstream\" after 250ms");
    assert_ids_of(&inside, &capture.find("GET /legacy"));
    assert_eq!(inside["level"], "WARN");
    assert_eq!(inside["target"], "legacy::client");
    let fields = inside["fields"].as_object().unwrap();
    assert!(
        fields.keys().all(|key| !key.starts_with("log.")),
        "tracing-log's bookkeeping fields are not repeated: {inside}"
    );
}
