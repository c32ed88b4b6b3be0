//! trace-core's batch export pipeline: [`OtlpBatchProcessor`], the span processor
//! `init` uses for OTLP `http/protobuf` and `grpc`, usable in any `SdkTracerProvider`.

mod client;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;
mod queue;
mod report;
mod retry;
mod transport;
mod worker;

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tokio::sync::Notify;

use crate::config::{Config, Protocol};
use crate::error::InitError;
use crate::export::ExportReport;
use crate::export::counting::{Losses, SelfCounting};
use queue::SpanQueue;
use report::{ExportStats, LossWarning};
use transport::Transport;
use worker::{Control, Pace, Worker};

/// Shutdown waits this much beyond its timeout for the export thread to say it
/// stopped: the thread keeps the deadline itself, this only covers scheduling.
const STOP_GRACE: Duration = Duration::from_millis(50);

/// A batch span processor exporting OTLP `http/protobuf` or `grpc`, built to keep up
/// with a busy service and to say what it lost. [`init`](crate::init) uses it for those
/// protocols; it works in any `SdkTracerProvider`:
///
/// ```no_run
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use trace_core::export::OtlpBatchProcessor;
///
/// let config = trace_core::Config {
///     endpoint: Some("http://collector:4318".into()),
///     ..Default::default()
/// };
/// let processor = OtlpBatchProcessor::from_config(&config)?;
/// let status = processor.status(); // counts, readable at any time
/// let provider = SdkTracerProvider::builder()
///     .with_resource(trace_core::resource(&config))
///     .with_span_processor(processor)
///     .build();
/// // ... spans ...
/// if let Err(error) = provider.shutdown() {
///     eprintln!("{error}"); // says how many spans were lost, and why
/// }
/// println!("{:?} {}", status.report(), status.losses().unwrap_or_default());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// **On the thread that ends a span**, `on_end` takes one short lock and pushes the
/// span onto the batch being filled; it never waits for the export, and queued spans are
/// freed on the export thread. When the queue holds `batch.max_queue_size` spans, the
/// span is dropped (there) and counted ([`ExportReport::dropped_queue_full`]). Spans that are not sampled (recorded
/// only) are not exported, as the specification says.
///
/// **The queue** holds at most `batch.max_queue_size` spans (default 8192). A span's
/// memory is the SDK's `SpanData` (about 300 bytes) plus what its attributes, events
/// and links hold: about 1 KiB for an HTTP server span with 8 attributes, so the
/// default queue holds about 8 MiB when full. Requests in flight hold their encoded
/// bytes only (about 250 bytes per such span).
///
/// **One export thread** (`trace-rs-export`) runs a current-thread Tokio runtime of its
/// own, so no runtime is needed from the service, for gRPC either. It takes a batch
/// when `batch.max_export_batch_size` spans are queued, or `batch.scheduled_delay_ms`
/// after the last export, encodes it straight from `SpanData` to protobuf into buffers
/// it reuses (gzip with `compression: gzip`), and keeps up to
/// `batch.max_concurrent_exports` requests in flight (default 4) over kept-alive
/// connections: HTTP/1.1 for `http/protobuf`, HTTP/2 for `grpc`, rustls with ring for
/// `https` (the system's roots and `certificate`), with the configured `headers`.
///
/// **Retries** follow the OTLP specification: HTTP 429, 502, 503 and 504, gRPC
/// UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, DATA_LOSS (and
/// RESOURCE_EXHAUSTED with a RetryInfo), and connections that fail are retried after
/// the collector's `Retry-After` or RetryInfo, else after 1 s doubling up to 5 s with
/// jitter (sooner when another export got through), for at most
/// `batch.export_timeout_ms` per batch; each request is bounded by `timeout_ms`. Once
/// shutdown has begun, a wait that would end after its deadline is given up at once, so
/// the batches not tried yet get their attempt. Other statuses, TLS failures and spans the collector rejects (partial
/// success) fail at once.
///
/// **Losses are reported**: [`status`](Self::status) reads the counts at any time;
/// `force_flush` (bounded by `shutdown_timeout_ms`) and `shutdown_with_timeout` return
/// an error naming how many spans failed, were dropped or left unsent, and why
/// (`collector unreachable at ENDPOINT: connection refused`, `ENDPOINT answered HTTP
/// status 503 Service Unavailable`, `no answer from ENDPOINT: timed out after 10000
/// ms`, the queue was full); while spans are being lost, a warning through `tracing`
/// (target `trace_core`) says so at most every 10 seconds. Shutdown exports what is
/// queued and returns within its timeout: exports still in flight then fail, queued
/// spans are left unsent.
pub struct OtlpBatchProcessor {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
    flush_timeout: Duration,
    /// The counts at the last flush: a flush reports what was lost since.
    flushed: Mutex<Losses>,
}

