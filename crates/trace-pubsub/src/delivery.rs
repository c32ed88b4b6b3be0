//! What a consumer receives, and what its handler answers.

use std::sync::Arc;

use crate::message::Message;

/// One received message with where it came from.
#[derive(Debug, Clone)]
pub struct Delivery {
    message: Message,
    destination: Arc<str>,
    consumer_group: Option<Arc<str>>,
    system: &'static str,
}

impl Delivery {
    /// A delivery of `message` from `destination` over the transport named `system`
    /// (the `messaging.system` value).
    pub fn new(message: Message, destination: Arc<str>, system: &'static str) -> Self {
        Self {
            message,
            destination,
            consumer_group: None,
            system,
        }
    }

    /// Sets the consumer group the message was read by.
    pub fn with_consumer_group(mut self, group: Arc<str>) -> Self {
        self.consumer_group = Some(group);
        self
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Takes the message out.
    pub fn into_message(self) -> Message {
        self.message
    }

    /// The topic, stream or queue it was read from.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The consumer group, where the transport has one.
    pub fn consumer_group(&self) -> Option<&str> {
        self.consumer_group.as_deref()
    }

    /// The `messaging.system` value of the transport.
    pub fn system(&self) -> &'static str {
        self.system
    }
}

/// Several messages read together from one destination, handled as one unit.
#[derive(Debug, Clone)]
pub struct Batch {
    messages: Vec<Message>,
    destination: Arc<str>,
    consumer_group: Option<Arc<str>>,
    system: &'static str,
}

impl Batch {
    /// A batch of `messages` from `destination` over the transport named `system`.
    pub fn new(messages: Vec<Message>, destination: Arc<str>, system: &'static str) -> Self {
        Self {
            messages,
            destination,
            consumer_group: None,
            system,
        }
    }

    /// Sets the consumer group the messages were read by.
    pub fn with_consumer_group(mut self, group: Arc<str>) -> Self {
        self.consumer_group = Some(group);
        self
    }

    /// The messages, in the order they were read.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Takes the messages out.
    pub fn into_messages(self) -> Vec<Message> {
        self.messages
    }

    /// The topic, stream or queue they were read from.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The consumer group, where the transport has one.
    pub fn consumer_group(&self) -> Option<&str> {
        self.consumer_group.as_deref()
    }

    /// The `messaging.system` value of the transport.
    pub fn system(&self) -> &'static str {
        self.system
    }
}

/// How a handler settled a message (or a batch).
///
/// A handler error is a third outcome: the span records it as an error, and the
/// transport redelivers like for [`Settlement::Nack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Done: the transport acknowledges it (Redis: `XACK`).
    Ack,
    /// Not done, without an error: the transport redelivers it later.
    Nack,
}

impl Settlement {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Settlement::Ack => "ack",
            Settlement::Nack => "nack",
        }
    }
}
