//! trace-http: OpenTelemetry spans for HTTP services and their outgoing calls, on top
//! of [trace-core](trace_core).
//!
//! - [`server::HttpServerLayer`]: a tower layer for hyper 1 services and axum 0.8
//!   routers. One SERVER span per request, named after the route template, parented by
//!   the incoming `traceparent`, ended when the response body has been sent.
//! - [`client::reqwest::HttpClientMiddleware`] (feature `reqwest`): a CLIENT span per
//!   attempt of a reqwest-middleware call, with the trace context injected.
//! - [`client::tower::HttpClientLayer`] (feature `hyper-client`): the same for
//!   hyper-util's client or any `Service<http::Request<B>>`.
//!
//! ## Quick start
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::get};
//! use trace_core::{Config, config::ExporterKind};
//! use trace_http::server::HttpServerLayer;
//!
//! let guard = trace_core::init(&Config {
//!     service_name: Some("users".into()),
//!     exporters: vec![ExporterKind::Console],
//!     ..Config::default()
//! })?;
//!
//! // `Router::layer` wraps every route, so the span is named `GET /users/{id}`.
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "alice" }))
//!     .layer(HttpServerLayer::new());
//! // With the connection's address, for `client.address` and `network.peer.*`:
//! // axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # let _ = app;
//! guard.shutdown()?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "axum"))]
//! # fn main() {}
//! ```
//!
//! Runnable versions: `cargo run -p trace-http --example axum_server --features axum`,
//! `--example hyper_server`, and `--example reqwest_client --features reqwest`.
//!
//! ## Spans and attributes
//!
//! Semantic conventions v1.44 (stable HTTP names).
//!
//! | Span | Name | Kind | Attributes |
//! |---|---|---|---|
//! | server | `{method} {http.route}`; `{method}` when no route is known (never the raw path); `HTTP` for unknown methods | SERVER | `http.request.method` (`_OTHER` + `http.request.method_original` for unknown methods), `http.route`, `url.path`, `url.scheme`, `url.query` (sensitive values `REDACTED`), `server.address`, `server.port`, `client.address` (`X-Forwarded-For`, else the peer: see below), `network.peer.address`/`port`, `user_agent.original`, `network.protocol.version`, `http.response.status_code`, `error.type`, opt-in `http.request.header.<name>` / `http.response.header.<name>` |
//! | client | `{method}`, or `{method} {url.template}` with a [`client::UrlTemplate`] | CLIENT | `http.request.method`, `url.full` (credentials `REDACTED:REDACTED`, sensitive query values `REDACTED`), `url.template`, `server.address`, `server.port`, `http.response.status_code`, `http.request.resend_count` (retries), `error.type` |
//!
//! `client.address` and `network.peer.*` need the peer's address. axum hands it to the
//! layer only when the app is served with
//! `app.into_make_service_with_connect_info::<SocketAddr>()` (feature `axum`: the layer
//! reads axum's `ConnectInfo`); with `axum::serve(listener, app)` the span has no
//! `network.peer.*`, and `client.address` only when `X-Forwarded-For` names the client.
//! A hyper service gets it per connection with
//! [`HttpServerService::with_peer_addr`](server::HttpServerService::with_peer_addr).
//!
//! The span name and the attributes known when a span starts go to the sampler of the
//! provider in use (see [`trace_core::ScopedTracer`]): for a server span
//! `http.request.method` (and `http.request.method_original`), `url.path`, `url.scheme`,
//! `http.route`, `server.address` and `server.port`, with the other request attributes
//! added only when the span records; for a client span every request attribute
//! (`http.request.method`, `url.full`, `url.template`, `server.address`, `server.port`,
//! `http.request.resend_count`). Response attributes come at the end.
//!
//! Status: unset on success. A server span is `Error` for 5xx (`error.type` = the
//! status code), a handler or response-body error (`error.type` = the error's
//! fully-qualified type name) and a panic (`error.type` = `panic`); 4xx is not an
//! error on a server span. A client span is `Error` for 4xx and 5xx, and for failures
//! (reqwest: `error.type` = `timeout`, `connect`, `request`, ...; the tower layer: the
//! error's type name). This is trace-core's [`ErrorType`](trace_core::ErrorType) rule.
//! The status message is the error's text (a panic's message; reqwest's with the URL
//! redacted as in `url.full`), at most
//! [`MAX_STATUS_MESSAGE_LEN`](trace_core::MAX_STATUS_MESSAGE_LEN) bytes. A cancelled
//! request ends its span without an error.
//!
//! ## Behaviour
//!
//! - **Context.** The parent comes from the incoming headers through the global
//!   propagator (trace-core's strict W3C propagators after `trace_core::init`; all
//!   values of repeated headers are read). The handler runs with the server span as
//!   [`Context::current`](opentelemetry::Context::current), recording or not, so
//!   clients, database crates and log correlation find it; with axum, the
//!   [`axum::ServerSpan`] extractor gives it too. A client span starts under
//!   `Context::current()` and its own context is injected.
//! - **Unsampled requests.** The server span does not record but has a span context of
//!   its own (new span id, the caller's trace id or a new one, sampled flag clear):
//!   the handler's children follow the decision, outgoing calls carry a `traceparent`
//!   with flags `00`, and log lines and the trace-id response header show its trace id.
//! - **Cost.** Disabled tracing reads no header and allocates nothing. An unsampled
//!   request costs its span context (one allocation), plus trace-core's extraction (two
//!   small allocations) when a `traceparent` comes in. With the configured sampler, a
//!   request it drops builds no name or attribute; a sampler of your own sees the name
//!   and the attributes above, so they are built for every request. The other
//!   attributes are built only for a recording span.
//! - **Skip list.** `/livez`, `/readyz`, `/healthz` and `/metrics` (exact paths,
//!   configurable) and requests matching a predicate get no span; the incoming context
//!   is still active in the handler.
//! - **Public endpoints.** [`HttpServerLayer::public_endpoint`](server::HttpServerLayer::public_endpoint)
//!   starts a new trace per request with a link to the caller's span context.
//! - **Trace id to the caller.** [`server::TraceIdHeader`]: off (default), a
//!   `traceresponse` header in `traceparent` format, or the bare id in a named header.
//! - **Secrets.** Header capture is opt-in by name; `authorization`, `cookie`,
//!   `set-cookie` and `proxy-authorization` are never captured. Query values of
//!   [`redact::DEFAULT_SENSITIVE_QUERY_KEYS`] are replaced by `REDACTED`.
//! - **Layer order.** Put [`server::HttpServerLayer`] outside tower-http's
//!   `CatchPanicLayer`: the 500 it makes of a panic is then recorded. Inside it, the
//!   span records the panic (`error.type` = `panic`) and the panic continues outward.
//! - **Beside reqwest-tracing.** [`client::reqwest::HttpClientMiddleware`] works next to
//!   reqwest-tracing's `TracingMiddleware` (built without its `opentelemetry_*`
//!   features): put `TracingMiddleware` first and install trace-core's `tracing` bridge,
//!   and the CLIENT span nests under reqwest-tracing's span.
//!
//! ## Feature flags
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `axum` | no | route names from axum's `MatchedPath`, `ConnectInfo` as the peer, and the [`axum::ServerSpan`] extractor |
//! | `reqwest` | no | [`client::reqwest::HttpClientMiddleware`] for reqwest 0.13 + reqwest-middleware 0.5 |
//! | `hyper-client` | no | [`client::tower::HttpClientLayer`] for hyper-util's legacy client or any tower HTTP client |
//!
//! The server layer is always available; it needs only `http`, `http-body` and tower's
//! traits, so it works with hyper 1.x directly.
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.94 (the workspace's `rust-version`). Target
//! libraries: hyper 1.x (tested with 1.0.0 up to the version in `Cargo.lock`), axum 0.8,
//! reqwest 0.13 with reqwest-middleware 0.5, hyper-util 0.1, tower 0.5.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
pub mod axum;
pub mod client;
mod method;
pub mod redact;
pub mod server;

use trace_core::ScopedTracer;

/// The instrumentation scope of every span this crate starts.
pub(crate) static TRACER: ScopedTracer =
    ScopedTracer::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
