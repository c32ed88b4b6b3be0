//! Publishing with `XADD`.

use fred::clients::Client;
use fred::interfaces::StreamsInterface;
use fred::types::streams::{XCap, XCapKind, XCapTrim};
use fred::types::{Key, Value};
use trace_core::ErrorType;

use super::RedisStreamError;
use crate::attributes::SYSTEM_REDIS_STREAMS;
use crate::message::Message;
use crate::publish::Publisher;

/// The stream field that holds the payload; metadata may not use this name.
pub const PAYLOAD_FIELD: &str = "payload";

/// Appends messages to Redis streams with `XADD` (the destination is the stream key).
///
/// Wrap it in [`TracedPublisher`](crate::TracedPublisher) to trace and propagate.
#[derive(Debug, Clone)]
pub struct RedisStreamPublisher {
    client: Client,
    max_len: Option<i64>,
}

impl RedisStreamPublisher {
    /// Publishes through `client` (already connected, or connecting).
    pub fn new(client: Client) -> Self {
        Self {
            client,
            max_len: None,
        }
    }

    /// Trims each stream to about `max_len` entries on every append (`MAXLEN ~`).
    pub fn max_len(mut self, max_len: i64) -> Self {
        self.max_len = Some(max_len);
        self
    }

    fn cap(&self) -> XCap {
        match self.max_len {
            Some(len) => XCap::try_from((XCapKind::MaxLen, XCapTrim::AlmostExact, len, None))
                .unwrap_or_else(|_| XCap::from(None::<()>)),
            None => XCap::from(None::<()>),
        }
    }
}

impl Publisher for RedisStreamPublisher {
    type Error = RedisStreamError;

    fn messaging_system(&self) -> &'static str {
        SYSTEM_REDIS_STREAMS
    }

    async fn publish(
        &self,
        destination: &str,
        message: Message,
    ) -> Result<String, RedisStreamError> {
        let (_, payload, metadata) = message.into_parts();
        let mut fields: Vec<(Key, Value)> = Vec::with_capacity(1 + metadata.len());
        fields.push((Key::from_static_str(PAYLOAD_FIELD), Value::Bytes(payload)));
        for (key, value) in metadata.iter() {
            if key == PAYLOAD_FIELD {
                return Err(RedisStreamError::reserved_field());
            }
            fields.push((Key::from(key), Value::from(value)));
        }
        self.client
            .xadd::<String, _, _, _, _>(destination, false, self.cap(), "*", fields)
            .await
            .map_err(|error| RedisStreamError::redis("XADD", error))
    }

    fn error_type(error: &RedisStreamError) -> ErrorType {
        error.error_type()
    }
}
