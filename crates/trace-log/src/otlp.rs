//! Log records over OTLP through the OpenTelemetry logs bridge (feature `otlp-logs`).
//!
//! [`layer`] turns every `tracing` event (and, through [`LogTracer`](crate::LogTracer),
//! every `log` record) into an OpenTelemetry log record. The logs SDK stamps each record
//! with the active context's trace id, span id and flags, the same context
//! [`JsonFormat`](crate::JsonFormat) and [`WithTraceIds`](crate::WithTraceIds) read, so
//! an exported record and the printed line carry the same ids.
//!
//! [`logger_provider`] exports them with trace-core's own exporter settings and
//! resource: the same collector (the logs path, `/v1/logs`), protocol, headers, TLS
//! `certificate`, timeout and compression as the spans, and the same
//! `service.instance.id`, so a backend puts the spans and log records of one process
//! under one service instance.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = trace_core::Config::from_env()?;
//! let guard = trace_core::init(&config)?;
//! let logs = trace_log::otlp::logger_provider(&config)?; // same collector, `/v1/logs`
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

use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::{LoggerProviderBuilder, SdkLogger, SdkLoggerProvider};
use trace_core::{Config, InitError};

/// The `tracing` layer that emits OpenTelemetry log records to a logger provider.
pub type OtlpLogSubscriberLayer = OpenTelemetryTracingBridge<SdkLoggerProvider, SdkLogger>;

/// The layer that turns `tracing` events into log records of `provider`.
pub fn layer(provider: &SdkLoggerProvider) -> OtlpLogSubscriberLayer {
    OpenTelemetryTracingBridge::new(provider)
}

/// A logger provider that batches log records to the OTLP collector `config` names,
/// with trace-core's span-export settings and resource: [`logger_provider_builder`],
/// built.
///
/// With `protocol: grpc` this must run inside a Tokio runtime (opentelemetry-otlp's
/// tonic client; trace-core's span export needs none).
pub fn logger_provider(config: &Config) -> Result<SdkLoggerProvider, InitError> {
    Ok(logger_provider_builder(config)?.build())
}

/// The builder of [`logger_provider`], for adding processors or resource attributes of
/// your own before `build()`.
///
/// - The exporter is [`trace_core::export::otlp_log_exporter`]: built by trace-core
///   from `config` by the same code as its span exporter. Endpoint: `logs_endpoint`
///   (`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`) as is, else `endpoint` plus `/v1/logs` for
///   HTTP (the endpoint itself for gRPC), else the OTLP default; then `protocol`,
///   `headers`, `compression`, `timeout_ms`, and the TLS `certificate` (a private CA),
///   read now as `init` reads it: a missing file is an error naming the key, such as
///   ``log export not started: cannot build the OTLP log exporter: cannot read
///   `certificate` file /nope.pem: No such file or directory (os error 2)``.
/// - The resource is [`trace_core::resource`]`(config)`: the traces' `service.*` keys,
///   `resource_attributes` and `service.instance.id` (the process's random one when
///   `service_instance_id` is unset, the one the spans carry). Resource detectors added
///   to trace-core's `TracingBuilder` run only for the spans; add what they found by
///   passing `guard.resource()` (the resource `init` built) to `.with_resource(...)`.
/// - With `enabled: false` (`OTEL_SDK_DISABLED=true`) the provider exports nothing, as
///   for spans, and no exporter is built.
///
/// ```
/// use opentelemetry_sdk::logs::SimpleLogProcessor;
/// use opentelemetry_sdk::logs::InMemoryLogExporter;
///
/// let config = trace_core::Config {
///     service_name: Some("orders".into()),
///     endpoint: Some("http://localhost:4318".into()),
///     ..Default::default()
/// };
/// let copies = InMemoryLogExporter::default();
/// let logs = trace_log::otlp::logger_provider_builder(&config)
///     .expect("valid config")
///     .with_log_processor(SimpleLogProcessor::new(copies.clone()))
///     .build();
/// # drop(logs);
/// ```
pub fn logger_provider_builder(config: &Config) -> Result<LoggerProviderBuilder, InitError> {
    let builder = SdkLoggerProvider::builder().with_resource(trace_core::resource(config));
    if !config.enabled {
        return Ok(builder);
    }
    let exporter = trace_core::export::otlp_log_exporter(config)?;
    Ok(builder.with_batch_exporter(exporter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Key;
    use trace_core::config::Protocol;

    #[test]
    fn the_resource_names_the_service_as_the_traces_do() {
        let config = Config {
            service_name: Some("orders".into()),
            environment: Some("staging".into()),
            ..Config::default()
        };
        let resource = trace_core::resource(&config);
        assert_eq!(
            resource
                .get(&Key::new("service.name"))
                .map(|v| v.to_string()),
            Some("orders".to_owned())
        );
        assert_eq!(
            resource
                .get(&Key::new("deployment.environment.name"))
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
        assert!(
            error.starts_with("log export not started: cannot build the OTLP/gRPC log exporter"),
            "{error}"
        );
        assert!(error.contains("needs a Tokio runtime"), "{error}");
    }

    #[test]
    fn disabled_builds_no_exporter() {
        let config = Config {
            enabled: false,
            certificate: Some("/nonexistent/ca.pem".into()),
            ..Config::default()
        };
        let provider = logger_provider(&config).expect("nothing to build");
        provider.shutdown().expect("nothing to flush");
    }
}
