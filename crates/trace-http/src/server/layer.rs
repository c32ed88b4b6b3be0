//! [`HttpServerLayer`]: the builder and `tower::Layer` of the server middleware.

use std::sync::Arc;

use http::request::Parts;
use opentelemetry_semantic_conventions::attribute::{HTTP_REQUEST_HEADER, HTTP_RESPONSE_HEADER};
use tower_layer::Layer;

use super::config::{ServerConfig, TraceIdHeader, captured_headers};
use super::service::HttpServerService;
use crate::redact::SensitiveQueryKeys;

/// Traces incoming requests: one SERVER span per request, ended when the response
/// body has been sent.
///
/// Works on any hyper 1 service and on an axum 0.8 `Router` (apply it with
/// `Router::layer`, so axum's matched route is known). Place it outside a
/// `CatchPanicLayer` so a panic's 500 response is recorded; inside one, the span
/// records the panic itself and the panic continues to the outer layer.
///
/// ```
/// use trace_http::server::{HttpServerLayer, TraceIdHeader};
///
/// let layer = HttpServerLayer::new()
///     .skip_paths(["/livez", "/readyz", "/internal/status"])
///     .capture_request_headers(["x-request-id"])
///     .trace_id_header(TraceIdHeader::TraceResponse);
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Default)]
pub struct HttpServerLayer {
    config: Arc<ServerConfig>,
}

impl HttpServerLayer {
    /// The layer with the defaults: health and metrics paths skipped, no headers
    /// captured, no trace id in responses, incoming context trusted.
    pub fn new() -> Self {
        Self::default()
    }

    fn config(&mut self) -> &mut ServerConfig {
        Arc::make_mut(&mut self.config)
    }

    /// Replaces the paths (exact match on the URL path) that get no span. The request
    /// still runs in the incoming context, so its outgoing calls stay in the trace.
    pub fn skip_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        self.config().skip_paths = paths.into_iter().map(|p| p.as_ref().into()).collect();
        self
    }

    /// Also skips every request for which `skip` returns `true`. It runs on every
    /// request, so keep it cheap and allocation-free.
    pub fn skip_if(mut self, skip: impl Fn(&Parts) -> bool + Send + Sync + 'static) -> Self {
        self.config().skip_if = Some(Arc::new(skip));
        self
    }

    /// Finds the route template of a request with `route` (for routers other than
    /// axum's). It runs for every traced request, before the sampler decides (the span
    /// name and `http.route` are what a sampler sees). Return a template such as
    /// `/users/{id}`, never the raw path.
    pub fn route_with(
        mut self,
        route: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.config().route = Some(Arc::new(route));
        self
    }

    /// Treats incoming trace context as untrusted (a public edge): each request starts
    /// a new trace, linked to the caller's span context when one was sent; incoming
    /// baggage is dropped.
    pub fn public_endpoint(mut self, public: bool) -> Self {
        self.config().public_endpoint = public;
        self
    }

    /// Returns the trace id to the caller in a response header.
    pub fn trace_id_header(mut self, header: TraceIdHeader) -> Self {
        self.config().trace_id_header = header;
        self
    }

    /// Records these request headers as `http.request.header.<name>` (string arrays).
    /// `authorization`, `cookie`, `set-cookie` and `proxy-authorization` are never
    /// recorded, even when listed.
    pub fn capture_request_headers<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        self.config().request_headers = captured_headers(HTTP_REQUEST_HEADER, names);
        self
    }

    /// Records these response headers as `http.response.header.<name>`, with the same
    /// exclusions as [`capture_request_headers`](Self::capture_request_headers).
    pub fn capture_response_headers<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        self.config().response_headers = captured_headers(HTTP_RESPONSE_HEADER, names);
        self
    }

    /// The query keys whose values `url.query` shows as `REDACTED` (default:
    /// [`DEFAULT_SENSITIVE_QUERY_KEYS`](crate::redact::DEFAULT_SENSITIVE_QUERY_KEYS)).
    pub fn sensitive_query_keys(mut self, keys: SensitiveQueryKeys) -> Self {
        self.config().query_keys = keys;
        self
    }
}

impl<S> Layer<S> for HttpServerLayer {
    type Service = HttpServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpServerService::new(inner, self.config.clone())
    }
}
