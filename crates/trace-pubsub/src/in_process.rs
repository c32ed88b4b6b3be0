//! The in-process transport: topics over bounded Tokio channels, no external service.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;
use tower_service::Service;

use crate::attributes::SYSTEM_IN_PROCESS;
use crate::delivery::{Delivery, Settlement};
use crate::message::Message;
use crate::publish::Publisher;

/// Messages buffered per subscription before `publish` waits.
const DEFAULT_CAPACITY: usize = 1024;
/// Times a nacked or failed message is offered again before it is dropped.
const DEFAULT_MAX_REDELIVERIES: u32 = 3;

/// An in-process message bus: every subscription of a topic receives each message
/// published to it (fan-out, like Watermill's GoChannel).
///
/// Cloning is cheap and shares the bus. Publishing waits while a subscription's buffer
/// is full (back-pressure, bounded memory); a topic without subscribers drops the
/// message. Ids are sequence numbers, unique per bus.
#[derive(Clone)]
pub struct InProcessBus {
    shared: Arc<Shared>,
}

struct Shared {
    topics: RwLock<HashMap<String, Arc<[mpsc::Sender<Message>]>>>,
    next_id: AtomicU64,
    capacity: usize,
}

impl fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessBus")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessBus {
    /// A bus buffering up to 1024 messages per subscription.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A bus buffering up to `capacity` messages (at least 1) per subscription.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                topics: RwLock::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                capacity: capacity.max(1),
            }),
        }
    }

    /// Subscribes to `destination`: the subscription receives messages published from
    /// now on.
    pub fn subscribe(&self, destination: &str) -> Subscription {
        let (sender, receiver) = mpsc::channel(self.shared.capacity);
        let mut topics = self
            .shared
            .topics
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let senders = topics.entry(destination.to_owned()).or_default();
        let mut updated: Vec<_> = senders.iter().filter(|s| !s.is_closed()).cloned().collect();
        updated.push(sender);
        *senders = updated.into();
        Subscription {
            destination: destination.into(),
            receiver,
            redeliveries: VecDeque::new(),
            max_redeliveries: DEFAULT_MAX_REDELIVERIES,
        }
    }

    fn senders(&self, destination: &str) -> Option<Arc<[mpsc::Sender<Message>]>> {
        self.shared
            .topics
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(destination)
            .cloned()
    }
}

impl Publisher for InProcessBus {
    type Error = Infallible;

    fn messaging_system(&self) -> &'static str {
        SYSTEM_IN_PROCESS
    }

    async fn publish(&self, destination: &str, message: Message) -> Result<String, Infallible> {
        let id = self
            .shared
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        let message = message.with_id(id.clone());
        let Some(senders) = self.senders(destination) else {
            return Ok(id);
        };
        if let Some((last, others)) = senders.split_last() {
            for sender in others {
                // A subscription that was dropped simply misses the message.
                let _ = sender.send(message.clone()).await;
            }
            let _ = last.send(message).await;
        }
        Ok(id)
    }
}

/// A subscription to one topic of an [`InProcessBus`].
#[derive(Debug)]
pub struct Subscription {
    destination: Arc<str>,
    receiver: mpsc::Receiver<Message>,
    redeliveries: VecDeque<(Message, u32)>,
    max_redeliveries: u32,
}

impl Subscription {
    /// How often a message that was nacked or failed is offered again before it is
    /// dropped (default 3; 0 disables redelivery and the copy it needs).
    pub fn max_redeliveries(mut self, max: u32) -> Self {
        self.max_redeliveries = max;
        self
    }

    /// The topic.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The next delivery, or `None` once every handle of the bus is gone.
    ///
    /// Messages taken this way are not redelivered; use [`handle_next`](Self::handle_next)
    /// or [`serve`](Self::serve) for that.
    pub async fn next(&mut self) -> Option<Delivery> {
        let (message, _) = self.next_message().await?;
        Some(self.delivery(message))
    }

    /// Receives one message and passes it to `service`: a [`ConsumeLayer`]-wrapped
    /// handler, usually. A [`Settlement::Nack`] or an error queues the message for
    /// redelivery (up to [`max_redeliveries`](Self::max_redeliveries) times).
    ///
    /// Returns `None` once the bus is gone, else the handler's result.
    ///
    /// [`ConsumeLayer`]: crate::ConsumeLayer
    pub async fn handle_next<S>(&mut self, service: &mut S) -> Option<Result<Settlement, S::Error>>
    where
        S: Service<Delivery, Response = Settlement>,
    {
        let (message, attempt) = self.next_message().await?;
        let retry = (attempt < self.max_redeliveries).then(|| message.clone());
        if let Err(error) = poll_fn(|cx| service.poll_ready(cx)).await {
            self.requeue(retry, attempt);
            return Some(Err(error));
        }
        let result = service.call(self.delivery(message)).await;
        if !matches!(result, Ok(Settlement::Ack)) {
            self.requeue(retry, attempt);
        }
        Some(result)
    }

    /// Handles messages until the bus is gone.
    pub async fn serve<S>(mut self, mut service: S)
    where
        S: Service<Delivery, Response = Settlement>,
    {
        while self.handle_next(&mut service).await.is_some() {}
    }

    async fn next_message(&mut self) -> Option<(Message, u32)> {
        if let Some(pending) = self.redeliveries.pop_front() {
            return Some(pending);
        }
        self.receiver.recv().await.map(|message| (message, 0))
    }

    fn requeue(&mut self, message: Option<Message>, attempt: u32) {
        if let Some(message) = message {
            self.redeliveries.push_back((message, attempt + 1));
        }
    }

    fn delivery(&self, message: Message) -> Delivery {
        Delivery::new(message, Arc::clone(&self.destination), SYSTEM_IN_PROCESS)
    }
}
