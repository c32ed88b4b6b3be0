//! trace-pubsub: OpenTelemetry spans for publishing and consuming messages, with the
//! W3C trace context carried in message metadata, so one trace runs from the request
//! that published an event through every handler it triggers, across processes.
//!
//! ## Quick start
//!
//! ```
//! use tower_layer::Layer;
//! use trace_pubsub::{ConsumeLayer, Delivery, InProcessBus, Message, Publisher, Settlement, TracedPublisher};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // let _guard = trace_core::init(&trace_core::Config::from_env()?)?;
//! let bus = InProcessBus::new();
//! let mut orders = bus.subscribe("orders");
//!
//! // Publish inside a request's span: `send orders` (PRODUCER) injects `traceparent`.
//! let publisher = TracedPublisher::new(bus.clone());
//! publisher.publish("orders", Message::new(r#"{"id":1}"#)).await?;
//!
//! // Consume: `process orders` (CONSUMER) continues the producer's trace.
//! let mut handler = ConsumeLayer::new().layer(tower::service_fn(|delivery: Delivery| async move {
//!     println!("order {}", String::from_utf8_lossy(delivery.message().payload()));
//!     Ok::<_, std::io::Error>(Settlement::Ack)
//! }));
//! let outcome = orders.handle_next(&mut handler).await.expect("the bus is alive")?;
//! assert_eq!(outcome, Settlement::Ack);
//! # Ok(())
//! # }
//! ```
//!
//! `cargo run -p trace-pubsub --example in_process` prints the resulting trace as a
//! tree; `--example redis_streams --features redis-streams` does the same over Redis.
//!
//! ## Spans and attributes
//!
//! | Span | Kind | Parent and links | Attributes |
//! |---|---|---|---|
//! | `send {destination}` ([`TracedPublisher`]) | PRODUCER | [`Context::current`](opentelemetry::Context::current) | `messaging.system`, `messaging.operation.type` = `send`, `messaging.operation.name` = `send`, `messaging.destination.name`, `messaging.message.id` (once assigned), `messaging.message.body.size`; on failure `error.type` and status `Error` |
//! | `process {destination}` ([`ConsumeLayer`]) | CONSUMER | the context extracted from the message, plus a link to it; a new trace when there is none | `messaging.system`, `messaging.operation.type` = `process`, `messaging.operation.name` = `process`, `messaging.destination.name`, `messaging.message.id`, `messaging.message.body.size`, `messaging.consumer.group.name` (Redis), `trace_rs.messaging.outcome` = `ack`/`nack`/`error`; on handler error `error.type` and status `Error` |
//! | `process {destination}` ([`ConsumeBatchLayer`]) | CONSUMER | `Context::current`; a link to every message's context (at most 128) | as above without the message id and body size, plus `messaging.batch.message_count` |
//!
//! `messaging.system` is `in_process` or `redis_streams` (neither is a registered
//! value). `error.type` is what [`Publisher::error_type`] returns on a `send` span (by
//! default the error's fully-qualified type name; for `RedisStreamPublisher`, the
//! server's error prefix or fred's error kind, such as `NOGROUP` or `io`) and the
//! handler error's fully-qualified type name on a `process` span: trace-core's
//! [`ErrorType`](trace_core::ErrorType) rule. The status message is the error's
//! `Display` text, at most [`MAX_STATUS_MESSAGE_LEN`](trace_core::MAX_STATUS_MESSAGE_LEN)
//! bytes; payloads and metadata are never recorded.
//!
//! ## Propagation and hostile metadata
//!
//! The publisher injects `traceparent`, `tracestate` and `baggage` with the globally
//! configured propagator (trace-core's strict W3C ones after `trace_core::init`), into
//! [`Metadata`], which keeps key case and matches keys ignoring case. The consumer
//! reads them back within [`ExtractLimits`] (64 entries, 8 KiB per propagation
//! value, by default): a missing, malformed, repeated `traceparent`, an oversized
//! value or (Redis) a field that is not UTF-8 makes the message start a new trace,
//! never a panic or an unbounded allocation.
//!
//! An unsampled `send` span still has a span context of its own, and that is what the
//! message carries (`traceparent` with flags `00`): the consumer's span and the
//! handler's children follow the decision. The handler runs in the consumer span's
//! context whether it records or not.
//!
//! ## Cost
//!
//! Spans are started through [`trace_core::ScopedTracer`], so they go through the SDK
//! tracer of the provider in use (`trace_core::init`'s, one handed over with
//! `trace_core::set_provider`, or `opentelemetry::global`'s). The sampler sees the span
//! name, the links and every attribute in the table but the outcome, `error.type` and a
//! message id the transport assigns while publishing. What the sampler sees is built
//! for unsampled spans too; the disabled path allocates nothing in the instrumentation.
//! `cargo bench -p trace-pubsub --bench publish_consume` prints the per-message cost
//! beside the untraced path.
//!
//! ## Feature flags
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `redis-streams` | no | `redis_streams`: publish with `XADD`, consume with `XREADGROUP` consumer groups, `XACK` on success, redelivery of pending entries, through fred 10 |
//!
//! The Redis consumer reads on a connection of its own, with the configuration of the
//! application's client: a blocking `XREADGROUP` holds its connection until it returns,
//! so on a shared one every application command would wait behind each poll. That
//! connection opens no command spans, so a poll that reads nothing starts no span.
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.94 (the workspace's `rust-version`). CI
//! builds with the current stable toolchain. With `redis-streams`, fred 10.0 to 10.1
//! is supported.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attributes;
mod batch;
mod carrier;
mod consume;
mod delivery;
mod in_process;
mod message;
mod publish;
#[cfg(feature = "redis-streams")]
pub mod redis_streams;

use trace_core::ScopedTracer;

pub use attributes::{MESSAGING_OUTCOME, SYSTEM_IN_PROCESS, SYSTEM_REDIS_STREAMS};
pub use batch::{ConsumeBatchLayer, ConsumeBatchService};
pub use carrier::{
    ExtractLimits, MetadataExtractor, PROPAGATION_KEYS, extract_context, is_propagation_key,
};
pub use consume::{ConsumeLayer, ConsumeService, ResponseFuture};
pub use delivery::{Batch, Delivery, Settlement};
pub use in_process::{InProcessBus, Subscription};
pub use message::{Message, Metadata};
pub use publish::{Publisher, TracedPublisher};

static TRACER: ScopedTracer = ScopedTracer::new("trace-pubsub", env!("CARGO_PKG_VERSION"));
