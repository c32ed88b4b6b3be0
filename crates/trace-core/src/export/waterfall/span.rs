//! The span record both views draw: owned, bounded, and the same whether the span
//! came from this process's SDK or from an OTLP/JSON file.

use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;

/// Characters kept of a name, attribute value or status message; the rest is cut so
/// that one hostile value cannot make a buffered trace or the page huge.
pub(crate) const MAX_TEXT_CHARS: usize = 1024;
/// Attributes, events and links kept per span (and attributes per event or link); the
/// rest are counted as dropped.
pub(crate) const MAX_ITEMS: usize = 128;

/// A span's kind, as both views label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Internal => "INTERNAL",
            Kind::Server => "SERVER",
            Kind::Client => "CLIENT",
            Kind::Producer => "PRODUCER",
            Kind::Consumer => "CONSUMER",
        }
    }

    fn from_sdk(kind: &SpanKind) -> Self {
        match kind {
            SpanKind::Internal => Kind::Internal,
            SpanKind::Server => Kind::Server,
            SpanKind::Client => Kind::Client,
            SpanKind::Producer => Kind::Producer,
            SpanKind::Consumer => Kind::Consumer,
        }
    }

    /// OTLP's `SpanKind` numbers; unknown values (0 included) read as internal.
    pub(crate) fn from_otlp(number: i32) -> Self {
        match number {
            2 => Kind::Server,
            3 => Kind::Client,
            4 => Kind::Producer,
            5 => Kind::Consumer,
            _ => Kind::Internal,
        }
    }
}

/// A span's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpanStatus {
    Unset,
    Ok,
    /// Failed, with the status message (possibly empty).
    Error(String),
}

/// One attribute, its value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub(crate) key: String,
    pub(crate) value: String,
}

/// A span event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpanEventView {
    pub(crate) name: String,
    /// Unix time in nanoseconds.
    pub(crate) time: u64,
    pub(crate) attributes: Vec<Attribute>,
}

/// A span link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpanLinkView {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) attributes: Vec<Attribute>,
}

/// A finished span as the views see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ViewSpan {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    /// [`SpanId::INVALID`] for a root.
    pub(crate) parent_id: SpanId,
    /// The parent came from another process or a message (a remote span context).
    pub(crate) parent_is_remote: bool,
    pub(crate) name: String,
    pub(crate) kind: Kind,
    /// Unix time in nanoseconds.
    pub(crate) start: u64,
    /// Unix time in nanoseconds; may be before `start` in hostile data.
    pub(crate) end: u64,
    pub(crate) attributes: Vec<Attribute>,
    /// Attributes the SDK or this record dropped.
    pub(crate) dropped_attributes: u32,
    pub(crate) events: Vec<SpanEventView>,
    pub(crate) links: Vec<SpanLinkView>,
    pub(crate) status: SpanStatus,
    /// `service.name` of the span's resource.
    pub(crate) service: Option<Arc<str>>,
    /// The instrumentation scope's name.
    pub(crate) scope: String,
}

impl ViewSpan {
    /// Converts an SDK span; `service` is the exporter's resource's `service.name`.
    pub(crate) fn from_sdk(span: SpanData, service: Option<&Arc<str>>) -> Self {
        let (attributes, cut) = bounded_attributes(
            (span.attributes.iter()).map(|kv| (kv.key.as_str(), kv.value.to_string())),
        );
        let events = (span.events.events.iter().take(MAX_ITEMS))
            .map(|event| SpanEventView {
                name: bounded(&event.name),
                time: unix_nanos(event.timestamp),
                attributes: bounded_attributes(
                    (event.attributes.iter()).map(|kv| (kv.key.as_str(), kv.value.to_string())),
                )
                .0,
            })
            .collect();
        let links = (span.links.links.iter().take(MAX_ITEMS))
            .map(|link| SpanLinkView {
                trace_id: link.span_context.trace_id(),
                span_id: link.span_context.span_id(),
                attributes: bounded_attributes(
                    (link.attributes.iter()).map(|kv| (kv.key.as_str(), kv.value.to_string())),
                )
                .0,
            })
            .collect();
        Self {
            trace_id: span.span_context.trace_id(),
            span_id: span.span_context.span_id(),
            parent_id: span.parent_span_id,
            parent_is_remote: span.parent_span_is_remote,
            name: bounded(&span.name),
            kind: Kind::from_sdk(&span.span_kind),
            start: unix_nanos(span.start_time),
            end: unix_nanos(span.end_time),
            attributes,
            dropped_attributes: span.dropped_attributes_count.saturating_add(cut),
            events,
            links,
            status: match &span.status {
                Status::Unset => SpanStatus::Unset,
                Status::Ok => SpanStatus::Ok,
                Status::Error { description } => SpanStatus::Error(bounded(description)),
            },
            service: service.cloned(),
            scope: bounded(span.instrumentation_scope.name()),
        }
    }

