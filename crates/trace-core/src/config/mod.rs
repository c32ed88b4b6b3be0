//! Configuration: what to export, where, how to sample and which resource to describe.
//!
//! A [`Config`] is usually loaded with [`ConfigLoader`], which layers its sources in this
//! order (later wins):
//!
//! 1. built-in defaults ([`Config::default`]);
//! 2. a YAML or TOML file (optional, [`ConfigLoader::file`]);
//! 3. prefixed environment variables (default prefix `APP_TRACING_`, e.g.
//!    `APP_TRACING_SAMPLE_RATE=0.25`, nested keys split by `__` such as
//!    `APP_TRACING_BATCH__MAX_QUEUE_SIZE`);
//! 4. the standard `OTEL_*` variables (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`,
//!    `OTEL_EXPORTER_OTLP_ENDPOINT`, ...).
//!
//! Every key, its default and its variables are listed in `docs/configuration.md`.
//! A value that does not fit is a [`ConfigError`] naming the key, where the value came
//! from and what is allowed.

mod env_names;
mod load;
mod otel_env;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::error::ConfigError;
pub use load::{ConfigLoader, DEFAULT_ENV_PREFIX};

use crate::propagation::PropagatorKind;

/// The whole tracing configuration of one service.
///
/// Build it with [`ConfigLoader`] (file, environment, `OTEL_*`), or in code starting from
/// [`Config::default`] and struct-update syntax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Master switch. `false` (or `OTEL_SDK_DISABLED=true`) gives a no-op path that
    /// creates no spans and exports nothing.
    pub enabled: bool,
    /// `service.name`; when unset, `service.name` from `resource_attributes` or
    /// `unknown_service:<executable>`.
    pub service_name: Option<String>,
    /// `service.version`.
    pub service_version: Option<String>,
    /// `service.namespace`.
    pub service_namespace: Option<String>,
    /// `service.instance.id`; a random UUID-like id is generated when unset.
    pub service_instance_id: Option<String>,
    /// `deployment.environment.name` (for example `production`).
    pub environment: Option<String>,
    /// Extra resource attributes, merged with `OTEL_RESOURCE_ATTRIBUTES`.
    pub resource_attributes: BTreeMap<String, String>,
    /// Where finished spans go; several may be combined.
    pub exporters: Vec<ExporterKind>,
    /// Base OTLP endpoint; for HTTP, `/v1/traces` is appended.
    pub endpoint: Option<String>,
    /// Full OTLP traces endpoint, used as is; wins over `endpoint`.
    pub traces_endpoint: Option<String>,
    /// Full OTLP logs endpoint, used as is; wins over `endpoint`. Only log export
    /// (trace-log's `otlp-logs`, [`export::otlp_log_exporter`](crate::export)) reads it.
    pub logs_endpoint: Option<String>,
    /// OTLP transport and encoding.
    pub protocol: Protocol,
    /// Headers (HTTP) or metadata (gRPC) sent with every export, e.g. API keys.
    pub headers: BTreeMap<String, String>,
    /// Payload compression.
    pub compression: Compression,
    /// For an endpoint given without a scheme: `true` means plain text (`http://`),
    /// `false` means TLS (`https://`).
    pub insecure: bool,
    /// PEM file with the CA certificate(s) that sign the collector's certificate.
    pub certificate: Option<String>,
    /// Timeout of one export request, in milliseconds.
    pub timeout_ms: u64,
    /// Sampler, named as in `OTEL_TRACES_SAMPLER`.
    pub sampler: SamplerKind,
    /// Ratio of root traces to sample, `0.0..=1.0`, for the `*traceidratio` samplers.
    pub sample_rate: f64,
    /// Propagators, named as in `OTEL_PROPAGATORS`.
    #[serde(with = "propagator_names")]
    pub propagators: Vec<PropagatorKind>,
    /// Batch span processor settings.
    pub batch: BatchConfig,
    /// Path of the OTLP-JSON-lines file for the `json-file` exporter.
    pub json_file_path: Option<String>,
    /// Path of the page the `html` exporter writes (feature `html`).
    pub html_file_path: Option<String>,
    /// The `console` exporter shows every attribute, event and link of every span, with
    /// its ids, instead of one condensed line of attributes.
    pub console_verbose: bool,
    /// Upper bound for flushing and shutting down, in milliseconds.
    pub shutdown_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: true,
            service_name: None,
            service_version: None,
            service_namespace: None,
            service_instance_id: None,
            environment: None,
            resource_attributes: BTreeMap::new(),
            exporters: vec![ExporterKind::Otlp],
            endpoint: None,
            traces_endpoint: None,
            logs_endpoint: None,
            protocol: Protocol::HttpProtobuf,
            headers: BTreeMap::new(),
            compression: Compression::None,
            insecure: false,
            certificate: None,
            timeout_ms: 10_000,
            sampler: SamplerKind::ParentBasedTraceIdRatio,
            sample_rate: 1.0,
            propagators: vec![PropagatorKind::TraceContext, PropagatorKind::Baggage],
            batch: BatchConfig::default(),
            json_file_path: None,
            html_file_path: None,
            console_verbose: false,
            shutdown_timeout_ms: 5_000,
        }
    }
}

