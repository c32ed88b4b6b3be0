//! A text line formatted while another is being formatted (a field's `Debug` that
//! logs) still gets its ids: the per-thread line buffer is busy, so the nested line
//! takes the unbuffered path.
//!
//! Traces started in these tests are sampled roots of the SDK: `trace_flags` is `01`.
//!
//! Needs the global dispatcher (a scoped one drops nested events), so this test binary
//! holds this one test.

mod support;

use std::fmt;

use opentelemetry::trace::SpanKind;
use support::Output;
use trace_core::testing::SpanCapture;
use trace_core::{ScopedTracer, SpanStart};
use trace_log::WithTraceIds;
use tracing_subscriber::layer::SubscriberExt as _;

static TRACER: ScopedTracer = ScopedTracer::new("trace-log-test", "0.0.0");

/// A value whose `Debug` logs, as some library types do.
struct Chatty;

impl fmt::Debug for Chatty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::info!("formatting chatty");
        f.write_str("Chatty")
    }
}

#[test]
fn nested_lines_carry_the_same_ids() {
    let capture = SpanCapture::install();
    let output = Output::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(WithTraceIds::new(
                    tracing_subscriber::fmt::format()
                        .without_time()
                        .with_ansi(false),
                ))
                .with_writer(output.clone()),
        ),
    )
    .unwrap();

    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /chatty"));
    {
        let _active = server.context().clone().attach();
        tracing::info!(value = ?Chatty, "outer");
    }
    server.end();

    let server = capture.find("GET /chatty");
    let ids = format!(
        " trace_id={} span_id={} trace_flags=01",
        server.trace_id(),
        server.span_id()
    );
    let lines = output.lines();
    assert_eq!(lines.len(), 2, "{}", output.text());
    assert_eq!(
        lines[0],
        format!(" INFO reentrant_lines: formatting chatty{ids}")
    );
    assert_eq!(
        lines[1],
        format!(" INFO reentrant_lines: outer value=Chatty{ids}")
    );
}
