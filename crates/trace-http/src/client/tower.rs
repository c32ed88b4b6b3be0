//! A tower layer for hyper-util's client, or any `Service<http::Request<B>>`
//! (feature `hyper-client`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use trace_core::{ErrorType, TracedSpan};

use super::span::{self, Outgoing, ResendCount, UrlSource, UrlTemplate};
use crate::redact::SensitiveQueryKeys;

/// Traces each request sent through the wrapped client as a CLIENT span, a child of
/// [`Context::current`](opentelemetry::Context::current), and injects the span's
/// context (recording or not).
///
/// The span ends when the response head arrives (or the call fails); 4xx and 5xx are
/// errors. Put a [`UrlTemplate`] or [`ResendCount`] into the request's extensions to
/// name the span after a template or to record a retry.
///
/// ```
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use tower::ServiceBuilder;
/// use trace_http::client::tower::HttpClientLayer;
///
/// let client = Client::builder(TokioExecutor::new())
///     .build_http::<http_body_util::Empty<bytes::Bytes>>();
/// let traced = ServiceBuilder::new().layer(HttpClientLayer::new()).service(client);
/// # let _ = traced;
/// ```
#[derive(Debug, Clone, Default)]
pub struct HttpClientLayer {
    query_keys: SensitiveQueryKeys,
}

impl HttpClientLayer {
    /// The layer with the default sensitive query keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// The query keys whose values `url.full` shows as `REDACTED`.
    pub fn sensitive_query_keys(mut self, keys: SensitiveQueryKeys) -> Self {
        self.query_keys = keys;
        self
    }
}

impl<S> Layer<S> for HttpClientLayer {
    type Service = HttpClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpClientService {
            inner,
            query_keys: self.query_keys.clone(),
        }
    }
}

/// The service built by [`HttpClientLayer`].
#[derive(Debug, Clone)]
pub struct HttpClientService<S> {
    inner: S,
    query_keys: SensitiveQueryKeys,
}

impl<S, B, RB> Service<Request<B>> for HttpClientService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if !trace_core::is_enabled() {
            return ResponseFuture {
                inner: self.inner.call(request),
                span: None,
            };
        }
        let uri = request.uri().clone();
        let default_port = match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        };
        let extensions = request.extensions();
        let template = extensions.get::<UrlTemplate>().copied();
        let resend_count = extensions.get::<ResendCount>().map_or(0, |count| count.0);
        let method = request.method().clone();
        let span = span::start(
            Outgoing {
                method: &method,
                url: UrlSource::Uri(&uri),
                host: uri.host(),
                port: uri.port_u16().or(default_port),
                template,
                resend_count,
            },
            &self.query_keys,
            request.headers_mut(),
        );
        ResponseFuture {
            inner: self.inner.call(request),
            span: Some(span),
        }
    }
}

pin_project! {
    /// The response future of [`HttpClientService`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Option<TracedSpan>,
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    E: std::fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(span) = this.span.take() {
            match &result {
                Ok(response) => span::finish_response(span, response.status()),
                Err(error) => span::finish_error(span, ErrorType::of::<E>(), || error.to_string()),
            }
        }
        Poll::Ready(result)
    }
}
