//! `Span`, `Span.Event`, `Span.Link` and `Status` of `opentelemetry.proto.trace.v1`,
//! from the SDK's [`SpanData`] mapped as opentelemetry-proto maps it. Fields are
//! written in field-number order, as prost writes them.

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceState};
use opentelemetry_sdk::trace::SpanData;

use super::values::write_attributes;
use super::wire::{LengthHint, Tag, Writer, bytes_len, unix_nanos, varint_len};

/// Fields of `Span`.
mod field {
    use super::Tag;
    pub(super) const TRACE_ID: Tag = 1;
    pub(super) const SPAN_ID: Tag = 2;
    pub(super) const TRACE_STATE: Tag = 3;
    pub(super) const PARENT_SPAN_ID: Tag = 4;
    pub(super) const NAME: Tag = 5;
    pub(super) const KIND: Tag = 6;
    pub(super) const START_TIME: Tag = 7;
    pub(super) const END_TIME: Tag = 8;
    pub(super) const ATTRIBUTES: Tag = 9;
    pub(super) const DROPPED_ATTRIBUTES: Tag = 10;
    pub(super) const EVENTS: Tag = 11;
    pub(super) const DROPPED_EVENTS: Tag = 12;
    pub(super) const LINKS: Tag = 13;
    pub(super) const DROPPED_LINKS: Tag = 14;
    pub(super) const STATUS: Tag = 15;
    pub(super) const FLAGS: Tag = 16;
}

/// Fields of `Span.Event`.
mod event {
    use super::Tag;
    pub(super) const TIME: Tag = 1;
    pub(super) const NAME: Tag = 2;
    pub(super) const ATTRIBUTES: Tag = 3;
    pub(super) const DROPPED_ATTRIBUTES: Tag = 4;
}

/// Fields of `Span.Link`.
mod link {
    use super::Tag;
    pub(super) const TRACE_ID: Tag = 1;
    pub(super) const SPAN_ID: Tag = 2;
    pub(super) const TRACE_STATE: Tag = 3;
    pub(super) const ATTRIBUTES: Tag = 4;
    pub(super) const DROPPED_ATTRIBUTES: Tag = 5;
    pub(super) const FLAGS: Tag = 6;
}

/// Fields of `Status`.
mod status {
    use super::Tag;
    pub(super) const MESSAGE: Tag = 2;
    pub(super) const CODE: Tag = 3;
}

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`: whether the parent is remote is known.
const HAS_IS_REMOTE: u32 = 0x100;
/// `SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
const IS_REMOTE: u32 = 0x200;

/// Writes the content of the `Span` for `span`.
pub(super) fn write_span(w: &mut Writer<'_>, span: &SpanData) {
    let context = &span.span_context;
    w.bytes(field::TRACE_ID, &context.trace_id().to_bytes());
    w.bytes(field::SPAN_ID, &context.span_id().to_bytes());
    write_trace_state(w, field::TRACE_STATE, context.trace_state());
    if let Some(parent) = parent_span_id(span) {
        w.bytes(field::PARENT_SPAN_ID, &parent);
    }
    w.bytes(field::NAME, span.name.as_bytes());
    w.varint(field::KIND, kind(&span.span_kind));
    w.fixed64(field::START_TIME, unix_nanos(span.start_time));
    w.fixed64(field::END_TIME, unix_nanos(span.end_time));
    write_attributes(w, field::ATTRIBUTES, &span.attributes);
    w.varint(
        field::DROPPED_ATTRIBUTES,
        u64::from(span.dropped_attributes_count),
    );
    for event in span.events.iter() {
        w.message(field::EVENTS, LengthHint::Small, |w| write_event(w, event));
    }
    w.varint(field::DROPPED_EVENTS, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        w.message(field::LINKS, LengthHint::Small, |w| write_link(w, link));
    }
    w.varint(field::DROPPED_LINKS, u64::from(span.links.dropped_count));
    w.message_of_len(field::STATUS, status_len(&span.status), |w| {
        write_status(w, &span.status)
    });
    w.fixed32(field::FLAGS, flags(context, span.parent_span_is_remote));
}

fn write_event(w: &mut Writer<'_>, event: &Event) {
    w.fixed64(event::TIME, unix_nanos(event.timestamp));
    w.bytes(event::NAME, event.name.as_bytes());
    write_attributes(w, event::ATTRIBUTES, &event.attributes);
    w.varint(
        event::DROPPED_ATTRIBUTES,
        u64::from(event.dropped_attributes_count),
    );
}

fn write_link(w: &mut Writer<'_>, link: &Link) {
    let context = &link.span_context;
    w.bytes(link::TRACE_ID, &context.trace_id().to_bytes());
    w.bytes(link::SPAN_ID, &context.span_id().to_bytes());
    write_trace_state(w, link::TRACE_STATE, context.trace_state());
    write_attributes(w, link::ATTRIBUTES, &link.attributes);
    w.varint(
        link::DROPPED_ATTRIBUTES,
        u64::from(link.dropped_attributes_count),
    );
    w.fixed32(link::FLAGS, flags(context, context.is_remote()));
}

fn status_len(status: &Status) -> usize {
    bytes_len(status::MESSAGE, status_message(status).len())
        + varint_len(status::CODE, status_code(status))
}

fn write_status(w: &mut Writer<'_>, status: &Status) {
    w.bytes(status::MESSAGE, status_message(status).as_bytes());
    w.varint(status::CODE, status_code(status));
}

/// The status message: only an error has one.
fn status_message(status: &Status) -> &str {
    match status {
        Status::Error { description } => description,
        Status::Unset | Status::Ok => "",
    }
}

/// `Status.StatusCode`.
fn status_code(status: &Status) -> u64 {
    match status {
        Status::Unset => 0,
        Status::Ok => 1,
        Status::Error { .. } => 2,
    }
}

/// `Span.SpanKind`.
fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// The parent's id, none for a root span (an invalid parent id).
fn parent_span_id(span: &SpanData) -> Option<[u8; 8]> {
    (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_bytes())
}

/// The W3C trace flags, with whether the parent (or the linked span) is remote.
fn flags(context: &SpanContext, remote: bool) -> u32 {
    let remote = if remote { IS_REMOTE } else { 0 };
    u32::from(context.trace_flags().to_u8()) | HAS_IS_REMOTE | remote
}

/// Length of the trace state's header (`key=value,key=value`), which
/// [`write_trace_state`] writes without building it as a string.
fn trace_state_len(trace_state: &TraceState) -> usize {
    let members: usize = trace_state
        .into_iter()
        .map(|(key, value)| key.len() + 1 + value.len() + 1)
        .sum();
    // No comma after the last member.
    members.saturating_sub(1)
}

fn write_trace_state(w: &mut Writer<'_>, tag: Tag, trace_state: &TraceState) {
    let len = trace_state_len(trace_state);
    if len == 0 {
        return;
    }
    w.bytes_header(tag, len);
    for (n, (key, value)) in trace_state.into_iter().enumerate() {
        if n > 0 {
            w.raw(b",");
        }
        w.raw(key.as_bytes());
        w.raw(b"=");
        w.raw(value.as_bytes());
    }
}
