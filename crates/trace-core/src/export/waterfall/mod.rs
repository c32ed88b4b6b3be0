//! What the console waterfall and the HTML page share: one span record ([`ViewSpan`]),
//! one way of stitching a trace's spans into a tree ([`TraceTree`]), one buffer that
//! holds spans until their trace is complete ([`PendingTraces`]), the thread that
//! releases quiet traces ([`Worker`]), fed by [`ImmediateProcessor`], and the exporter
//! around them ([`BufferedExporter`]), which shows traces through each one's
//! [`TraceSink`]. The two renderers draw the same rows.

mod buffer;
mod exporter;
mod otlp_json;
mod processor;
mod span;
mod tree;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use buffer::{Limits, PendingTraces, Released};
pub(crate) use exporter::{BufferedExporter, TraceSink, lock};
pub use otlp_json::OtlpJsonTraces;
pub(crate) use processor::ImmediateProcessor;
#[cfg(all(test, feature = "html"))]
pub(crate) use span::test_span;
pub(crate) use span::{Attribute, Kind, SpanStatus, ViewSpan};
#[cfg(feature = "html")]
pub(crate) use tree::MAX_INDENT_DEPTH;
pub(crate) use tree::{Entry, Placement, Row, TraceTree};
pub(crate) use worker::{Worker, tick_for};

/// How often a viewing exporter (console or HTML) reached its limits. A cloneable
/// handle: it stays readable after the exporter moved into a provider.
#[derive(Debug, Clone, Default)]
pub struct BufferCounters(Arc<Cells>);

#[derive(Debug, Default)]
struct Cells {
    shown_early: AtomicU64,
    evicted: AtomicU64,
}

impl BufferCounters {
    /// Traces shown before they were complete because too many spans, traces or bytes
    /// were waiting.
    pub fn traces_shown_early(&self) -> u64 {
        self.0.shown_early.load(Ordering::Relaxed)
    }

    /// Traces taken off the HTML page to keep it within its limits (always 0 for the
    /// console, which keeps nothing once printed).
    pub fn traces_evicted(&self) -> u64 {
        self.0.evicted.load(Ordering::Relaxed)
    }

    /// Counts a trace shown early; the first one is also logged, with what to change.
    pub(crate) fn count_shown_early(&self, exporter: &str) {
        if self.0.shown_early.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!(
                target: "trace_core",
                exporter,
                "too many spans waiting for their traces to end: the oldest trace is shown \
                 as it is; raise the exporter's buffer limits if this repeats"
            );
        }
    }

    /// Counts a trace taken off the HTML page.
    #[cfg(feature = "html")]
    pub(crate) fn count_evicted(&self) {
        self.0.evicted.fetch_add(1, Ordering::Relaxed);
    }
}
