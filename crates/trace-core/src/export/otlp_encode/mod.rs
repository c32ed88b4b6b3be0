//! OTLP protobuf straight from the SDK's [`SpanData`]: the bytes of an
//! `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`, written with
//! prost's encoding primitives into buffers kept from batch to batch, without building
//! opentelemetry-proto's structs and without copying a string.
//!
//! The output decodes to what opentelemetry-otlp sends for the same spans (the same
//! grouping by scope, field mapping and flags), and is byte for byte what prost would
//! encode from it: fields in field-number order, proto3 defaults left out.
//!
//! A nested message's length comes before its bytes, so [`TraceRequestEncoder::encode`]
//! makes two passes over the batch: the size pass records the nested messages' lengths
//! in pre-order, and the write pass takes them back in the same order as it writes
//! (a scalar attribute's or a status's length it computes again: cheaper than a
//! record).

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
use span::{span_len, write_span};
use values::{attributes_len, key_value_len, write_attributes, write_key_value};
use wire::{Records, Sizer, Tag, Writer, bytes_len};

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
    /// What the size pass hands the write pass.
    records: Records,
    groups: ScopeGroups,
}

impl TraceRequestEncoder {
    /// The request carrying `spans`, from a provider with `resource`. All spans go in
    /// one `ResourceSpans` (an empty batch makes one with no scope), one `ScopeSpans`
    /// per instrumentation scope.
    pub(crate) fn encode(&mut self, resource: &Resource, spans: &[SpanData]) -> &[u8] {
        self.groups.group(spans);
        let mut sizer = Sizer::new(&mut self.records);
        let len = sizer.message(RESOURCE_SPANS, |s| {
            resource_spans_len(s, resource, spans, &self.groups)
        });
        reuse(&mut self.buf, len);
        let mut writer = Writer::new(&mut self.buf, &self.records);
        writer.message(RESOURCE_SPANS, |w| {
            write_resource_spans(w, resource, spans, &self.groups)
        });
        debug_assert!(
            writer.used_every_record(),
            "the passes walked different messages"
        );
        debug_assert_eq!(self.buf.len(), len, "the passes measured different bytes");
        &self.buf
    }
}

/// Above this capacity, a buffer four times larger than the batch needs is shrunk.
const RETAINED_CAPACITY: usize = 1 << 20;

/// Empties `buf` for a batch of `len` bytes, keeping its capacity unless one huge
/// batch left it far larger than this one needs: its memory is not held for good.
fn reuse(buf: &mut Vec<u8>, len: usize) {
    buf.clear();
    if buf.capacity() > RETAINED_CAPACITY && buf.capacity() / 4 > len {
        buf.shrink_to(len);
    }
    buf.reserve(len);
}

fn resource_spans_len(
    s: &mut Sizer<'_>,
    resource: &Resource,
    spans: &[SpanData],
    groups: &ScopeGroups,
) -> usize {
    let mut len = s.message(resource_spans::RESOURCE, |s| {
        resource
            .iter()
            .map(|(key, value)| key_value_len(s, RESOURCE_ATTRIBUTES, key, value))
            .sum()
    });
    for (scope, members) in groups.iter(spans) {
        len += s.message(resource_spans::SCOPE_SPANS, |s| {
            scope_spans_len(s, scope, members, spans)
        });
    }
    len + bytes_len(
        resource_spans::SCHEMA_URL,
        resource.schema_url().map_or(0, str::len),
    )
}

fn write_resource_spans(
    w: &mut Writer<'_>,
    resource: &Resource,
    spans: &[SpanData],
    groups: &ScopeGroups,
) {
    w.message(resource_spans::RESOURCE, |w| {
        for (key, value) in resource.iter() {
            write_key_value(w, RESOURCE_ATTRIBUTES, key, value);
        }
    });
    for (scope, members) in groups.iter(spans) {
        w.message(resource_spans::SCOPE_SPANS, |w| {
            write_scope_spans(w, scope, members, spans)
        });
    }
    w.bytes(
        resource_spans::SCHEMA_URL,
        resource.schema_url().unwrap_or_default().as_bytes(),
    );
}

/// Content length of the `ScopeSpans` of `scope`, holding the spans at `members`.
fn scope_spans_len(
    s: &mut Sizer<'_>,
    scope: &InstrumentationScope,
    members: &[usize],
    spans: &[SpanData],
) -> usize {
    let mut len = s.message(scope_spans::SCOPE, |s| {
        bytes_len(scope::NAME, scope.name().len())
            + bytes_len(scope::VERSION, scope.version().map_or(0, str::len))
            + attributes_len(s, scope::ATTRIBUTES, scope.attributes())
    });
    for span in members.iter().filter_map(|&index| spans.get(index)) {
        len += s.message(scope_spans::SPANS, |s| span_len(s, span));
    }
    len + bytes_len(
        scope_spans::SCHEMA_URL,
        scope.schema_url().map_or(0, str::len),
    )
}

fn write_scope_spans(
    w: &mut Writer<'_>,
    scope: &InstrumentationScope,
    members: &[usize],
    spans: &[SpanData],
) {
    w.message(scope_spans::SCOPE, |w| {
        w.bytes(scope::NAME, scope.name().as_bytes());
        w.bytes(
            scope::VERSION,
            scope.version().unwrap_or_default().as_bytes(),
        );
        write_attributes(w, scope::ATTRIBUTES, scope.attributes());
    });
    for span in members.iter().filter_map(|&index| spans.get(index)) {
        w.message(scope_spans::SPANS, |w| write_span(w, span));
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
