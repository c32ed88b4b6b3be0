//! The span inside every handle: outcome recording, retries, and ending exactly once.

use std::borrow::Cow;
use std::sync::OnceLock;

use opentelemetry::{Context, KeyValue};
use trace_core::{ErrorType, TracedSpan};

use crate::attributes::{RETRY_ATTEMPT, RETRY_EVENT, RETRY_REASON};
use crate::outcome::Outcome;

/// Free text and ids taken from callers (progress messages, reasons, error messages,
/// event and job ids) are cut to this many bytes so a span never grows without bound.
pub(crate) const MAX_TEXT_BYTES: usize = 1024;

/// Where a kind of span records its outcome.
#[derive(Debug)]
pub(crate) struct OutcomeKeys {
    pub(crate) outcome: &'static str,
    pub(crate) skip_reason: &'static str,
    pub(crate) success: &'static str,
    pub(crate) error: &'static str,
}

/// A span that records an [`Outcome`] when finished, and `cancelled` when dropped first.
#[derive(Debug)]
pub(crate) struct Tracked {
    span: Option<TracedSpan>,
    keys: &'static OutcomeKeys,
}

impl Tracked {
    pub(crate) fn new(span: TracedSpan, keys: &'static OutcomeKeys) -> Self {
        Self {
            span: Some(span),
            keys,
        }
    }

    pub(crate) fn context(&self) -> &Context {
        static NONE: OnceLock<Context> = OnceLock::new();
        match &self.span {
            Some(span) => span.context(),
            None => NONE.get_or_init(Context::new),
        }
    }

    pub(crate) fn span(&self) -> Option<&TracedSpan> {
        self.span.as_ref()
    }

    pub(crate) fn is_recording(&self) -> bool {
        self.span.as_ref().is_some_and(TracedSpan::is_recording)
    }

    pub(crate) fn retry(&self, attempt: u32, reason: &str) {
        if let Some(span) = &self.span {
            span.add_event(RETRY_EVENT, || {
                vec![
                    KeyValue::new(RETRY_ATTEMPT, i64::from(attempt)),
                    KeyValue::new(RETRY_REASON, bounded(reason)),
                ]
            });
        }
    }

    /// Records the outcome built by `outcome` (only when the span records) and ends
    /// the span; `extra` adds the last attributes (durations).
    pub(crate) fn finish_with(
        mut self,
        outcome: impl FnOnce() -> Outcome,
        extra: impl FnOnce(&TracedSpan),
    ) {
        if let Some(span) = self.span.take() {
            if span.is_recording() {
                record(&span, self.keys, outcome());
                extra(&span);
            }
            span.end();
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            record(&span, self.keys, Outcome::Cancelled);
            span.end();
        }
    }
}

fn record(span: &TracedSpan, keys: &OutcomeKeys, outcome: Outcome) {
    let label = match &outcome {
        Outcome::Success => keys.success,
        Outcome::Skipped { .. } => "skipped",
        Outcome::Cancelled => "cancelled",
        Outcome::Error { .. } => keys.error,
    };
    span.set_attribute(KeyValue::new(keys.outcome, label));
    match outcome {
        Outcome::Skipped { reason } => {
            span.set_attribute(KeyValue::new(keys.skip_reason, bounded_cow(reason)));
        }
        // trace-core bounds the status message.
        Outcome::Error {
            error_type,
            message,
        } => span.record_error(ErrorType::code(bounded_cow(error_type.into())), message),
        Outcome::Success | Outcome::Cancelled => {}
    }
}

/// `text` as an owned string of at most [`MAX_TEXT_BYTES`], cut at a char boundary.
pub(crate) fn bounded(text: &str) -> String {
    text[..cut_at(text)].to_owned()
}

fn bounded_cow(text: Cow<'static, str>) -> Cow<'static, str> {
    let end = cut_at(&text);
    if end == text.len() {
        return text;
    }
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[..end]),
        Cow::Owned(mut s) => {
            s.truncate(end);
            Cow::Owned(s)
        }
    }
}

fn cut_at(text: &str) -> usize {
    if text.len() <= MAX_TEXT_BYTES {
        return text.len();
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let text = "é".repeat(MAX_TEXT_BYTES);
        let cut = bounded(&text);
        assert!(cut.len() <= MAX_TEXT_BYTES && cut.len() >= MAX_TEXT_BYTES - 1);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(bounded("short"), "short");
        let owned = bounded_cow(Cow::Owned("x".repeat(MAX_TEXT_BYTES + 5)));
        assert_eq!(owned.len(), MAX_TEXT_BYTES);
    }
}
