//! The consumer middleware: a CONSUMER span `process {destination}` around a handler.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use trace_core::{ErrorType, SpanStart, TracedSpan};

use crate::TRACER;
use crate::attributes::{
    self, MESSAGING_CONSUMER_GROUP_NAME, MESSAGING_MESSAGE_BODY_SIZE, MESSAGING_MESSAGE_ID,
    MESSAGING_OUTCOME, OPERATION_PROCESS,
};
use crate::carrier::{ExtractLimits, extract_context};
use crate::delivery::{Delivery, Settlement};

/// Wraps a handler of [`Delivery`] in [`ConsumeService`].
///
/// ```
/// use tower_layer::Layer;
/// use trace_pubsub::{ConsumeLayer, Delivery, Settlement};
///
/// let handler = tower::service_fn(|delivery: Delivery| async move {
///     println!("{} bytes", delivery.message().payload().len());
///     Ok::<_, std::io::Error>(Settlement::Ack)
/// });
/// let service = ConsumeLayer::new().layer(handler);
/// # let _ = service;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsumeLayer {
    limits: ExtractLimits,
}

impl ConsumeLayer {
    /// A layer with the default [`ExtractLimits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how much metadata is read to find the producer's context.
    pub fn extract_limits(mut self, limits: ExtractLimits) -> Self {
        self.limits = limits;
        self
    }
}

impl<S> Layer<S> for ConsumeLayer {
    type Service = ConsumeService<S>;

    fn layer(&self, inner: S) -> ConsumeService<S> {
        ConsumeService {
            inner,
            limits: self.limits,
        }
    }
}

/// Runs a handler of [`Delivery`] in a CONSUMER span `process {destination}`.
///
/// The span's parent is the context extracted from the message's metadata, and it
/// links to that context too (so backends that show links find the producer either
/// way). A message without a valid context, or with one beyond the [`ExtractLimits`],
/// starts a new trace. The handler runs with the span's context active: its own
/// spans and the messages it publishes continue the trace. The outcome is recorded as
/// `trace_rs.messaging.outcome` (`ack`, `nack`, `error`); a handler error also sets
/// the status to `Error` with `error.type`.
#[derive(Debug, Clone)]
pub struct ConsumeService<S> {
    inner: S,
    limits: ExtractLimits,
}

impl<S> ConsumeService<S> {
    /// The wrapped handler.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> Service<Delivery> for ConsumeService<S>
where
    S: Service<Delivery, Response = Settlement>,
    S::Error: Display,
{
    type Response = Settlement;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, delivery: Delivery) -> Self::Future {
        // Disabled tracing costs nothing: the message is not even parsed.
        let parent = if trace_core::is_enabled() {
            extract_context(delivery.message().metadata(), self.limits)
        } else {
            opentelemetry::Context::new()
        };
        let span = TRACER.start_with_parent(&parent, SpanKind::Consumer, || {
            start_for(&delivery, &parent)
        });
        // The handler runs in the span's context, recording or not, so its children
        // follow the sampling decision; without a span it still needs the extracted
        // context (baggage travels on), unless there is nothing in it.
        let cx = (span.is_valid() || carries_something(&parent)).then(|| span.context().clone());
        let future = {
            let _active = cx.clone().map(opentelemetry::Context::attach);
            self.inner.call(delivery)
        };
        ResponseFuture::new(future, cx, span)
    }
}

/// Whether `cx` holds a span context or baggage worth activating for the handler.
fn carries_something(cx: &opentelemetry::Context) -> bool {
    use opentelemetry::baggage::BaggageExt as _;
    use opentelemetry::trace::TraceContextExt as _;
    cx.has_active_span() || !cx.baggage().is_empty()
}

fn start_for(delivery: &Delivery, parent: &opentelemetry::Context) -> SpanStart {
    let message = delivery.message();
    let mut start = SpanStart::new(attributes::span_name(
        OPERATION_PROCESS,
        delivery.destination(),
    ))
    .with_attributes(attributes::common(
        delivery.system(),
        OPERATION_PROCESS,
        delivery.destination(),
    ))
    .with_attribute(KeyValue::new(
        MESSAGING_MESSAGE_BODY_SIZE,
        i64::try_from(message.payload().len()).unwrap_or(i64::MAX),
    ))
    .with_links(attributes::link_to(parent));
    if let Some(id) = message.id() {
        start = start.with_attribute(KeyValue::new(MESSAGING_MESSAGE_ID, id.to_owned()));
    }
    if let Some(group) = delivery.consumer_group() {
        start = start.with_attribute(KeyValue::new(
            MESSAGING_CONSUMER_GROUP_NAME,
            group.to_owned(),
        ));
    }
    start
}

pin_project! {
    /// The future of [`ConsumeService`] (and of the batch service): the handler's, run
    /// with the span's context active, ending the span with the outcome.
    pub struct ResponseFuture<F, E> {
        #[pin]
        inner: F,
        cx: Option<opentelemetry::Context>,
        span: Option<TracedSpan>,
        _error: std::marker::PhantomData<fn() -> E>,
    }
}

impl<F, E> ResponseFuture<F, E> {
    pub(crate) fn new(inner: F, cx: Option<opentelemetry::Context>, span: TracedSpan) -> Self {
        Self {
            inner,
            cx,
            span: Some(span),
            _error: std::marker::PhantomData,
        }
    }
}

impl<F, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Settlement, E>>,
    E: Display,
{
    type Output = Result<Settlement, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _active = this.cx.clone().map(opentelemetry::Context::attach);
            ready!(this.inner.poll(cx))
        };
        if let Some(span) = this.span.take() {
            record_outcome(&span, &result);
            span.end();
        }
        Poll::Ready(result)
    }
}

pub(crate) fn record_outcome<E: Display>(span: &TracedSpan, result: &Result<Settlement, E>) {
    if !span.is_recording() {
        return;
    }
    match result {
        Ok(outcome) => span.set_attribute(KeyValue::new(MESSAGING_OUTCOME, outcome.as_str())),
        Err(error) => {
            span.set_attribute(KeyValue::new(MESSAGING_OUTCOME, "error"));
            span.record_error(ErrorType::of::<E>(), error);
        }
    }
}