    /// Nanoseconds from start to end; zero when the end is before the start.
    pub(crate) fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// The value of attribute `key`.
    pub(crate) fn attribute(&self, key: &str) -> Option<&str> {
        (self.attributes.iter())
            .find(|attribute| attribute.key == key)
            .map(|attribute| attribute.value.as_str())
    }

    /// `error.type`, when set.
    pub(crate) fn error_type(&self) -> Option<&str> {
        self.attribute("error.type")
    }

    /// Failed: an error status, or an `error.type` without one.
    pub(crate) fn is_error(&self) -> bool {
        matches!(self.status, SpanStatus::Error(_)) || self.error_type().is_some()
    }

    /// Roughly the heap bytes this record holds, for the buffers' byte limits.
    pub(crate) fn approx_bytes(&self) -> usize {
        let attributes = |list: &[Attribute]| -> usize {
            (list.iter())
                .map(|a| a.key.len() + a.value.len() + 48)
                .sum()
        };
        let events: usize = (self.events.iter())
            .map(|e| e.name.len() + attributes(&e.attributes) + 64)
            .sum();
        let links: usize = (self.links.iter())
            .map(|l| attributes(&l.attributes) + 64)
            .sum();
        let status = match &self.status {
            SpanStatus::Error(message) => message.len(),
            _ => 0,
        };
        std::mem::size_of::<Self>()
            + self.name.len()
            + self.scope.len()
            + status
            + attributes(&self.attributes)
            + events
            + links
    }
}

/// At most [`MAX_ITEMS`] attributes with bounded keys and values, and how many were
/// left out.
pub(crate) fn bounded_attributes<'a>(
    pairs: impl ExactSizeIterator<Item = (&'a str, String)>,
) -> (Vec<Attribute>, u32) {
    let total = pairs.len();
    let kept: Vec<Attribute> = pairs
        .take(MAX_ITEMS)
        .map(|(key, value)| Attribute {
            key: bounded(key),
            value: bounded(&value),
        })
        .collect();
    let cut = u32::try_from(total - kept.len()).unwrap_or(u32::MAX);
    (kept, cut)
}

/// `text` cut to [`MAX_TEXT_CHARS`] characters, ending in `…` when cut.
pub(crate) fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Nanoseconds since the Unix epoch; zero before it, saturating far after it.
pub(crate) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// A plain internal span for unit tests: ids and times in whole numbers.
#[cfg(test)]
pub(crate) fn test_span(trace: u128, id: u64, parent: u64, start: u64, end: u64) -> ViewSpan {
    ViewSpan {
        trace_id: TraceId::from(trace),
        span_id: SpanId::from(id),
        parent_id: SpanId::from(parent),
        parent_is_remote: false,
        name: format!("span {id}"),
        kind: Kind::Internal,
        start,
        end,
        attributes: Vec::new(),
        dropped_attributes: 0,
        events: Vec::new(),
        links: Vec::new(),
        status: SpanStatus::Unset,
        service: None,
        scope: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT_CHARS + 5);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn attributes_past_the_limit_are_counted() {
        let pairs: Vec<(String, String)> = (0..MAX_ITEMS + 3)
            .map(|i| (format!("k{i}"), "v".to_owned()))
            .collect();
        let (kept, cut) = bounded_attributes(pairs.iter().map(|(k, v)| (k.as_str(), v.clone())));
        assert_eq!(kept.len(), MAX_ITEMS);
        assert_eq!(cut, 3);
    }
}
