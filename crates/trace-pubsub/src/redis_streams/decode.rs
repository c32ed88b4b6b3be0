//! Turning `XREADGROUP` / `XAUTOCLAIM` replies into messages, within fixed bounds.
//!
//! Stream fields are bytes written by whoever could `XADD`: names and values that are
//! not UTF-8, that exceed the limits, or that come after `max_entries` fields are left
//! out of the metadata. If any of them was a propagation field (`traceparent`,
//! `tracestate`, `baggage`), every propagation field is left out too: a context that
//! was only partly readable is not trusted, and the message starts a new trace.

use bytes::Bytes;
use fred::types::Value;

use super::PAYLOAD_FIELD;
use crate::carrier::{ExtractLimits, PROPAGATION_KEYS, is_propagation_key};
use crate::message::{Message, Metadata};

/// One stream entry: its id and, unless it was deleted while pending, its fields.
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) fields: Option<Vec<Value>>,
}

/// The entries of `stream` in an `XREADGROUP` reply (RESP2 arrays or a RESP3 map).
pub(crate) fn read_reply(reply: Value, stream: &str) -> Vec<Entry> {
    let streams: Vec<(Value, Value)> = match reply {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::Array(pair) => two(pair),
                _ => None,
            })
            .collect(),
        Value::Map(map) => map
            .inner()
            .into_iter()
            .map(|(key, value)| (Value::Bytes(key.into_bytes()), value))
            .collect(),
        _ => Vec::new(),
    };
    streams
        .into_iter()
        .filter(|(key, _)| key.as_bytes() == Some(stream.as_bytes()))
        .flat_map(|(_, entries)| entry_list(entries))
        .collect()
}

/// The claimed entries in an `XAUTOCLAIM` reply: `[next-id, [entries...], ...]`.
pub(crate) fn autoclaim_reply(reply: Value) -> Vec<Entry> {
    match reply {
        Value::Array(mut items) if items.len() >= 2 => entry_list(items.swap_remove(1)),
        _ => Vec::new(),
    }
}

fn two(mut pair: Vec<Value>) -> Option<(Value, Value)> {
    if pair.len() != 2 {
        return None;
    }
    let second = pair.pop()?;
    let first = pair.pop()?;
    Some((first, second))
}

fn entry_list(entries: Value) -> Vec<Entry> {
    let Value::Array(entries) = entries else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(pair) = entry else {
                return None;
            };
            let (id, fields) = two(pair)?;
            let id = String::from_utf8(id.as_bytes()?.to_vec()).ok()?;
            let fields = match fields {
                Value::Array(fields) => Some(fields),
                _ => None,
            };
            Some(Entry { id, fields })
        })
        .collect()
}

/// The message in an entry's fields (`field, value, field, value, ...`).
pub(crate) fn message(id: String, fields: Vec<Value>, limits: ExtractLimits) -> Message {
    let mut payload = Bytes::new();
    let mut metadata = Metadata::new();
    let mut untrusted_context = false;
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        let Some(name_bytes) = name.as_bytes() else {
            continue;
        };
        if name_bytes == PAYLOAD_FIELD.as_bytes() {
            payload = match value {
                Value::String(text) => text.into_inner(),
                Value::Bytes(bytes) => bytes,
                _ => Bytes::new(),
            };
            continue;
        }
        let accepted = metadata.len() < limits.max_entries
            && name_bytes.len() <= limits.max_value_bytes
            && value
                .as_bytes()
                .is_some_and(|v| v.len() <= limits.max_value_bytes);
        match (accepted, std::str::from_utf8(name_bytes), value.as_str()) {
            (true, Ok(name), Some(value)) => metadata.append(name, value.into_owned()),
            _ => untrusted_context |= names_propagation_field(name_bytes),
        }
    }
    if untrusted_context {
        for key in PROPAGATION_KEYS {
            metadata.remove(key);
        }
    }
    let mut message = Message::new(payload).with_id(id);
    *message.metadata_mut() = metadata;
    message
}

/// Whether a field name, possibly not UTF-8, is a propagation field.
fn names_propagation_field(name: &[u8]) -> bool {
    std::str::from_utf8(name).is_ok_and(is_propagation_key)
}
