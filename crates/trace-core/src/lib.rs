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
//! | Lifecycle | [`init`], [`TracingBuilder`], [`TracingGuard`], [`ExportReport`], [`set_provider`]: OTLP http/protobuf, http/json, gRPC; console waterfall; OTLP-JSON lines; HTML page |
//! | Export | [`export::OtlpBatchProcessor`] (features `otlp-http`, `otlp-grpc`): the batch export pipeline `init` uses for OTLP http/protobuf and gRPC, in any provider; [`export::ExportStatus`], its counts at any time |
//! | Other signals | [`resource`] (the service's resource, one `service.instance.id` per process), [`export::otlp_log_exporter`] (feature `otlp-logs`: OTLP log export with the traces' settings) |
//! | Seeing traces locally | [`export::ConsoleTreeExporter`] (one stitched waterfall per trace), `export::HtmlExporter` (feature `html`: a self-contained page), [`export::OtlpJsonTraces`] (files captured elsewhere) |
//! | Spans | [`ScopedTracer`], [`SpanStart`], [`TracedSpan`], [`record_error_on`] |
//! | Failures | [`ErrorType`] (`error.type`), [`status_message`] and [`MAX_STATUS_MESSAGE_LEN`] (the status message) |
//! | Sampling | [`Sampling`] (from configuration), [`ProbabilitySampler`] |
//! | Context | [`in_context`], [`spawn_in_current_context`], [`spawn_in_context`], [`correlation_id`] |
//! | Propagation | [`propagation`]: strict W3C Trace Context (Level 1 and 2) and Baggage |
//! | Carriers | [`carrier`]: HTTP headers, case-keeping maps, environment variables for subprocesses |
//! | Testing | [`testing::SpanCapture`] (feature `testing`): per-thread captures that let tests run in parallel, or a process-wide one |
//!
//! ## The instrumentation contract
//!
//! Every trace-rs crate follows these rules; trace-core defines them once.
//!
//! - **`error.type`**: a low-cardinality code when the failure has one (an HTTP
//!   status, a SQLSTATE, a Redis error prefix), else the error's fully-qualified type
//!   name; identifiers the instrumentation writes itself are lowercase snake case
//!   (`timeout`, `io`). Built with [`ErrorType`].
//! - **The status message** of a failed span is the error's `Display` text, at most
//!   [`MAX_STATUS_MESSAGE_LEN`] bytes ([`status_message`]), never a payload;
//!   [`TracedSpan::record_error`] and [`record_error_on`] apply both rules.
//! - **Options that capture data** (statements, parameters, headers) are named
//!   `capture_*`, and their limits `max_*_length`: `capture_statement`,
//!   `max_statement_length`, `capture_parameters`, `capture_request_headers`.
//! - **A `Layer` is a tower `Layer`.** A `tracing-subscriber` layer is named
//!   `*SubscriberLayer` or lives in a `subscriber` module.
//! - **Attribute names** are the semantic conventions' constants where the conventions
//!   define one; every other name is under `trace_rs.*` (`trace_rs.pipeline.name`),
//!   exported as a constant by the crate that emits it and listed in
//!   `docs/conventions.md`.
//!
//! ## Any provider
//!
//! Every span goes through an `opentelemetry_sdk` tracer, so the provider's sampler, ID
//! generator, span limits and processors (`on_start` and `on_end`) apply. The provider
//! is the one [`init`] built (customised with [`TracingBuilder`]), one handed over with
//! [`set_provider`], or else `opentelemetry::global`'s: a service that sets OpenTelemetry
//! up itself and never calls `init` still gets every span, in its own provider.
//!
//! ## Cost and sampling
//!
//! [`ScopedTracer::start`] checks "disabled?" (one atomic load) before it calls the
//! closure that builds the span's [`SpanStart`]: disabled spans build and allocate
//! nothing. Otherwise the provider's sampler sees the name and the attributes in
//! `SpanStart`; attributes added with [`TracedSpan::set_attributes`] are built only for
//! spans that record. A span the sampler drops still has a span context of its own,
//! which its children and outgoing calls follow, so a trace is never cut into
//! fragments; it costs that span context and what the sampler is given.
//! `cargo bench -p trace-core --bench span_cost` prints the figures beside the raw SDK's.
//!
//! ## Feature flags
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `otlp-http` | yes | OTLP over HTTP: http/protobuf through the batch export pipeline (hyper), http/json through opentelemetry-otlp with a blocking reqwest client; rustls (ring) for `https` |
//! | `otlp-grpc` | yes | OTLP over gRPC through the batch export pipeline (HTTP/2 with hyper); no Tokio runtime needed |
//! | `tracing` | no | [`tracing_bridge::layer`]: `tracing` spans in the same traces, both directions; install it before or after [`init`]; sea-orm's, sqlx's and fred's own spans are filtered out by default ([`tracing_bridge::BridgeFilter`]) |
//! | `otlp-logs` | no | [`export::otlp_log_exporter`]: an OTLP log exporter built from the same [`Config`] as the span exporter (endpoint with `/v1/logs` or `logs_endpoint`, protocol, headers, TLS `certificate`, timeout, compression); trace-log's `otlp-logs` uses it |
//! | `html` | no | `export::HtmlExporter` and exporter `html`: one self-contained HTML page of the finished traces; `export::OtlpJsonTraces::to_html_page` |
//! | `testing` | no | [`testing::SpanCapture`]: in-memory capture with span-tree assertions, per thread (parallel tests, no lock) or process-wide; with `otlp-http` or `otlp-grpc`, `testing::OtlpTraceEncoder`: the OTLP protobuf encoder, for tests and benchmarks |
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
mod failure;
mod guard;
mod known_sampler;
mod lifecycle;
pub mod propagation;
mod resource;
mod reused;
mod sampling;
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
pub use failure::{ErrorType, MAX_STATUS_MESSAGE_LEN, status_message};
pub use guard::TracingGuard;
pub use lifecycle::{TracingBuilder, init};
pub use resource::resource;
pub use sampling::{ProbabilitySampler, Sampling};
pub use span_start::SpanStart;
pub use traced_span::{TracedSpan, record_error_on};
pub use tracer::ScopedTracer;
