//! Counts what happens to finished spans so shutdown can report what was lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// Span counts of one exporter since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Spans that ended and were handed to the exporter's queue.
    pub ended: u64,
    /// Spans the destination accepted.
    pub exported: u64,
    /// Spans in export requests that failed (collector down, refused, timed out).
    pub failed: u64,
}

impl ExportReport {
    /// Spans that never reached an export attempt: dropped because the queue was full,
    /// or still queued when shutdown ran out of time.
    pub fn dropped(&self) -> u64 {
        self.ended.saturating_sub(self.exported + self.failed)
    }

    /// Spans ended but not delivered, for any reason.
    pub fn lost(&self) -> u64 {
        self.ended.saturating_sub(self.exported)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    ended: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    last_warning: std::sync::Mutex<Option<Instant>>,
}

impl Counters {
    pub(crate) fn report(&self) -> ExportReport {
        ExportReport {
            ended: self.ended.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Logs export failures at most every 10 seconds, so a dead collector is visible
    /// without flooding the service's logs:
    /// `span export to http://collector:4318/v1/traces (otlp http/protobuf) failed: connection refused`.
    fn warn_failure(&self, exporter: &str, destination: &str, error: &OTelSdkError) {
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
        if due {
            *last = Some(Instant::now());
            let failed = self.failed.load(Ordering::Relaxed);
            let cause = match error {
                OTelSdkError::InternalFailure(cause) => cause.clone(),
                OTelSdkError::Timeout(after) => {
                    format!("timed out after {} ms", after.as_millis())
                }
                OTelSdkError::AlreadyShutdown => "the exporter was already shut down".to_owned(),
            };
            tracing::warn!(
                target: "trace_core",
                exporter,
                spans_failed_so_far = failed,
                "span export to {destination} failed: {cause}"
            );
        }
    }
}

/// Wraps an exporter, counting accepted and failed spans.
#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    pub(crate) inner: E,
    /// `otlp`, `console`, `json-file`: the `exporter` field of the failure warning.
    pub(crate) name: &'static str,
    /// Where spans go, as the failure warning names it: the endpoint and protocol, or
    /// the file.
    pub(crate) destination: String,
    pub(crate) counters: Arc<Counters>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let count = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => self.counters.exported.fetch_add(count, Ordering::Relaxed),
            Err(error) => {
                let total = self.counters.failed.fetch_add(count, Ordering::Relaxed);
                self.counters
                    .warn_failure(self.name, &self.destination, error);
                total
            }
        };
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Wraps a processor, counting spans that ended.
#[derive(Debug)]
pub(crate) struct CountingProcessor<P> {
    pub(crate) inner: P,
    pub(crate) counters: Arc<Counters>,
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.counters.ended.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
