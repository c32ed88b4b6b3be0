//! A captured span with the accessors tests need.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::Deref;

use opentelemetry::Value;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;

/// A finished span; derefs to the SDK's [`SpanData`].
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedSpan(SpanData);

impl From<SpanData> for CapturedSpan {
    fn from(data: SpanData) -> Self {
        Self(data)
    }
}

impl Deref for CapturedSpan {
    type Target = SpanData;

    fn deref(&self) -> &SpanData {
        &self.0
    }
}

impl CapturedSpan {
    /// The span name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The span kind.
    pub fn kind(&self) -> SpanKind {
        self.0.span_kind.clone()
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.0.span_context.trace_id()
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.0.span_context.span_id()
    }

    /// The parent's span id (invalid for a root).
    pub fn parent_span_id(&self) -> SpanId {
        self.0.parent_span_id
    }

    /// The value of attribute `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.0
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// The value of attribute `key` as text; panics naming the span when it is missing.
    pub fn attr(&self, key: &str) -> String {
        match self.attribute(key) {
            Some(value) => value.as_str().into_owned(),
            None => panic!(
                "span {:?} has no attribute {key:?}; it has: {:?}",
                self.name(),
                self.0
                    .attributes
                    .iter()
                    .map(|kv| kv.key.as_str())
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// Whether attribute `key` is set.
    pub fn has_attribute(&self, key: &str) -> bool {
        self.attribute(key).is_some()
    }

    /// Whether the status is `Error`.
    pub fn is_error(&self) -> bool {
        matches!(self.0.status, Status::Error { .. })
    }

    /// The names of the span's events, in order.
    pub fn event_names(&self) -> Vec<&str> {
        self.0
            .events
            .iter()
            .map(|event| event.name.as_ref())
            .collect()
    }

    /// Asserts that this span is a direct child of `parent` in the same trace.
    #[track_caller]
    pub fn assert_child_of(&self, parent: &CapturedSpan) {
        assert_eq!(
            self.trace_id(),
            parent.trace_id(),
            "span {:?} is not in the trace of {:?}",
            self.name(),
            parent.name()
        );
        assert_eq!(
            self.parent_span_id(),
            parent.span_id(),
            "span {:?} is not a child of {:?}",
            self.name(),
            parent.name()
        );
    }
}

pub(super) fn outline(spans: &[SpanData]) -> String {
    let mut sorted: Vec<&SpanData> = spans.iter().collect();
    sorted.sort_by_key(|span| span.start_time);
    let ids: HashSet<SpanId> = sorted.iter().map(|s| s.span_context.span_id()).collect();
    let mut out = String::new();
    for root in sorted
        .iter()
        .filter(|span| !ids.contains(&span.parent_span_id))
    {
        write_subtree(&mut out, &sorted, root, 0);
    }
    out
}

fn write_subtree(out: &mut String, spans: &[&SpanData], span: &SpanData, depth: usize) {
    let _ = writeln!(
        out,
        "{:indent$}{:?} {}",
        "",
        span.span_kind,
        span.name,
        indent = depth * 2
    );
    let id = span.span_context.span_id();
    for child in spans.iter().filter(|s| s.parent_span_id == id) {
        write_subtree(out, spans, child, depth + 1);
    }
}
