//! trace-core's OTLP trace encoder, for tests and benchmarks that check or measure it.

use std::io;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use crate::export::otlp_encode::{self, GzipEncoder, TraceRequestEncoder};

/// Encodes batches of spans straight to the protobuf bytes of an OTLP
/// `ExportTraceServiceRequest`, as trace-core's exporter does: no opentelemetry-proto
/// structs in between, no string copied, buffers reused from batch to batch.
///
/// The bytes decode to the request opentelemetry-otlp sends for the same spans and
/// resource (spans grouped by instrumentation scope in the order each scope first
/// appears, input order within a scope), and equal prost's encoding of it.
///
/// ```
/// use opentelemetry_sdk::Resource;
/// use trace_core::testing::OtlpTraceEncoder;
///
/// let resource = Resource::builder_empty().with_service_name("checkout").build();
/// let mut encoder = OtlpTraceEncoder::new();
/// let body = encoder.encode(&resource, &[]).to_vec();
/// assert!(!body.is_empty()); // one ResourceSpans with the resource, no scope
/// assert!(encoder.encode_gzip(&resource, &[])?.starts_with(&[0x1f, 0x8b]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct OtlpTraceEncoder {
    request: TraceRequestEncoder,
    gzip: GzipEncoder,
}

impl OtlpTraceEncoder {
    /// An encoder with empty buffers, compressing at gzip's default level (6), as
    /// opentelemetry-otlp does.
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder compressing at gzip level `level`: 0 (stored) to 9 (smallest),
    /// 1 the fastest that compresses.
    pub fn with_gzip_level(level: u32) -> Self {
        Self {
            request: TraceRequestEncoder::default(),
            gzip: GzipEncoder::new(flate2::Compression::new(level.min(9))),
        }
    }

    /// The request body (`application/x-protobuf`) carrying `spans` from a provider
    /// with `resource`; valid until the next call.
    pub fn encode(&mut self, resource: &Resource, spans: &[SpanData]) -> &[u8] {
        self.request.encode(resource, spans)
    }

    /// [`encode`](Self::encode)'s bytes compressed with gzip (`Content-Encoding:
    /// gzip`); valid until the next call.
    pub fn encode_gzip(&mut self, resource: &Resource, spans: &[SpanData]) -> io::Result<&[u8]> {
        let body = self.request.encode(resource, spans);
        self.gzip.compress(body)
    }
}

/// The 5 bytes that go before a gRPC message of `len` bytes: the compressed flag (set
/// for a gzip body sent with `grpc-encoding: gzip`), then the length, big-endian.
/// `None` when `len` does not fit in 4 bytes.
pub fn grpc_message_prefix(len: usize, compressed: bool) -> Option<[u8; 5]> {
    otlp_encode::grpc_message_prefix(len, compressed)
}
