//! trace-http: OpenTelemetry server middleware for hyper and axum, and traced reqwest
//! and hyper clients, on top of trace-core.
//!
//! ## Feature flags
//!
//! ## Supported Rust versions
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
