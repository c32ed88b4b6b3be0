//! Starting tracing from a [`Config`] and stopping it within a bounded time.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SimpleSpanProcessor, SpanExporter,
};

use crate::config::{Config, ExporterKind};
use crate::error::{InitError, ShutdownError};
use crate::export::{self, Counters, CountingExporter, CountingProcessor, ExportReport};
use crate::pipeline::Pipeline;
use crate::sampling::Sampling;
use crate::{active, propagation, resource};

/// Starts tracing as configured and returns the guard that stops it.
///
/// Installs the tracer provider (globally, and for trace-core's
/// [`ScopedTracer`](crate::ScopedTracer)s), the configured propagators, and logs one
/// `info` line through `tracing` saying what was set up. With `enabled: false` (or
/// `OTEL_SDK_DISABLED=true`) nothing is installed and every span is a no-op.
///
/// With `protocol: grpc` this must run inside a Tokio runtime.
///
/// ```
/// let config = trace_core::Config {
///     service_name: Some("checkout".into()),
///     exporters: vec![trace_core::config::ExporterKind::None],
///     ..Default::default()
/// };
/// let guard = trace_core::init(&config).expect("valid tracing config");
/// // ... serve ...
/// let report = guard.shutdown().expect("flushed in time");
/// assert_eq!(report.lost(), 0);
/// ```
pub fn init(config: &Config) -> Result<TracingGuard, InitError> {
    config.validate()?;
    // Our reqwest build has no crypto provider of its own (see the README's TLS section);
    // installing fails only when the application installed one already, which then wins.
    #[cfg(feature = "otlp-http")]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let shutdown_timeout = Duration::from_millis(config.shutdown_timeout_ms);
    if !config.enabled {
        active::uninstall();
        let summary = "tracing disabled by configuration: no spans will be recorded or exported";
        announce(summary);
        return Ok(TracingGuard {
            provider: None,
            pipeline: None,
            counters: Arc::new(Counters::default()),
            shutdown_timeout,
            summary: summary.to_owned(),
        });
    }
    let policy = Sampling::new(config.sampler, config.sample_rate);
    let counters = Arc::new(Counters::default());
    let resource = resource::build(config);
    let mut pipeline = Pipeline::new();
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(policy)
        .with_resource(resource.clone());
    let mut destinations = Vec::new();
    for kind in dedup(&config.exporters) {
        match kind {
            ExporterKind::Otlp => {
                let exporter = export::build_otlp_exporter(config)?;
                let processor = batch(config, "otlp", exporter, &counters);
                builder = pipeline.add(builder, processor, &resource);
                destinations.push(format!(
                    "otlp {} {}",
                    config.protocol.as_str(),
                    config.resolved_traces_endpoint()
                ));
            }
            ExporterKind::Console => {
                let exporter = export::ConsoleTreeExporter::new();
                builder = pipeline.add(builder, simple("console", exporter, &counters), &resource);
                destinations.push("console".to_owned());
            }
            ExporterKind::JsonFile => {
                let path = config.json_file_path.clone().unwrap_or_default();
                let exporter = export::JsonLinesExporter::create(&path)
                    .map_err(|error| InitError::exporter("json-file exporter", error))?;
                let processor = batch(config, "json-file", exporter, &counters);
                builder = pipeline.add(builder, processor, &resource);
                destinations.push(format!("json-file {path}"));
            }
            ExporterKind::None => {}
        }
    }
    let provider = builder.build();
    let propagator = propagation::build_propagator(&config.propagators);
    opentelemetry::global::set_text_map_propagator(propagator);
    opentelemetry::global::set_tracer_provider(provider.clone());
    let pipeline = Arc::new(pipeline);
    active::install(provider.clone(), policy, Arc::clone(&pipeline));
    let service = config.service_name.as_deref().unwrap_or("(from resource)");
    let destinations = if destinations.is_empty() {
        "none".to_owned()
    } else {
        destinations.join(", ")
    };
    let propagators: Vec<&str> = config.propagators.iter().map(|p| p.as_str()).collect();
    let summary = format!(
        "tracing started: service={service} exporters=[{destinations}] sampler={} propagators={}",
        policy.describe(),
        propagators.join(",")
    );
    announce(&summary);
    Ok(TracingGuard {
        provider: Some(provider),
        pipeline: Some(pipeline),
        counters,
        shutdown_timeout,
        summary,
    })
}

/// Logs the start-up line through `tracing`, or to stderr when no subscriber is set yet
/// (the usual order when the subscriber includes [`crate::tracing_bridge::layer`], which
/// needs `init` first): the line must never vanish, it is what answers "why no traces?".
fn announce(summary: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::info!(target: "trace_core", "{summary}");
    } else {
        eprintln!("trace-core: {summary}");
    }
}

fn dedup(kinds: &[ExporterKind]) -> Vec<ExporterKind> {
    let mut unique = Vec::new();
    for kind in kinds {
        if !unique.contains(kind) {
            unique.push(*kind);
        }
    }
    unique
}

fn batch<E: SpanExporter + 'static>(
    config: &Config,
    name: &'static str,
    exporter: E,
    counters: &Arc<Counters>,
) -> CountingProcessor<BatchSpanProcessor> {
    let settings = BatchConfigBuilder::default()
        .with_max_queue_size(config.batch.max_queue_size)
        .with_max_export_batch_size(config.batch.max_export_batch_size)
        .with_scheduled_delay(Duration::from_millis(config.batch.scheduled_delay_ms))
        .build();
    let exporter = CountingExporter {
        inner: exporter,
        name,
        counters: Arc::clone(counters),
    };
    CountingProcessor {
        inner: BatchSpanProcessor::new(exporter, settings),
        counters: Arc::clone(counters),
    }
}

fn simple<E: SpanExporter + 'static>(
    name: &'static str,
    exporter: E,
    counters: &Arc<Counters>,
) -> CountingProcessor<SimpleSpanProcessor<CountingExporter<E>>> {
    let exporter = CountingExporter {
        inner: exporter,
        name,
        counters: Arc::clone(counters),
    };
    CountingProcessor {
        inner: SimpleSpanProcessor::new(exporter),
        counters: Arc::clone(counters),
    }
}

/// Keeps tracing running; flushes and shuts down on [`shutdown`](Self::shutdown) or
/// on drop, within `shutdown_timeout_ms` even when the collector is down or hangs.
#[derive(Debug)]
#[must_use = "dropping the guard shuts tracing down"]
pub struct TracingGuard {
    provider: Option<SdkTracerProvider>,
    /// Closed once the provider has shut down: trace-core's spans still open then are
    /// dropped when they end, as the SDK drops its own.
    pipeline: Option<Arc<Pipeline>>,
    counters: Arc<Counters>,
    shutdown_timeout: Duration,
    summary: String,
}

impl TracingGuard {
    /// The start-up line `init` logged: service, exporters and endpoint, sampler and
    /// propagators (or that tracing is disabled). Log it again once your subscriber is
    /// set up if you want it in your own log format.
    pub fn summary(&self) -> &str {
        &self.summary
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
        active::uninstall();
        let timeout = self.shutdown_timeout;
        let outcome = run_bounded(timeout, "shutdown", move || {
            provider
                .shutdown_with_timeout(timeout)
                .map_err(|error| error.to_string())
        });
        if let Some(pipeline) = self.pipeline.take() {
            pipeline.close();
        }
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
