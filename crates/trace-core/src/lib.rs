//! trace-core: configuration, tracer-provider lifecycle, strict W3C propagators,
//! context helpers and test support for OpenTelemetry tracing in Rust services.
//!
//! It is the foundation of the trace-rs crates (`trace-http`, `trace-db`, ...), and is
//! useful on its own for any service that wants OTLP traces with sane defaults.
//!
//! ## Quick start
//!
//! ```
//! use opentelemetry::trace::SpanKind;
//! use opentelemetry::KeyValue;
//! use trace_core::{config::ExporterKind, Config, ScopedTracer, SpanStart};
//!
//! static TRACER: ScopedTracer = ScopedTracer::new("my-service", env!("CARGO_PKG_VERSION"));
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Defaults < tracing.yaml < APP_TRACING_* < OTEL_* variables.
//! let config = trace_core::ConfigLoader::new()
//!     .defaults(Config {
//!         service_name: Some("my-service".into()),
//!         exporters: vec![ExporterKind::Console],
//!         ..Config::default()
//!     })
//!     .load()?;
//! let guard = trace_core::init(&config)?;
//!
//! let span = TRACER.start(SpanKind::Server, || {
//!     // Runs only when the span is sampled.
//!     SpanStart::new("GET /users/{id}").with_attribute(KeyValue::new("http.route", "/users/{id}"))
//! });
//! span.end();
//!
//! guard.shutdown()?; // flushes within `shutdown_timeout_ms`
//! # Ok(())
//! # }
//! ```
//!
//! Run the full example with `cargo run -p trace-core --example quickstart`.
//!
//! ## What is in here
//!
//! | Area | Items |
//! |---|---|
//! | Configuration | [`Config`], [`ConfigLoader`], [`ConfigError`]; every key in `docs/configuration.md` |
//! | Lifecycle | [`init`], [`TracingGuard`], [`ExportReport`]: OTLP http/protobuf, http/json, gRPC; console tree; OTLP-JSON lines |
//! | Spans | [`ScopedTracer`], [`SpanStart`], [`TracedSpan`], [`record_error_on`] |
//! | Context | [`in_context`], [`spawn_in_current_context`], [`spawn_in_context`], [`correlation_id`] |
//! | Propagation | [`propagation`]: strict W3C Trace Context (Level 1 and 2) and Baggage |
//! | Carriers | [`carrier`]: HTTP headers, case-keeping maps, environment variables for subprocesses |
//! | Testing | [`testing::SpanCapture`] (feature `testing`) |
//!
//! ## Cost
//!
//! [`ScopedTracer::start`] checks "enabled?" (one atomic load) before anything else: a
//! disabled span is a no-op that allocates nothing. Otherwise the closure builds the
//! span's name and the attributes its sampler sees, and the span goes through the
//! provider's SDK tracer. A span the sampler drops is the SDK's non-recording span with
//! a span context of its own: it costs what the sampler was given, and one allocation
//! when its context is taken. Attributes added with [`TracedSpan::set_attributes`] are
//! built only for a span that records. `cargo bench -p trace-core --bench span_cost`
//! prints the figures beside the raw SDK's and `tracing` + tracing-opentelemetry's.
//!
//! An unsampled root span has a trace id of its own: child work runs in its context,
//! and downstream services see its `traceparent` with the sampled flag off and follow
//! the decision.
//!
//! ## Feature flags
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `otlp-http` | yes | OTLP over HTTP (protobuf and JSON) with a blocking reqwest client on the exporter thread, rustls (ring) for `https` |
//! | `otlp-grpc` | yes | OTLP over gRPC (tonic); `init` must then run inside a Tokio runtime |
//! | `tracing` | no | [`tracing_bridge::layer`]: `tracing` spans in the same traces, both directions |
//! | `testing` | no | [`testing::SpanCapture`]: in-memory capture with span-tree assertions |
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.94 (the workspace's `rust-version`, set by
//! sea-orm 2.0 in the sibling crates). CI builds with the current stable toolchain.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod active;
pub mod carrier;
pub mod config;
mod context;
mod error;
pub mod export;
mod guard;
mod lifecycle;
pub mod propagation;
mod resource;
mod reused;
mod sampling;
mod shared_name;
mod span_start;
#[cfg(feature = "testing")]
pub mod testing;
mod traced_span;
mod tracer;
#[cfg(feature = "tracing")]
pub mod tracing_bridge;

pub use active::{is_enabled, set_provider};
pub use config::{Config, ConfigError, ConfigLoader};
pub use context::{
    correlation_id, current_trace_id, in_context, spawn_in_context, spawn_in_current_context,
};
pub use error::{InitError, ShutdownError};
pub use export::ExportReport;
pub use guard::TracingGuard;
pub use lifecycle::{TracingBuilder, init};
pub use sampling::{ProbabilitySampler, Sampling};
pub use shared_name::shared_name;
pub use span_start::SpanStart;
pub use traced_span::{TracedSpan, record_error_on};
pub use tracer::ScopedTracer;
