//! Log records over OTLP through the OpenTelemetry logs bridge (feature `otlp-logs`).
//!
//! [`layer`] turns every `tracing` event (and, through [`LogTracer`](crate::LogTracer),
//! every `log` record) into an OpenTelemetry log record. The logs SDK stamps each record
//! with the active context's trace id, span id and flags, the same context
//! [`JsonFormat`](crate::JsonFormat) and [`WithTraceIds`](crate::WithTraceIds) read, so
//! an exported record and the printed line carry the same ids.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = trace_core::Config::from_env()?;
//! let guard = trace_core::init(&config)?;
//! let logs = trace_log::otlp::logger_provider(&config)?; // same endpoint, `/v1/logs`
//! tracing_subscriber::registry()
//!     .with(trace_core::tracing_bridge::layer())
//!     .with(trace_log::otlp::layer(&logs))
//!     .with(trace_log::json_layer())
//!     .init();
//! // ... serve ...
//! logs.shutdown()?;
//! guard.shutdown()?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{LogExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_semantic_conventions::resource::{
    DEPLOYMENT_ENVIRONMENT_NAME, SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE,
    SERVICE_VERSION,
};
use trace_core::Config;
use trace_core::config::{Compression, Protocol};

/// The `tracing` layer that emits OpenTelemetry log records to a logger provider.
pub type OtlpLogLayer = OpenTelemetryTracingBridge<SdkLoggerProvider, SdkLogger>;

/// The layer that turns `tracing` events into log records of `provider`.
pub fn layer(provider: &SdkLoggerProvider) -> OtlpLogLayer {
    OpenTelemetryTracingBridge::new(provider)
}

/// Building the OTLP log exporter failed; the message says which setting.
#[derive(Debug)]
pub struct LogExportError(String);

impl fmt::Display for LogExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot build the OTLP log exporter: {}", self.0)
    }
}

impl std::error::Error for LogExportError {}

/// A logger provider that batches log records to the OTLP collector `config` names,
/// with the same protocol, headers, compression and timeout as trace-core's span
/// export, and a resource built from the same `service.*` keys.
///
/// The endpoint is `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` when set, else `endpoint` plus
/// `/v1/logs` for HTTP (the endpoint itself for gRPC), else the OTLP default. Set
/// `service_instance_id` to give spans and log records the same instance id (trace-core
/// otherwise picks a random one for spans). A custom `certificate` is not supported
/// here: `https` endpoints use the system's trust roots.
///
/// gRPC needs a Tokio runtime, as for trace-core.
pub fn logger_provider(config: &Config) -> Result<SdkLoggerProvider, LogExportError> {
    if config.certificate.is_some() {
        return Err(LogExportError(
            "a custom `certificate` is not supported for log export".into(),
        ));
    }
    let timeout = Duration::from_millis(config.timeout_ms);
    let endpoint = logs_endpoint(config);
    let exporter = match config.protocol {
        Protocol::HttpProtobuf | Protocol::HttpJson => http_exporter(config, endpoint, timeout),
        Protocol::Grpc => grpc_exporter(config, endpoint, timeout),
    }?;
    Ok(SdkLoggerProvider::builder()
        .with_resource(resource(config))
        .with_batch_exporter(exporter)
        .build())
}

/// `None` leaves the choice to opentelemetry-otlp, which reads
/// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` and then its default.
fn logs_endpoint(config: &Config) -> Option<String> {
    if std::env::var_os("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT").is_some() {
        return None;
    }
    let base = config.endpoint.as_deref()?.trim_end_matches('/');
    Some(match config.protocol {
        Protocol::Grpc => base.to_owned(),
        Protocol::HttpProtobuf | Protocol::HttpJson => format!("{base}/v1/logs"),
    })
}

