//! Consuming with `XREADGROUP` in a consumer group, acknowledging with `XACK`.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use fred::clients::Client;
use fred::error::{Error as FredError, ErrorKind};
use fred::interfaces::{ClientLike, StreamsInterface};
use fred::types::Value;
use fred::types::config::{ReconnectPolicy, TracingConfig};
use tokio::sync::OnceCell;
use tokio::task::AbortHandle;
use tower_service::Service;

use super::RedisStreamError;
use super::decode::{self, Entry};
use crate::attributes::SYSTEM_REDIS_STREAMS;
use crate::carrier::ExtractLimits;
use crate::delivery::{Batch, Delivery, Settlement};
use crate::message::Message;

/// What one [`RedisStreamConsumer::handle_next`] round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handled {
    /// Entries acknowledged with `XACK`.
    pub acked: usize,
    /// Entries left pending (nacked or failed); they are read again next round.
    pub pending: usize,
}

/// One consumer of a Redis stream's consumer group, on a connection of its own.
///
/// Each round reads up to [`batch_size`](Self::batch_size) entries: first this
/// consumer's own pending entries (ID `0`: after a restart, a nack or a handler error),
/// then, with [`claim_idle`](Self::claim_idle), entries other consumers left pending
/// too long (`XAUTOCLAIM`), then new ones (ID `>`, blocking up to
/// [`block`](Self::block)). Acknowledged entries are `XACK`ed; the others stay pending
/// and are delivered again.
///
/// A blocking `XREADGROUP` holds its connection until it returns, so on the
/// application's connection every other command would wait behind each poll. The
/// consumer therefore never shares one: [`new`](Self::new) only copies a client's
/// configuration, the consumer connects on first use and disconnects when dropped.
/// Its commands open no spans, even when `client`'s do (trace-redis), so a poll that
/// reads nothing starts no span; each message read gets its `process` span from the
/// [`ConsumeLayer`](crate::ConsumeLayer).
#[derive(Debug)]
pub struct RedisStreamConsumer {
    client: Client,
    /// The connection task, once connected.
    connection: OnceCell<AbortHandle>,
    stream: Arc<str>,
    group: Arc<str>,
    consumer: Arc<str>,
    batch_size: u64,
    block: Duration,
    claim_idle: Option<Duration>,
    retry_delay: Duration,
    limits: ExtractLimits,
    read_pending: bool,
}

impl RedisStreamConsumer {
    /// Consumer `consumer` of group `group` on `stream`, with a connection of its own
    /// opened with `client`'s configuration: server, credentials, TLS, timeouts and
    /// reconnect policy, without command spans.
    ///
    /// Nothing is sent through `client`, and it need not be connected. The consumer
    /// connects on its first command and disconnects when dropped.
    pub fn new(client: &Client, stream: &str, group: &str, consumer: &str) -> Self {
        Self {
            client: dedicated_client(client),
            connection: OnceCell::new(),
            stream: stream.into(),
            group: group.into(),
            consumer: consumer.into(),
            batch_size: 10,
            block: Duration::from_secs(1),
            claim_idle: None,
            retry_delay: Duration::from_millis(200),
            limits: ExtractLimits::DEFAULT,
            read_pending: true,
        }
    }

    /// Entries read per round (`COUNT`, default 10, at least 1).
    pub fn batch_size(mut self, count: u64) -> Self {
        self.batch_size = count.max(1);
        self
    }

    /// How long a read waits for new entries (`BLOCK`, default 1 s).
    pub fn block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// Takes over entries pending in another consumer for at least `idle`.
    pub fn claim_idle(mut self, idle: Duration) -> Self {
        self.claim_idle = Some(idle);
        self
    }

    /// How long [`serve`](Self::serve) waits before a round that follows a failure
    /// (default 200 ms), so a failing handler does not spin.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Bounds on the fields decoded per entry (see the module docs).
    pub fn extract_limits(mut self, limits: ExtractLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The stream key.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Creates the consumer group (and the stream) if it does not exist; a new group
    /// starts at the beginning of the stream.
    pub async fn create_group(&self) -> Result<(), RedisStreamError> {
        match self
            .connected()
            .await?
            .xgroup_create::<Value, _, _, _>(&*self.stream, &*self.group, "0", true)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if error.details().starts_with("BUSYGROUP") => Ok(()),
            Err(error) => Err(RedisStreamError::redis("XGROUP CREATE", error)),
        }
    }

