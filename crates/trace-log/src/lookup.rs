//! Which span a log line belongs to: the active OpenTelemetry context, or with
//! feature `tracing` the `tracing` span it names (see "Which span a line belongs to"
//! in the crate docs).

use tracing::Event;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::registry::LookupSpan;

use crate::ids::SpanIds;

#[cfg(feature = "tracing")]
pub use with_tracing::TracingSpanLookup;

/// Finds the span a log line belongs to; shared by the text and JSON formats.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpanLookup {
    #[cfg(feature = "tracing")]
    dispatch: with_tracing::DispatchSlot,
}

impl SpanLookup {
    /// The ids of the span `event` belongs to, or `None` outside any trace.
    pub(crate) fn ids<S, N>(&self, ctx: &FmtContext<'_, S, N>, event: &Event<'_>) -> Option<SpanIds>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
        N: for<'w> FormatFields<'w> + 'static,
    {
        #[cfg(feature = "tracing")]
        if let Some(parent) = event.parent()
            && let Some(ids) = self.dispatch.tracing_span_ids::<S>(parent)
        {
            return Some(ids);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = event;
        if let Some(ids) = SpanIds::current() {
            return Some(ids);
        }
        #[cfg(feature = "tracing")]
        if let Some(span) = ctx.lookup_current() {
            return self.dispatch.tracing_span_ids::<S>(&span.id());
        }
        #[cfg(not(feature = "tracing"))]
        let _ = ctx;
        None
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn layer(&self) -> TracingSpanLookup {
        TracingSpanLookup {
            dispatch: self.dispatch.clone(),
        }
    }
}

#[cfg(feature = "tracing")]
mod with_tracing {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, OnceLock};

    use opentelemetry::trace::TraceContextExt as _;
    use tracing::dispatcher::{Dispatch, WeakDispatch};
    use tracing::span::Id;
    use tracing_subscriber::Layer;
    use tracing_subscriber::registry::LookupSpan;

    use crate::ids::SpanIds;

    /// The subscriber a format belongs to, learnt when that subscriber is built. A
    /// formatter cannot ask for it while an event is dispatched (tracing hands out a
    /// no-op dispatcher to nested look-ups), and tracing-opentelemetry only gives a
    /// span's context out through it.
    #[derive(Clone, Debug, Default)]
    pub(super) struct DispatchSlot {
        weak: Arc<OnceLock<WeakDispatch>>,
        registrations: Arc<AtomicUsize>,
    }

    impl DispatchSlot {
        fn register(&self, dispatch: &Dispatch) {
            self.registrations.fetch_add(1, Ordering::Relaxed);
            let _ = self.weak.set(dispatch.downgrade());
        }

        /// The OpenTelemetry ids of the `tracing` span `id`, when it has a valid
        /// context. `S` is the subscriber the format sits on: the span must be in its
        /// registry, which also guarantees tracing-opentelemetry finds it.
        pub(super) fn tracing_span_ids<S>(&self, id: &Id) -> Option<SpanIds>
        where
            S: tracing::Subscriber + for<'a> LookupSpan<'a>,
        {
            // One format shared by two subscribers: we cannot tell which one an event
            // came from, so read no `tracing` spans rather than a wrong one.
            if self.registrations.load(Ordering::Relaxed) != 1 {
                return None;
            }
            let dispatch = self.weak.get()?.upgrade()?;
            dispatch.downcast_ref::<S>()?.span(id)?;
            let cx = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
            SpanIds::of(cx.span().span_context())
        }
    }

    /// A layer that lets a trace-log format read the OpenTelemetry context of `tracing`
    /// spans that are not the active context (feature `tracing`).
    ///
    /// Add it to the same subscriber as the `fmt` layer whose format made it
    /// ([`JsonFormat::tracing_span_lookup`](crate::JsonFormat::tracing_span_lookup),
    /// [`WithTraceIds::tracing_span_lookup`](crate::WithTraceIds::tracing_span_lookup)).
    /// Without it, or when one format serves two subscribers, log lines take their ids
    /// from the active OpenTelemetry context only.
    #[derive(Clone, Debug)]
    pub struct TracingSpanLookup {
        pub(super) dispatch: DispatchSlot,
    }

    impl<S: tracing::Subscriber> Layer<S> for TracingSpanLookup {
        fn on_register_dispatch(&self, subscriber: &Dispatch) {
            self.dispatch.register(subscriber);
        }
    }
}