fn http_exporter(
    config: &Config,
    endpoint: Option<String>,
    timeout: Duration,
) -> Result<LogExporter, LogExportError> {
    use opentelemetry_otlp::WithHttpConfig as _;

    // reqwest's rustls needs a process-wide crypto provider; trace-core installs the
    // same one, and installing fails only when one is there already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = match config.protocol {
        Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
        _ => opentelemetry_otlp::Protocol::HttpBinary,
    };
    let headers: HashMap<String, String> = config.headers.clone().into_iter().collect();
    let mut builder = LogExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_timeout(timeout)
        .with_headers(headers);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if config.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    builder
        .build()
        .map_err(|error| LogExportError(format!("OTLP/HTTP: {error}")))
}

fn grpc_exporter(
    config: &Config,
    endpoint: Option<String>,
    timeout: Duration,
) -> Result<LogExporter, LogExportError> {
    use opentelemetry_otlp::WithTonicConfig as _;
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

    if tokio::runtime::Handle::try_current().is_err() {
        return Err(LogExportError(
            "protocol `grpc` needs a Tokio runtime: build the provider inside one, \
             or use `http/protobuf`"
                .into(),
        ));
    }
    let mut metadata = MetadataMap::new();
    for (name, value) in &config.headers {
        let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes());
        if let (Ok(key), Ok(value)) = (key, MetadataValue::try_from(value.as_str())) {
            metadata.insert(key, value);
        }
    }
    let mut builder = LogExporter::builder()
        .with_tonic()
        .with_timeout(timeout)
        .with_metadata(metadata);
    if let Some(endpoint) = endpoint {
        if endpoint.starts_with("https://") {
            builder = builder
                .with_tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots());
        }
        builder = builder.with_endpoint(endpoint);
    }
    if config.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    builder
        .build()
        .map_err(|error| LogExportError(format!("OTLP/gRPC: {error}")))
}

/// `resource_attributes`, then the explicit `service.*` keys on top, as trace-core does
/// for spans.
fn resource(config: &Config) -> Resource {
    let mut attributes: BTreeMap<String, String> = config.resource_attributes.clone();
    for (key, value) in [
        (SERVICE_NAME, &config.service_name),
        (SERVICE_VERSION, &config.service_version),
        (SERVICE_NAMESPACE, &config.service_namespace),
        (SERVICE_INSTANCE_ID, &config.service_instance_id),
        (DEPLOYMENT_ENVIRONMENT_NAME, &config.environment),
    ] {
        if let Some(value) = value {
            attributes.insert(key.to_owned(), value.clone());
        }
    }
    let mut builder = Resource::builder_empty().with_detector(Box::new(TelemetryResourceDetector));
    if !attributes.contains_key(SERVICE_NAME) {
        // The SDK's default, `unknown_service:<executable>`.
        builder = Resource::builder().with_detector(Box::new(TelemetryResourceDetector));
    }
    builder
        .with_attributes(
            attributes
                .into_iter()
                .map(|(key, value)| KeyValue::new(key, value)),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_endpoints_get_the_logs_path() {
        let config = Config {
            endpoint: Some("http://collector:4318/".into()),
            ..Config::default()
        };
        assert_eq!(
            logs_endpoint(&config).as_deref(),
            Some("http://collector:4318/v1/logs")
        );
        let grpc = Config {
            protocol: Protocol::Grpc,
            endpoint: Some("http://collector:4317".into()),
            ..Config::default()
        };
        assert_eq!(
            logs_endpoint(&grpc).as_deref(),
            Some("http://collector:4317")
        );
    }

    #[test]
    fn the_resource_names_the_service() {
        let config = Config {
            service_name: Some("orders".into()),
            environment: Some("staging".into()),
            ..Config::default()
        };
        let resource = resource(&config);
        assert_eq!(
            resource.get(&SERVICE_NAME.into()).map(|v| v.to_string()),
            Some("orders".to_owned())
        );
        assert_eq!(
            resource
                .get(&DEPLOYMENT_ENVIRONMENT_NAME.into())
                .map(|v| v.to_string()),
            Some("staging".to_owned())
        );
    }

    #[test]
    fn grpc_outside_a_runtime_is_a_clear_error() {
        let config = Config {
            protocol: Protocol::Grpc,
            ..Config::default()
        };
        let error = logger_provider(&config).unwrap_err().to_string();
        assert!(error.contains("needs a Tokio runtime"), "{error}");
    }
}
