//! The OTLP exporters, built from [`Config`] with every value set explicitly so an
//! exporter never re-reads the environment behind trace-core's back, and wrapped so a
//! failed export says why (connection refused, timed out, TLS, HTTP status).
//!
//! Spans and (feature `otlp-logs`) log records share one set of rules: endpoint,
//! protocol, headers, TLS `certificate`, timeout and compression come from the same
//! keys, applied by the same code; only the signal's endpoint path differs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(all(
    feature = "otlp-logs",
    any(feature = "otlp-http", feature = "otlp-grpc")
))]
use opentelemetry_otlp::LogExporter;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;

use crate::config::{Config, Protocol};
use crate::error::InitError;

#[cfg(all(
    feature = "otlp-logs",
    not(any(feature = "otlp-http", feature = "otlp-grpc"))
))]
use unavailable::NoOtlpExporter as LogExporter;
#[cfg(not(any(feature = "otlp-http", feature = "otlp-grpc")))]
use unavailable::NoOtlpExporter as SpanExporter;

/// What one OTLP exporter sends where, resolved from [`Config`].
#[cfg_attr(
    not(any(
        feature = "otlp-http",
        all(feature = "otlp-grpc", feature = "otlp-logs")
    )),
    allow(dead_code)
)]
struct Settings<'a> {
    config: &'a Config,
    /// `span` or `log`, in messages.
    signal: &'static str,
    endpoint: String,
    timeout: Duration,
    last_failure: LastFailure,
}

/// Builds opentelemetry-otlp's span exporter for `config`, for `http/json`: trace-core's
/// batch export pipeline sends `http/protobuf` and `grpc`.
pub(crate) fn build_otlp_exporter(config: &Config) -> Result<OtlpExporter, InitError> {
    let settings = Settings {
        config,
        signal: "span",
        endpoint: config.resolved_traces_endpoint(),
        // `batch.export_timeout_ms` caps the per-request timeout, as OTEL_BSP_EXPORT_TIMEOUT does.
        timeout: Duration::from_millis(config.timeout_ms.min(config.batch.export_timeout_ms)),
        last_failure: LastFailure::default(),
    };
    let inner = match config.protocol {
        Protocol::HttpJson => http_spans(&settings)?,
        // `init` sends these through the batch export pipeline, which a build without
        // both OTLP features lacks.
        Protocol::HttpProtobuf => return Err(without_feature(&settings, "HTTP", "otlp-http")),
        Protocol::Grpc => return Err(without_feature(&settings, "gRPC", "otlp-grpc")),
    };
    Ok(OtlpExporter {
        inner,
        timeout: settings.timeout,
        last_failure: settings.last_failure,
    })
}

