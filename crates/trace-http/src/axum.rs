//! axum integration (feature `axum`): route names from `MatchedPath`, and the
//! [`ServerSpan`] extractor.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, MatchedPath};
use http::request::Parts;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceId};

/// The route template axum matched (`/users/{id}`), the default route source of
/// [`HttpServerLayer`](crate::server::HttpServerLayer) with this feature.
pub fn matched_path(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
}

/// The server span's context, as a handler argument.
///
/// The same context is also [`Context::current`] while the handler runs, so code that
/// does not see the request (logging, outgoing clients, database calls) finds it too.
///
/// ```
/// use axum::{Router, routing::get};
/// use trace_http::axum::ServerSpan;
/// use trace_http::server::HttpServerLayer;
///
/// async fn handler(span: ServerSpan) -> String {
///     span.trace_id().map(|id| id.to_string()).unwrap_or_default()
/// }
///
/// let app: Router = Router::new()
///     .route("/trace-id", get(handler))
///     .layer(HttpServerLayer::new());
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct ServerSpan(Context);

impl ServerSpan {
    /// The context to run child work in.
    pub fn context(&self) -> &Context {
        &self.0
    }

    /// The span context of the server span, recording or not (invalid when tracing is
    /// disabled or the request's path is skipped).
    pub fn span_context(&self) -> SpanContext {
        self.0.span().span_context().clone()
    }

    /// The trace id, when there is a valid trace.
    pub fn trace_id(&self) -> Option<TraceId> {
        let span_context = self.span_context();
        span_context.is_valid().then(|| span_context.trace_id())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ServerSpan {
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(Context::current()))
    }
}
