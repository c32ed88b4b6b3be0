//! The OTLP exporter, built from [`Config`] with every value set explicitly so the
//! exporter never re-reads the environment behind trace-core's back.

use std::time::Duration;

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
use opentelemetry_otlp::SpanExporter;

use crate::config::{Config, Protocol};
use crate::error::InitError;

#[cfg(not(any(feature = "otlp-http", feature = "otlp-grpc")))]
use unavailable::NoOtlpExporter as SpanExporter;

/// Builds the OTLP span exporter for `config`.
pub(crate) fn build_otlp_exporter(config: &Config) -> Result<SpanExporter, InitError> {
    let endpoint = config.resolved_traces_endpoint();
    // `batch.export_timeout_ms` caps the per-request timeout, as OTEL_BSP_EXPORT_TIMEOUT does.
    let timeout = Duration::from_millis(config.timeout_ms.min(config.batch.export_timeout_ms));
    match config.protocol {
        Protocol::HttpProtobuf | Protocol::HttpJson => http(config, endpoint, timeout),
        Protocol::Grpc => grpc(config, endpoint, timeout),
    }
}

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
fn read_certificate(config: &Config) -> Result<Option<Vec<u8>>, InitError> {
    config
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
        .transpose()
}

#[cfg(feature = "otlp-http")]
fn http(config: &Config, endpoint: String, timeout: Duration) -> Result<SpanExporter, InitError> {
    use std::collections::HashMap;

    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};

    use crate::config::Compression;

    let protocol = match config.protocol {
        Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
        _ => opentelemetry_otlp::Protocol::HttpBinary,
    };
    let client = blocking_client(timeout, read_certificate(config)?)?;
    let headers: HashMap<String, String> = config.headers.clone().into_iter().collect();
    let mut builder = SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(protocol)
        .with_endpoint(endpoint)
        .with_timeout(timeout)
        .with_headers(headers);
    if config.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    builder
        .build()
        .map_err(|error| InitError::exporter("OTLP/HTTP exporter", error))
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

#[cfg(not(feature = "otlp-http"))]
fn http(_: &Config, _: String, _: Duration) -> Result<SpanExporter, InitError> {
    Err(InitError::exporter(
        "OTLP/HTTP exporter",
        "trace-core was built without its `otlp-http` feature",
    ))
}

#[cfg(feature = "otlp-grpc")]
fn grpc(config: &Config, endpoint: String, timeout: Duration) -> Result<SpanExporter, InitError> {
    use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};

    use crate::config::Compression;
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

    if tokio::runtime::Handle::try_current().is_err() {
        return Err(InitError::exporter(
            "OTLP/gRPC exporter",
            "protocol `grpc` needs a Tokio runtime: call `trace_core::init` inside one \
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
    let mut builder = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .with_timeout(timeout)
        .with_metadata(metadata);
    if endpoint.starts_with("https://") {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
        if let Some(pem) = read_certificate(config)? {
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        builder = builder.with_tls_config(tls);
    }
    if config.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    builder
        .build()
        .map_err(|error| InitError::exporter("OTLP/gRPC exporter", error))
}

#[cfg(not(feature = "otlp-grpc"))]
fn grpc(_: &Config, _: String, _: Duration) -> Result<SpanExporter, InitError> {
    Err(InitError::exporter(
        "OTLP/gRPC exporter",
        "trace-core was built without its `otlp-grpc` feature",
    ))
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
}
