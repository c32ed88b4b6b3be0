//! Starting tracing from a [`Config`]: [`init`], and [`TracingBuilder`] to customise the
//! provider it builds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::resource::ResourceDetector;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, RandomIdGenerator, SdkTracerProvider,
    ShouldSample, SpanExporter, SpanProcessor, TracerProviderBuilder,
};

use crate::config::{Config, ExporterKind};
use crate::error::InitError;
use crate::export::{
    self, ConsoleTarget, Counters, CountingExporter, CountingProcessor, ImmediateProcessor,
};
use crate::guard::TracingGuard;
use crate::known_sampler::{KnownSampler, ProviderIds};
use crate::sampling::Sampling;
use crate::{active, propagation, resource};

/// Starts tracing as configured and returns the guard that stops it.
///
/// Builds an `SdkTracerProvider` (sampler, resource, exporters from `config`), makes it
/// the global provider and the one trace-core's instrumentation uses, installs the
/// configured propagators, and logs one `info` line through `tracing` saying what was
/// set up. With `enabled: false` (or `OTEL_SDK_DISABLED=true`) nothing is installed
/// and every span is a no-op. Use [`TracingBuilder`] to add span processors, a
/// sampler, an ID generator or resource detectors of your own.
///
/// Spans go to OTLP `http/protobuf` and `grpc` through trace-core's batch export
/// pipeline ([`OtlpBatchProcessor`](crate::export::OtlpBatchProcessor)), with a thread
/// and a Tokio runtime of its own: `init` needs no runtime of the caller's.
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
    TracingBuilder::new(config).init()
}

/// A change to the SDK provider builder, applied by [`TracingBuilder::init`].
type ProviderStep = Box<dyn FnOnce(TracerProviderBuilder) -> TracerProviderBuilder>;

/// [`init`] with the provider customised: extra span processors, your own sampler or ID
/// generator, resource detectors, or any other setting of the SDK's provider builder.
///
/// ```
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SimpleSpanProcessor};
///
/// let config = trace_core::Config {
///     exporters: vec![trace_core::config::ExporterKind::None],
///     ..Default::default()
/// };
/// let exporter = InMemorySpanExporter::default();
/// let guard = trace_core::TracingBuilder::new(&config)
///     .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
///     .with_sampler(Sampler::AlwaysOn)
///     .init()
///     .expect("valid tracing config");
/// guard.shutdown().expect("flushed in time");
/// ```
#[must_use = "nothing starts until `init` is called"]
pub struct TracingBuilder<'a> {
    config: &'a Config,
    sampler: Option<(Box<dyn ShouldSample>, String)>,
    id_generator: Option<(Arc<dyn IdGenerator>, String)>,
    detectors: Vec<Box<dyn ResourceDetector>>,
    steps: Vec<(String, ProviderStep)>,
    /// `configure_provider` was used: the sampler or ID generator may not be ours.
    open_settings: bool,
}

