//! The OTLP specification's retry rules: which failures are retried (the transports
//! classify each answer as an [`Attempt`]), how long to wait (the collector's
//! `Retry-After` or RetryInfo when it gives one, else exponential backoff with jitter,
//! cut short when another export got through), and until when (the export timeout of
//! the batch, and shutdown's deadline).

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::report::Failure;

/// The first wait before retrying, without a hint from the collector.
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two attempts, without a hint from the collector: a
/// collector that is back is used again within seconds.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The outcome of one export request.
#[derive(Debug)]
pub(super) enum Attempt {
    /// The collector took the request. It may have rejected some spans of it (partial
    /// success): they count as failed, and are not retried, as the specification says.
    Delivered(Option<Rejected>),
    /// Failed in a way the specification allows to retry (HTTP 429, 502, 503, 504; gRPC
    /// UNAVAILABLE and the like; no connection), after `after` if the collector said.
    Retryable(Failure, Option<Duration>),
    /// Failed for good (any other status, TLS).
    Failed(Failure),
}

/// Spans of a delivered request that the collector rejected.
#[derive(Debug)]
pub(super) struct Rejected {
    pub(super) spans: u64,
    pub(super) failure: Failure,
}

/// Sends with `send` until the request is delivered, fails for good, or the next
/// attempt would start after `deadline` (the batch's export timeout) or after
/// `shutdown()` (shutdown's deadline, once shutdown has begun). `send` gets the time
/// its attempt may take: `attempt_timeout`, or less when a deadline is nearer. A backoff
/// (not a wait the collector asked for) ends early when `delivered` is notified: another
/// export got through, so the collector is back. Each failure that is retried is kept in
/// `retried`, to name if shutdown abandons the export. Once shutdown has begun, a wait
/// that would end after its deadline gives up at once (with the failure it retried),
/// freeing the export's slot for a batch not tried yet.
pub(super) async fn send_with_retries<F, Fut>(
    mut send: F,
    attempt_timeout: Duration,
    deadline: Instant,
    shutdown: impl Fn() -> Option<Instant>,
    delivered: &Notify,
    retried: &Mutex<Option<Failure>>,
) -> Result<Option<Rejected>, Failure>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut retries = 0;
    loop {
        let limit = shutdown().map_or(deadline, |at| at.min(deadline));
        let left = limit.saturating_duration_since(Instant::now());
        let (failure, hint) = match send(attempt_timeout.min(left)).await {
            Attempt::Delivered(rejected) => return Ok(rejected),
            Attempt::Failed(failure) => return Err(failure),
            Attempt::Retryable(failure, hint) => (failure, hint),
        };
        retries += 1;
        let wait = hint.unwrap_or_else(|| backoff(retries, random_fraction()));
        let limit = shutdown().map_or(deadline, |at| at.min(deadline));
        if Instant::now() + wait >= limit {
            return Err(failure);
        }
        *retried
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(failure.clone());
        // A wait the collector asked for is waited out; a backoff of ours ends early
        // when another export got through.
        let delivered = hint.is_none().then_some(delivered);
        if let Waited::ShutdownFirst = wait_out(wait, delivered, &shutdown).await {
            return Err(failure);
        }
    }
}

/// How [`wait_out`] ended.
enum Waited {
    /// The wait is over, or cut short by an export that got through.
    Done,
    /// Shutdown began, and its deadline comes before the wait would end.
    ShutdownFirst,
}

/// How often a wait checks whether shutdown began: shutdown then gives up the retry
/// instead of waiting past its deadline, and the slot goes to a batch not tried yet.
const SHUTDOWN_CHECK: Duration = Duration::from_millis(50);

/// Waits `wait`, or until `delivered` (when given) is notified, or until shutdown began
/// with a deadline the wait would outlast.
async fn wait_out(
    wait: Duration,
    delivered: Option<&Notify>,
    shutdown: &impl Fn() -> Option<Instant>,
) -> Waited {
    let until = Instant::now() + wait;
    // One registration for the whole wait, so no notification falls between slices.
    let mut notified = std::pin::pin!(delivered.map(Notify::notified));
    loop {
        let now = Instant::now();
        if now >= until {
            return Waited::Done;
        }
        if shutdown().is_some_and(|deadline| until >= deadline) {
            return Waited::ShutdownFirst;
        }
        let slice = (until - now).min(SHUTDOWN_CHECK);
        match notified.as_mut().as_pin_mut() {
            Some(notified) => {
                if tokio::time::timeout(slice, notified).await.is_ok() {
                    return Waited::Done;
                }
            }
            None => tokio::time::sleep(slice).await,
        }
    }
}

