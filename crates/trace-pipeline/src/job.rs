//! Background jobs: the `job.{name}` span with progress events, result and duration.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::ENDUSER_ID;
use trace_core::SpanStart;

use crate::TRACER;
use crate::attributes::{
    JOB_DURATION_MS, JOB_ID, JOB_NAME, JOB_NAMESPACE, JOB_PRIORITY, JOB_PROGRESS_EVENT,
    JOB_PROGRESS_MESSAGE, JOB_PROGRESS_PERCENT, JOB_QUEUE_WAIT_MS, JOB_RESULT, JOB_SCHEDULED_AT,
    JOB_SKIP_REASON, JOB_WORKER_ID, JOB_WORKER_NAME,
};
use crate::handle::{Continuation, TraceHandle, pick_up};
use crate::handle_methods::handle_methods;
use crate::outcome::Outcome;
use crate::tracked::{OutcomeKeys, Tracked, bounded};

static JOB_KEYS: OutcomeKeys = OutcomeKeys {
    outcome: JOB_RESULT,
    skip_reason: JOB_SKIP_REASON,
    success: "completed",
    error: "failed",
};

/// What a job is, who runs it and where its trace comes from; [`start`](Self::start)
/// opens its span.
///
/// The span is `job.{name}` with kind CONSUMER: a worker took the job from a queue or
/// a jobs table, the asynchronous counterpart of the enqueuer. Call
/// [`in_process`](Self::in_process) for work run directly by the code that asked for
/// it (kind INTERNAL).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use trace_pipeline::{Continuation, Job, Outcome};
///
/// # let stored_handle = None;
/// let job = Job::new("send-email")
///     .id("job-42")
///     .namespace("notifications")
///     .priority(5)
///     .scheduled_at(SystemTime::now() - Duration::from_millis(30))
///     .worker("worker-7f3a", "worker-1")
///     .picked_up(stored_handle.as_ref(), Continuation::Parent)
///     .start();
/// job.progress(50, "Email sent");
/// job.finish(Outcome::Success);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a job description does nothing until started"]
pub struct Job<'a> {
    name: &'a str,
    id: Option<&'a str>,
    namespace: Option<&'a str>,
    priority: Option<i64>,
    scheduled_at: Option<SystemTime>,
    worker: Option<(&'a str, &'a str)>,
    user_id: Option<&'a str>,
    kind: SpanKind,
    origin: Origin<'a>,
}