impl fmt::Debug for TracingBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingBuilder")
            .field("config", self.config)
            .field("sampler", &self.sampler.as_ref().map(|(_, name)| name))
            .field("detectors", &self.detectors.len())
            .field(
                "custom",
                &self.steps.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<'a> TracingBuilder<'a> {
    /// Starts from `config`, as [`init`] would.
    pub fn new(config: &'a Config) -> Self {
        Self {
            config,
            sampler: None,
            id_generator: None,
            detectors: Vec::new(),
            steps: Vec::new(),
            open_settings: false,
        }
    }

    /// Adds a span processor after the configured exporters' processors. It sees every
    /// span's `on_start` and `on_end`, and is flushed and shut down with the guard.
    pub fn with_span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        let name = format!("span processor {}", short_type_name(&processor));
        self.steps.push((
            name,
            Box::new(move |builder| builder.with_span_processor(processor)),
        ));
        self
    }

    /// Uses `sampler` instead of the configured `sampler` and `sample_rate`.
    pub fn with_sampler(mut self, sampler: impl Into<Box<dyn ShouldSample>>) -> Self {
        let sampler = sampler.into();
        let mut name = format!("{sampler:?}");
        if name.len() > 80 {
            let cut = (0..=77)
                .rev()
                .find(|&at| name.is_char_boundary(at))
                .unwrap_or(0);
            name.truncate(cut);
            name.push_str("...");
        }
        self.sampler = Some((sampler, name));
        self
    }

    /// Uses `id_generator` for trace and span ids instead of the SDK's random one.
    pub fn with_id_generator(mut self, id_generator: impl IdGenerator + 'static) -> Self {
        let name = format!("id generator {}", short_type_name(&id_generator));
        self.id_generator = Some((Arc::new(id_generator), name));
        self
    }

    /// Adds what `detector` finds to the resource. Configured values (service name,
    /// `resource_attributes`, `OTEL_RESOURCE_ATTRIBUTES`) take precedence over it.
    pub fn with_resource_detector(mut self, detector: impl ResourceDetector + 'static) -> Self {
        self.detectors.push(Box::new(detector));
        self
    }

    /// Any other change to the SDK's provider builder, such as span limits. Applied
    /// after everything else, so it can override what the configuration set.
    pub fn configure_provider(
        mut self,
        step: impl FnOnce(TracerProviderBuilder) -> TracerProviderBuilder + 'static,
    ) -> Self {
        self.steps
            .push(("provider settings".to_owned(), Box::new(step)));
        self.open_settings = true;
        self
    }

    /// Validates the configuration, builds and installs the provider, and returns the
    /// guard that stops it.
    pub fn init(self) -> Result<TracingGuard, InitError> {
        let config = self.config;
        config.validate()?;
        // Our reqwest build has no crypto provider of its own (see the README's TLS
        // section); installing fails only when the application installed one already,
        // which then wins.
        #[cfg(feature = "otlp-http")]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let shutdown_timeout = Duration::from_millis(config.shutdown_timeout_ms);
        if !config.enabled {
            active::disable();
            let summary =
                "tracing disabled by configuration: no spans will be recorded or exported";
            announce(summary);
            return Ok(TracingGuard {
                provider: None,
                counters: Arc::new(Counters::default()),
                shutdown_timeout,
                summary: summary.to_owned(),
                resource: None,
                flushed: Default::default(),
            });
        }
        let (sampler, sampler_name, rule) = match self.sampler {
            Some((custom, name)) => (custom, name, None),
            None => {
                let sampling = Sampling::new(config.sampler, config.sample_rate);
                let (name, rule) = (sampling.to_string(), sampling.rule());
                (sampling.into_sampler(), name, Some(rule))
            }
        };
        let mut custom = Vec::new();
        let (ids, custom_ids): (Arc<dyn IdGenerator>, bool) = match self.id_generator {
            Some((ids, name)) => {
                custom.push(name);
                (ids, true)
            }
            None => (Arc::new(RandomIdGenerator::default()), false),
        };
        let known = rule
            .filter(|_| !self.open_settings)
            .map(|rule| KnownSampler::new(rule, sampler.clone(), Arc::clone(&ids)));
        let counters = Arc::new(Counters::default());
        let resource = resource::build(config, &self.detectors);
        let mut builder = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_resource(resource.clone());
        let mut destinations = Vec::new();
        for kind in dedup(&config.exporters) {
            match kind {
                ExporterKind::Otlp => {
                    builder = otlp(builder, config, &counters)?;
                    let endpoint = config.resolved_traces_endpoint();
                    destinations.push(format!("otlp {} {endpoint}", config.protocol.as_str()));
                }
                ExporterKind::Console => {
                    let style = export::WaterfallStyle::for_target(ConsoleTarget::Stdout)
                        .with_verbose(config.console_verbose);
                    let exporter = export::ConsoleTreeExporter::new().with_style(style);
                    builder = builder.with_span_processor(immediate(
                        "console",
                        "the console".to_owned(),
                        exporter,
                        &counters,
                    ));
                    destinations.push("console".to_owned());
                }
                ExporterKind::JsonFile => {
                    let path = config.json_file_path.clone().unwrap_or_default();
                    let exporter = export::JsonLinesExporter::create(&path)
                        .map_err(|error| InitError::exporter("json-file exporter", error))?;
                    builder = builder.with_span_processor(batch(
                        config,
                        "json-file",
                        format!("json-file {path}"),
                        exporter,
                        &counters,
                    ));
                    destinations.push(format!("json-file {path}"));
                }
                #[cfg(feature = "html")]
                ExporterKind::Html => {
                    let path = config.html_file_path.clone().unwrap_or_default();
                    let exporter = export::HtmlExporter::create(&path)
                        .map_err(|error| InitError::exporter("html exporter", error))?;
                    builder = builder.with_span_processor(immediate(
                        "html",
                        format!("html {path}"),
                        exporter,
                        &counters,
                    ));
                    destinations.push(format!("html {path}"));
                }
                // `validate` refuses `html` without the feature.
                #[cfg(not(feature = "html"))]
                ExporterKind::Html => {}
                ExporterKind::None => {}
            }
        }
        if known.is_some() || custom_ids {
            builder = builder.with_id_generator(ProviderIds(ids));
        }
        for (name, step) in self.steps {
            builder = step(builder);
            custom.push(name);
        }
        let provider = builder.build();
        let propagator = propagation::build_propagator(&config.propagators);
        opentelemetry::global::set_text_map_propagator(propagator);
        opentelemetry::global::set_tracer_provider(provider.clone());
        active::set_built_provider(provider.clone(), known);
        let service = config.service_name.as_deref().unwrap_or("(from resource)");
        let destinations = if destinations.is_empty() {
            "none".to_owned()
        } else {
            destinations.join(", ")
        };
        let propagators: Vec<&str> = config.propagators.iter().map(|p| p.as_str()).collect();
        let mut summary = format!(
            "tracing started: service={service} exporters=[{destinations}] sampler={sampler_name} propagators={}",
            propagators.join(",")
        );
        if !custom.is_empty() {
            summary.push_str(&format!(" custom=[{}]", custom.join(", ")));
        }
        announce(&summary);
        Ok(TracingGuard {
            provider: Some(provider),
            counters,
            shutdown_timeout,
            summary,
            resource: Some(resource),
            flushed: Default::default(),
        })
    }
}

