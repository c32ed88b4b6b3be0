//! In-memory span capture for tests (feature `testing`), and trace-core's OTLP encoder
//! for tests and benchmarks that check or measure it (`OtlpTraceEncoder`, with
//! `otlp-http` or `otlp-grpc` too).
//!
//! ```
//! use opentelemetry::trace::SpanKind;
//! use trace_core::testing::SpanCapture;
//! use trace_core::{ScopedTracer, SpanStart};
//!
//! static TRACER: ScopedTracer = ScopedTracer::new("example", "0.1.0");
//!
//! let capture = SpanCapture::install();
//! let parent = TRACER.start(SpanKind::Server, || SpanStart::new("GET /users/{id}"));
//! TRACER
//!     .start_with_parent(parent.context(), SpanKind::Client, || SpanStart::new("SELECT users"))
//!     .end();
//! parent.end();
//! assert_eq!(capture.outline(), "Server GET /users/{id}\n  Client SELECT users\n");
//! capture.find("SELECT users").assert_child_of(&capture.find("GET /users/{id}"));
//! ```

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
mod otlp;
mod span;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider, ShouldSample, SimpleSpanProcessor, SpanData,
};

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub use otlp::{OtlpTraceEncoder, grpc_message_prefix};
pub use span::CapturedSpan;

use crate::active;
use crate::propagation::{PropagatorKind, build_propagator};

/// Serializes captures: trace-core's provider is process-wide, so two tests capturing
/// at once would see each other's spans.
static CAPTURE_LOCK: Mutex<()> = Mutex::new(());

/// Captures every span that trace-core instrumentation finishes while it is alive.
///
/// Installing takes a process-wide lock, so tests that capture run one at a time even
/// under `cargo test`'s parallel runner; dropping the capture uninstalls it.
#[derive(Debug)]
pub struct SpanCapture {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _exclusive: MutexGuard<'static, ()>,
}

impl SpanCapture {
    /// Installs a capture that samples every span, with the W3C trace-context and
    /// baggage propagators installed globally.
    pub fn install() -> Self {
        Self::install_with(Sampler::AlwaysOn)
    }

    /// Installs a capture whose provider samples with `sampler` (for example a
    /// [`Sampling`](crate::Sampling) from configuration).
    pub fn install_with(sampler: impl ShouldSample + 'static) -> Self {
        let exclusive = CAPTURE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
            .build();
        opentelemetry::global::set_text_map_propagator(build_propagator(&[
            PropagatorKind::TraceContext,
            PropagatorKind::Baggage,
        ]));
        opentelemetry::global::set_tracer_provider(provider.clone());
        active::set_provider(provider.clone());
        Self {
            exporter,
            provider,
            _exclusive: exclusive,
        }
    }

    /// The provider behind the capture, for code that takes one explicitly (such as
    /// a `tracing-opentelemetry` layer).
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Every span finished so far, in the order they ended.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        self.raw_spans()
            .into_iter()
            .map(CapturedSpan::from)
            .collect()
    }

    fn raw_spans(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().unwrap_or_default()
    }

    /// Waits (sleeping, without blocking a Tokio worker for long) until at least `count`
    /// spans have finished, and returns them; panics after `timeout` with what it saw.
    pub async fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<CapturedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= count {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} spans within {timeout:?}, got {}:\n{}",
                spans.len(),
                self.outline()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The finished span named `name`; panics listing every span when there is not
    /// exactly one.
    pub fn find(&self, name: &str) -> CapturedSpan {
        let mut matches: Vec<CapturedSpan> = self
            .spans()
            .into_iter()
            .filter(|s| s.name() == name)
            .collect();
        match matches.len() {
            1 => matches.remove(0),
            n => panic!(
                "expected exactly one span named {name:?}, found {n}; captured:\n{}",
                self.outline()
            ),
        }
    }

    /// All finished spans named `name`.
    pub fn find_all(&self, name: &str) -> Vec<CapturedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name() == name)
            .collect()
    }

    /// The span tree as text: one line per span, `{kind} {name}`, children indented by
    /// two spaces under their parent and ordered by start time. Spans whose parent was
    /// not captured start a tree of their own.
    pub fn outline(&self) -> String {
        span::outline(&self.raw_spans())
    }

    /// Forgets the spans captured so far.
    pub fn clear(&self) {
        self.exporter.reset();
    }
}

impl Drop for SpanCapture {
    fn drop(&mut self) {
        active::use_global();
        opentelemetry::global::set_tracer_provider(
            opentelemetry::trace::noop::NoopTracerProvider::new(),
        );
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(1));
    }
}