impl Config {
    /// Loads defaults, the `APP_TRACING_*` variables and the `OTEL_*` variables.
    ///
    /// Shorthand for `ConfigLoader::new().load()`.
    pub fn from_env() -> Result<Self, ConfigError> {
        ConfigLoader::new().load()
    }

    /// The OTLP traces endpoint that an export would use, after defaults and the
    /// `/v1/traces` suffix for HTTP.
    pub fn resolved_traces_endpoint(&self) -> String {
        validate::resolved_endpoint(self, &self.traces_endpoint, "/v1/traces")
    }

    /// The OTLP logs endpoint that a log export would use: `logs_endpoint` as is, else
    /// `endpoint` with `/v1/logs` appended for HTTP (as is for gRPC), else the default
    /// (`http://localhost:4318/v1/logs`, or `http://localhost:4317` for gRPC).
    pub fn resolved_logs_endpoint(&self) -> String {
        validate::resolved_endpoint(self, &self.logs_endpoint, "/v1/logs")
    }

    /// Checks the values that serde alone cannot (ranges, URLs, header syntax).
    ///
    /// [`ConfigLoader::load`] calls this and attributes errors to their source; call it
    /// yourself for a `Config` built in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::validate(self, &|_| "code".to_owned())
    }
}

/// A destination for finished spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExporterKind {
    /// OTLP to a collector (see `endpoint`, `protocol`).
    Otlp,
    /// Each finished trace printed to stdout once, as a waterfall (a tree of its spans
    /// with durations and bars on a shared time axis).
    Console,
    /// One OTLP/JSON `ExportTraceServiceRequest` per line in `json_file_path`.
    JsonFile,
    /// A self-contained HTML page of the finished traces in `html_file_path`, rewritten
    /// as traces finish (trace-core's feature `html`).
    Html,
    /// Nothing exported (spans are still created and propagated).
    None,
}

/// OTLP transport and encoding, named as in `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// Protobuf over HTTP (the default, port 4318).
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// JSON over HTTP (port 4318), through opentelemetry-otlp and the SDK's batch
    /// processor.
    #[serde(rename = "http/json")]
    HttpJson,
    /// gRPC (port 4317).
    #[serde(rename = "grpc")]
    Grpc,
}

impl Protocol {
    /// The name used in configuration and `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }
}

/// Export payload compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression.
    None,
    /// gzip.
    Gzip,
}

/// Sampler, named as in `OTEL_TRACES_SAMPLER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    /// Sample every span.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample `sample_rate` of traces by trace id, ignoring the parent.
    #[serde(rename = "traceidratio")]
    TraceIdRatio,
    /// Follow the parent's decision; sample every root.
    #[serde(rename = "parentbased_always_on")]
    ParentBasedAlwaysOn,
    /// Follow the parent's decision; sample no root.
    #[serde(rename = "parentbased_always_off")]
    ParentBasedAlwaysOff,
    /// Follow the parent's decision; sample `sample_rate` of roots (the default).
    #[serde(rename = "parentbased_traceidratio")]
    ParentBasedTraceIdRatio,
}

impl SamplerKind {
    /// The name used in configuration and `OTEL_TRACES_SAMPLER`.
    pub fn as_str(self) -> &'static str {
        match self {
            SamplerKind::AlwaysOn => "always_on",
            SamplerKind::AlwaysOff => "always_off",
            SamplerKind::TraceIdRatio => "traceidratio",
            SamplerKind::ParentBasedAlwaysOn => "parentbased_always_on",
            SamplerKind::ParentBasedAlwaysOff => "parentbased_always_off",
            SamplerKind::ParentBasedTraceIdRatio => "parentbased_traceidratio",
        }
    }
}

/// Batch span processor settings (`OTEL_BSP_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Spans held in memory at most; further spans are dropped and counted.
    /// The default, 8192, is about 8 MiB of spans with 8 attributes.
    pub max_queue_size: usize,
    /// Spans per export request at most.
    pub max_export_batch_size: usize,
    /// Delay between two scheduled exports, in milliseconds.
    pub scheduled_delay_ms: u64,
    /// Upper bound of one export, retries included, in milliseconds.
    pub export_timeout_ms: u64,
    /// Export requests in flight at most (OTLP `http/protobuf` and `grpc`).
    pub max_concurrent_exports: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_queue_size: 8192,
            max_export_batch_size: 512,
            scheduled_delay_ms: 5000,
            export_timeout_ms: 30_000,
            max_concurrent_exports: 4,
        }
    }
}

/// Serializes propagators by their `OTEL_PROPAGATORS` names.
mod propagator_names {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::propagation::PropagatorKind;

    pub(super) fn serialize<S: Serializer>(
        kinds: &[PropagatorKind],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(kinds.iter().map(|kind| kind.as_str()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<PropagatorKind>, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        names
            .iter()
            .map(|name| name.parse().map_err(D::Error::custom))
            .collect()
    }
}
