//! The background thread that releases traces once they have been quiet: an exporter
//! only runs when a span ends, and the last span of a trace is followed by silence.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How often a worker with `quiet_period` checks for ready traces: often enough that a
/// trace shows soon after its quiet period, rarely enough to cost nothing when idle.
pub(crate) fn tick_for(quiet_period: Duration) -> Duration {
    (quiet_period / 2).clamp(Duration::from_millis(10), Duration::from_millis(500))
}

/// A running worker thread; stopping it runs its last tick.
#[derive(Debug)]
pub(crate) struct Worker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts a thread that calls `tick(false)` every `every`, and `tick(true)` once when
    /// stopped or when the worker is dropped. `None` when no thread can be started; the
    /// exporter then releases traces only when spans end and when flushed.
    pub(crate) fn start(
        name: &str,
        every: Duration,
        mut tick: impl FnMut(bool) + Send + 'static,
    ) -> Option<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // A message or a dropped sender both mean stop.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    tick(false);
                }
                tick(true);
            })
            .ok()?;
        Some(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs the last tick and waits for the thread to end.
    pub(crate) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread only ends by finishing its loop; a panic in a tick is the
            // renderer's bug and has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}
