//! What the pipeline delivered and lost, and why: the outcome counters of the export
//! thread, the causes of failed exports, and the rate-limited warning while spans are
//! being lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::export::counting::{CauseTally, Losses, WARNING_INTERVAL};

/// What kind of failure an export met, which decides how it is described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailureKind {
    /// No connection: refused, no route, the host name does not resolve, TLS.
    Unreachable,
    /// The collector answered with an error status.
    Answered,
    /// The request was sent, but no (complete) answer came.
    NoAnswer,
    /// The collector accepted the request but rejected some of its spans.
    Rejected,
    /// The request could not be built (too large, compression failed).
    NotSent,
}

/// Why an export failed, as a person can act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    kind: FailureKind,
    /// `connection refused`, `HTTP status 503 Service Unavailable`, `timed out after
    /// 500 ms`: what the warning names after the endpoint.
    cause: String,
}

impl Failure {
    pub(super) fn new(kind: FailureKind, cause: impl Into<String>) -> Self {
        Self {
            kind,
            cause: cause.into(),
        }
    }

    pub(super) fn cause(&self) -> &str {
        &self.cause
    }

    /// The cause with the endpoint, as flush and shutdown errors name it:
    /// `collector unreachable at http://collector:4318/v1/traces: connection refused`.
    pub(super) fn describe(&self, endpoint: &str) -> String {
        let cause = &self.cause;
        match self.kind {
            FailureKind::Unreachable => format!("collector unreachable at {endpoint}: {cause}"),
            FailureKind::Answered => format!("{endpoint} answered {cause}"),
            FailureKind::NoAnswer => format!("no answer from {endpoint}: {cause}"),
            FailureKind::Rejected => format!("{endpoint} rejected them: {cause}"),
            FailureKind::NotSent => format!("not sent to {endpoint}: {cause}"),
        }
    }
}

/// The export thread's outcome counters, readable from any thread.
#[derive(Debug)]
pub(super) struct ExportStats {
    /// The traces endpoint, in failure descriptions.
    endpoint: String,
    exported: AtomicU64,
    failed: AtomicU64,
    causes: Mutex<CauseTally>,
    /// The most recent failure, for the warning.
    latest: Mutex<Option<Failure>>,
}

impl ExportStats {
    pub(super) fn new(endpoint: String) -> Self {
        Self {
            endpoint,
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            causes: Mutex::default(),
            latest: Mutex::default(),
        }
    }

    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(super) fn exported(&self, spans: u64) {
        self.exported.fetch_add(spans, Ordering::Relaxed);
    }

    pub(super) fn failed(&self, spans: u64, failure: Failure) {
        lock(&self.causes).add(&failure.describe(&self.endpoint), spans);
        *lock(&self.latest) = Some(failure);
        self.failed.fetch_add(spans, Ordering::Relaxed);
    }

    /// Exported and failed spans, and the failures' causes. Read before the queue's
    /// counts, so that `ended` is never below the outcomes.
    pub(super) fn outcomes(&self) -> (u64, u64, CauseTally) {
        let exported = self.exported.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        (exported, failed, lock(&self.causes).clone())
    }

    fn latest(&self) -> Option<Failure> {
        lock(&self.latest).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The warning while spans are being lost: at most one per [`WARNING_INTERVAL`], naming
/// the destination and the cause, such as
/// `span export to http://collector:4318/v1/traces (otlp http/protobuf) failed:
/// connection refused` or `... cannot keep up: 1200 spans dropped because the queue
/// was full (8192 spans)`.
#[derive(Debug)]
pub(super) struct LossWarning {
    /// `ENDPOINT (otlp PROTOCOL)`.
    destination: String,
    last: Option<Instant>,
    /// The counts at the last warning: a warning names only what was lost since.
    warned: Losses,
}

impl LossWarning {
    pub(super) fn new(destination: String) -> Self {
        Self {
            destination,
            last: None,
            warned: Losses::default(),
        }
    }

    /// Warns if spans were lost since the last warning and that was long enough ago.
    pub(super) fn check(&mut self, losses: &Losses, stats: &ExportStats) {
        let new = losses.since(&self.warned);
        let report = &new.report;
        if report.failed == 0 && report.dropped_queue_full == 0 {
            return;
        }
        if self.last.is_some_and(|at| at.elapsed() < WARNING_INTERVAL) {
            return;
        }
        self.last = Some(Instant::now());
        self.warned = losses.clone();
        let destination = &self.destination;
        let dropped = match (report.dropped_queue_full, losses.queue_capacity) {
            (0, _) => String::new(),
            (spans, Some(capacity)) => {
                format!("{spans} spans dropped because the queue was full ({capacity} spans)")
            }
            (spans, None) => format!("{spans} spans dropped because the queue was full"),
        };
        let message = match (report.failed, stats.latest()) {
            (1.., Some(failure)) if dropped.is_empty() => {
                format!("span export to {destination} failed: {}", failure.cause())
            }
            (1.., Some(failure)) => format!(
                "span export to {destination} failed: {}; {dropped}",
                failure.cause()
            ),
            _ => format!("span export to {destination} cannot keep up: {dropped}"),
        };
        tracing::warn!(
            target: "trace_core",
            exporter = "otlp",
            spans_failed_so_far = losses.report.failed,
            spans_dropped_so_far = losses.report.dropped_queue_full,
            "{message}"
        );
    }
}