impl std::fmt::Debug for OtlpBatchProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OtlpBatchProcessor")
            .field(&self.shared)
            .finish()
    }
}

/// What the processor and its export thread share.
struct Shared {
    queue: SpanQueue,
    stats: ExportStats,
    control: Control,
    /// Told when an export got through: retries waiting out a backoff try again.
    delivered: Notify,
    /// The provider's resource, set by the provider when it is built.
    resource: Mutex<Resource>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpBatchPipeline")
            .field("endpoint", &self.stats.endpoint())
            .field("report", &self.losses().report)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn resource(&self) -> Resource {
        lock(&self.resource).clone()
    }
}

impl SelfCounting for Shared {
    fn losses(&self) -> Losses {
        let (exported, failed, causes) = self.stats.outcomes();
        let counts = self.queue.counts();
        Losses {
            report: ExportReport {
                ended: counts.ended,
                exported,
                failed,
                dropped_queue_full: counts.dropped_queue_full,
            },
            causes,
            queue_capacity: Some(self.queue.capacity()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl OtlpBatchProcessor {
    /// A processor exporting to the OTLP endpoint of `config` (`endpoint` or
    /// `traces_endpoint`, `protocol` `http/protobuf` or `grpc`, `headers`,
    /// `compression`, `certificate`, `timeout_ms`, `batch.*`, and
    /// `shutdown_timeout_ms` for `force_flush`), with its export thread started.
    ///
    /// Errors: `config` does not validate, `certificate` cannot be read or is not PEM,
    /// `protocol` is `http/json` (which `init` exports through opentelemetry-otlp), or
    /// trace-core was built without the protocol's feature.
    pub fn from_config(config: &Config) -> Result<Self, InitError> {
        config.validate()?;
        Self::start(config)
    }

    /// [`from_config`](Self::from_config) for a validated `config`.
    pub(crate) fn start(config: &Config) -> Result<Self, InitError> {
        // Named as opentelemetry-otlp's exporters are in `init`'s errors.
        let (what, client) = match config.protocol {
            Protocol::Grpc => ("OTLP/gRPC exporter", "OTLP/gRPC client"),
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                ("OTLP/HTTP exporter", "OTLP/HTTP client")
            }
        };
        let batch = &config.batch;
        let export_timeout = Duration::from_millis(batch.export_timeout_ms);
        let pace = Pace {
            scheduled_delay: Duration::from_millis(batch.scheduled_delay_ms),
            export_timeout,
            // `batch.export_timeout_ms` caps the request timeout, as OTEL_BSP_EXPORT_TIMEOUT does.
            attempt_timeout: Duration::from_millis(config.timeout_ms).min(export_timeout),
            max_concurrent_exports: batch.max_concurrent_exports,
        };
        let endpoint = config.resolved_traces_endpoint();
        let certificate = config
            .certificate
            .as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|error| {
                    InitError::exporter(
                        "OTLP exporter",
                        format!("cannot read `certificate` file {path}: {error}"),
                    )
                })
            })
            .transpose()?;
        let transport = Transport::new(
            config,
            &endpoint,
            certificate.as_deref(),
            pace.attempt_timeout,
        )
        .map_err(|detail| InitError::exporter(client, detail))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("trace-rs-export")
            .build()
            .map_err(|error| {
                InitError::exporter(what, format!("cannot start its runtime: {error}"))
            })?;
        let shared = Arc::new(Shared {
            queue: SpanQueue::new(batch.max_queue_size, batch.max_export_batch_size),
            stats: ExportStats::new(endpoint.clone()),
            control: Control::default(),
            delivered: Notify::new(),
            resource: Mutex::new(Resource::builder_empty().build()),
        });
        let worker = Worker {
            shared: Arc::clone(&shared),
            encoder: transport.body_encoder(config.compression),
            transport: Arc::new(transport),
            pace,
            warning: LossWarning::new(format!("{endpoint} (otlp {})", config.protocol.as_str())),
        };
        let thread = std::thread::Builder::new()
            .name("trace-rs-export".into())
            .spawn(move || worker.run(runtime))
            .map_err(|error| {
                InitError::exporter(what, format!("cannot start the export thread: {error}"))
            })?;
        Ok(Self {
            shared,
            worker: Mutex::new(Some(thread)),
            flush_timeout: Duration::from_millis(config.shutdown_timeout_ms),
            flushed: Mutex::default(),
        })
    }

