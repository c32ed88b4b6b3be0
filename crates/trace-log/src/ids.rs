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

/// A valid span context's ids, as raw bytes: what a line needs, copied out of the
/// context without cloning it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanIds {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    trace_flags: u8,
}

impl SpanIds {
    /// The ids of the active OpenTelemetry context, if it holds a valid span context.
    /// Reads the context in place: no clone, no allocation.
    pub(crate) fn current() -> Option<Self> {
        Context::map_current(|cx| Self::of(cx.span().span_context()))
    }

    /// The ids of `span_context`, or `None` when it is invalid (all-zero ids are never
    /// written).
    pub(crate) fn of(span_context: &SpanContext) -> Option<Self> {
        span_context.is_valid().then(|| Self {
            trace_id: span_context.trace_id().to_bytes(),
            span_id: span_context.span_id().to_bytes(),
            trace_flags: span_context.trace_flags().to_u8(),
        })
    }
}

/// Longest rendering written in one piece from a stack buffer; longer field names
/// take the piecewise path.
const STACK_RENDERING: usize = 256;

/// The text a line gets for its ids, rendered once per format with placeholders for the
/// hex digits: per line, the template is copied to the stack, the digits are filled in
/// and the whole is written with one `write_str`.
#[derive(Clone, Debug)]
pub(crate) struct IdsTemplate {
    text: String,
    trace_id_at: usize,
    span_id_at: usize,
    trace_flags_at: usize,
}

impl IdsTemplate {
    /// `,"trace_id":"…","span_id":"…","trace_flags":"…"`, names JSON-escaped.
    pub(crate) fn json(fields: &TraceIdFields) -> Self {
        let member = |text: &mut String, first: bool, name: &str| {
            if !first {
                text.push('"');
            }
            text.push(',');
            // Writing into a `String` cannot fail.
            let _ = crate::json_fields::write_string(text, name);
            text.push_str(":\"");
        };
        Self::build(fields, member, |text| text.push('"'))
    }

    /// ` trace_id=… span_id=… trace_flags=…`.
    pub(crate) fn text(fields: &TraceIdFields) -> Self {
        let pair = |text: &mut String, _first: bool, name: &str| {
            text.push(' ');
            text.push_str(name);
            text.push('=');
        };
        Self::build(fields, pair, |_| {})
    }

    fn build(
        fields: &TraceIdFields,
        mut before: impl FnMut(&mut String, bool, &str),
        after: impl FnOnce(&mut String),
    ) -> Self {
        let mut text = String::new();
        let mut slot = |text: &mut String, first: bool, name: &str, digits: usize| {
            before(text, first, name);
            let at = text.len();
            text.extend(std::iter::repeat_n('0', digits));
            at
        };
        let trace_id_at = slot(&mut text, true, fields.trace_id_name(), 32);
        let span_id_at = slot(&mut text, false, fields.span_id_name(), 16);
        let trace_flags_at = slot(&mut text, false, fields.trace_flags_name(), 2);
        after(&mut text);
        Self {
            text,
            trace_id_at,
            span_id_at,
            trace_flags_at,
        }
    }

    /// Writes the rendering of `ids`.
    pub(crate) fn write(&self, out: &mut impl fmt::Write, ids: &SpanIds) -> fmt::Result {
        let template = self.text.as_bytes();
        let mut stack = [0u8; STACK_RENDERING];
        match stack.get_mut(..template.len()) {
            Some(line) => {
                line.copy_from_slice(template);
                self.fill(line, ids);
                out.write_str(std::str::from_utf8(line).map_err(|_| fmt::Error)?)
            }
            None => {
                let mut digits = [0u8; 50];
                let (trace_id, rest) = digits.split_at_mut(32);
                let (span_id, trace_flags) = rest.split_at_mut(16);
                encode(&ids.trace_id, trace_id);
                encode(&ids.span_id, span_id);
                encode(&[ids.trace_flags], trace_flags);
                let text = &self.text;
                out.write_str(&text[..self.trace_id_at])?;
                out.write_str(ascii(trace_id))?;
                out.write_str(&text[self.trace_id_at + 32..self.span_id_at])?;
                out.write_str(ascii(span_id))?;
                out.write_str(&text[self.span_id_at + 16..self.trace_flags_at])?;
                out.write_str(ascii(trace_flags))?;
                out.write_str(&text[self.trace_flags_at + 2..])
            }
        }
    }

    fn fill(&self, line: &mut [u8], ids: &SpanIds) {
        encode(
            &ids.trace_id,
            &mut line[self.trace_id_at..self.trace_id_at + 32],
        );
        encode(
            &ids.span_id,
            &mut line[self.span_id_at..self.span_id_at + 16],
        );
        encode(
            &[ids.trace_flags],
            &mut line[self.trace_flags_at..self.trace_flags_at + 2],
        );
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn encode(bytes: &[u8], out: &mut [u8]) {
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
        pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
}

/// Only ever called on hex digits, so this never takes the fallback.
fn ascii(hex: &[u8]) -> &str {
    std::str::from_utf8(hex).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    fn sample() -> SpanIds {
        SpanIds::of(&SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ))
        .unwrap()
    }

    fn render(template: &IdsTemplate) -> String {
        let mut out = String::new();
        template.write(&mut out, &sample()).unwrap();
        out
    }

    #[test]
    fn renders_lowercase_hex_with_leading_zeros() {
        let fields = TraceIdFields::default();
        assert_eq!(
            render(&IdsTemplate::text(&fields)),
            " trace_id=0af7651916cd43dd8448eb211c80319c span_id=00f067aa0ba902b7 trace_flags=01"
        );
        assert_eq!(
            render(&IdsTemplate::json(&fields)),
            r#","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"00f067aa0ba902b7","trace_flags":"01""#
        );
    }

    #[test]
    fn long_and_odd_names_render_the_same_way_past_the_stack_buffer() {
        let long = "x".repeat(STACK_RENDERING);
        let fields = TraceIdFields::default()
            .trace_id(long.clone())
            .span_id("span \"id\"");
        let json = render(&IdsTemplate::json(&fields));
        let parsed: serde_json::Value =
            serde_json::from_str(&format!("{{\"a\":1{json}}}")).unwrap();
        assert_eq!(parsed[long.as_str()], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(parsed["span \"id\""], "00f067aa0ba902b7");
        assert_eq!(parsed["trace_flags"], "01");
    }

    #[test]
    fn invalid_contexts_have_no_ids() {
        assert!(SpanIds::of(&SpanContext::empty_context()).is_none());
        assert!(SpanIds::current().is_none());
    }
}
