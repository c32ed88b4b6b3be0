//! OTLP protobuf straight from the SDK's [`SpanData`]: the bytes of an
//! `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`, written with
//! prost's encoding primitives into buffers kept from batch to batch, without building
//! opentelemetry-proto's structs and without copying a string.
//!
//! The output decodes to what opentelemetry-otlp sends for the same spans (the same
//! grouping by scope, field mapping and flags), and is byte for byte what prost would
//! encode from it: fields in field-number order, proto3 defaults left out.
//!
//! A nested message's length comes before its bytes. [`TraceRequestEncoder::encode`]
//! makes one pass over the batch: a scalar attribute's or a status's length it computes
//! before writing it; a span's, an event's or a scope's it writes once the content is
//! written, into bytes set aside for it, moving the content when the length needs more
//! or fewer of them (rare: each kind of message has its usual length's size).

mod gzip;
mod scopes;
mod span;
mod values;
mod wire;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

pub(crate) use gzip::GzipEncoder;
use scopes::ScopeGroups;
use span::write_span;
use values::{write_attributes, write_key_value};
use wire::{LengthHint, Tag, Writer};

/// `ExportTraceServiceRequest.resource_spans`.
const RESOURCE_SPANS: Tag = 1;

/// Fields of `ResourceSpans`.
mod resource_spans {
    use super::Tag;
    pub(super) const RESOURCE: Tag = 1;
    pub(super) const SCOPE_SPANS: Tag = 2;
    pub(super) const SCHEMA_URL: Tag = 3;
}

/// `Resource.attributes`.
const RESOURCE_ATTRIBUTES: Tag = 1;

/// Fields of `ScopeSpans`.
mod scope_spans {
    use super::Tag;
    pub(super) const SCOPE: Tag = 1;
    pub(super) const SPANS: Tag = 2;
    pub(super) const SCHEMA_URL: Tag = 3;
}

/// Fields of `InstrumentationScope`.
mod scope {
    use super::Tag;
    pub(super) const NAME: Tag = 1;
    pub(super) const VERSION: Tag = 2;
    pub(super) const ATTRIBUTES: Tag = 3;
}

/// Encodes batches of spans as OTLP `ExportTraceServiceRequest` protobuf.
///
/// Its buffers are reused from batch to batch: once they have grown to the batches'
/// size, encoding allocates nothing (unless two scopes differ only in their attributes,
/// which the scope's own comparison allocates to tell apart).
#[derive(Debug, Default)]
pub(crate) struct TraceRequestEncoder {
    /// The encoded request.
    buf: Vec<u8>,
    groups: ScopeGroups,
}

impl TraceRequestEncoder {
    /// The request carrying `spans`, from a provider with `resource`. All spans go in
    /// one `ResourceSpans` (an empty batch makes one with no scope), one `ScopeSpans`
    /// per instrumentation scope.
    pub(crate) fn encode(&mut self, resource: &Resource, spans: &[SpanData]) -> &[u8] {
        self.groups.group(spans);
        let previous_len = self.buf.len();
        reuse(&mut self.buf, previous_len);
        let mut writer = Writer::new(&mut self.buf);
        writer.message(RESOURCE_SPANS, LengthHint::Large, |w| {
            write_resource_spans(w, resource, spans, &self.groups)
        });
        &self.buf
    }
}

/// Above this capacity, a buffer four times larger than the batch needs is shrunk.
const RETAINED_CAPACITY: usize = 1 << 20;

/// Empties `buf` for a batch of about `len` bytes (the previous batch's), keeping its
/// capacity unless one huge batch left it far larger than batches need: its memory is
/// not held for good.
fn reuse(buf: &mut Vec<u8>, len: usize) {
    buf.clear();
    if buf.capacity() > RETAINED_CAPACITY && buf.capacity() / 4 > len {
        buf.shrink_to(len);
    }
    buf.reserve(len);
}

fn write_resource_spans(
    w: &mut Writer<'_>,
    resource: &Resource,
    spans: &[SpanData],
    groups: &ScopeGroups,
) {
    w.message(resource_spans::RESOURCE, LengthHint::Medium, |w| {
        for (key, value) in resource.iter() {
            write_key_value(w, RESOURCE_ATTRIBUTES, key, value);
        }
    });
    for (scope, members) in groups.iter(spans) {
        w.message(resource_spans::SCOPE_SPANS, LengthHint::Large, |w| {
            write_scope_spans(w, scope, members, spans)
        });
    }
    w.bytes(
        resource_spans::SCHEMA_URL,
        resource.schema_url().unwrap_or_default().as_bytes(),
    );
}

fn write_scope_spans(
    w: &mut Writer<'_>,
    scope: &InstrumentationScope,
    members: &[usize],
    spans: &[SpanData],
) {
    w.message(scope_spans::SCOPE, LengthHint::Small, |w| {
        w.bytes(scope::NAME, scope.name().as_bytes());
        w.bytes(
            scope::VERSION,
            scope.version().unwrap_or_default().as_bytes(),
        );
        write_attributes(w, scope::ATTRIBUTES, scope.attributes());
    });
    for span in members.iter().filter_map(|&index| spans.get(index)) {
        w.message(scope_spans::SPANS, LengthHint::Medium, |w| {
            write_span(w, span)
        });
    }
    w.bytes(
        scope_spans::SCHEMA_URL,
        scope.schema_url().unwrap_or_default().as_bytes(),
    );
}

/// The 5 bytes before a gRPC message of `len` bytes on the wire (gRPC over HTTP/2's
/// Length-Prefixed-Message): the compressed flag (set when the bytes are gzip and the
/// request says `grpc-encoding: gzip`), then the length as 4 big-endian bytes. `None`
/// when the length does not fit in 4 bytes.
pub(crate) fn grpc_message_prefix(len: usize, compressed: bool) -> Option<[u8; 5]> {
    let [a, b, c, d] = u32::try_from(len).ok()?.to_be_bytes();
    Some([u8::from(compressed), a, b, c, d])
}

#[cfg(test)]
mod tests {
    use super::{RETAINED_CAPACITY, reuse};

    #[test]
    fn a_buffer_keeps_its_capacity_unless_a_huge_batch_left_it_far_too_large() {
        let mut buf = Vec::new();
        reuse(&mut buf, 100_000);
        buf.resize(100_000, 1);
        reuse(&mut buf, 10);
        assert!(buf.is_empty() && buf.capacity() >= 100_000, "small: kept");

        reuse(&mut buf, 8 * RETAINED_CAPACITY);
        reuse(&mut buf, 4 * RETAINED_CAPACITY);
        assert!(
            buf.capacity() >= 8 * RETAINED_CAPACITY,
            "half as large: kept"
        );
        reuse(&mut buf, 1_000);
        assert!(buf.capacity() < RETAINED_CAPACITY, "far too large: shrunk");
        assert!(buf.capacity() >= 1_000);
    }
}