    /// A handle on this processor's counts, to keep once the processor went into a
    /// provider.
    pub fn status(&self) -> ExportStatus {
        ExportStatus {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The counts, for the guard's report and messages.
    pub(crate) fn self_counting(&self) -> Arc<dyn SelfCounting> {
        self.shared.clone()
    }
}

impl SpanProcessor for OtlpBatchProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.shared.queue.push(span);
        }
    }

    /// Exports every span queued so far and waits for the exports, at most
    /// `shutdown_timeout_ms`. An error says what was lost since the previous flush.
    fn force_flush(&self) -> OTelSdkResult {
        let control = &self.shared.control;
        if control.wait_stopped(Duration::ZERO) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let number = control.ask_flush();
        self.shared.queue.wake.notify_one();
        let done = control.wait_flushed(number, self.flush_timeout);
        let losses = self.shared.losses();
        let new = losses.since(&std::mem::replace(
            &mut *lock(&self.flushed),
            losses.clone(),
        ));
        let lost = new.describe(None);
        match (done, lost) {
            (true, None) => Ok(()),
            (true, Some(lost)) => Err(OTelSdkError::InternalFailure(format!(
                "span export lost spans: {lost}"
            ))),
            (false, lost) => {
                let pending = losses.report.unsent();
                let lost = lost
                    .map(|lost| format!("; lost: {lost}"))
                    .unwrap_or_default();
                Err(OTelSdkError::InternalFailure(format!(
                    "flush did not finish within {} ms: {pending} spans not exported yet{lost}",
                    self.flush_timeout.as_millis()
                )))
            }
        }
    }

    /// Exports what is queued and stops the export thread, within `timeout`: exports
    /// still in flight then fail, queued spans are left unsent. An error says how many
    /// spans were lost since the start, and why.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let control = &self.shared.control;
        if !control.ask_shutdown(timeout) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.shared.queue.wake.notify_one();
        let stopped = control.wait_stopped(timeout + STOP_GRACE);
        if stopped && let Some(thread) = lock(&self.worker).take() {
            // The thread told us it stopped: it is about to end.
            let _ = thread.join();
        }
        let losses = self.shared.losses();
        match losses.describe(Some("left unsent")) {
            Some(lost) => Err(OTelSdkError::InternalFailure(format!(
                "span export lost spans: {lost}; {} of {} spans exported",
                losses.report.exported, losses.report.ended
            ))),
            None if !stopped => Err(OTelSdkError::Timeout(timeout)),
            None => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        *lock(&self.shared.resource) = resource.clone();
    }
}

impl Drop for OtlpBatchProcessor {
    /// Without a shutdown (a processor never put into a provider), the export thread
    /// stops at once; queued spans are left unsent.
    fn drop(&mut self) {
        if self.shared.control.ask_shutdown(Duration::ZERO) {
            self.shared.queue.wake.notify_one();
        }
    }
}

/// The counts of an [`OtlpBatchProcessor`], readable at any time from any thread, also
/// after the processor went into a provider ([`OtlpBatchProcessor::status`]).
#[derive(Debug, Clone)]
pub struct ExportStatus {
    shared: Arc<Shared>,
}

impl ExportStatus {
    /// Spans ended, exported, failed and dropped because the queue was full, so far;
    /// [`ExportReport::unsent`] are queued or in flight now.
    pub fn report(&self) -> ExportReport {
        self.shared.losses().report
    }

    /// Spans waiting in the queue now (not yet in a request).
    pub fn queued(&self) -> usize {
        self.shared.queue.queued()
    }

    /// What was lost so far and why, or `None` when nothing was:
    /// `2952 failed (collector unreachable at http://collector:4318/v1/traces:
    /// connection refused), 2048 dropped because the queue was full (8192 spans)`.
    pub fn losses(&self) -> Option<String> {
        self.shared.losses().describe(None)
    }

    /// The traces endpoint the processor exports to.
    pub fn endpoint(&self) -> &str {
        self.shared.stats.endpoint()
    }
}
