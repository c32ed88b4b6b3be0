//! What the console and HTML exporters share as `SpanExporter`s: spans held until their
//! trace is complete ([`PendingTraces`]), the thread that releases quiet traces, the
//! provider's service name, and how export, flush and shutdown run. Each exporter only
//! says how released traces are shown ([`TraceSink`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use opentelemetry::Key;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;

use super::{BufferCounters, Limits, PendingTraces, Released, Worker, tick_for};

/// Shows released traces: the console prints them, the HTML exporter rewrites its page.
pub(crate) trait TraceSink: Send + Sync + 'static {
    /// Shows `released`; `service` is the provider's `service.name`, `counters` the
    /// exporter's.
    fn show(
        &self,
        released: Vec<Released>,
        service: Option<&Arc<str>>,
        counters: &BufferCounters,
    ) -> OTelSdkResult;
}

/// A viewing exporter: traces buffered until complete, then shown by its sink, at once
/// when a span completes them or from a worker thread once they have been quiet.
pub(crate) struct BufferedExporter<S> {
    shared: Arc<Shared<S>>,
    worker: OnceLock<Option<Mutex<Worker>>>,
    /// The worker thread's name.
    thread_name: &'static str,
}

/// What the exporter and its worker thread share.
struct Shared<S> {
    sink: S,
    pending: Mutex<PendingTraces>,
    service: Mutex<Option<Arc<str>>>,
    counters: BufferCounters,
    /// A sink error of the worker thread, returned by the next export or flush.
    worker_error: Mutex<Option<OTelSdkError>>,
    is_shutdown: AtomicBool,
}

impl<S: TraceSink> BufferedExporter<S> {
    /// An exporter showing traces through `sink`, with the default limits; its worker
    /// thread, named `thread_name`, starts with the first export.
    pub(crate) fn new(sink: S, thread_name: &'static str) -> Self {
        Self {
            shared: Arc::new(Shared {
                sink,
                pending: Mutex::new(PendingTraces::new(Limits::default())),
                service: Mutex::new(None),
                counters: BufferCounters::default(),
                worker_error: Mutex::new(None),
                is_shutdown: AtomicBool::new(false),
            }),
            worker: OnceLock::new(),
            thread_name,
        }
    }

    /// Changes the sink or the limits; only before the first export, which is when the
    /// worker thread starts sharing them (the exporters' builder methods take `self`,
    /// so that holds).
    pub(crate) fn configure(mut self, change: impl FnOnce(&mut S, &mut Limits)) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            let pending = shared
                .pending
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut limits = pending.limits();
            change(&mut shared.sink, &mut limits);
            if limits != pending.limits() {
                *pending = PendingTraces::new(limits);
            }
        }
        self
    }

    pub(crate) fn sink(&self) -> &S {
        &self.shared.sink
    }

    pub(crate) fn limits(&self) -> Limits {
        lock(&self.shared.pending).limits()
    }

    pub(crate) fn counters(&self) -> BufferCounters {
        self.shared.counters.clone()
    }

    /// Buffers `batch` and shows the traces it completes (or pushes out).
    pub(crate) fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shared.is_shutdown.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let has_worker = self.start_worker();
        let service = lock(&self.shared.service).clone();
        let released = lock(&self.shared.pending).push_batch(
            batch,
            service.as_ref(),
            Instant::now(),
            has_worker,
        );
        let result = self.shared.show(released);
        self.shared.take_worker_error().map_or(result, Err)
    }

    /// Stops the worker and shows what is left.
    pub(crate) fn shutdown(&self) -> OTelSdkResult {
        if self.shared.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if let Some(Some(worker)) = self.worker.get() {
            lock(worker).stop();
        }
        self.force_flush()
    }

    /// Shows every buffered trace, complete or not.
    pub(crate) fn force_flush(&self) -> OTelSdkResult {
        let released = lock(&self.shared.pending).take_all();
        let result = self.shared.show(released);
        self.shared.take_worker_error().map_or(result, Err)
    }

    /// Keeps the resource's `service.name` for the traces shown from now on.
    pub(crate) fn set_resource(&self, resource: &Resource) {
        let service = resource
            .get(&Key::from_static_str("service.name"))
            .map(|value| Arc::from(value.as_str().as_ref()));
        *lock(&self.shared.service) = service;
    }

    fn start_worker(&self) -> bool {
        let worker = self.worker.get_or_init(|| {
            let shared = Arc::clone(&self.shared);
            let every = tick_for(lock(&shared.pending).limits().quiet_period);
            let tick = move |last: bool| {
                let released = if last {
                    lock(&shared.pending).take_all()
                } else {
                    lock(&shared.pending).take_ready(Instant::now())
                };
                if let Err(error) = shared.show(released) {
                    *lock(&shared.worker_error) = Some(error);
                }
            };
            Worker::start(self.thread_name, every, tick).map(Mutex::new)
        });
        worker.is_some()
    }
}

impl<S: TraceSink> Shared<S> {
    fn show(&self, released: Vec<Released>) -> OTelSdkResult {
        if released.is_empty() {
            return Ok(());
        }
        let service = lock(&self.service).clone();
        self.sink.show(released, service.as_ref(), &self.counters)
    }

    fn take_worker_error(&self) -> Option<OTelSdkError> {
        lock(&self.worker_error).take()
    }
}

/// Locks `mutex`; a poisoned lock only means another thread panicked mid-export, and
/// the data is still whole, so keep going.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