/// An OTLP log exporter with the settings of trace-core's span exporter, for log
/// records of the same service (trace-log's feature `otlp-logs` builds its logger
/// provider with it).
///
/// Built from `config` by the same code and rules as the span exporter:
/// - endpoint: `logs_endpoint` (`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`) as is, else
///   `endpoint` with `/v1/logs` appended for HTTP (as is for gRPC), else
///   `http://localhost:4318/v1/logs` (`http://localhost:4317` for gRPC); a bare
///   `host:port` gets its scheme from `insecure`
///   ([`Config::resolved_logs_endpoint`]);
/// - `protocol`, `headers`, `compression`;
/// - TLS: `certificate` adds a private CA, read here as `init` reads it for spans (a
///   file that cannot be read or is not PEM is an error naming the key);
/// - `timeout_ms` per request (`batch.*` are span settings and do not apply).
///
/// `config` is validated first, as by `init`; errors read `log export not started:
/// ...`. A failed export names its cause (connection refused, timed out, TLS, HTTP or
/// gRPC status) as the span exporter's do. With `protocol: grpc` this must run inside
/// a Tokio runtime.
///
/// ```
/// use opentelemetry_sdk::logs::SdkLoggerProvider;
///
/// let config = trace_core::Config {
///     service_name: Some("checkout".into()),
///     endpoint: Some("http://localhost:4318".into()),
///     ..Default::default()
/// };
/// let exporter = trace_core::export::otlp_log_exporter(&config).expect("valid config");
/// let logs = SdkLoggerProvider::builder()
///     .with_resource(trace_core::resource(&config)) // the traces' resource
///     .with_batch_exporter(exporter)
///     .build();
/// # drop(logs);
/// ```
#[cfg(feature = "otlp-logs")]
pub fn otlp_log_exporter(config: &Config) -> Result<OtlpLogExporter, InitError> {
    config
        .validate()
        .map_err(|error| InitError::from(error).for_logs())?;
    #[cfg(feature = "otlp-http")]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = Settings {
        config,
        signal: "log",
        endpoint: config.resolved_logs_endpoint(),
        timeout: Duration::from_millis(config.timeout_ms),
        last_failure: LastFailure::default(),
    };
    let inner = match config.protocol {
        Protocol::HttpProtobuf | Protocol::HttpJson => http_logs(&settings),
        Protocol::Grpc => grpc_logs(&settings),
    }
    .map_err(InitError::for_logs)?;
    Ok(OtlpLogExporter(OtlpExporter {
        inner,
        timeout: settings.timeout,
        last_failure: settings.last_failure,
    }))
}

/// Why the last request failed, as the HTTP client saw it: opentelemetry-otlp turns
/// every transport error into "network error", which helps nobody.
#[derive(Debug, Clone, Default)]
pub(crate) struct LastFailure(Arc<Mutex<Option<String>>>);

impl LastFailure {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
    fn set(&self, cause: String) {
        *self.slot() = Some(cause);
    }

    fn take(&self) -> Option<String> {
        self.slot().take()
    }
}

/// An OTLP exporter (spans by default), with failures that name their cause:
/// `connection refused`, `timed out after 500 ms`, `TLS handshake failed: ...`, `HTTP
/// status 503 Service Unavailable`. The counting exporter around it adds the endpoint.
#[derive(Debug)]
pub(crate) struct OtlpExporter<E = SpanExporter> {
    inner: E,
    timeout: Duration,
    last_failure: LastFailure,
}

impl<E> OtlpExporter<E> {
    /// The result of one export, with the cause the HTTP client saw (or the exporter's
    /// message names) in place of opentelemetry-otlp's error.
    fn diagnose(&self, result: OTelSdkResult) -> OTelSdkResult {
        result.map_err(|error| {
            let cause = self
                .last_failure
                .take()
                .unwrap_or_else(|| cause_from_message(&error, self.timeout));
            OTelSdkError::InternalFailure(cause)
        })
    }
}

impl opentelemetry_sdk::trace::SpanExporter for OtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // Batches are exported one at a time, so the slot belongs to this export.
        self.last_failure.take();
        let result = self.inner.export(batch).await;
        self.diagnose(result)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP log exporter [`otlp_log_exporter`] builds: opentelemetry-otlp's, with
/// failures that name their cause as the span exporter's do. Hand it to an
/// `SdkLoggerProvider` (`with_batch_exporter`).
#[cfg(feature = "otlp-logs")]
#[derive(Debug)]
pub struct OtlpLogExporter(OtlpExporter<LogExporter>);

