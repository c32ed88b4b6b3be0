//! Pub/sub through trace-pubsub: the in-process bus, or Redis Streams when the tour
//! has a Redis. Publishing opens `send {topic}` and puts `traceparent` in the message;
//! each consumer task opens `process {topic}` as a child of it.

use std::future::Future;
use std::time::Duration;

use fred::prelude::{Builder, ClientLike as _, Config};
use serde_json::Value;
use tokio::task::JoinHandle;
use tower_layer::Layer as _;
use trace_pubsub::redis_streams::{RedisStreamConsumer, RedisStreamPublisher};
use trace_pubsub::{
    ConsumeLayer, Delivery, InProcessBus, Message, Publisher, Settlement, TracedPublisher,
};

/// Replies that modules send to the chat platform (chain 1).
pub(crate) const MESSAGES: &str = "message:send";
/// Data events that start pipeline runs (chains 2 and 3).
pub(crate) const DATA_EVENTS: &str = "pipeline:data_event";

const CONSUMER_GROUP: &str = "tour";

/// The publishing side of the bus.
#[derive(Clone)]
pub(crate) enum Bus {
    InProcess(TracedPublisher<InProcessBus>),
    RedisStreams {
        publisher: TracedPublisher<RedisStreamPublisher>,
        /// Through a client without command spans, for events from outside any trace.
        untraced: RedisStreamPublisher,
        /// The traced client, whose configuration the consumers' own connections copy.
        client: fred::prelude::Client,
    },
}

impl Bus {
    /// The in-process bus: Tokio channels, no service needed.
    pub(crate) fn in_process() -> Self {
        Self::InProcess(TracedPublisher::new(InProcessBus::new()))
    }

    /// Redis Streams: `XADD` through the traced `client`; each consumer reads on a
    /// connection of its own.
    pub(crate) async fn redis_streams(
        client: fred::prelude::Client,
        url: &str,
    ) -> Result<Self, String> {
        Ok(Self::RedisStreams {
            publisher: TracedPublisher::new(RedisStreamPublisher::new(client.clone())),
            untraced: RedisStreamPublisher::new(untraced_client(url).await?),
            client,
        })
    }

    /// Publishes `payload` to `topic` inside a `send {topic}` span that carries the
    /// current trace to the consumers.
    pub(crate) async fn publish(&self, topic: &str, payload: &Value) -> Result<String, String> {
        let message = Message::new(payload.to_string());
        match self {
            Self::InProcess(publisher) => publisher
                .publish(topic, message)
                .await
                .map_err(|e| match e {}),
            Self::RedisStreams { publisher, .. } => publisher
                .publish(topic, message)
                .await
                .map_err(|error| error.to_string()),
        }
    }

    /// Publishes with no span and no trace context: an event from outside any trace,
    /// such as a scheduler or a durable outbox. Its consumer starts a new trace.
    pub(crate) async fn publish_untraced(
        &self,
        topic: &str,
        payload: &Value,
    ) -> Result<String, String> {
        let message = Message::new(payload.to_string());
        match self {
            Self::InProcess(publisher) => publisher
                .get_ref()
                .publish(topic, message)
                .await
                .map_err(|e| match e {}),
            Self::RedisStreams { untraced, .. } => untraced
                .publish(topic, message)
                .await
                .map_err(|error| error.to_string()),
        }
    }

    /// Runs `handler` for every message on `topic` in a task of its own, each call
    /// inside the `process {topic}` span.
    pub(crate) async fn consume<H, F>(
        &self,
        topic: &str,
        handler: H,
    ) -> Result<JoinHandle<()>, String>
    where
        H: Fn(Value) -> F + Send + 'static,
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        let service = ConsumeLayer::new().layer(tower::service_fn(move |delivery: Delivery| {
            let payload = serde_json::from_slice(delivery.message().payload());
            let handled = payload.map(&handler);
            async move {
                match handled {
                    Ok(handled) => handled.await.map(|()| Settlement::Ack),
                    Err(error) => Err(format!("not a JSON message: {error}")),
                }
            }
        }));
        match self {
            Self::InProcess(publisher) => {
                let subscription = publisher.get_ref().subscribe(topic);
                Ok(tokio::spawn(
                    subscription.max_redeliveries(0).serve(service),
                ))
            }
            Self::RedisStreams { client, .. } => {
                // A connection of its own (a blocking `XREADGROUP` would stall the
                // client's other commands), without command spans: polls start no trace.
                let name = format!("tour-{}", std::process::id());
                let consumer = RedisStreamConsumer::new(client, topic, CONSUMER_GROUP, &name)
                    .block(Duration::from_millis(200));
                consumer
                    .create_group()
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(tokio::spawn(async move {
                    let error = consumer.serve(service).await;
                    tracing::warn!("redis stream consumer stopped: {error}");
                }))
            }
        }
    }
}

/// A connected client whose commands make no spans.
async fn untraced_client(url: &str) -> Result<fred::prelude::Client, String> {
    let config = Config::from_url(url).map_err(|error| error.to_string())?;
    let client = Builder::from_config(config)
        .build()
        .map_err(|error| error.to_string())?;
    client.init().await.map_err(|error| error.to_string())?;
    Ok(client)
}
