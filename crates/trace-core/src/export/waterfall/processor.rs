//! [`ImmediateProcessor`]: hands each span to a viewing exporter as it ends.
//!
//! The SDK's `SimpleSpanProcessor` does the same but answers `force_flush` without
//! asking its exporter, and the viewing exporters buffer spans until their trace is
//! complete: a flush must reach them, or the provider's flush would print nothing.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// Exports each sampled span as it ends; flush and shutdown go to the exporter.
#[derive(Debug)]
pub(crate) struct ImmediateProcessor<E> {
    exporter: E,
}

impl<E: SpanExporter> ImmediateProcessor<E> {
    pub(crate) fn new(exporter: E) -> Self {
        Self { exporter }
    }
}

impl<E: SpanExporter> SpanProcessor for ImmediateProcessor<E> {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            // The exporter reports its own failures (the counting wrapper warns).
            let _ = block_on(self.exporter.export(vec![span]));
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.exporter.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.exporter.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
    }
}

/// Wakes the thread that waits in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread (the viewing exporters never wait on
/// anything, so this returns on the first poll).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = TaskContext::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}
