//! [`ResponseFuture`]: polls the handler in the span's context and records the outcome.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use http::{HeaderValue, Response};
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use pin_project_lite::pin_project;
use trace_core::propagation::format_traceparent;
use trace_core::{ErrorType, record_error_on};

use super::attributes::record_response;
use super::body::{ResponseBody, SpanGuard};
use super::config::{ServerConfig, TraceIdHeader};

pin_project! {
    /// The response future of [`HttpServerService`](super::HttpServerService).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        cx: Option<Context>,
        span: SpanGuard,
        config: Option<Arc<ServerConfig>>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        cx: Option<Context>,
        span: SpanGuard,
        config: Option<Arc<ServerConfig>>,
    ) -> Self {
        Self {
            inner,
            cx,
            span,
            config,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: std::fmt::Display,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = {
            // The handler sees the span as `Context::current()` at every poll.
            let _active = this.cx.as_ref().map(|cx| cx.clone().attach());
            if this.span.is_recording() {
                let inner = this.inner.as_mut();
                match catch_unwind(AssertUnwindSafe(|| inner.poll(task))) {
                    Ok(poll) => poll,
                    Err(panic) => {
                        record_panic(this.span, panic.as_ref());
                        this.span.end();
                        resume_unwind(panic)
                    }
                }
            } else {
                this.inner.poll(task)
            }
        };
        let result = ready!(result);
        let mut span = this.span.take();
        Poll::Ready(match result {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                if let Some(config) = this.config.as_deref() {
                    if let Some(cx) = span.get() {
                        record_response(config, cx, parts.status, &parts.headers);
                    }
                    if let Some(cx) = this.cx.as_ref() {
                        add_trace_id_header(&config.trace_id_header, cx, &mut parts.headers);
                    }
                }
                Ok(Response::from_parts(parts, ResponseBody::new(body, span)))
            }
            Err(error) => {
                if let Some(cx) = span.get() {
                    record_error_on(cx, ErrorType::of::<E>(), &error);
                }
                span.end();
                Err(error)
            }
        })
    }
}

fn record_panic(span: &SpanGuard, panic: &(dyn Any + Send)) {
    let Some(cx) = span.get() else { return };
    let message = panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "handler panicked".to_owned());
    record_error_on(cx, ErrorType::code("panic"), message);
}

fn add_trace_id_header(mode: &TraceIdHeader, cx: &Context, headers: &mut http::HeaderMap) {
    let span = cx.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return;
    }
    let (name, value) = match mode {
        TraceIdHeader::Off => return,
        TraceIdHeader::TraceResponse => (
            http::HeaderName::from_static("traceresponse"),
            format_traceparent(span_context),
        ),
        TraceIdHeader::TraceId(name) => (name.clone(), Some(span_context.trace_id().to_string())),
    };
    if let Some(value) = value.and_then(|v| HeaderValue::try_from(v).ok()) {
        let _ = headers.try_insert(name, value);
    }
}
