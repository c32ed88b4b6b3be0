//! The OTLP transports behind one interface, and the request bodies they send: the
//! encoder's protobuf, gzip when configured, behind gRPC's prefix for gRPC.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;

use super::report::{Failure, FailureKind};
use super::retry::{Attempt, Rejected};
use crate::config::{Compression, Config, Protocol};
use crate::export::otlp_encode::{GzipEncoder, TraceRequestEncoder, grpc_message_prefix};

/// Sent with every request, as the OTLP specification asks exporters to.
pub(super) const USER_AGENT: &str = concat!("trace-core/", env!("CARGO_PKG_VERSION"));

/// Where and how the batches go.
#[derive(Debug)]
pub(super) enum Transport {
    /// OTLP/HTTP with protobuf.
    #[cfg(feature = "otlp-http")]
    Http(super::http::HttpExport),
    /// OTLP/gRPC.
    #[cfg(feature = "otlp-grpc")]
    Grpc(super::grpc::GrpcExport),
}

impl Transport {
    /// The transport `config.protocol` names, to `endpoint` (the resolved traces
    /// endpoint); `certificate` is the PEM of `config.certificate`, read already.
    pub(super) fn new(
        config: &Config,
        endpoint: &str,
        certificate: Option<&[u8]>,
        connect_timeout: Duration,
    ) -> Result<Self, String> {
        let https = endpoint.starts_with("https://");
        let gzip = config.compression == Compression::Gzip;
        match config.protocol {
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf => {
                let client = super::client::http1(https, certificate, connect_timeout)?;
                super::http::HttpExport::new(client, endpoint, &config.headers, gzip)
                    .map(Self::Http)
            }
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => {
                let client = super::client::http2(https, certificate, connect_timeout)?;
                super::grpc::GrpcExport::new(client, endpoint, &config.headers, gzip)
                    .map(Self::Grpc)
            }
            Protocol::HttpJson => Err(
                "protocol `http/json` is exported through opentelemetry-otlp (`init` does \
                 that); this pipeline sends `http/protobuf` and `grpc`"
                    .to_owned(),
            ),
            #[allow(unreachable_patterns)]
            other => Err(format!(
                "trace-core was built without its `{}` feature",
                if other == Protocol::Grpc {
                    "otlp-grpc"
                } else {
                    "otlp-http"
                }
            )),
        }
    }

    /// A body encoder for this transport's requests.
    pub(super) fn body_encoder(&self, compression: Compression) -> BodyEncoder {
        BodyEncoder {
            spans: TraceRequestEncoder::default(),
            gzip: (compression == Compression::Gzip).then(GzipEncoder::default),
            grpc: self.is_grpc(),
        }
    }

    fn is_grpc(&self) -> bool {
        match self {
            #[cfg(feature = "otlp-http")]
            Self::Http(_) => false,
            #[cfg(feature = "otlp-grpc")]
            Self::Grpc(_) => true,
        }
    }

    /// One attempt, bounded by `timeout`.
    pub(super) async fn send(&self, body: Bytes, timeout: Duration) -> Attempt {
        match self {
            #[cfg(feature = "otlp-http")]
            Self::Http(http) => http.send(body, timeout).await,
            #[cfg(feature = "otlp-grpc")]
            Self::Grpc(grpc) => grpc.send(body, timeout).await,
        }
    }
}

/// Encodes batches into request bodies, reusing its buffers from batch to batch.
#[derive(Debug)]
pub(super) struct BodyEncoder {
    spans: TraceRequestEncoder,
    gzip: Option<GzipEncoder>,
    grpc: bool,
}

impl BodyEncoder {
    /// The body of the request carrying `spans`.
    pub(super) fn encode(
        &mut self,
        resource: &Resource,
        spans: &[SpanData],
    ) -> Result<Bytes, Failure> {
        let compressed = self.gzip.is_some();
        let encoded = self.spans.encode(resource, spans);
        let payload = match &mut self.gzip {
            Some(gzip) => gzip.compress(encoded).map_err(|error| {
                Failure::new(FailureKind::NotSent, format!("gzip failed: {error}"))
            })?,
            None => encoded,
        };
        if !self.grpc {
            return Ok(Bytes::copy_from_slice(payload));
        }
        let prefix = grpc_message_prefix(payload.len(), compressed).ok_or_else(|| {
            Failure::new(
                FailureKind::NotSent,
                format!(
                    "a request of {} bytes is larger than gRPC allows",
                    payload.len()
                ),
            )
        })?;
        let mut framed = Vec::with_capacity(prefix.len() + payload.len());
        framed.extend_from_slice(&prefix);
        framed.extend_from_slice(payload);
        Ok(framed.into())
    }
}

/// The configured headers as HTTP headers (gRPC metadata), names lowercased.
pub(super) fn configured_headers(
    configured: &BTreeMap<String, String>,
) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::with_capacity(configured.len() + 5);
    for (name, value) in configured {
        let header = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("`headers`: `{name}` is not a header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("`headers`: the value of `{name}` is not a header value"))?;
        headers.insert(header, value);
    }
    Ok(headers)
}

/// The spans an `ExportTraceServiceResponse` says the collector rejected, if any.
pub(super) fn partial_success(answer: &[u8]) -> Option<Rejected> {
    let partial = ExportTraceServiceResponse::decode(answer)
        .ok()?
        .partial_success?;
    let spans = u64::try_from(partial.rejected_spans)
        .ok()
        .filter(|&n| n > 0)?;
    let reason = if partial.error_message.is_empty() {
        "no reason given".to_owned()
    } else {
        partial.error_message
    };
    Some(Rejected {
        spans,
        failure: Failure::new(FailureKind::Rejected, reason),
    })
}
