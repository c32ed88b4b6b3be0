//! What the server layer records, and for which requests.

use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use http::request::Parts;
use opentelemetry::Key;

use crate::redact::SensitiveQueryKeys;

/// Finds the route template (`/users/{id}`) of a request; `None` when unknown.
pub type RouteFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;

/// Decides that a request gets no span.
pub type SkipFn = dyn Fn(&Parts) -> bool + Send + Sync;

/// Paths that never get a span by default: health checks and metrics scrapes.
pub const DEFAULT_SKIP_PATHS: &[&str] = &["/livez", "/readyz", "/healthz", "/metrics"];

/// Headers that are never captured, whatever the configuration says.
pub const NEVER_CAPTURED_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// How the trace id is returned to the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceIdHeader {
    /// Not returned (the default).
    #[default]
    Off,
    /// A `traceresponse` header in `traceparent` format: `00-{trace-id}-{span-id}-{flags}`
    /// with the server span's ids.
    TraceResponse,
    /// The 32-hex-digit trace id alone, in the named header (such as `x-trace-id`).
    TraceId(HeaderName),
}

/// A header to record, with its attribute key prepared once.
#[derive(Debug, Clone)]
pub(crate) struct CapturedHeader {
    pub(crate) name: HeaderName,
    pub(crate) key: Key,
}

pub(crate) fn captured_headers<I, N>(prefix: &str, names: I) -> Vec<CapturedHeader>
where
    I: IntoIterator<Item = N>,
    N: AsRef<str>,
{
    let mut headers: Vec<CapturedHeader> = Vec::new();
    for name in names {
        // Invalid names cannot occur in a request, so they are simply never matched.
        let Ok(name) = HeaderName::from_bytes(name.as_ref().trim().as_bytes()) else {
            continue;
        };
        if NEVER_CAPTURED_HEADERS.contains(&name.as_str())
            || headers.iter().any(|header| header.name == name)
        {
            continue;
        }
        let key = Key::new(format!("{prefix}.{}", name.as_str()));
        headers.push(CapturedHeader { name, key });
    }
    headers
}

/// The server layer's settings, shared by every service it builds.
#[derive(Clone)]
pub(crate) struct ServerConfig {
    pub(crate) skip_paths: Vec<Box<str>>,
    pub(crate) skip_if: Option<Arc<SkipFn>>,
    pub(crate) route: Option<Arc<RouteFn>>,
    pub(crate) public_endpoint: bool,
    pub(crate) trace_id_header: TraceIdHeader,
    pub(crate) request_headers: Vec<CapturedHeader>,
    pub(crate) response_headers: Vec<CapturedHeader>,
    pub(crate) query_keys: SensitiveQueryKeys,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            skip_paths: DEFAULT_SKIP_PATHS
                .iter()
                .map(|path| (*path).into())
                .collect(),
            skip_if: None,
            route: default_route(),
            public_endpoint: false,
            trace_id_header: TraceIdHeader::Off,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            query_keys: SensitiveQueryKeys::default(),
        }
    }
}

#[cfg(feature = "axum")]
fn default_route() -> Option<Arc<RouteFn>> {
    Some(Arc::new(crate::axum::matched_path))
}

#[cfg(not(feature = "axum"))]
fn default_route() -> Option<Arc<RouteFn>> {
    None
}

impl ServerConfig {
    /// Whether `parts` gets no span: allocation-free.
    pub(crate) fn is_skipped(&self, parts: &Parts) -> bool {
        let path = parts.uri.path();
        self.skip_paths.iter().any(|skip| **skip == *path)
            || self.skip_if.as_ref().is_some_and(|skip| skip(parts))
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("skip_paths", &self.skip_paths)
            .field("skip_if", &self.skip_if.is_some())
            .field("route", &self.route.is_some())
            .field("public_endpoint", &self.public_endpoint)
            .field("trace_id_header", &self.trace_id_header)
            .field("request_headers", &self.request_headers)
            .field("response_headers", &self.response_headers)
            .field("query_keys", &self.query_keys)
            .finish()
    }
}
