//! [`CountAndDrop`]: a span processor that does the least a processor can.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

/// A span processor that counts `on_start` and `on_end` calls and drops every span.
///
/// With it, a provider runs its whole span pipeline (sampler, ID generator, limits,
/// `on_start`, the export data `on_end` receives) with nothing exported, so a
/// benchmark measures the pipeline and not an exporter. Clones share their counts:
/// keep one to check that every span the benchmark made went through the processor.
#[derive(Debug, Clone, Default)]
pub struct CountAndDrop {
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    started: AtomicU64,
    ended: AtomicU64,
}

impl CountAndDrop {
    /// A processor with both counts at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spans whose `on_start` this processor (or a clone) saw.
    pub fn started(&self) -> u64 {
        self.counts.started.load(Ordering::Relaxed)
    }

    /// Spans whose `on_end` this processor (or a clone) saw.
    pub fn ended(&self) -> u64 {
        self.counts.ended.load(Ordering::Relaxed)
    }
}

impl SpanProcessor for CountAndDrop {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {
        self.counts.started.fetch_add(1, Ordering::Relaxed);
    }

    fn on_end(&self, span: SpanData) {
        self.counts.ended.fetch_add(1, Ordering::Relaxed);
        drop(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
