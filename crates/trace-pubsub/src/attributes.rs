//! Span names, attribute keys and values shared by the publish and consume sides.

use std::borrow::Cow;

use opentelemetry::trace::Link;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

pub(crate) use opentelemetry_semantic_conventions::attribute::{
    MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_CONSUMER_GROUP_NAME, MESSAGING_DESTINATION_NAME,
    MESSAGING_MESSAGE_BODY_SIZE, MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
};

/// How a consumer handled a message: `ack`, `nack` or `error`.
///
/// Semantic conventions v1.44 have no attribute for the settlement outcome, so this
/// crate records its own (low cardinality).
pub const MESSAGING_OUTCOME: &str = "trace_rs.messaging.outcome";

/// `messaging.system` of the in-process transport (not a registered value).
pub const SYSTEM_IN_PROCESS: &str = "in_process";
/// `messaging.system` of the Redis Streams transport (not a registered value).
pub const SYSTEM_REDIS_STREAMS: &str = "redis_streams";

pub(crate) const OPERATION_SEND: &str = "send";
pub(crate) const OPERATION_PROCESS: &str = "process";

/// Upper bound on links added to one batch span (the SDK's default link limit).
pub(crate) const MAX_BATCH_LINKS: usize = 128;

/// `{operation} {destination}`.
pub(crate) fn span_name(operation: &str, destination: &str) -> Cow<'static, str> {
    let mut name = String::with_capacity(operation.len() + 1 + destination.len());
    name.push_str(operation);
    name.push(' ');
    name.push_str(destination);
    Cow::Owned(name)
}

/// A link to the span `cx` carries, if it is valid.
pub(crate) fn link_to(cx: &Context) -> Option<Link> {
    let span = cx.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| Link::with_context(span_context.clone()))
}

pub(crate) fn common(
    system: &'static str,
    operation: &'static str,
    destination: &str,
) -> [KeyValue; 4] {
    [
        KeyValue::new(MESSAGING_SYSTEM, system),
        KeyValue::new(MESSAGING_OPERATION_TYPE, operation),
        KeyValue::new(MESSAGING_OPERATION_NAME, operation),
        KeyValue::new(MESSAGING_DESTINATION_NAME, destination.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_are_operation_then_destination() {
        assert_eq!(span_name("send", "orders"), "send orders");
    }
}
