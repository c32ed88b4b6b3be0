//! trace-redis: an OpenTelemetry CLIENT span for every [fred](https://docs.rs/fred)
//! (Redis) command, parented on the caller's context, with no change to the calling
//! code.
//!
//! ## Quick start
//!
//! ```
//! use fred::prelude::*;
//! use tracing_subscriber::layer::SubscriberExt;
//! use trace_core::{config::ExporterKind, Config as TracingConfig};
//! use trace_redis::RedisFutureExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = trace_core::init(&TracingConfig {
//!     service_name: Some("cache-service".into()),
//!     exporters: vec![ExporterKind::Console],
//!     ..TracingConfig::default()
//! })?;
//! // 1. The layer turns fred's per-command spans into OpenTelemetry spans.
//! tracing::subscriber::set_global_default(
//!     tracing_subscriber::registry().with(trace_redis::RedisSubscriberLayer::new()),
//! )?;
//!
//! // 2. The client opens those spans and is registered for server/database attributes.
//! # let url = std::env::var("TRACE_RS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
//! let mut config = Config::from_url(&url)?;
//! trace_redis::enable_command_spans(&mut config);
//! let client = Builder::from_config(config).build()?;
//! trace_redis::register(&client);
//! # if client.init().await.is_err() { eprintln!("no redis-server at {url}"); return Ok(()); }
//! # /*
//! client.init().await?;
//! # */
//!
//! // Every command now has a span: `SET`, `GET`, ... (children of the caller's span).
//! let _: () = client.set("doc:greeting", "hello", None, None, false).await?;
//! let _: Option<String> = client.get("doc:greeting").await?;
//! // `.traced()` adds the outcome: error status and `db.response.status_code`.
//! let failed = client.lpush::<i64, _, _>("doc:greeting", "x").traced().await;
//! assert!(failed.is_err()); // WRONGTYPE, recorded on the `LPUSH` span
//! # let _: i64 = client.del("doc:greeting").await?;
//!
//! client.quit().await?;
//! guard.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! Run `cargo run -p trace-redis --example commands` for a complete program.
//!
//! ## How it works, and what fred does not expose
//!
//! fred has no command hook, and its `ClientLike` trait cannot be implemented outside
//! fred. Its `partial-tracing` feature opens a `tracing` span named `fred.command` around
//! every command, inside the poll of the caller's future. [`RedisSubscriberLayer`] turns
//! each into an OpenTelemetry span whose parent is
//! [`Context::current`](opentelemetry::Context::current) at that moment: the caller's.
//! That covers every command of every interface (keys, hashes, lists, sets, sorted sets,
//! streams, publish, scripts, custom commands) on clients and pools.
//!
//! fred gives those spans the command name and the reply's size, never the arguments
//! nor the reply, and turns an error reply into an `Err` only after its span closed.
//! So, per command:
//!
//! | Property | Automatic | How to get it |
//! |---|---|---|
//! | span, name, parent, timing, `db.operation.name`, `db.system.name` | yes | |
//! | `server.address`, `server.port`, `db.namespace` | yes, after [`register`] | centralized configs; clustered and sentinel configs give `db.namespace` only |
//! | status `Error`, `error.type`, `db.response.status_code` | no | [`RedisFutureExt::traced`] on the command's future |
//! | `db.query.text` | no (fred does not expose arguments) | [`Traced::with_args`], sanitized by [`StatementOptions`] |
//! | one `PIPELINE` / `MULTI` span | no (fred's `all`/`exec` open no span) | [`pipeline`] / [`transaction`] around the batch |
//! | connection events | no | [`log_connection_events`] |
//!
//! The decision and its alternatives are recorded in
//! `docs/adr/0001-fred-instrumentation.md` at the repository root.
//!
//! ## Spans and attributes
//!
//! | Span | Kind | Attributes |
//! |---|---|---|
//! | the command name: `GET`, `HSET`, `XADD`, `SCRIPT LOAD`, a custom command's name | CLIENT | `db.system.name` = `redis`, `db.operation.name`, `db.namespace` (database index), `server.address`, `server.port`; with [`traced`](RedisFutureExt::traced): `error.type` and `db.response.status_code` on failure; with [`with_args`](Traced::with_args): `db.query.text` (`HSET user:1 name ?`) |
//! | `PIPELINE` / `MULTI` | CLIENT | as above, plus `db.operation.batch.size` and [`REDIS_COMMANDS`] (the queued command names) |
//!
//! Spans go through the SDK tracer of the provider in use (`trace_core::init`'s, one
//! handed over with `trace_core::set_provider`, or `opentelemetry::global`'s). fred
//! names a command only after its span has started, so the sampler sees the name
//! `redis` (renamed to the command right after), `db.system.name` and, after
//! [`register`], `server.address`, `server.port` and `db.namespace`; a `PIPELINE` /
//! `MULTI` span's sampler sees its name, `db.system.name` and `db.operation.name`.
//!
//! Status is unset on success, including a nil reply. On failure it is `Error` with
//! `error.type` set to the server's error prefix (`WRONGTYPE`, `ERR`, `NOSCRIPT`, ...)
//! or, for failures in the client, fred's error kind in lowercase snake case (`io`,
//! `timeout`, `canceled`, `invalid_argument`, ...), by trace-core's
//! [`ErrorType`](trace_core::ErrorType) rule. Error messages are not recorded: Redis
//! echoes arguments in some of them, so the status message is the `error.type`. The
//! connection log lines of [`log_connection_events`] give the same `error.type`.
//! A caller that drops a command's future before the reply ends the span without an
//! error.
//!
//! `AUTH`, `HELLO ... AUTH`, `MIGRATE ... AUTH`, `ACL SETUSER` and `CONFIG SET` never
//! get a `db.query.text`; values are masked by default.
//!
//! ## Cost
//!
//! Disabled commands allocate nothing in this crate. Every other command starts an
//! OpenTelemetry span, with one allocation for the attributes its sampler sees; an
//! unsampled one is dropped at once, a sampled one is renamed, recorded and ended. fred's
//! `fred.command` span costs the subscriber's span bookkeeping whether or not the command
//! is sampled; [`RedisSubscriberLayer`] switches off fred's nested `fred.rtt` span (see
//! [`RedisSubscriberLayer::keep_inner_spans`]), which spares it one of fred's two spans.
//! `cargo bench -p trace-redis --bench command_overhead` prints the figures against an
//! untraced client on the same server.
//!
//! ## Using it with tracing-opentelemetry
//!
//! If the service also exports `tracing` spans through tracing-opentelemetry, fred's
//! `fred.command` spans (and `fred.rtt` with [`RedisSubscriberLayer::keep_inner_spans`])
//! would be exported a second time. trace-core's `tracing_bridge::layer()` leaves the
//! `fred` target out by default; a tracing-opentelemetry layer of your own needs a
//! per-layer filter that does the same (for example
//! `tracing_subscriber::filter::Targets::new().with_target("fred", LevelFilter::OFF)`).
//! fred opens its spans at `INFO`: a global filter that drops `INFO` for `fred` drops the
//! Redis spans too.
//!
//! ## Feature flags
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `i-std` | yes | fred's standard interfaces (keys, hashes, lists, sets, sorted sets, streams, pub/sub, server) |
//! | `transactions` | no | fred's `MULTI`/`EXEC` transactions, for [`transaction`] |
//! | `i-scripts` | no | fred's Lua script and function interfaces |
//!
//! Other fred features can be enabled on fred directly; every command they add is
//! covered the same way.
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.94 (the declared `rust-version`). Target
//! library: fred 10.0.1 to 10.1 (the `fred.command` span and its `client.id`,
//! `cmd.name` and `cmd.res` fields are what this crate reads; they are the same across
//! 10.x). 10.0.0 works too, but its commands issued during an outage hang after the
//! reconnect, a fred bug fixed in 10.0.1.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod clients;
mod command_names;
mod events;
mod failure;
mod fields;
mod in_flight;
mod scope;
mod statement;
mod subscriber;
mod traced;

pub use batch::{BatchFuture, MAX_BATCH_NAMES, REDIS_COMMANDS, pipeline, transaction};
pub use clients::{enable_command_spans, register, register_pool, unregister};
pub use events::{ConnectionEvents, EVENTS_TARGET, log_connection_events};
pub use statement::{MaskRule, StatementOptions};
pub use subscriber::RedisSubscriberLayer;
pub use traced::{ArgsFn, CommandArgs, NoArgs, RedisFutureExt, Traced};
