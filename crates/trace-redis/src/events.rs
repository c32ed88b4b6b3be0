//! Connection events (connected or reconnected, connection errors) as log lines.

use fred::error::Error as FredError;
use fred::interfaces::EventInterface;
use fred::types::config::Server;
use tokio::task::JoinHandle;

use crate::failure::Failure;

/// The `tracing` target of the connection log lines.
pub const EVENTS_TARGET: &str = module_path!();

/// Writes a `tracing` log line for every connection and reconnection (`INFO`) and every
/// connection error (`WARN`) of `client`, with `client.id`, `server.address` and
/// `server.port` as fields, under the target [`EVENTS_TARGET`]. An error line also has
/// `error.type`, the same value a command span records (the server's error prefix, or
/// fred's error kind such as `io`), and `error.message`, fred's description of the
/// error cut to `trace_core::MAX_STATUS_MESSAGE_LEN` bytes.
///
/// fred reports these events from its connection task, where no request is active, so
/// the lines carry the client and server rather than a trace id. A command that fails
/// because of them still has its own span, parented on the caller (with status when it
/// is [`traced`](crate::RedisFutureExt::traced)).
///
/// Call it before `init` to see the first connection too. The listeners end when the
/// client quits, or with [`ConnectionEvents::stop`].
pub fn log_connection_events<C: EventInterface>(client: &C) -> ConnectionEvents {
    let client_id: std::sync::Arc<str> = client.id().into();
    let id = client_id.clone();
    let reconnect = client.on_reconnect(move |server: Server| {
        let host: &str = &server.host;
        tracing::info!(
            client.id = %id,
            server.address = %host,
            server.port = server.port,
            "redis connected"
        );
        async { Ok(()) }
    });
    let id = client_id;
    let error = client.on_error(move |(error, server): (FredError, Option<Server>)| {
        let (address, port) = server
            .as_ref()
            .map_or(("", 0), |server| (&*server.host, server.port));
        tracing::warn!(
            client.id = %id,
            server.address = %address,
            server.port = port,
            error.type = %Failure::of(&error).error_type,
            error.message = %trace_core::status_message(error.details()),
            "redis connection error"
        );
        async { Ok(()) }
    });
    ConnectionEvents {
        tasks: [reconnect, error],
    }
}

/// The listener tasks started by [`log_connection_events`].
#[derive(Debug)]
pub struct ConnectionEvents {
    tasks: [JoinHandle<Result<(), FredError>>; 2],
}

impl ConnectionEvents {
    /// Stops listening.
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}
