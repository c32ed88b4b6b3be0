//! Redis when there is one: `REDIS_URL`, or a `redis-server` started on a free
//! loopback port. Otherwise the session cache lives in memory.

use std::collections::HashMap;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::{Builder, Client, ClientLike as _, Config, KeysInterface as _};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use tokio::process::{Child, Command};
use trace_core::SpanStart;

use crate::TRACER;

/// trace-redis's layer for the `tracing` subscriber.
pub(crate) fn tracing_layer() -> trace_redis::RedisSubscriberLayer {
    trace_redis::RedisSubscriberLayer::new()
}

/// The Redis the tour uses, if any, and the server it started.
pub(crate) struct Redis {
    /// A traced client, `None` on the in-memory path.
    pub(crate) client: Option<Client>,
    /// Its URL, for clients of its own (stream consumers).
    pub(crate) url: Option<String>,
    /// The line that says which path the tour took.
    pub(crate) description: String,
    server: Option<Child>,
}

impl Redis {
    /// No Redis: session cache in memory, in-process pub/sub.
    pub(crate) fn none(reason: &str) -> Self {
        Self {
            client: None,
            url: None,
            description: format!("redis: {reason}, session cache in memory, in-process pub/sub"),
            server: None,
        }
    }

    /// `REDIS_URL` when set, else a `redis-server` from PATH, else none.
    pub(crate) async fn find() -> Self {
        if let Ok(url) = std::env::var("REDIS_URL") {
            return match connect(&url).await {
                Ok(client) => Self {
                    client: Some(client),
                    url: Some(url.clone()),
                    description: format!("redis: using REDIS_URL {url}"),
                    server: None,
                },
                Err(error) => Self::none(&format!("cannot use REDIS_URL {url} ({error})")),
            };
        }
        match start_server().await {
            Ok(Some((server, port))) => match connect(&format!("redis://127.0.0.1:{port}")).await {
                Ok(client) => Self {
                    client: Some(client),
                    url: Some(format!("redis://127.0.0.1:{port}")),
                    description: format!("redis: started redis-server on 127.0.0.1:{port}"),
                    server: Some(server),
                },
                Err(error) => Self::none(&format!("redis-server started but {error}")),
            },
            Ok(None) => Self::none("none found"),
            Err(error) => Self::none(&format!("redis-server did not start ({error})")),
        }
    }

    /// The session cache for this path.
    pub(crate) fn session_cache(&self) -> SessionCache {
        match &self.client {
            Some(client) => SessionCache::Redis(client.clone()),
            None => SessionCache::Memory(Arc::default()),
        }
    }

    /// Closes the client and stops the server the tour started.
    pub(crate) async fn stop(mut self) {
        if let Some(client) = &self.client {
            let _ = client.quit().await;
        }
        if let Some(server) = &mut self.server {
            let _ = server.kill().await;
        }
    }
}

async fn connect(url: &str) -> Result<Client, String> {
    let mut config = Config::from_url(url).map_err(|error| error.to_string())?;
    trace_redis::enable_command_spans(&mut config);
    let client = Builder::from_config(config)
        .build()
        .map_err(|error| error.to_string())?;
    trace_redis::register(&client);
    let init = tokio::time::timeout(Duration::from_secs(3), client.init()).await;
    match init {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no answer within 3 s".into()),
    }
}

/// Starts `redis-server` without persistence on a free loopback port; `None` when it
/// is not on PATH. The child is killed when dropped.
async fn start_server() -> Result<Option<(Child, u16)>, String> {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map_err(|error| error.to_string())?
        .port();
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let server = match spawned {
        Ok(server) => server,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.to_string()),
    };
    for _ in 0..50 {
        if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .is_ok()
        {
            return Ok(Some((server, port)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("not listening on port {port} after 5 s"))
}

/// Chat sessions: Redis `GET`/`SET`, or a map in memory with a span of its own.
#[derive(Clone)]
pub(crate) enum SessionCache {
    Redis(Client),
    Memory(Arc<Mutex<HashMap<String, String>>>),
}

impl SessionCache {
    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, String> {
        match self {
            Self::Redis(client) => client.get(key).await.map_err(|error| error.to_string()),
            Self::Memory(map) => {
                let span = TRACER.start(SpanKind::Internal, || {
                    SpanStart::new("session.get")
                        .with_attribute(KeyValue::new("tour.cache", "memory"))
                });
                let value = map.lock().map(|map| map.get(key).cloned());
                span.end();
                value.map_err(|_| "session cache poisoned".into())
            }
        }
    }

    pub(crate) async fn set(&self, key: &str, value: &str) -> Result<(), String> {
        match self {
            Self::Redis(client) => client
                .set(key, value, None, None, false)
                .await
                .map_err(|error| error.to_string()),
            Self::Memory(map) => map
                .lock()
                .map(|mut map| {
                    map.insert(key.to_owned(), value.to_owned());
                })
                .map_err(|_| "session cache poisoned".into()),
        }
    }
}