    /// Reads the next entries as messages (ids set to the entry ids).
    pub async fn read(&mut self) -> Result<Vec<Message>, RedisStreamError> {
        if self.read_pending {
            let entries = self.read_group("0", None).await?;
            if !entries.is_empty() {
                return self.decode_entries(entries).await;
            }
            self.read_pending = false;
        }
        if let Some(idle) = self.claim_idle {
            let min_idle = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
            let reply = self
                .connected()
                .await?
                .xautoclaim::<Value, _, _, _, _>(
                    &*self.stream,
                    &*self.group,
                    &*self.consumer,
                    min_idle,
                    "0-0",
                    Some(self.batch_size),
                    false,
                )
                .await
                .map_err(|error| RedisStreamError::redis("XAUTOCLAIM", error))?;
            let entries = decode::autoclaim_reply(reply);
            if !entries.is_empty() {
                return self.decode_entries(entries).await;
            }
        }
        let block = u64::try_from(self.block.as_millis()).unwrap_or(u64::MAX);
        let entries = self.read_group(">", Some(block)).await?;
        self.decode_entries(entries).await
    }

    /// Acknowledges entries (`XACK`).
    pub async fn ack(&self, ids: Vec<String>) -> Result<(), RedisStreamError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.connected()
            .await?
            .xack::<Value, _, _, _>(&*self.stream, &*self.group, ids)
            .await
            .map(drop)
            .map_err(|error| RedisStreamError::redis("XACK", error))
    }

    /// Reads once and passes each message to `service` (a [`ConsumeLayer`]-wrapped
    /// handler, usually), acknowledging those it acked.
    ///
    /// Handler errors are recorded on the span by the layer and leave the entry
    /// pending; only Redis failures are returned.
    ///
    /// [`ConsumeLayer`]: crate::ConsumeLayer
    pub async fn handle_next<S>(&mut self, service: &mut S) -> Result<Handled, RedisStreamError>
    where
        S: Service<Delivery, Response = Settlement>,
    {
        let messages = self.read().await?;
        let mut handled = Handled::default();
        let mut acked = Vec::with_capacity(messages.len());
        for message in messages {
            let id = message.id().unwrap_or_default().to_owned();
            let outcome = match poll_fn(|cx| service.poll_ready(cx)).await {
                Ok(()) => service.call(self.delivery(message)).await,
                Err(error) => Err(error),
            };
            if matches!(outcome, Ok(Settlement::Ack)) {
                acked.push(id);
            } else {
                handled.pending += 1;
            }
        }
        handled.acked = acked.len();
        self.read_pending |= handled.pending > 0;
        self.ack(acked).await?;
        Ok(handled)
    }

    /// Reads once and passes everything read as one [`Batch`] to `service` (a
    /// [`ConsumeBatchLayer`]-wrapped handler, usually); an ack acknowledges all of it.
    /// An empty read calls nothing.
    ///
    /// [`ConsumeBatchLayer`]: crate::ConsumeBatchLayer
    pub async fn handle_next_batch<S>(
        &mut self,
        service: &mut S,
    ) -> Result<Handled, RedisStreamError>
    where
        S: Service<Batch, Response = Settlement>,
    {
        let messages = self.read().await?;
        if messages.is_empty() {
            return Ok(Handled::default());
        }
        let ids: Vec<String> = messages
            .iter()
            .map(|m| m.id().unwrap_or_default().to_owned())
            .collect();
        let batch = Batch::new(messages, Arc::clone(&self.stream), SYSTEM_REDIS_STREAMS)
            .with_consumer_group(Arc::clone(&self.group));
        let outcome = match poll_fn(|cx| service.poll_ready(cx)).await {
            Ok(()) => service.call(batch).await,
            Err(error) => Err(error),
        };
        if matches!(outcome, Ok(Settlement::Ack)) {
            let acked = ids.len();
            self.ack(ids).await?;
            Ok(Handled { acked, pending: 0 })
        } else {
            self.read_pending = true;
            Ok(Handled {
                acked: 0,
                pending: ids.len(),
            })
        }
    }

    /// Handles entries until Redis fails, and returns that error.
    pub async fn serve<S>(mut self, mut service: S) -> RedisStreamError
    where
        S: Service<Delivery, Response = Settlement>,
    {
        loop {
            match self.handle_next(&mut service).await {
                Ok(handled) if handled.pending > 0 => tokio::time::sleep(self.retry_delay).await,
                Ok(_) => {}
                Err(error) => return error,
            }
        }
    }

    /// The consumer's client, connected on the first call.
    async fn connected(&self) -> Result<&Client, RedisStreamError> {
        self.connection
            .get_or_try_init(|| connect(&self.client))
            .await
            .map_err(|error| RedisStreamError::redis("connect", error))?;
        Ok(&self.client)
    }

    async fn read_group(
        &self,
        id: &str,
        block: Option<u64>,
    ) -> Result<Vec<Entry>, RedisStreamError> {
        let reply = self
            .connected()
            .await?
            .xreadgroup::<Value, _, _, _, _>(
                &*self.group,
                &*self.consumer,
                Some(self.batch_size),
                block,
                false,
                &*self.stream,
                id,
            )
            .await
            .map_err(|error| RedisStreamError::redis("XREADGROUP", error))?;
        Ok(decode::read_reply(reply, &self.stream))
    }

    /// Decodes entries; entries deleted while pending cannot be handled and are acked.
    async fn decode_entries(&self, entries: Vec<Entry>) -> Result<Vec<Message>, RedisStreamError> {
        let mut messages = Vec::with_capacity(entries.len());
        let mut deleted = Vec::new();
        for entry in entries {
            match entry.fields {
                Some(fields) => messages.push(decode::message(entry.id, fields, self.limits)),
                None => deleted.push(entry.id),
            }
        }
        self.ack(deleted).await?;
        Ok(messages)
    }

    fn delivery(&self, message: Message) -> Delivery {
        Delivery::new(message, Arc::clone(&self.stream), SYSTEM_REDIS_STREAMS)
            .with_consumer_group(Arc::clone(&self.group))
    }
}

