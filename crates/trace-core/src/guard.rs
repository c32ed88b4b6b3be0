//! [`TracingGuard`]: keeps tracing running, and stops it within a bounded time.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::active;
use crate::error::ShutdownError;
use crate::export::{Counters, ExportReport, Losses};

/// Keeps tracing running; flushes and shuts down on [`shutdown`](Self::shutdown) or
/// on drop, within `shutdown_timeout_ms` even when the collector is down or hangs.
#[derive(Debug)]
#[must_use = "dropping the guard shuts tracing down"]
pub struct TracingGuard {
    pub(crate) provider: Option<SdkTracerProvider>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) summary: String,
    pub(crate) resource: Option<Resource>,
    /// The counts at the last flush: a flush reports what was lost since.
    pub(crate) flushed: Mutex<Losses>,
}

impl TracingGuard {
    /// The start-up line `init` logged: service, exporters and endpoint, sampler and
    /// propagators (or that tracing is disabled). Log it again once your subscriber is
    /// set up if you want it in your own log format.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The resource `init` gave the spans, resource detectors included (`None` when
    /// tracing was disabled by configuration): hand it to other signals of the process,
    /// such as trace-log's OTLP log records, so they describe the service exactly as the
    /// traces do. Without detectors it equals [`resource`](crate::resource)`(&config)`.
    pub fn resource(&self) -> Option<&Resource> {
        self.resource.as_ref()
    }

    /// Whether spans are recorded (false when tracing was disabled by configuration).
    pub fn is_enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Span counts so far; summed over all exporters.
    pub fn report(&self) -> ExportReport {
        self.counters.report()
    }

    /// Exports everything that has ended so far, waiting at most the shutdown timeout.
    ///
    /// An error says why: the flush did not finish in time, or spans were lost since
    /// the previous flush (how many failed and why, how many were dropped because the
    /// queue was full), such as `tracing flush lost spans: 512 failed (collector
    /// unreachable at http://collector:4318/v1/traces: connection refused); ...`.
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let Some(provider) = self.provider.clone() else {
            return Ok(());
        };
        let outcome = run_bounded(self.shutdown_timeout, "flush", move || {
            provider.force_flush().map_err(|error| error.to_string())
        });
        let losses = self.counters.losses();
        let earlier = std::mem::replace(
            &mut *self
                .flushed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            losses.clone(),
        );
        let lost = losses.since(&earlier).describe(None);
        match outcome.describe("flush", lost) {
            None => Ok(()),
            Some(message) => Err(ShutdownError::new(message, losses.report)),
        }
    }

    /// Flushes and stops exporting; returns what was exported, or an error saying what
    /// was lost and why.
    ///
    /// The error names how many spans failed (and why: `collector unreachable at
    /// ENDPOINT: connection refused`, `ENDPOINT answered HTTP status 503 Service
    /// Unavailable`, `no answer from ENDPOINT: timed out after 10000 ms`), how many were
    /// dropped because the queue was full, and how many were left unsent; its
    /// [`report`](ShutdownError::report) counts them.
    ///
    /// Never takes (much) longer than `shutdown_timeout_ms`: exporters still busy
    /// then are abandoned and their spans counted as lost.
    pub fn shutdown(mut self) -> Result<ExportReport, ShutdownError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<ExportReport, ShutdownError> {
        let Some(provider) = self.provider.take() else {
            return Ok(self.counters.report());
        };
        active::disable();
        let timeout = self.shutdown_timeout;
        let outcome = run_bounded(timeout, "shutdown", move || {
            provider
                .shutdown_with_timeout(timeout)
                .map_err(|error| error.to_string())
        });
        let losses = self.counters.losses();
        let lost = losses.describe(Some(self.counters.unsent_words()));
        let report = losses.report;
        tracing::info!(
            target: "trace_core",
            spans_ended = report.ended,
            spans_exported = report.exported,
            spans_failed = report.failed,
            spans_dropped = report.dropped(),
            "tracing stopped: {} of {} spans exported, {} lost",
            report.exported,
            report.ended,
            report.lost()
        );
        match outcome.describe("shutdown", lost) {
            None => Ok(report),
            Some(message) => Err(ShutdownError::new(message, report)),
        }
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(target: "trace_core", "{error}");
        }
    }
}

/// How a bounded call ended.
enum Bounded {
    /// It returned in time, with the SDK's result.
    InTime(Result<(), String>),
    /// It did not return in time (or could not start): the message says so.
    TimedOut(String),
}

impl Bounded {
    /// The error message of a flush or shutdown (`what`) that ended so and lost `lost`
    /// (a description of the lost spans), or `None` when all went well. A loss that a
    /// processor reported says more than the SDK's error text, which wraps it.
    fn describe(self, what: &str, lost: Option<String>) -> Option<String> {
        match (self, lost) {
            (Bounded::InTime(Ok(())), None) => None,
            (Bounded::TimedOut(message), None) => Some(message),
            (Bounded::TimedOut(message), Some(lost)) => Some(format!("{message}; lost: {lost}")),
            (Bounded::InTime(_), Some(lost)) => Some(format!("{what} lost spans: {lost}")),
            (Bounded::InTime(Err(error)), None) => Some(format!("{what} failed: {error}")),
        }
    }
}

/// Runs a blocking SDK call on a helper thread and waits at most `timeout` for it:
/// the SDK bounds each processor separately, this bounds them together.
fn run_bounded(
    timeout: Duration,
    what: &str,
    call: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Bounded {
    let timed_out = || {
        format!(
            "{what} did not finish within {} ms (collector down or slow?)",
            timeout.as_millis()
        )
    };
    let (done, wait) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name(format!("trace-core-{what}"))
        .spawn(move || {
            let _ = done.send(call());
        });
    if let Err(error) = spawned {
        return Bounded::TimedOut(format!("{what} could not start a thread: {error}"));
    }
    match wait.recv_timeout(timeout + Duration::from_millis(100)) {
        // The SDK reports its own per-processor timeout as an error string.
        Ok(Err(error)) if error.contains("Timeout") => Bounded::TimedOut(timed_out()),
        Ok(result) => Bounded::InTime(result),
        Err(_) => Bounded::TimedOut(timed_out()),
    }
}
