//! [`Pipeline`]: where trace-core's own spans go when they end. The installed provider's
//! span processors, shared with that provider, so SDK spans (the `tracing` bridge) and
//! trace-core's spans reach the same batches, exporters and counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanLimits, SpanProcessor, TracerProviderBuilder};

/// The span processors trace-core's spans end in, and the limits they are recorded with.
#[derive(Debug)]
pub(crate) struct Pipeline {
    processors: Vec<Arc<dyn SpanProcessor>>,
    limits: SpanLimits,
    open: AtomicBool,
}

impl Pipeline {
    /// An empty pipeline with the SDK's span limits, including the overrides the SDK
    /// reads from `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_EVENT_COUNT_LIMIT` and
    /// `OTEL_SPAN_LINK_COUNT_LIMIT`, so trace-core's spans and SDK spans agree.
    pub(crate) fn new() -> Self {
        let mut limits = SpanLimits::default();
        let from_env = |name: &str| std::env::var(name).ok()?.parse::<u32>().ok();
        if let Some(limit) = from_env("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") {
            limits.max_attributes_per_span = limit;
        }
        if let Some(limit) = from_env("OTEL_SPAN_EVENT_COUNT_LIMIT") {
            limits.max_events_per_span = limit;
        }
        if let Some(limit) = from_env("OTEL_SPAN_LINK_COUNT_LIMIT") {
            limits.max_links_per_span = limit;
        }
        Self {
            processors: Vec::new(),
            limits,
            open: AtomicBool::new(true),
        }
    }

    pub(crate) fn limits(&self) -> SpanLimits {
        self.limits
    }

    /// Adds `processor` to this pipeline and to the provider `builder` builds. The SDK
    /// hands processors the provider's resource through `&mut` when it builds, which a
    /// shared processor cannot take, so `resource` (what the provider is built with) is
    /// set here first.
    pub(crate) fn add<P: SpanProcessor + 'static>(
        &mut self,
        builder: TracerProviderBuilder,
        mut processor: P,
        resource: &Resource,
    ) -> TracerProviderBuilder {
        processor.set_resource(resource);
        let shared: Arc<dyn SpanProcessor> = Arc::new(processor);
        self.processors.push(Arc::clone(&shared));
        builder.with_span_processor(SharedProcessor(shared))
    }

    /// Hands an ended span to every processor, unless the provider was shut down.
    pub(crate) fn export(&self, span: SpanData) {
        if !self.open.load(Ordering::Relaxed) {
            return;
        }
        match self.processors.as_slice() {
            [] => {}
            [processor] => processor.on_end(span),
            processors => {
                for processor in processors {
                    processor.on_end(span.clone());
                }
            }
        }
    }

    /// Whether ending a span exports anything: with no processor, the span's data need
    /// not be assembled.
    pub(crate) fn has_processors(&self) -> bool {
        !self.processors.is_empty()
    }

    /// Stops exporting: spans that end after their provider shut down are dropped, as
    /// the SDK drops its own.
    pub(crate) fn close(&self) {
        self.open.store(false, Ordering::Relaxed);
    }
}

/// One thread's handle on the shared [`Pipeline`]. Spans clone the handle of the thread
/// that starts them: its count is touched by that thread's spans only, where the shared
/// pipeline's count would be a cache line every thread fights over, span after span.
#[derive(Debug)]
pub(crate) struct PipelineHandle(pub(crate) Arc<Pipeline>);

impl std::ops::Deref for PipelineHandle {
    type Target = Pipeline;

    fn deref(&self) -> &Pipeline {
        &self.0
    }
}

/// A processor registered with the SDK provider and also held by a [`Pipeline`].
#[derive(Debug)]
struct SharedProcessor(Arc<dyn SpanProcessor>);

impl SpanProcessor for SharedProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}
