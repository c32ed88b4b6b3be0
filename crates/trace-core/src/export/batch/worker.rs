//! The export thread: a current-thread Tokio runtime that takes sealed batches from the
//! queue, encodes each into a request body (on this thread, into reused buffers),
//! keeps up to `max_concurrent_exports` requests in flight, and counts every outcome.
//! Flush and shutdown requests reach it through [`Control`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use tokio::task::{Id, JoinSet};

use super::Shared;
use super::queue::Batch;
use super::report::{Failure, FailureKind, LossWarning};
use super::retry::{Rejected, send_with_retries};
use super::transport::{BodyEncoder, Transport};
use crate::export::counting::SelfCounting as _;

/// How often the export thread looks for lost spans to warn about, at least.
const LOSS_CHECK: Duration = Duration::from_secs(1);

/// How the export thread batches and sends.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    /// The longest a span waits for its batch to fill before it is sent anyway.
    pub(super) scheduled_delay: Duration,
    /// How long one batch may take, retries included.
    pub(super) export_timeout: Duration,
    /// How long one request may take.
    pub(super) attempt_timeout: Duration,
    pub(super) max_concurrent_exports: usize,
}

/// Flush and shutdown requests from the processor, and their completion.
#[derive(Debug, Default)]
pub(super) struct Control {
    state: Mutex<ControlState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct ControlState {
    /// Flushes asked for so far; each caller waits for its own number.
    flushes_asked: u64,
    /// Flushes done: every batch sealed when the flush was asked for has finished.
    flushes_done: u64,
    /// When shutdown must be done by, and the timeout it was given.
    shutdown: Option<(Instant, Duration)>,
    /// The export loop ended.
    stopped: bool,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Asks for a flush; returns the number to wait for.
    pub(super) fn ask_flush(&self) -> u64 {
        let mut state = self.lock();
        state.flushes_asked += 1;
        state.flushes_asked
    }

    /// Asks the export thread to stop within `timeout`; false if shutdown was asked
    /// for already.
    pub(super) fn ask_shutdown(&self, timeout: Duration) -> bool {
        let mut state = self.lock();
        let first = state.shutdown.is_none();
        if first {
            state.shutdown = Some((Instant::now() + timeout, timeout));
        }
        first
    }

    fn shutdown_deadline(&self) -> Option<Instant> {
        self.lock().shutdown.map(|(deadline, _)| deadline)
    }

    /// Waits until flush `number` is done (or the export thread stopped); false when
    /// `timeout` passed first.
    pub(super) fn wait_flushed(&self, number: u64, timeout: Duration) -> bool {
        self.wait(timeout, |state| {
            state.flushes_done >= number || state.stopped
        })
    }

    /// Waits until the export thread stopped; false when `timeout` passed first.
    pub(super) fn wait_stopped(&self, timeout: Duration) -> bool {
        self.wait(timeout, |state| state.stopped)
    }

    fn wait(&self, timeout: Duration, done: impl Fn(&ControlState) -> bool) -> bool {
        let guard = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |state| !done(state))
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        done(&state)
    }

    fn update(&self, change: impl FnOnce(&mut ControlState)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }
}

/// A batch being exported.
#[derive(Debug)]
struct InFlight {
    number: u64,
    spans: u64,
    /// Its latest failure, while it is being retried.
    retried: Arc<Mutex<Option<Failure>>>,
}

/// The export loop's state; runs on the export thread.
#[derive(Debug)]
pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) transport: Arc<Transport>,
    pub(super) encoder: BodyEncoder,
    pub(super) pace: Pace,
    pub(super) warning: LossWarning,
}

impl Worker {
    /// Runs the export loop on `runtime` until shutdown, then tells the processor.
    pub(super) fn run(self, runtime: tokio::runtime::Runtime) {
        // The pipeline's own work (hyper's connections, `tracing` events) must not
        // make spans that come back to it.
        let _suppressed = Context::enter_telemetry_suppressed_scope();
        let shared = Arc::clone(&self.shared);
        runtime.block_on(self.export_loop());
        shared.control.update(|state| state.stopped = true);
        // Never wait for a host name lookup that hangs.
        runtime.shutdown_background();
    }

