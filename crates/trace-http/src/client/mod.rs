//! Client instrumentation: a CLIENT span per attempt, context injected into the request.
//!
//! - [`reqwest`](crate::client::reqwest) (feature `reqwest`): a `reqwest_middleware` middleware;
//! - [`tower`](crate::client::tower) (feature `hyper-client`): a tower layer for hyper-util's
//!   client or any `Service<http::Request<B>>`.

mod span;

#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "hyper-client")]
pub mod tower;

pub use span::{ResendCount, UrlTemplate};
