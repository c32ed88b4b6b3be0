//! Redis Streams through fred 10 (feature `redis-streams`).
//!
//! - [`RedisStreamPublisher`] appends each message with `XADD`: the payload in the field
//!   `payload`, each metadata entry (including `traceparent`, `tracestate`, `baggage`
//!   once wrapped in [`TracedPublisher`](crate::TracedPublisher)) in a field of its own,
//!   like Watermill's Redis Stream marshaller.
//! - [`RedisStreamConsumer`] reads with `XREADGROUP` in a consumer group, hands each
//!   entry (or each read, as a [`Batch`](crate::Batch)) to a tower service, `XACK`s what
//!   was acknowledged and reads its pending entries again (ID `0`) after a nack or a
//!   handler error, so they are redelivered. With [`RedisStreamConsumer::claim_idle`]
//!   it also takes over entries another consumer left pending (`XAUTOCLAIM`).
//!
//! The publisher uses the application's client. The consumer uses a connection of its
//! own, opened with that client's configuration: a blocking `XREADGROUP` holds its
//! connection until it returns, so on a shared one every application command would
//! wait behind each poll. That connection opens no command spans, so a poll that reads
//! nothing starts no span.
//!
//! ```no_run
//! use fred::prelude::*;
//! use tower_layer::Layer;
//! use trace_pubsub::redis_streams::{RedisStreamConsumer, RedisStreamPublisher};
//! use trace_pubsub::{ConsumeLayer, Delivery, Message, Publisher, Settlement, TracedPublisher};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Builder::from_config(Config::from_url("redis://127.0.0.1:6379")?).build()?;
//! client.init().await?;
//!
//! // A connection of its own, with `client`'s configuration.
//! let mut consumer = RedisStreamConsumer::new(&client, "events", "workers", "worker-1");
//! consumer.create_group().await?;
//!
//! let publisher = TracedPublisher::new(RedisStreamPublisher::new(client.clone()));
//! publisher.publish("events", Message::new("hello")).await?;
//!
//! let mut handler = ConsumeLayer::new().layer(tower::service_fn(|delivery: Delivery| async move {
//!     println!("{:?}", delivery.message().payload());
//!     Ok::<_, std::io::Error>(Settlement::Ack)
//! }));
//! let handled = consumer.handle_next(&mut handler).await?;
//! assert_eq!(handled.acked, 1);
//! # Ok(())
//! # }
//! ```

mod consumer;
mod decode;
mod error;
mod publisher;

pub use consumer::{Handled, RedisStreamConsumer};
pub use error::RedisStreamError;
pub use publisher::{PAYLOAD_FIELD, RedisStreamPublisher};