/// The wait before retry number `retry` (from 1): 1 s doubling up to 5 s, scaled by a
/// random factor from 0.5 to 1.5 (`fraction` from 0 to 1) so that exporters that failed
/// together do not retry together.
fn backoff(retry: u32, fraction: f64) -> Duration {
    let doubled = INITIAL_BACKOFF.saturating_mul(1 << retry.saturating_sub(1).min(16));
    doubled
        .min(MAX_BACKOFF)
        .mul_f64(0.5 + fraction.clamp(0.0, 1.0))
}

/// A number from 0 up to (not including) 1, different at every call: std's hasher keys
/// are random per process and change with each `RandomState`.
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher as _, Hasher as _};

    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait an HTTP `Retry-After` header asks for: whole seconds, or an HTTP date
/// (a date in the past means now).
#[cfg(feature = "otlp-http")]
pub(super) fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_five_with_jitter() {
        assert_eq!(backoff(1, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(3, 1.0), Duration::from_secs(6));
        assert_eq!(backoff(3, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(4, 0.5), Duration::from_secs(5));
        assert_eq!(backoff(60, 1.0), Duration::from_millis(7_500));
        for _ in 0..100 {
            let fraction = random_fraction();
            assert!((0.0..1.0).contains(&fraction), "{fraction}");
        }
    }

    #[cfg(feature = "otlp-http")]
    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
    }

    #[tokio::test]
    async fn retries_stop_at_the_deadline_with_the_last_failure() {
        use super::super::report::FailureKind;

        let mut attempts = 0;
        let started = Instant::now();
        let outcome = send_with_retries(
            |_| {
                attempts += 1;
                let cause = format!("attempt {attempts}");
                async move {
                    Attempt::Retryable(
                        Failure::new(FailureKind::Answered, cause),
                        Some(Duration::from_millis(100)),
                    )
                }
            },
            Duration::from_secs(1),
            started + Duration::from_millis(250),
            || None,
            &Notify::new(),
            &Mutex::default(),
        )
        .await;
        // Attempts at 0, 100 and 200 ms; a fourth at 300 ms would be past the deadline.
        assert_eq!(outcome.unwrap_err().cause(), "attempt 3");
        assert_eq!(attempts, 3);
    }

    #[tokio::test]
    async fn shutdown_gives_up_a_backoff_that_would_outlast_its_deadline() {
        use super::super::report::FailureKind;

        let started = Instant::now();
        let shutdown_at = started + Duration::from_millis(100);
        let mut attempts = 0;
        let outcome = send_with_retries(
            |_| {
                attempts += 1;
                async {
                    let refused = Failure::new(FailureKind::Unreachable, "connection refused");
                    Attempt::Retryable(refused, None)
                }
            },
            Duration::from_secs(1),
            started + Duration::from_secs(30),
            // Shutdown begins 100 ms in, with a deadline 1 s after that.
            || (Instant::now() >= shutdown_at).then(|| shutdown_at + Duration::from_secs(1)),
            &Notify::new(),
            &Mutex::default(),
        )
        .await;
        assert_eq!(outcome.unwrap_err().cause(), "connection refused");
        // Either the first backoff (0.5-1.5 s) would end after shutdown's deadline and
        // stops as soon as shutdown began, or it ends before, and the second attempt's
        // backoff (1-3 s) would not fit.
        assert!(attempts <= 2, "{attempts}");
        assert!(
            started.elapsed() < Duration::from_millis(1_200),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn another_delivery_ends_a_backoff_early() {
        use super::super::report::FailureKind;

        let delivered = std::sync::Arc::new(Notify::new());
        let notifier = std::sync::Arc::clone(&delivered);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            notifier.notify_waiters();
        });
        let mut attempts = 0;
        let started = Instant::now();
        let outcome = send_with_retries(
            |_| {
                attempts += 1;
                let first = attempts == 1;
                async move {
                    if first {
                        let refused = Failure::new(FailureKind::Unreachable, "connection refused");
                        Attempt::Retryable(refused, None)
                    } else {
                        Attempt::Delivered(None)
                    }
                }
            },
            Duration::from_secs(1),
            started + Duration::from_secs(30),
            || None,
            &delivered,
            &Mutex::default(),
        )
        .await;
        assert!(outcome.is_ok());
        // The backoff would have been at least 500 ms.
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "{:?}",
            started.elapsed()
        );
    }
}
