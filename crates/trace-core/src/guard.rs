//! [`TracingGuard`]: keeps tracing running, and stops it within a bounded time.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::active;
use crate::error::ShutdownError;
use crate::export::{Counters, ExportReport};

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
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let Some(provider) = self.provider.clone() else {
            return Ok(());
        };
        run_bounded(self.shutdown_timeout, "flush", move || {
            provider.force_flush().map_err(|error| error.to_string())
        })
        .map_err(|message| ShutdownError::new(message, self.counters.report()))
    }

    /// Flushes and stops exporting; returns what was exported and what was lost.
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
        let report = self.counters.report();
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
        outcome
            .map(|()| report)
            .map_err(|message| ShutdownError::new(message, report))
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(target: "trace_core", "{error}");
        }
    }
}

/// Runs a blocking SDK call on a helper thread and waits at most `timeout` for it:
/// the SDK bounds each processor separately, this bounds them together.
fn run_bounded(
    timeout: Duration,
    what: &str,
    call: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Result<(), String> {
    let timed_out = || {
        format!(
            "{what} did not finish within {} ms (collector down or slow?)",
            timeout.as_millis()
        )
    };
    let (done, wait) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("trace-core-{what}"))
        .spawn(move || {
            let _ = done.send(call());
        })
        .map_err(|error| format!("{what} could not start a thread: {error}"))?;
    match wait.recv_timeout(timeout + Duration::from_millis(100)) {
        Ok(Ok(())) => Ok(()),
        // The SDK reports its own per-processor timeout as an error string.
        Ok(Err(error)) if error.contains("Timeout") => Err(timed_out()),
        Ok(Err(error)) => Err(format!("{what} failed: {error}")),
        Err(_) => Err(timed_out()),
    }
}