#[derive(Debug, Clone)]
enum Origin<'a> {
    Current,
    Parent(&'a Context),
    Handle(Option<&'a TraceHandle>, Continuation),
}

impl<'a> Job<'a> {
    /// A job named `name` (`trace_rs.job.name`; the span is `job.{name}`).
    pub fn new(name: &'a str) -> Self {
        Self {
            name,
            id: None,
            namespace: None,
            priority: None,
            scheduled_at: None,
            worker: None,
            user_id: None,
            kind: SpanKind::Consumer,
            origin: Origin::Current,
        }
    }

    /// `trace_rs.job.id`.
    pub fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    /// `trace_rs.job.namespace`: the namespace or queue the job belongs to.
    pub fn namespace(mut self, namespace: &'a str) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// `trace_rs.job.priority`.
    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = Some(priority);
        self
    }

    /// When the job was due: recorded as `trace_rs.job.scheduled_at`, and the time from
    /// then to the start of the span as `trace_rs.job.queue_wait_ms`.
    pub fn scheduled_at(mut self, scheduled_at: SystemTime) -> Self {
        self.scheduled_at = Some(scheduled_at);
        self
    }

    /// `trace_rs.job.worker.id` and `trace_rs.job.worker.name` of the worker running the
    /// job.
    pub fn worker(mut self, id: &'a str, name: &'a str) -> Self {
        self.worker = Some((id, name));
        self
    }

    /// `enduser.id`: the user on whose behalf the job runs. It identifies a person:
    /// set it only where your privacy rules allow it in traces.
    pub fn user_id(mut self, user_id: &'a str) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// The job runs in the process that asked for it rather than from a queue: kind
    /// INTERNAL instead of CONSUMER.
    pub fn in_process(mut self) -> Self {
        self.kind = SpanKind::Internal;
        self
    }

    /// The job's span is a child of `parent` instead of [`Context::current`].
    pub fn parent(mut self, parent: &'a Context) -> Self {
        self.origin = Origin::Parent(parent);
        self
    }

    /// The job was stored with `handle` (or without one): continue that trace or start
    /// a new one linked to it, as `continuation` says. A missing or invalid handle
    /// starts a new trace.
    pub fn picked_up(
        mut self,
        handle: Option<&'a TraceHandle>,
        continuation: Continuation,
    ) -> Self {
        self.origin = Origin::Handle(handle, continuation);
        self
    }

    /// Starts the job's span.
    pub fn start(self) -> JobRun {
        let pick_up = match self.origin {
            Origin::Handle(handle, continuation) => Some(pick_up(handle, continuation)),
            Origin::Current | Origin::Parent(_) => None,
        };
        let current;
        let parent = match (&pick_up, self.origin) {
            (Some(pick_up), _) => &pick_up.parent,
            (None, Origin::Parent(parent)) => parent,
            (None, _) => {
                current = Context::current();
                &current
            }
        };
        let span = TRACER.start_with_parent(parent, self.kind.clone(), || {
            let now = SystemTime::now();
            let mut start = SpanStart::new(format!("job.{}", self.name))
                .with_start_time(now)
                .with_attribute(KeyValue::new(JOB_NAME, self.name.to_owned()))
                .with_links(pick_up.as_ref().and_then(|p| p.links()));
            let optional = [
                self.id.map(|id| KeyValue::new(JOB_ID, bounded(id))),
                self.namespace
                    .map(|ns| KeyValue::new(JOB_NAMESPACE, ns.to_owned())),
                self.priority.map(|p| KeyValue::new(JOB_PRIORITY, p)),
                self.scheduled_at
                    .map(|at| KeyValue::new(JOB_SCHEDULED_AT, rfc3339_millis(at))),
                self.scheduled_at
                    .map(|at| KeyValue::new(JOB_QUEUE_WAIT_MS, millis_between(at, now))),
                self.worker
                    .map(|(id, _)| KeyValue::new(JOB_WORKER_ID, id.to_owned())),
                self.worker
                    .map(|(_, name)| KeyValue::new(JOB_WORKER_NAME, name.to_owned())),
                self.user_id
                    .map(|user| KeyValue::new(ENDUSER_ID, bounded(user))),
            ];
            start = start.with_attributes(optional.into_iter().flatten());
            start
        });
        JobRun {
            tracked: Tracked::new(span, &JOB_KEYS),
            started: Instant::now(),
        }
    }
}

/// A running job: the `job.{name}` span. Report progress with
/// [`progress`](Self::progress), end with [`finish`](Self::finish), which records
/// `trace_rs.job.result` and `trace_rs.job.duration_ms`. Dropping it unfinished records
/// `cancelled`.
#[derive(Debug)]
#[must_use = "the job's span ends when it is finished or dropped"]
pub struct JobRun {
    tracked: Tracked,
    started: Instant,
}

handle_methods!(JobRun);

impl JobRun {
    /// Records a `trace_rs.job.progress` event with `trace_rs.job.progress.percent`
    /// (clamped to 100) and `trace_rs.job.progress.message` (cut to 1 KiB).
    pub fn progress(&self, percent: u8, message: &str) {
        if let Some(span) = self.tracked.span() {
            span.add_event(JOB_PROGRESS_EVENT, || {
                vec![
                    KeyValue::new(JOB_PROGRESS_PERCENT, i64::from(percent.min(100))),
                    KeyValue::new(JOB_PROGRESS_MESSAGE, bounded(message)),
                ]
            });
        }
    }

    /// Ends the job with `outcome`: `trace_rs.job.result` (`completed`, `failed`,
    /// `skipped`, `cancelled`) and `trace_rs.job.duration_ms` since [`Job::start`].
    pub fn finish(self, outcome: Outcome) {
        let started = self.started;
        self.tracked
            .finish_with(|| outcome, |span| record_duration(span, started));
    }

    /// Runs `work` inside this span, then finishes with its result.
    pub async fn run<T, E, F>(self, work: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: std::error::Error,
    {
        let result = self.instrument(work).await;
        let started = self.started;
        self.tracked.finish_with(
            || Outcome::from_result(&result),
            |span| record_duration(span, started),
        );
        result
    }
}

fn record_duration(span: &trace_core::TracedSpan, started: Instant) {
    let millis = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    span.set_attribute(KeyValue::new(JOB_DURATION_MS, millis));
}

/// Whole milliseconds from `from` to `to`; `0` when `to` is earlier.
fn millis_between(from: SystemTime, to: SystemTime) -> i64 {
    to.duration_since(from)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `time` as RFC 3339 in UTC with milliseconds, e.g. `2026-11-21T05:33:19.042Z`.
fn rfc3339_millis(time: SystemTime) -> String {
    let millis: i128 = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_millis()).unwrap_or(i128::MAX),
        Err(before) => -i128::try_from(before.duration().as_millis()).unwrap_or(i128::MAX),
    };
    let days = millis.div_euclid(86_400_000);
    let of_day = millis.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// Howard Hinnant's days-to-civil algorithm: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_format_as_rfc3339_utc() {
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(at(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339_millis(at(1_795_239_199_042)),
            "2026-11-21T05:33:19.042Z"
        );
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH - Duration::from_millis(1)),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn queue_wait_never_goes_negative() {
        let now = SystemTime::now();
        assert_eq!(millis_between(now + Duration::from_secs(5), now), 0);
        assert_eq!(millis_between(now - Duration::from_millis(1500), now), 1500);
    }
}