#[cfg(feature = "otlp-logs")]
impl opentelemetry_sdk::logs::LogExporter for OtlpLogExporter {
    async fn export(&self, batch: opentelemetry_sdk::logs::LogBatch<'_>) -> OTelSdkResult {
        // Batches are exported one at a time, so the slot belongs to this export.
        self.0.last_failure.take();
        let result = self.0.inner.export(batch).await;
        self.0.diagnose(result)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(
        &self,
        level: opentelemetry::logs::Severity,
        target: &str,
        name: Option<&str>,
    ) -> bool {
        self.0.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.inner.set_resource(resource);
    }
}

/// The cause of a failed export from the exporter's own message, for failures the HTTP
/// client did not see (gRPC, encoding): the gRPC exporter's message holds the
/// transport error's whole chain.
fn cause_from_message(error: &OTelSdkError, timeout: Duration) -> String {
    let message = match error {
        OTelSdkError::InternalFailure(message) => message.as_str(),
        OTelSdkError::Timeout(_) => return timed_out(timeout),
        OTelSdkError::AlreadyShutdown => return "the exporter was already shut down".into(),
    };
    let lower = message.to_ascii_lowercase();
    if lower.contains("connection refused") {
        "connection refused".to_owned()
    } else if lower.contains("deadlineexceeded")
        || lower.contains("timed out")
        || lower.contains("timeout expired")
    {
        timed_out(timeout)
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        format!("cannot resolve the host name ({})", innermost(message))
    } else if [
        "tls",
        "certificate",
        "handshake",
        "corrupt message",
        "fatal alert",
        "peer is incompatible",
        "peer misbehaved",
    ]
    .iter()
    .any(|word| lower.contains(word))
    {
        format!("TLS handshake failed: {}", innermost(message))
    } else if let Some(at) = message.find("gRPC code: ") {
        format!("gRPC status {}", &message[at + "gRPC code: ".len()..])
    } else {
        message.to_owned()
    }
}

/// `timed out after 500 ms`.
pub(super) fn timed_out(timeout: Duration) -> String {
    format!("timed out after {} ms", timeout.as_millis())
}

/// What a connection's I/O error says about the collector, for the kinds that name a
/// cause (refused, timed out, closed by the other end); `None` for the others.
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(super) fn io_cause(io: &std::io::Error, timeout: Duration) -> Option<String> {
    use std::io::ErrorKind;

    Some(match io.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        ErrorKind::TimedOut => timed_out(timeout),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            "the connection was closed by the other end".to_owned()
        }
        _ => return None,
    })
}

/// `error` and its sources, looking inside `io::Error`s too: `io::Error::source` skips
/// the error it wraps, and rustls's errors are wrapped so (in an `io::Error` that is
/// itself wrapped in one).
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(super) fn error_chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        chain.push(current);
        let mut wrapped = current;
        while let Some(inner) = wrapped
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            chain.push(inner);
            wrapped = inner;
        }
        next = current.source();
    }
    chain
}

/// The last part of a `: `-joined error chain: the most specific cause.
fn innermost(chain: &str) -> &str {
    chain.rsplit(": ").next().unwrap_or(chain).trim()
}

#[cfg(any(
    feature = "otlp-http",
    all(feature = "otlp-grpc", feature = "otlp-logs")
))]
fn read_certificate(settings: &Settings<'_>) -> Result<Option<Vec<u8>>, InitError> {
    settings
        .config
        .certificate
        .as_ref()
        .map(|path| {
            std::fs::read(path).map_err(|error| {
                InitError::exporter(
                    settings.what(""),
                    format!("cannot read `certificate` file {path}: {error}"),
                )
            })
        })
        .transpose()
}

impl Settings<'_> {
    /// The exporter's name in errors: `OTLP exporter`, `OTLP/HTTP exporter`, `OTLP/HTTP
    /// client` for spans (as ever), with `log` in front of `exporter` for log records.
    fn what(&self, transport: &str) -> &'static str {
        match (self.signal, transport) {
            ("span", "") => "OTLP exporter",
            ("span", "HTTP") => "OTLP/HTTP exporter",
            ("span", "gRPC") => "OTLP/gRPC exporter",
            (_, "") => "OTLP log exporter",
            (_, "HTTP") => "OTLP/HTTP log exporter",
            _ => "OTLP/gRPC log exporter",
        }
    }
}

