//! Client instrumentation: a CLIENT span per attempt, context injected into the request.
//!
//! - `reqwest` (feature `reqwest`): a `reqwest_middleware` middleware;
//! - `tower` (feature `hyper-client`): a tower layer for hyper-util's
//!   client or any `Service<http::Request<B>>`.

// Only the client integrations use the span helpers.
#[cfg_attr(
    not(any(feature = "reqwest", feature = "hyper-client")),
    allow(dead_code)
)]
mod span;

#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "hyper-client")]
pub mod tower;

pub use span::{ResendCount, UrlTemplate};
