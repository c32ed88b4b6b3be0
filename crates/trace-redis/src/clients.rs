//! Setting a fred client up for tracing: turning fred's own command spans on, and
//! remembering each client's server and database for the span attributes.

use std::sync::{Arc, RwLock};

use fred::clients::Pool;
use fred::interfaces::ClientLike;
use fred::types::config::{Config, ServerConfig, TracingConfig};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{DB_NAMESPACE, SERVER_ADDRESS, SERVER_PORT};

/// Turns on fred's per-command span (`fred.command`), which the
/// [`RedisSubscriberLayer`](crate::RedisSubscriberLayer) turns into OpenTelemetry CLIENT
/// spans.
///
/// Call it on the [`Config`] before building the client (or pool), then [`register`]
/// the client. fred opens its spans at `INFO`; a subscriber filter that drops `INFO`
/// for the `fred` target also drops the Redis spans.
pub fn enable_command_spans(config: &mut Config) {
    config.tracing = TracingConfig::new(true);
}

/// Remembers `client`'s server address, port and database index so that its spans
/// carry `server.address`, `server.port` and `db.namespace`.
///
/// Centralized configurations give all three; clustered and sentinel ones give only
/// the database index, because fred does not say which node served a command.
/// Registering the same client again replaces its entry.
pub fn register<C: ClientLike>(client: &C) {
    let info = Arc::new(ClientInfo::from_config(&client.client_config()));
    let id: Arc<str> = Arc::from(client.id());
    let mut clients = CLIENTS.write().unwrap_or_else(|p| p.into_inner());
    clients.retain(|(known, _)| **known != *id);
    clients.push((id, info));
}

/// [`register`]s every client of `pool`.
pub fn register_pool(pool: &Pool) {
    for client in pool.clients() {
        register(client);
    }
}

/// Forgets `client` (for services that create and drop many clients).
pub fn unregister<C: ClientLike>(client: &C) {
    let id = client.id();
    CLIENTS
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(known, _)| &**known != id);
}

/// Attributes known from a client's configuration, built once at registration.
#[derive(Debug)]
pub(crate) struct ClientInfo {
    pub(crate) attributes: Vec<KeyValue>,
}

impl ClientInfo {
    fn from_config(config: &Config) -> Self {
        let mut attributes = Vec::with_capacity(3);
        if let ServerConfig::Centralized { server } = &config.server {
            attributes.push(KeyValue::new(
                SERVER_ADDRESS,
                StringValue::from(Arc::<str>::from(&*server.host)),
            ));
            attributes.push(KeyValue::new(SERVER_PORT, i64::from(server.port)));
        }
        let database = config.database.unwrap_or(0);
        // Reference-counted strings: each span clones them without allocating.
        attributes.push(KeyValue::new(
            DB_NAMESPACE,
            StringValue::from(Arc::<str>::from(database.to_string())),
        ));
        Self { attributes }
    }
}

type Registered = Vec<(Arc<str>, Arc<ClientInfo>)>;

/// Registered clients by fred client id; a short list scanned when a command span starts.
static CLIENTS: RwLock<Registered> = RwLock::new(Vec::new());

/// The registered attributes of the client with fred id `id`.
pub(crate) fn lookup(id: &str) -> Option<Arc<ClientInfo>> {
    CLIENTS
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(known, _)| &**known == id)
        .map(|(_, info)| Arc::clone(info))
}
