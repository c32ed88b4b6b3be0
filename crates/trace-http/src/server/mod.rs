//! Server middleware: a tower layer for hyper 1 services and axum 0.8 routers.
//!
//! [`HttpServerLayer`] builds [`HttpServerService`]s, whose [`ResponseFuture`] yields a
//! response with a [`ResponseBody`] that ends the span once the body has been sent.

mod attributes;
mod body;
mod config;
mod future;
mod layer;
mod service;

pub use body::ResponseBody;
pub use config::{DEFAULT_SKIP_PATHS, NEVER_CAPTURED_HEADERS, RouteFn, SkipFn, TraceIdHeader};
pub use future::ResponseFuture;
pub use layer::HttpServerLayer;
pub use service::HttpServerService;
