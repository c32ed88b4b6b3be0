//! Carriers: where propagated context is read from and written to.
//!
//! Every carrier here implements `opentelemetry`'s [`Extractor`] and/or
//! [`Injector`], so any propagator can use it:
//!
//! - [`HeaderExtractor`] / [`HeaderInjector`] for [`::http::HeaderMap`];
//! - [`MapExtractor`] / [`MapInjector`] for string maps and pair lists, keeping
//!   the key case on write and matching keys case-insensitively on read;
//! - [`EnvExtractor`] / [`EnvInjector`] and the command helpers for handing a
//!   context to a child process through `TRACEPARENT`, `TRACESTATE`, `BAGGAGE`.
//!
//! [`Extractor`]: opentelemetry::propagation::Extractor
//! [`Injector`]: opentelemetry::propagation::Injector

mod env;
mod http;
mod map;

pub use env::{
    EnvExtractor, EnvInjector, context_from_process_env, env_var_name, inject_into_command,
    inject_into_tokio_command,
};
pub use http::{HeaderExtractor, HeaderInjector};
pub use map::{MapExtractor, MapInjector};
