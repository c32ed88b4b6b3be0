//! A row stream whose span ends when the stream ends or is dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;
use sea_orm::{DbErr, QueryResult};
use trace_core::TracedSpan;

use crate::span::returned_rows;

pin_project! {
    /// The stream returned by [`StreamTrait::stream`](sea_orm::StreamTrait::stream)
    /// on a traced connection or transaction: the inner stream, unchanged, plus a span
    /// that records `db.response.returned_rows` and the first error, and ends with
    /// the stream (or when it is dropped early).
    pub struct TracedStream<S> {
        #[pin]
        inner: S,
        guard: StreamSpan,
    }
}

impl<S> TracedStream<S> {
    pub(crate) fn new(inner: S, span: TracedSpan) -> Self {
        Self {
            inner,
            guard: StreamSpan {
                span: Some(span),
                rows: 0,
            },
        }
    }
}

impl<S> std::fmt::Debug for TracedStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedStream")
            .field("rows", &self.guard.rows)
            .finish_non_exhaustive()
    }
}

impl<S> Stream for TracedStream<S>
where
    S: Stream<Item = Result<QueryResult, DbErr>>,
{
    type Item = Result<QueryResult, DbErr>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let item = this.inner.poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(_))) => this.guard.rows += 1,
            Poll::Ready(Some(Err(err))) => {
                if let Some(span) = &this.guard.span {
                    crate::error::record(span, err);
                }
            }
            Poll::Ready(None) => this.guard.end(),
            Poll::Pending => {}
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Ends the span exactly once: at the end of the stream or on drop.
#[derive(Debug)]
struct StreamSpan {
    span: Option<TracedSpan>,
    rows: usize,
}

impl StreamSpan {
    fn end(&mut self) {
        if let Some(span) = self.span.take() {
            span.set_attribute(returned_rows(self.rows));
            span.end();
        }
    }
}

impl Drop for StreamSpan {
    fn drop(&mut self) {
        self.end();
    }
}
