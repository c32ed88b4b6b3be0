//! A `reqwest_middleware` middleware (feature `reqwest`).

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use trace_core::ErrorType;

use super::span::{self, Outgoing, ResendCount, UrlSource, UrlTemplate};
use crate::redact::SensitiveQueryKeys;

/// Traces each attempt of an outgoing reqwest call as a CLIENT span, a child of
/// [`Context::current`](opentelemetry::Context::current), and injects the span's context
/// (recording or not) into its headers.
///
/// Add it after a retry middleware so every attempt gets its own span with
/// `http.request.resend_count`. It can sit beside reqwest-tracing's `TracingMiddleware`
/// (without reqwest-tracing's `opentelemetry_*` features): put `TracingMiddleware` first
/// and install trace-core's `tracing` bridge, and the CLIENT span becomes a child of the
/// `tracing` span in the same trace.
///
/// ```
/// use reqwest_middleware::ClientBuilder;
/// use trace_http::client::reqwest::HttpClientMiddleware;
///
/// # let _ = rustls::crypto::ring::default_provider().install_default();
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(HttpClientMiddleware::new())
///     .build();
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Default)]
pub struct HttpClientMiddleware {
    query_keys: SensitiveQueryKeys,
}

impl HttpClientMiddleware {
    /// The middleware with the default sensitive query keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// The query keys whose values `url.full` shows as `REDACTED`.
    pub fn sensitive_query_keys(mut self, keys: SensitiveQueryKeys) -> Self {
        self.query_keys = keys;
        self
    }
}

#[async_trait::async_trait]
impl Middleware for HttpClientMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        if !trace_core::is_enabled() {
            return next.run(request, extensions).await;
        }
        // The same extensions travel through every retry of one call.
        let resend_count = match extensions.get_mut::<ResendCount>() {
            Some(count) => {
                count.0 += 1;
                count.0
            }
            None => {
                extensions.insert(ResendCount(0));
                0
            }
        };
        let template = extensions.get::<UrlTemplate>().copied();
        let method = request.method().clone();
        let url = request.url().clone();
        let span = span::start(
            Outgoing {
                method: &method,
                url: UrlSource::Text(url.as_str()),
                host: url.host_str(),
                port: url.port_or_known_default(),
                template,
                resend_count,
            },
            &self.query_keys,
            request.headers_mut(),
        );
        match next.run(request, extensions).await {
            Ok(response) => {
                span::finish_response(span, response.status());
                Ok(response)
            }
            Err(error) => {
                span::finish_error(span, error_type(&error), || {
                    message(&error, &self.query_keys)
                });
                Err(error)
            }
        }
    }
}

/// `error.type`: reqwest's class of the failure.
fn error_type(error: &reqwest_middleware::Error) -> ErrorType {
    ErrorType::code(match error {
        reqwest_middleware::Error::Middleware(_) => "middleware",
        reqwest_middleware::Error::Reqwest(error) if error.is_timeout() => "timeout",
        reqwest_middleware::Error::Reqwest(error) if error.is_connect() => "connect",
        reqwest_middleware::Error::Reqwest(error) if error.is_body() => "body",
        reqwest_middleware::Error::Reqwest(error) if error.is_decode() => "decode",
        reqwest_middleware::Error::Reqwest(error) if error.is_redirect() => "redirect",
        reqwest_middleware::Error::Reqwest(_) => "request",
    })
}

/// The error's text, with the request's URL redacted as in `url.full`: reqwest's
/// errors end in `for url (...)` with the query as sent.
fn message(error: &reqwest_middleware::Error, query_keys: &SensitiveQueryKeys) -> String {
    let text = error.to_string();
    match error {
        reqwest_middleware::Error::Reqwest(inner) => match inner.url() {
            Some(url) => text.replace(url.as_str(), &query_keys.redact_url(url.as_str())),
            None => text,
        },
        reqwest_middleware::Error::Middleware(_) => text,
    }
}
