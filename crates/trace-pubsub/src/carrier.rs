//! Reading propagated context back out of message metadata, within fixed bounds.

use opentelemetry::Context;
use opentelemetry::propagation::Extractor;
use trace_core::propagation::{BAGGAGE_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER};

use crate::message::Metadata;

/// The metadata keys the W3C propagators read and write.
pub const PROPAGATION_KEYS: [&str; 3] = [TRACEPARENT_HEADER, TRACESTATE_HEADER, BAGGAGE_HEADER];

/// How much of a message's metadata is considered when extracting its context.
///
/// Metadata comes from whoever published the message, so extraction never looks past
/// `max_entries` entries, and a propagation value longer than `max_value_bytes` makes
/// the message start a new trace. Transports that decode metadata from bytes (Redis
/// Streams) apply the same limits while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Entries read, from the start of the metadata (default 64).
    pub max_entries: usize,
    /// Longest value accepted for `traceparent`, `tracestate` or `baggage`, in bytes
    /// (default 8192, the W3C baggage limit).
    pub max_value_bytes: usize,
}

impl ExtractLimits {
    /// 64 entries, 8192-byte values.
    pub const DEFAULT: Self = Self {
        max_entries: 64,
        max_value_bytes: 8192,
    };
}

impl Default for ExtractLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An [`Extractor`] over [`Metadata`] that honours [`ExtractLimits`].
///
/// Keys match ignoring ASCII case; every matching value is returned by
/// [`Extractor::get_all`], so the strict propagators see duplicates (two `traceparent`
/// entries are ambiguous and start a new trace).
#[derive(Debug, Clone, Copy)]
pub struct MetadataExtractor<'a> {
    entries: &'a [(String, String)],
    limits: ExtractLimits,
    oversized: bool,
}

impl<'a> MetadataExtractor<'a> {
    /// Reads `metadata` within `limits`.
    pub fn new(metadata: &'a Metadata, limits: ExtractLimits) -> Self {
        let all = metadata.entries();
        let entries = &all[..all.len().min(limits.max_entries)];
        let oversized = entries
            .iter()
            .any(|(k, v)| v.len() > limits.max_value_bytes && is_propagation_key(k));
        Self {
            entries,
            limits,
            oversized,
        }
    }

    /// Whether a propagation value exceeded the limits (the context is then ignored).
    pub fn saw_oversized_value(&self) -> bool {
        self.oversized
    }

    fn matching(&self, key: &str) -> impl Iterator<Item = &'a str> {
        self.entries
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if self.oversized {
            return None;
        }
        self.matching(key).next()
    }

    fn keys(&self) -> Vec<&str> {
        self.entries.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        if self.oversized {
            return None;
        }
        let mut values = self.matching(key).peekable();
        values.peek()?;
        Some(values.take(self.limits.max_entries).collect())
    }
}

/// Whether `key` is one of [`PROPAGATION_KEYS`], ignoring ASCII case.
pub fn is_propagation_key(key: &str) -> bool {
    PROPAGATION_KEYS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(key))
}

/// The context `metadata` carries, extracted with the global propagator on top of an
/// empty context: a message without a valid context starts a new trace.
pub fn extract_context(metadata: &Metadata, limits: ExtractLimits) -> Context {
    let extractor = MetadataExtractor::new(metadata, limits);
    if extractor.oversized {
        return Context::new();
    }
    trace_core::propagation::extract_context_with(&Context::new(), &extractor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_and_case_insensitive() {
        let mut metadata = Metadata::new();
        for i in 0..100 {
            metadata.append(format!("k{i}"), "v");
        }
        metadata.append("TraceParent", "late");
        let limits = ExtractLimits {
            max_entries: 10,
            ..ExtractLimits::DEFAULT
        };
        let extractor = MetadataExtractor::new(&metadata, limits);
        assert_eq!(extractor.keys().len(), 10);
        assert_eq!(extractor.get("traceparent"), None);

        let metadata: Metadata = [("TRACESTATE", "a=1"), ("tracestate", "b=2")]
            .into_iter()
            .collect();
        let extractor = MetadataExtractor::new(&metadata, ExtractLimits::DEFAULT);
        assert_eq!(extractor.get_all("TraceState"), Some(vec!["a=1", "b=2"]));
    }

    #[test]
    fn an_oversized_propagation_value_hides_every_field() {
        let metadata: Metadata = [
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
            ),
            ("baggage", "k=".to_owned() + &"v".repeat(9000)),
        ]
        .into_iter()
        .collect();
        let extractor = MetadataExtractor::new(&metadata, ExtractLimits::DEFAULT);
        assert!(extractor.saw_oversized_value());
        assert_eq!(extractor.get("traceparent"), None);
        assert_eq!(extractor.get_all("traceparent"), None);
    }
}
