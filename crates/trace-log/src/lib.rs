//! trace-log: `trace_id`, `span_id` and `trace_flags` on every log line written inside
//! a trace, so Grafana, Tempo and Jaeger can jump from a log line to its span, for
//! both the human-readable and the JSON output of tracing-subscriber's `fmt` layer.
//!
//! ## Quick start
//!
//! ```
//! use opentelemetry::trace::SpanKind;
//! use trace_core::{config::ExporterKind, Config, ScopedTracer, SpanStart};
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! static TRACER: ScopedTracer = ScopedTracer::new("orders", "1.0.0");
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = trace_core::init(&Config {
//!     service_name: Some("orders".into()),
//!     exporters: vec![ExporterKind::Console],
//!     ..Config::default()
//! })?;
//! tracing_subscriber::registry()
//!     .with(trace_core::tracing_bridge::layer()) // `tracing` spans in the same traces
//!     .with(trace_log::json_layer())              // or `trace_log::text_layer()`
//!     .init();
//! // Records of the `log` crate too. With tracing-subscriber's default `tracing-log`
//! // feature `.init()` has installed this already, and a second install fails.
//! let _ = trace_log::LogTracer::init();
//!
//! tracing::info!("starting"); // no trace: no ids
//! let span = TRACER.start(SpanKind::Server, || SpanStart::new("GET /orders/{id}"));
//! {
//!     let _active = span.context().clone().attach();
//!     // {"timestamp":"…","level":"INFO","target":"…","trace_id":"4bf9…","span_id":"00f0…","trace_flags":"01","fields":{"message":"order found","order.id":42}}
//!     tracing::info!(order.id = 42, "order found");
//! }
//! span.end();
//! guard.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! `cargo run -p trace-log --example json_logs` prints JSON lines next to the console
//! tree of the spans they belong to.
//!
//! ## Fields written
//!
//! | Field | Value | When |
//! |---|---|---|
//! | `trace_id` | 32 lowercase hex characters | the line is written inside a valid span context |
//! | `span_id` | 16 lowercase hex characters | same |
//! | `trace_flags` | 2 lowercase hex characters, the span's W3C trace flags: `01` sampled, `00` not sampled (the span is not exported, its ids still tie lines together); `02`/`03` when a caller set the W3C Level 2 random flag | same |
//!
//! The names are the OpenTelemetry log-correlation names; [`TraceIdFields`] renames
//! them. Lines outside any trace get none of the three (never all-zero ids). A line
//! inside an unsampled span (an unsampled request's server span, say) carries that
//! span's trace id (the caller's, or a new one at a root) and span id with
//! `trace_flags` `00`, so it still correlates with the upstream trace.
//!
//! [`JsonFormat`] writes them as top-level members; [`WithTraceIds`] appends them as
//! `key=value` pairs to any human-readable format. trace-log emits no spans.
//!
//! ## Which span a line belongs to
//!
//! The active OpenTelemetry context ([`Context::current`](opentelemetry::Context::current)):
//! the innermost span of either kind. trace-core spans become active through
//! `Context::attach`, [`trace_core::in_context`] and
//! [`trace_core::spawn_in_current_context`]; `tracing` spans (`#[instrument]`,
//! `info_span!`) become active when entered, because trace-core's
//! [`tracing_bridge`](trace_core::tracing_bridge) turns on tracing-opentelemetry's
//! context activation. That context is also the parent of any span started at that
//! point and the one the OpenTelemetry logs SDK stamps on exported records, so the ids
//! in a line, the exported span tree and an exported log record agree.
//!
//! With feature `tracing` and the format's [`TracingSpanLookup`] layer added, two cases
//! read the `tracing` span instead: an event with an explicit `parent:` gets that span's
//! ids (tracing-opentelemetry records the event on it), and when no OpenTelemetry
//! context is active the current `tracing` span's context is used (a bridge built
//! without context activation).
//!
//! ## Cost
//!
//! Reading the context borrows it in place (no clone); the ids are rendered from a
//! template made once per format, filled in on the stack and written with one
//! `write_str`. [`WithTraceIds`] lets its inner format write into a per-thread buffer
//! it reuses, so the ids can go before the newline. No allocation per line.
//! `cargo bench -p trace-log --bench log_line` prints the cost per line against the
//! same format without correlation.
//!
//! ## Feature flags
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `tracing` | no | [`TracingSpanLookup`]: ids of `tracing` spans that are not the active context (explicit parents, no context activation) |
//! | `otlp-logs` | no | `otlp` module: log records exported over OTLP through the OpenTelemetry logs bridge, with the same trace ids, by trace-core's exporter (same endpoint rules, headers, TLS `certificate`, timeout, compression) and with its resource (same `service.instance.id` as the spans) |
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.94 (the workspace's `rust-version`).
//! tracing-subscriber 0.3.22 to 0.3.23 (0.3.22 is the oldest tracing-opentelemetry
//! 0.34 accepts, and the first whose `Layered` passes `on_register_dispatch` on, which
//! [`TracingSpanLookup`] needs), opentelemetry 0.33, tracing-log 0.2.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod ids;
mod json;
mod json_fields;
mod layer;
mod lookup;
#[cfg(feature = "otlp-logs")]
pub mod otlp;
mod text;

pub use ids::TraceIdFields;
pub use json::JsonFormat;
pub use layer::{json_layer, text_layer};
#[cfg(feature = "tracing")]
pub use lookup::TracingSpanLookup;
pub use text::WithTraceIds;
/// tracing-log's `log` logger: `LogTracer::init()` forwards every `log` record to
/// `tracing`, where these formats give it the same ids.
pub use tracing_log::LogTracer;