/// Applies the HTTP settings to a span or log exporter builder.
#[cfg(feature = "otlp-http")]
fn with_http_settings<B>(builder: B, settings: &Settings<'_>) -> Result<B, InitError>
where
    B: opentelemetry_otlp::WithHttpConfig + opentelemetry_otlp::WithExportConfig,
{
    use std::collections::HashMap;

    use crate::config::Compression;

    let config = settings.config;
    let protocol = match config.protocol {
        Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
        _ => opentelemetry_otlp::Protocol::HttpBinary,
    };
    let client = DiagnosingClient {
        inner: blocking_client(settings.timeout, read_certificate(settings)?)?,
        timeout: settings.timeout,
        last_failure: settings.last_failure.clone(),
    };
    let headers: HashMap<String, String> = config.headers.clone().into_iter().collect();
    let mut builder = builder
        .with_http_client(client)
        .with_protocol(protocol)
        .with_endpoint(settings.endpoint.clone())
        .with_timeout(settings.timeout)
        .with_headers(headers);
    if config.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    Ok(builder)
}

#[cfg(feature = "otlp-http")]
fn http_spans(settings: &Settings<'_>) -> Result<SpanExporter, InitError> {
    with_http_settings(SpanExporter::builder().with_http(), settings)?
        .build()
        .map_err(|error| InitError::exporter(settings.what("HTTP"), error))
}

#[cfg(all(feature = "otlp-http", feature = "otlp-logs"))]
fn http_logs(settings: &Settings<'_>) -> Result<LogExporter, InitError> {
    with_http_settings(LogExporter::builder().with_http(), settings)?
        .build()
        .map_err(|error| InitError::exporter(settings.what("HTTP"), error))
}

/// Builds the blocking client on its own thread: reqwest's blocking client owns a
/// runtime, which must not be created or dropped inside the caller's async runtime.
#[cfg(feature = "otlp-http")]
fn blocking_client(
    timeout: Duration,
    certificate: Option<Vec<u8>>,
) -> Result<reqwest::blocking::Client, InitError> {
    let built = std::thread::Builder::new()
        .name("trace-core-http-client".into())
        .spawn(move || {
            let mut builder = reqwest::blocking::Client::builder().timeout(timeout);
            if let Some(pem) = certificate {
                let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|error| format!("`certificate` is not valid PEM: {error}"))?;
                builder = builder.tls_certs_merge(certificates);
            }
            builder.build().map_err(|error| error.to_string())
        })
        .map_err(|error| InitError::exporter("OTLP/HTTP client", error))?
        .join()
        .map_err(|_| InitError::exporter("OTLP/HTTP client", "the client thread panicked"))?;
    built.map_err(|error| InitError::exporter("OTLP/HTTP client", error))
}

/// The blocking reqwest client, keeping why a request failed or what status the
/// collector answered with.
#[cfg(feature = "otlp-http")]
#[derive(Debug)]
struct DiagnosingClient {
    inner: reqwest::blocking::Client,
    timeout: Duration,
    last_failure: LastFailure,
}

#[cfg(feature = "otlp-http")]
#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for DiagnosingClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let result = opentelemetry_http::HttpClient::send_bytes(&self.inner, request).await;
        match &result {
            Ok(response) if !response.status().is_success() => {
                self.last_failure
                    .set(format!("HTTP status {}", response.status()));
            }
            Ok(_) => {}
            Err(error) => self
                .last_failure
                .set(http_failure_cause(error.as_ref(), self.timeout)),
        }
        result
    }
}

/// Names what went wrong with a request that got no response.
#[cfg(feature = "otlp-http")]
fn http_failure_cause(
    error: &(dyn std::error::Error + Send + Sync + 'static),
    timeout: Duration,
) -> String {
    let chain = error_chain(error);
    for error in &chain {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return format!("TLS handshake failed: {tls}");
        }
    }
    for error in &chain {
        if error
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
        {
            return timed_out(timeout);
        }
        if let Some(cause) = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io_cause(io, timeout))
        {
            return cause;
        }
    }
    let mut parts: Vec<String> = chain.iter().map(ToString::to_string).collect();
    // A wrapping `io::Error` says what the error it wraps says.
    parts.dedup();
    let text = parts.join(": ");
    cause_from_message(&OTelSdkError::InternalFailure(text), timeout)
}

