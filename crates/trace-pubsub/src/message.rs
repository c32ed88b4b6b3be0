//! The message model shared by every transport.

use bytes::Bytes;
use opentelemetry::propagation::Injector;
use trace_core::carrier::MapInjector;

/// A message: an optional id, an opaque payload and string metadata.
///
/// The id is assigned by the transport when the message is published (the in-process
/// bus numbers messages, Redis Streams uses the entry id); a received message always
/// has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    id: Option<String>,
    payload: Bytes,
    metadata: Metadata,
}

impl Message {
    /// A message carrying `payload`, with no metadata yet.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Self {
            id: None,
            payload: payload.into(),
            metadata: Metadata::new(),
        }
    }

    /// Adds a metadata entry (see [`Metadata::insert`]).
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key, value);
        self
    }

    /// Sets the id (transports do this for received messages).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The id, once the transport has assigned one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The metadata, for changes.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// Splits the message into id, payload and metadata.
    pub fn into_parts(self) -> (Option<String>, Bytes, Metadata) {
        (self.id, self.payload, self.metadata)
    }
}

/// Message metadata: string pairs in insertion order, keeping the case of each key.
///
/// Lookups ignore ASCII case, because brokers and bridges may change it in transit.
/// It is the carrier the publish wrapper injects `traceparent`, `tracestate` and
/// `baggage` into; reading them back is bounded by
/// [`ExtractLimits`](crate::ExtractLimits).
///
/// ```
/// use trace_pubsub::Metadata;
///
/// let mut metadata = Metadata::new();
/// metadata.insert("Content-Type", "application/json");
/// metadata.insert("content-type", "text/plain"); // replaces, keeping the new case
/// assert_eq!(metadata.len(), 1);
/// assert_eq!(metadata.get("CONTENT-TYPE"), Some("text/plain"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(String, String)>,
}

impl Metadata {
    /// Empty metadata (allocates nothing).
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Sets `key` to `value`, replacing every entry whose key matches ignoring ASCII
    /// case; the key keeps the case given here.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        MapInjector(&mut self.entries).set(&key, value.into());
    }

    /// Appends an entry without replacing existing ones (duplicate keys are kept, as
    /// some transports deliver them).
    pub fn append(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries.push((key.into(), value.into()));
    }

    /// The first value whose key matches `key` ignoring ASCII case.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Removes every entry whose key matches `key` ignoring ASCII case.
    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    /// The entries in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn entries(&self) -> &[(String, String)] {
        &self.entries
    }
}

impl Injector for Metadata {
    fn set(&mut self, key: &str, value: String) {
        MapInjector(&mut self.entries).set(key, value);
    }

    fn reserve(&mut self, additional: usize) {
        MapInjector(&mut self.entries).reserve(additional);
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    /// Collects pairs as given, keeping duplicates (like [`Metadata::append`]).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            entries: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_case_insensitively_and_append_keeps_duplicates() {
        let mut metadata = Metadata::new();
        metadata.insert("TraceParent", "a");
        metadata.append("traceparent", "b");
        assert_eq!(metadata.len(), 2);
        metadata.insert("traceparent", "c");
        assert_eq!(metadata.iter().collect::<Vec<_>>(), [("traceparent", "c")]);
        metadata.remove("TRACEPARENT");
        assert!(metadata.is_empty());
    }
}
