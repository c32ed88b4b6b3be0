//! The batch consumer middleware: one CONSUMER span linking every message's context.

use std::fmt::Display;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use tower_layer::Layer;
use tower_service::Service;
use trace_core::SpanStart;

use crate::TRACER;
use crate::attributes::{
    self, MAX_BATCH_LINKS, MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_CONSUMER_GROUP_NAME,
    OPERATION_PROCESS,
};
use crate::carrier::{ExtractLimits, extract_context};
use crate::consume::ResponseFuture;
use crate::delivery::{Batch, Settlement};

/// Wraps a handler of [`Batch`] in [`ConsumeBatchService`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsumeBatchLayer {
    limits: ExtractLimits,
}

impl ConsumeBatchLayer {
    /// A layer with the default [`ExtractLimits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how much metadata of each message is read to find its context.
    pub fn extract_limits(mut self, limits: ExtractLimits) -> Self {
        self.limits = limits;
        self
    }
}

impl<S> Layer<S> for ConsumeBatchLayer {
    type Service = ConsumeBatchService<S>;

    fn layer(&self, inner: S) -> ConsumeBatchService<S> {
        ConsumeBatchService {
            inner,
            limits: self.limits,
        }
    }
}

/// Runs a handler of [`Batch`] in one CONSUMER span `process {destination}` with
/// `messaging.batch.message_count` and a link to the context of every message that
/// carries one (at most 128 links).
///
/// Messages of one batch usually come from different traces, so the span's parent is
/// [`Context::current`](opentelemetry::Context::current) (empty in a plain polling loop: a new trace), not any one
/// message's context. Contexts are extracted only when the span is sampled.
#[derive(Debug, Clone)]
pub struct ConsumeBatchService<S> {
    inner: S,
    limits: ExtractLimits,
}

impl<S> ConsumeBatchService<S> {
    /// The wrapped handler.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> Service<Batch> for ConsumeBatchService<S>
where
    S: Service<Batch, Response = Settlement>,
    S::Error: Display,
{
    type Response = Settlement;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, batch: Batch) -> Self::Future {
        let limits = self.limits;
        let span = TRACER.start(SpanKind::Consumer, || start_for(&batch, limits));
        // The handler runs in the span's context, recording or not, so its children
        // follow the sampling decision; without a span the context stays as it is.
        let cx = span.is_valid().then(|| span.context().clone());
        let future = {
            let _active = cx.clone().map(opentelemetry::Context::attach);
            self.inner.call(batch)
        };
        ResponseFuture::new(future, cx, span)
    }
}

fn start_for(batch: &Batch, limits: ExtractLimits) -> SpanStart {
    let links = batch
        .messages()
        .iter()
        .filter_map(|message| attributes::link_to(&extract_context(message.metadata(), limits)))
        .take(MAX_BATCH_LINKS);
    let mut start = SpanStart::new(attributes::span_name(
        OPERATION_PROCESS,
        batch.destination(),
    ))
    .with_attributes(attributes::common(
        batch.system(),
        OPERATION_PROCESS,
        batch.destination(),
    ))
    .with_attribute(KeyValue::new(
        MESSAGING_BATCH_MESSAGE_COUNT,
        i64::try_from(batch.messages().len()).unwrap_or(i64::MAX),
    ))
    .with_links(links);
    if let Some(group) = batch.consumer_group() {
        start = start.with_attribute(KeyValue::new(
            MESSAGING_CONSUMER_GROUP_NAME,
            group.to_owned(),
        ));
    }
    start
}
