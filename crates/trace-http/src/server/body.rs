//! [`ResponseBody`]: ends the server span when the body has been sent or dropped.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use pin_project_lite::pin_project;
use trace_core::{ErrorType, record_error_on};

/// Owns a recording span (inside its context) until the request is over, and ends it
/// then (also on drop, so a cancelled request never leaves a span open). A context is
/// a few words where the span itself is a few hundred bytes, and this guard travels
/// with the response future and body through every move.
#[derive(Debug, Default)]
pub(crate) struct SpanGuard(Option<Context>);

impl SpanGuard {
    /// Guards the span a context owns (from `TracedSpan::into_context`); `None`
    /// when the request's span does not record.
    pub(crate) fn new(recorded: Option<Context>) -> Self {
        Self(recorded)
    }

    pub(crate) fn none() -> Self {
        Self(None)
    }

    /// The context of the recording span, if any.
    pub(crate) fn get(&self) -> Option<&Context> {
        self.0.as_ref()
    }

    pub(crate) fn is_recording(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn end(&mut self) {
        if let Some(cx) = self.0.take() {
            cx.span().end();
        }
    }

    pub(crate) fn take(&mut self) -> Self {
        Self(self.0.take())
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        self.end();
    }
}

pin_project! {
    /// The response body of a traced request: the inner body, unchanged, plus the span
    /// that ends at the end of the stream, on a body error, or when the body is dropped.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        span: SpanGuard,
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, span: SpanGuard) -> Self {
        Self { inner, span }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            None => this.span.end(),
            Some(Err(error)) => {
                if let Some(cx) = this.span.get() {
                    record_error_on(cx, ErrorType::of::<B::Error>(), error);
                }
                this.span.end();
            }
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