/// `T`'s name without module paths, generics included (`SimpleSpanProcessor<MyExporter>`):
/// enough to recognise a processor or generator in the start-up line.
fn short_type_name<T>(_: &T) -> String {
    let name = std::any::type_name::<T>();
    let mut short = String::with_capacity(name.len());
    let mut path = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            path.push(c);
        } else {
            short.push_str(path.rsplit("::").next().unwrap_or_default());
            path.clear();
            short.push(c);
        }
    }
    short.push_str(path.rsplit("::").next().unwrap_or_default());
    short
}

/// Logs the start-up line through `tracing`, or to stderr when no global subscriber is
/// set yet (a service may install it after `init`): the line must never vanish, it is
/// what answers "why no traces?".
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

/// Adds the OTLP span processor: trace-core's batch export pipeline for `http/protobuf`
/// and `grpc`, the SDK's batch processor with opentelemetry-otlp for `http/json`.
fn otlp(
    builder: TracerProviderBuilder,
    config: &Config,
    counters: &Arc<Counters>,
) -> Result<TracerProviderBuilder, InitError> {
    #[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
    if config.protocol != crate::config::Protocol::HttpJson {
        let processor = export::OtlpBatchProcessor::start(config)?;
        counters.add_self_counting(processor.self_counting());
        return Ok(builder.with_span_processor(processor));
    }
    let exporter = export::build_otlp_exporter(config)?;
    let destination = format!(
        "{} (otlp {})",
        config.resolved_traces_endpoint(),
        config.protocol.as_str()
    );
    Ok(builder.with_span_processor(batch(config, "otlp", destination, exporter, counters)))
}

fn batch<E: SpanExporter + 'static>(
    config: &Config,
    name: &'static str,
    destination: String,
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
        destination,
        counters: Arc::clone(counters),
    };
    CountingProcessor {
        inner: BatchSpanProcessor::new(exporter, settings),
        counters: Arc::clone(counters),
    }
}

/// For the viewing exporters, which buffer spans until their trace is complete: each
/// span as it ends, and the provider's flush reaches them.
fn immediate<E: SpanExporter + 'static>(
    name: &'static str,
    destination: String,
    exporter: E,
    counters: &Arc<Counters>,
) -> CountingProcessor<ImmediateProcessor<CountingExporter<E>>> {
    let exporter = CountingExporter {
        inner: exporter,
        name,
        destination,
        counters: Arc::clone(counters),
    };
    CountingProcessor {
        inner: ImmediateProcessor::new(exporter),
        counters: Arc::clone(counters),
    }
}
