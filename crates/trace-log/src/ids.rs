//! The ids a log line carries, as lowercase hex, and the names it writes them under.

use std::borrow::Cow;
use std::fmt;

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};

/// The names a log line uses for the ids of its span.
///
/// The defaults are the OpenTelemetry log-correlation names (`trace_id`, `span_id`,
/// `trace_flags`), which Grafana, Tempo and Jaeger look for. Rename them when your log
/// pipeline expects something else, e.g. `trace.id` for Elastic ECS:
///
/// ```
/// let fields = trace_log::TraceIdFields::default().trace_id("trace.id").span_id("span.id");
/// assert_eq!(fields.trace_id_name(), "trace.id");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceIdFields {
    trace_id: Cow<'static, str>,
    span_id: Cow<'static, str>,
    trace_flags: Cow<'static, str>,
}

impl Default for TraceIdFields {
    fn default() -> Self {
        Self {
            trace_id: Cow::Borrowed("trace_id"),
            span_id: Cow::Borrowed("span_id"),
            trace_flags: Cow::Borrowed("trace_flags"),
        }
    }
}

impl TraceIdFields {
    /// Sets the name of the trace id field (default `trace_id`).
    pub fn trace_id(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.trace_id = name.into();
        self
    }

    /// Sets the name of the span id field (default `span_id`).
    pub fn span_id(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.span_id = name.into();
        self
    }

    /// Sets the name of the trace flags field (default `trace_flags`).
    pub fn trace_flags(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.trace_flags = name.into();
        self
    }

    /// The name of the trace id field.
    pub fn trace_id_name(&self) -> &str {
        &self.trace_id
    }

    /// The name of the span id field.
    pub fn span_id_name(&self) -> &str {
        &self.span_id
    }

    /// The name of the trace flags field.
    pub fn trace_flags_name(&self) -> &str {
        &self.trace_flags
    }
}

/// A valid span context's ids, already encoded as lowercase hex on the stack so that
/// writing them is three `write_str` calls.
#[derive(Clone, Copy)]
pub(crate) struct HexIds {
    trace_id: [u8; 32],
    span_id: [u8; 16],
    trace_flags: [u8; 2],
}

impl HexIds {
    /// The ids of the active OpenTelemetry context, if it holds a valid span context.
    /// Reads the context in place: no clone, no allocation.
    pub(crate) fn current() -> Option<Self> {
        Context::map_current(|cx| Self::of(cx.span().span_context()))
    }

    /// The ids of `span_context`, or `None` when it is invalid (all-zero ids are never
    /// written).
    pub(crate) fn of(span_context: &SpanContext) -> Option<Self> {
        if !span_context.is_valid() {
            return None;
        }
        let mut ids = Self {
            trace_id: [0; 32],
            span_id: [0; 16],
            trace_flags: [0; 2],
        };
        encode(&span_context.trace_id().to_bytes(), &mut ids.trace_id);
        encode(&span_context.span_id().to_bytes(), &mut ids.span_id);
        encode(&[span_context.trace_flags().to_u8()], &mut ids.trace_flags);
        Some(ids)
    }

    pub(crate) fn trace_id(&self) -> &str {
        ascii(&self.trace_id)
    }

    pub(crate) fn span_id(&self) -> &str {
        ascii(&self.span_id)
    }

    pub(crate) fn trace_flags(&self) -> &str {
        ascii(&self.trace_flags)
    }
}

impl fmt::Debug for HexIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HexIds")
            .field("trace_id", &self.trace_id())
            .field("span_id", &self.span_id())
            .field("trace_flags", &self.trace_flags())
            .finish()
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn encode(bytes: &[u8], out: &mut [u8]) {
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
        pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
}

/// The buffers only ever hold ASCII hex digits, so this never takes the fallback.
fn ascii(hex: &[u8]) -> &str {
    std::str::from_utf8(hex).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    #[test]
    fn encodes_lowercase_hex_with_leading_zeros() {
        let span_context = SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let ids = HexIds::of(&span_context).unwrap();
        assert_eq!(ids.trace_id(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(ids.span_id(), "00f067aa0ba902b7");
        assert_eq!(ids.trace_flags(), "01");
    }

    #[test]
    fn invalid_contexts_have_no_ids() {
        assert!(HexIds::of(&SpanContext::empty_context()).is_none());
        assert!(HexIds::current().is_none());
    }
}