/// The error for a `transport` (`HTTP`, `gRPC`) whose `feature` this build lacks.
fn without_feature(settings: &Settings<'_>, transport: &str, feature: &str) -> InitError {
    InitError::exporter(
        settings.what(transport),
        format!("trace-core was built without its `{feature}` feature"),
    )
}

#[cfg(not(feature = "otlp-http"))]
fn http_spans(settings: &Settings<'_>) -> Result<SpanExporter, InitError> {
    Err(without_feature(settings, "HTTP", "otlp-http"))
}

#[cfg(all(not(feature = "otlp-http"), feature = "otlp-logs"))]
fn http_logs(settings: &Settings<'_>) -> Result<LogExporter, InitError> {
    Err(without_feature(settings, "HTTP", "otlp-http"))
}

/// Applies the gRPC settings to a log exporter builder.
#[cfg(all(feature = "otlp-grpc", feature = "otlp-logs"))]
fn with_grpc_settings<B>(builder: B, settings: &Settings<'_>) -> Result<B, InitError>
where
    B: opentelemetry_otlp::WithTonicConfig + opentelemetry_otlp::WithExportConfig,
{
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

    use crate::config::Compression;

    let config = settings.config;
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(InitError::exporter(
            settings.what("gRPC"),
            "protocol `grpc` needs a Tokio runtime: build the log exporter inside one \
             (for example in `#[tokio::main]`), or use `http/protobuf`",
        ));
    }
    let mut metadata = MetadataMap::new();
    for (name, value) in &config.headers {
        let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes());
        let value = MetadataValue::try_from(value.as_str());
        if let (Ok(key), Ok(value)) = (key, value) {
            metadata.insert(key, value);
        }
    }
    let endpoint = settings.endpoint.clone();
    let https = endpoint.starts_with("https://");
    let mut builder = builder
        .with_endpoint(endpoint)
        .with_timeout(settings.timeout)
        .with_metadata(metadata);
    if https {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
        if let Some(pem) = read_certificate(settings)? {
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        builder = builder.with_tls_config(tls);
    }
    if config.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    Ok(builder)
}

#[cfg(all(feature = "otlp-grpc", feature = "otlp-logs"))]
fn grpc_logs(settings: &Settings<'_>) -> Result<LogExporter, InitError> {
    with_grpc_settings(LogExporter::builder().with_tonic(), settings)?
        .build()
        .map_err(|error| InitError::exporter(settings.what("gRPC"), error))
}

#[cfg(all(not(feature = "otlp-grpc"), feature = "otlp-logs"))]
fn grpc_logs(settings: &Settings<'_>) -> Result<LogExporter, InitError> {
    Err(without_feature(settings, "gRPC", "otlp-grpc"))
}

#[cfg(not(any(feature = "otlp-http", feature = "otlp-grpc")))]
mod unavailable {
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SpanData, SpanExporter};

    /// The OTLP exporter's type when trace-core is built without `otlp-http` and
    /// `otlp-grpc`: never constructed, `build_otlp_exporter` then returns an error.
    #[derive(Debug)]
    pub(crate) enum NoOtlpExporter {}

    impl SpanExporter for NoOtlpExporter {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            match *self {}
        }
    }

    #[cfg(feature = "otlp-logs")]
    impl opentelemetry_sdk::logs::LogExporter for NoOtlpExporter {
        async fn export(&self, _batch: opentelemetry_sdk::logs::LogBatch<'_>) -> OTelSdkResult {
            match *self {}
        }
    }
}
