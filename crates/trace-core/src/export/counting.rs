//! Counts what happens to finished spans so flush and shutdown can report what was lost,
//! and why.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
    /// Spans in export requests that failed (collector down, refused, timed out), or
    /// that the collector rejected.
    pub failed: u64,
    /// Spans dropped on arrival because the export queue was full. Counted by
    /// trace-core's batch export pipeline ([`OtlpBatchProcessor`](crate::export::OtlpBatchProcessor));
    /// the SDK's batch processor (`json-file`, OTLP `http/json`) counts them only in
    /// [`dropped`](Self::dropped).
    pub dropped_queue_full: u64,
}

impl ExportReport {
    /// Spans that never reached an export attempt, or whose export has not finished:
    /// dropped because the queue was full, still queued or in flight, or left unsent
    /// when shutdown ran out of time.
    pub fn dropped(&self) -> u64 {
        self.ended.saturating_sub(self.exported + self.failed)
    }

    /// Spans neither exported, failed nor dropped on arrival: still queued or in flight
    /// (retries included) now, or, after shutdown, left unsent.
    pub fn unsent(&self) -> u64 {
        self.dropped().saturating_sub(self.dropped_queue_full)
    }

    /// Spans ended but not delivered, for any reason.
    pub fn lost(&self) -> u64 {
        self.ended.saturating_sub(self.exported)
    }
}

/// Failed spans by cause: at most [`CauseTally::MAX`] causes, the rest counted together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CauseTally {
    /// A cause with its endpoint (`collector unreachable at ENDPOINT: connection
    /// refused`), and how many spans failed of it.
    causes: Vec<(String, u64)>,
    /// Spans that failed of causes beyond the first [`CauseTally::MAX`].
    other: u64,
}

impl CauseTally {
    /// Distinct causes kept: enough for what goes wrong with one collector.
    const MAX: usize = 4;

    pub(crate) fn add(&mut self, cause: &str, spans: u64) {
        if let Some((_, count)) = self.causes.iter_mut().find(|(known, _)| known == cause) {
            *count += spans;
        } else if self.causes.len() < Self::MAX {
            self.causes.push((cause.to_owned(), spans));
        } else {
            self.other += spans;
        }
    }

    /// The spans that failed since `earlier`, a tally taken from this one before.
    fn since(&self, earlier: &CauseTally) -> CauseTally {
        let causes = self
            .causes
            .iter()
            .map(|(cause, count)| {
                let before = earlier
                    .causes
                    .iter()
                    .find(|(known, _)| known == cause)
                    .map_or(0, |(_, count)| *count);
                (cause.clone(), count.saturating_sub(before))
            })
            .filter(|(_, count)| *count > 0)
            .collect();
        CauseTally {
            causes,
            other: self.other.saturating_sub(earlier.other),
        }
    }

    fn merge(&mut self, other: &CauseTally) {
        for (cause, count) in &other.causes {
            self.add(cause, *count);
        }
        self.other += other.other;
    }
}

impl fmt::Display for CauseTally {
    /// `collector unreachable at ENDPOINT: connection refused`, or with several causes
    /// `12: CAUSE; 3: CAUSE; 2: other causes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.causes.as_slice(), self.other) {
            ([], 0) => f.write_str("cause unknown"),
            ([(cause, _)], 0) => f.write_str(cause),
            (causes, other) => {
                let mut parts: Vec<String> = causes
                    .iter()
                    .map(|(cause, count)| format!("{count}: {cause}"))
                    .collect();
                if other > 0 {
                    parts.push(format!("{other}: other causes"));
                }
                f.write_str(&parts.join("; "))
            }
        }
    }
}

/// Counts and failure causes at one moment, to say what was lost since then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Losses {
    pub(crate) report: ExportReport,
    pub(crate) causes: CauseTally,
    /// Capacity of the queue that dropped spans, in spans, when one did.
    pub(crate) queue_capacity: Option<usize>,
}

impl Losses {
    /// What was lost since `earlier`, a snapshot of the same counters.
    pub(crate) fn since(&self, earlier: &Losses) -> Losses {
        let (now, before) = (&self.report, &earlier.report);
        Losses {
            report: ExportReport {
                ended: now.ended.saturating_sub(before.ended),
                exported: now.exported.saturating_sub(before.exported),
                failed: now.failed.saturating_sub(before.failed),
                dropped_queue_full: now
                    .dropped_queue_full
                    .saturating_sub(before.dropped_queue_full),
            },
            causes: self.causes.since(&earlier.causes),
            queue_capacity: self.queue_capacity,
        }
    }

