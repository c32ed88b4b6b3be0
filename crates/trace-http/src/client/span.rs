//! The CLIENT span shared by every client integration.

use std::borrow::Cow;

use http::{HeaderMap, Method, StatusCode};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_RESEND_COUNT, HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS, SERVER_PORT, URL_FULL,
    URL_TEMPLATE,
};
use trace_core::carrier::HeaderInjector;
use trace_core::propagation::inject_context;
use trace_core::{ErrorType, SpanStart, TracedSpan};

use crate::TRACER;
use crate::method::{method_attributes, span_name_method};
use crate::redact::SensitiveQueryKeys;

/// A URL template (`/users/{id}`) for a request, put in the request's extensions, so
/// the span is named `{method} {template}` and gets `url.template`.
///
/// With reqwest-middleware: `client.get(url).with_extension(UrlTemplate("/users/{id}"))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlTemplate(pub &'static str);

/// Where `url.full` comes from; turned into text once the span starts.
pub(crate) enum UrlSource<'a> {
    #[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
    Text(&'a str),
    #[cfg_attr(not(feature = "hyper-client"), allow(dead_code))]
    Uri(&'a http::Uri),
}

impl UrlSource<'_> {
    fn redacted(&self, query_keys: &SensitiveQueryKeys) -> String {
        match self {
            UrlSource::Text(url) => query_keys.redact_url(url),
            UrlSource::Uri(uri) => query_keys.redact_url(&uri.to_string()),
        }
    }
}

/// How many times this request was sent before, for `http.request.resend_count`.
///
/// The reqwest middleware counts attempts itself; with the tower layer, have the retry
/// policy put `ResendCount(n)` into the cloned request's extensions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResendCount(pub u32);

/// What a client span needs to know about the request.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: &'a Method,
    pub(crate) url: UrlSource<'a>,
    pub(crate) host: Option<&'a str>,
    pub(crate) port: Option<u16>,
    pub(crate) template: Option<UrlTemplate>,
    pub(crate) resend_count: u32,
}

/// Starts the span (its sampler sees every attribute) and injects its context, recording
/// or not, into `headers`.
pub(crate) fn start(
    request: Outgoing<'_>,
    query_keys: &SensitiveQueryKeys,
    headers: &mut HeaderMap,
) -> TracedSpan {
    let span = TRACER.start(SpanKind::Client, || {
        let method = span_name_method(request.method);
        let name: Cow<'static, str> = match request.template {
            Some(UrlTemplate(template)) => format!("{method} {template}").into(),
            None => method.into(),
        };
        let mut attributes = Vec::with_capacity(8);
        method_attributes(request.method, &mut attributes);
        attributes.push(KeyValue::new(URL_FULL, request.url.redacted(query_keys)));
        if let Some(host) = request.host {
            attributes.push(KeyValue::new(SERVER_ADDRESS, host.to_owned()));
        }
        if let Some(port) = request.port {
            attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
        if let Some(UrlTemplate(template)) = request.template {
            attributes.push(KeyValue::new(URL_TEMPLATE, template));
        }
        if request.resend_count > 0 {
            attributes.push(KeyValue::new(
                HTTP_REQUEST_RESEND_COUNT,
                i64::from(request.resend_count),
            ));
        }
        SpanStart::new(name).with_attributes(attributes)
    });
    inject_context(span.context(), &mut HeaderInjector(headers));
    span
}

/// Records the response: 4xx and 5xx are errors on a client span.
pub(crate) fn finish_response(span: TracedSpan, status: StatusCode) {
    if span.is_recording() {
        span.set_attribute(KeyValue::new(
            HTTP_RESPONSE_STATUS_CODE,
            i64::from(status.as_u16()),
        ));
        if status.is_client_error() || status.is_server_error() {
            span.record_error(
                ErrorType::status_code(status.as_u16()),
                status.canonical_reason().unwrap_or("HTTP error"),
            );
        }
    }
    span.end();
}

/// Records a failed request with its `error.type` and the error's message (built only
/// for a recording span).
pub(crate) fn finish_error(
    span: TracedSpan,
    error_type: ErrorType,
    message: impl FnOnce() -> String,
) {
    if span.is_recording() {
        span.record_error(error_type, message());
    }
    span.end();
}