impl Drop for RedisStreamConsumer {
    /// Closes the consumer's connection: its task would otherwise run (and reconnect)
    /// for as long as the process does.
    fn drop(&mut self) {
        if let Some(task) = self.connection.get() {
            task.abort();
        }
    }
}

/// Connects `client` (like `ClientLike::init`) and returns its connection task, which
/// is stopped instead when connecting fails or the caller stops waiting.
async fn connect(client: &Client) -> Result<AbortHandle, FredError> {
    let mut task = client.connect();
    let mut stop = StopUnlessConnected {
        task: task.abort_handle(),
        connected: false,
    };
    tokio::select! {
        connected = client.wait_for_connect() => connected?,
        ended = &mut task => {
            return Err(match ended {
                Ok(Err(error)) => error,
                _ => FredError::new(ErrorKind::Canceled, "the connection task ended"),
            });
        }
    }
    stop.connected = true;
    Ok(task.abort_handle())
}

/// Aborts a connection task when dropped before it connected.
struct StopUnlessConnected {
    task: AbortHandle,
    connected: bool,
}

impl Drop for StopUnlessConnected {
    fn drop(&mut self) {
        if !self.connected {
            self.task.abort();
        }
    }
}

/// A new, unconnected client with `client`'s configuration (like `Client::clone_new`)
/// whose commands open no `tracing` spans: trace-redis would make each poll a root span.
fn dedicated_client(client: &Client) -> Client {
    let mut config = client.client_config();
    config.tracing = TracingConfig::default();
    let mut policy = client.client_reconnect_policy();
    if let Some(
        ReconnectPolicy::Constant { attempts, .. }
        | ReconnectPolicy::Linear { attempts, .. }
        | ReconnectPolicy::Exponential { attempts, .. },
    ) = policy.as_mut()
    {
        *attempts = 0;
    }
    Client::new(
        config,
        Some(client.perf_config()),
        Some(client.connection_config().clone()),
        policy,
    )
}