    fn merge(&mut self, other: &Losses) {
        self.report.ended += other.report.ended;
        self.report.exported += other.report.exported;
        self.report.failed += other.report.failed;
        self.report.dropped_queue_full += other.report.dropped_queue_full;
        self.causes.merge(&other.causes);
        self.queue_capacity = self.queue_capacity.or(other.queue_capacity);
    }

    /// Says how many spans were lost and why, or `None` when none was:
    /// `2952 failed (collector unreachable at http://collector:4318/v1/traces: connection
    /// refused), 2048 dropped because the queue was full (8192 spans), 12 left unsent`.
    /// `unsent` names the spans neither exported, failed nor dropped (`left unsent`
    /// after shutdown); `None` leaves them out (they may still be on their way).
    pub(crate) fn describe(&self, unsent: Option<&str>) -> Option<String> {
        let report = &self.report;
        let mut parts = Vec::new();
        if report.failed > 0 {
            parts.push(format!("{} failed ({})", report.failed, self.causes));
        }
        if report.dropped_queue_full > 0 {
            let capacity = self
                .queue_capacity
                .map(|spans| format!(" ({spans} spans)"))
                .unwrap_or_default();
            parts.push(format!(
                "{} dropped because the queue was full{capacity}",
                report.dropped_queue_full
            ));
        }
        if let Some(unsent) = unsent
            && report.unsent() > 0
        {
            parts.push(format!("{} {unsent}", report.unsent()));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// A processor that counts its spans itself (trace-core's batch export pipeline), so
/// the guard's report and messages include it.
pub(crate) trait SelfCounting: Send + Sync + fmt::Debug {
    /// Its counts and failure causes now.
    fn losses(&self) -> Losses;
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    ended: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    /// Why the exports counted in `failed` failed.
    causes: Mutex<CauseTally>,
    last_warning: Mutex<Option<Instant>>,
    /// Processors that count for themselves; added while `init` builds the provider.
    self_counting: Mutex<Vec<Arc<dyn SelfCounting>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Counters {
    /// Span counts of every exporter, summed.
    pub(crate) fn report(&self) -> ExportReport {
        self.losses().report
    }

    /// Counts and failure causes of every exporter, summed.
    pub(crate) fn losses(&self) -> Losses {
        // Outcomes before `ended`: a span is counted as ended before its outcome, so
        // `ended` read last is never below the outcomes.
        let exported = self.exported.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let causes = lock(&self.causes).clone();
        let mut losses = Losses {
            report: ExportReport {
                ended: self.ended.load(Ordering::Relaxed),
                exported,
                failed,
                dropped_queue_full: 0,
            },
            causes,
            queue_capacity: None,
        };
        for processor in lock(&self.self_counting).iter() {
            losses.merge(&processor.losses());
        }
        losses
    }

    /// How a loss message names spans neither exported, failed nor dropped by a full
    /// queue: the SDK's batch processor counts its queue-full drops among them.
    pub(crate) fn unsent_words(&self) -> &'static str {
        if self.ended.load(Ordering::Relaxed) > 0 {
            "dropped or left unsent"
        } else {
            "left unsent"
        }
    }

    #[cfg_attr(
        not(any(feature = "otlp-http", feature = "otlp-grpc")),
        allow(dead_code)
    )]
    pub(crate) fn add_self_counting(&self, processor: Arc<dyn SelfCounting>) {
        lock(&self.self_counting).push(processor);
    }

    /// Logs export failures at most every 10 seconds, so a dead collector is visible
    /// without flooding the service's logs:
    /// `span export to http://collector:4318/v1/traces (otlp http/protobuf) failed: connection refused`.
    fn warn_failure(&self, exporter: &str, destination: &str, error: &OTelSdkError, spans: u64) {
        let cause = match error {
            OTelSdkError::InternalFailure(cause) => cause.clone(),
            OTelSdkError::Timeout(after) => {
                format!("timed out after {} ms", after.as_millis())
            }
            OTelSdkError::AlreadyShutdown => "the exporter was already shut down".to_owned(),
        };
        lock(&self.causes).add(&format!("{destination}: {cause}"), spans);
        let mut last = lock(&self.last_warning);
        let due = last.is_none_or(|at| at.elapsed() >= WARNING_INTERVAL);
        if due {
            *last = Some(Instant::now());
            let failed = self.failed.load(Ordering::Relaxed);
            tracing::warn!(
                target: "trace_core",
                exporter,
                spans_failed_so_far = failed,
                "span export to {destination} failed: {cause}"
            );
        }
    }
}

/// At most one warning about lost spans per exporter in this interval, so a dead
/// collector is visible without flooding the service's logs.
pub(crate) const WARNING_INTERVAL: Duration = Duration::from_secs(10);

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
                    .warn_failure(self.name, &self.destination, error, count);
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
