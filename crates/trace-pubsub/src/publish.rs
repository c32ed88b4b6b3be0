//! Publishing: the [`Publisher`] trait and the tracing wrapper around it.

use std::error::Error as StdError;
use std::future::Future;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use trace_core::{ErrorType, SpanStart, TracedSpan};

use crate::TRACER;
use crate::attributes::{self, MESSAGING_MESSAGE_BODY_SIZE, MESSAGING_MESSAGE_ID, OPERATION_SEND};
use crate::carrier::PROPAGATION_KEYS;
use crate::message::Message;

/// Something that sends messages to a named destination (topic, stream, queue).
pub trait Publisher: Send + Sync {
    /// Why a publish failed.
    type Error: StdError + Send + Sync + 'static;

    /// The `messaging.system` value for spans about this transport.
    fn messaging_system(&self) -> &'static str;

    /// Sends `message` to `destination` and returns the id the transport gave it.
    fn publish(
        &self,
        destination: &str,
        message: Message,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// The span's `error.type` for `error`, by [`ErrorType`]'s rule: a low-cardinality
    /// code when the transport has one, else the error's type name.
    ///
    /// The default is the fully-qualified type name of `Self::Error`.
    fn error_type(error: &Self::Error) -> ErrorType {
        ErrorType::of_val(error)
    }
}

/// A [`Publisher`] that wraps each publish in a PRODUCER span `send {destination}` and
/// injects its context (`traceparent`, `tracestate`, `baggage`) into the message's
/// metadata with the globally configured propagator, replacing any such entries the
/// message already had (a forwarded message joins the forwarder's trace).
///
/// The span's parent is [`Context::current`](opentelemetry::Context::current): publish
/// inside a request's span and the consumer continues that trace. An unsampled span
/// still injects its own context (flags `00`), so the consumer follows the same
/// sampling decision. When tracing is disabled, nothing is built or injected.
///
/// ```
/// use trace_pubsub::{InProcessBus, Message, Publisher, TracedPublisher};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bus = InProcessBus::new();
/// let mut orders = bus.subscribe("orders");
/// let publisher = TracedPublisher::new(bus.clone());
/// publisher.publish("orders", Message::new("order #1")).await.unwrap();
/// let delivery = orders.next().await.unwrap();
/// assert_eq!(delivery.message().payload(), "order #1");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TracedPublisher<P> {
    inner: P,
}

impl<P: Publisher> TracedPublisher<P> {
    /// Wraps `inner`.
    pub fn new(inner: P) -> Self {
        Self { inner }
    }

    /// The wrapped publisher.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// Unwraps the publisher.
    pub fn into_inner(self) -> P {
        self.inner
    }

    fn start_span(&self, destination: &str, message: &Message) -> TracedSpan {
        TRACER.start(SpanKind::Producer, || {
            let start = SpanStart::new(attributes::span_name(OPERATION_SEND, destination))
                .with_attributes(attributes::common(
                    self.inner.messaging_system(),
                    OPERATION_SEND,
                    destination,
                ))
                .with_attribute(KeyValue::new(
                    MESSAGING_MESSAGE_BODY_SIZE,
                    i64::try_from(message.payload().len()).unwrap_or(i64::MAX),
                ));
            match message.id() {
                Some(id) => {
                    start.with_attribute(KeyValue::new(MESSAGING_MESSAGE_ID, id.to_owned()))
                }
                None => start,
            }
        })
    }
}

impl<P: Publisher> Publisher for TracedPublisher<P> {
    type Error = P::Error;

    fn messaging_system(&self) -> &'static str {
        self.inner.messaging_system()
    }

    async fn publish(&self, destination: &str, mut message: Message) -> Result<String, P::Error> {
        let span = self.start_span(destination, &message);
        if trace_core::is_enabled() {
            // A forwarded message must not keep the context of the trace it came from.
            let metadata = message.metadata_mut();
            for key in PROPAGATION_KEYS {
                metadata.remove(key);
            }
            trace_core::propagation::inject_context(span.context(), metadata);
        }
        // The publish runs in the span's context, recording or not; without a span the
        // current context stays as it was.
        let result = if span.is_valid() {
            trace_core::in_context(
                span.context().clone(),
                self.inner.publish(destination, message),
            )
            .await
        } else {
            self.inner.publish(destination, message).await
        };
        match &result {
            Ok(id) => span.set_attributes(|| [KeyValue::new(MESSAGING_MESSAGE_ID, id.clone())]),
            Err(error) if span.is_recording() => {
                span.record_error(P::error_type(error), error);
            }
            Err(_) => {}
        }
        span.end();
        result
    }

    fn error_type(error: &Self::Error) -> ErrorType {
        P::error_type(error)
    }
}