    async fn export_loop(mut self) {
        let shared = Arc::clone(&self.shared);
        let queue = &shared.queue;
        let mut exports = JoinSet::new();
        let mut in_flight: HashMap<Id, InFlight> = HashMap::new();
        // Flushes asked for, each with the last batch it waits for.
        let mut flushes: VecDeque<(u64, Option<u64>)> = VecDeque::new();
        let mut flushes_seen = 0;
        let mut shutdown: Option<(Instant, Duration)> = None;
        let mut next_scheduled = Instant::now() + self.pace.scheduled_delay;
        loop {
            while let Some(joined) = exports.try_join_next_with_id() {
                self.finished(joined, &mut in_flight);
            }
            let (asked, asked_shutdown) = {
                let state = shared.control.lock();
                (state.flushes_asked, state.shutdown)
            };
            if shutdown.is_none() && asked_shutdown.is_some() {
                shutdown = asked_shutdown;
                queue.close();
                queue.seal_filling();
            }
            if asked > flushes_seen {
                flushes_seen = asked;
                flushes.push_back((asked, queue.seal_filling()));
            }
            if Instant::now() >= next_scheduled {
                queue.seal_filling();
                next_scheduled = Instant::now() + self.pace.scheduled_delay;
            }
            while in_flight.len() < self.pace.max_concurrent_exports {
                let Some(batch) = queue.take() else { break };
                self.start(batch, &mut exports, &mut in_flight);
                next_scheduled = Instant::now() + self.pace.scheduled_delay;
            }
            let oldest = in_flight
                .values()
                .map(|export| export.number)
                .chain(queue.oldest_sealed())
                .min();
            while let Some(&(number, last)) = flushes.front() {
                if last.is_some_and(|last| oldest.is_some_and(|oldest| oldest <= last)) {
                    break;
                }
                flushes.pop_front();
                shared.control.update(|state| state.flushes_done = number);
            }
            self.warning.check(&shared.losses(), &shared.stats);
            if let Some((deadline, timeout)) = shutdown {
                if oldest.is_none() {
                    return;
                }
                if Instant::now() >= deadline {
                    self.abandon(timeout, &mut exports, &mut in_flight);
                    return;
                }
            }
            // At least every second: the loss warning must not wait for the next export.
            let tick = Instant::now() + LOSS_CHECK;
            let wake_at = shutdown.map_or(next_scheduled, |(at, _)| at.min(next_scheduled));
            let wake_at = wake_at.min(tick);
            let _ = tokio::time::timeout_at(wake_at.into(), queue.wake.notified()).await;
        }
    }

    /// Encodes `batch` and starts sending it.
    fn start(
        &mut self,
        batch: Batch,
        exports: &mut JoinSet<Result<Option<Rejected>, Failure>>,
        in_flight: &mut HashMap<Id, InFlight>,
    ) {
        let spans = batch.spans.len() as u64;
        let resource = self.shared.resource();
        let body = self.encoder.encode(&resource, &batch.spans);
        self.shared.queue.recycle(batch.spans);
        let body = match body {
            Ok(body) => body,
            Err(failure) => return self.shared.stats.failed(spans, failure),
        };
        let transport = Arc::clone(&self.transport);
        let shared = Arc::clone(&self.shared);
        let Pace {
            attempt_timeout,
            export_timeout,
            ..
        } = self.pace;
        let deadline = Instant::now() + export_timeout;
        let retried = Arc::new(Mutex::new(None));
        let failures = Arc::clone(&retried);
        let export = exports.spawn(async move {
            let outcome = send_with_retries(
                |timeout| transport.send(body.clone(), timeout),
                attempt_timeout,
                deadline,
                || shared.control.shutdown_deadline(),
                &shared.delivered,
                &failures,
            )
            .await;
            if outcome.is_ok() {
                shared.delivered.notify_waiters();
            }
            shared.queue.wake.notify_one();
            outcome
        });
        let number = batch.number;
        let export_state = InFlight {
            number,
            spans,
            retried,
        };
        in_flight.insert(export.id(), export_state);
    }

    /// Counts the outcome of a finished export.
    fn finished(
        &self,
        joined: Result<(Id, Result<Option<Rejected>, Failure>), tokio::task::JoinError>,
        in_flight: &mut HashMap<Id, InFlight>,
    ) {
        let stats = &self.shared.stats;
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, outcome),
            Err(error) => (
                error.id(),
                Err(Failure::new(
                    FailureKind::NotSent,
                    "the export task stopped unexpectedly",
                )),
            ),
        };
        let Some(InFlight { spans, .. }) = in_flight.remove(&id) else {
            return;
        };
        match outcome {
            Ok(None) => stats.exported(spans),
            Ok(Some(Rejected {
                spans: rejected,
                failure,
            })) => {
                let rejected = rejected.min(spans);
                stats.exported(spans - rejected);
                stats.failed(rejected, failure);
            }
            Err(failure) => stats.failed(spans, failure),
        }
    }

    /// Shutdown's deadline passed: exports still in flight fail (of the failure they
    /// were retrying, if any), queued spans stay unsent.
    fn abandon(
        &self,
        timeout: Duration,
        exports: &mut JoinSet<Result<Option<Rejected>, Failure>>,
        in_flight: &mut HashMap<Id, InFlight>,
    ) {
        exports.abort_all();
        for (_, export) in in_flight.drain() {
            let retried = export
                .retried
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            let failure = retried.unwrap_or_else(|| {
                Failure::new(
                    FailureKind::NoAnswer,
                    format!("shutdown timed out after {} ms", timeout.as_millis()),
                )
            });
            self.shared.stats.failed(export.spans, failure);
        }
        self.shared.queue.discard();
    }
}
