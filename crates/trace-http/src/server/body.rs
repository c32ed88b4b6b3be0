//! [`ResponseBody`]: ends the server span when the body has been sent or dropped.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use trace_core::TracedSpan;

/// Owns a span until the request is over, and ends it then (also on drop, so a
/// cancelled request never leaves a span open).
#[derive(Debug, Default)]
pub(crate) struct SpanGuard(Option<TracedSpan>);

impl SpanGuard {
    pub(crate) fn new(span: TracedSpan) -> Self {
        Self(Some(span))
    }

    pub(crate) fn none() -> Self {
        Self(None)
    }

    pub(crate) fn get(&self) -> Option<&TracedSpan> {
        self.0.as_ref()
    }

    pub(crate) fn is_recording(&self) -> bool {
        self.0.as_ref().is_some_and(TracedSpan::is_recording)
    }

    pub(crate) fn end(&mut self) {
        if let Some(span) = self.0.take() {
            span.end();
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
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            None => this.span.end(),
            Some(Err(error)) => {
                if let Some(span) = this.span.get().filter(|span| span.is_recording()) {
                    span.record_error(std::any::type_name::<B::Error>(), error.to_string());
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
