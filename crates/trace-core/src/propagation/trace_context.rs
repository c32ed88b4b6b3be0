//! The strict W3C Trace Context propagator.

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter},
    trace::{SpanContext, TraceContextExt, TraceState},
};

use super::traceparent::{format_traceparent, parse_traceparent};
use super::tracestate::{format_tracestate, parse_tracestate};

/// The `traceparent` header name.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE_HEADER: &str = "tracestate";

/// Propagates span contexts in W3C Trace Context (Level 1 and Level 2) format.
///
/// Unlike the lenient SDK propagator it rejects repeated or malformed
/// `traceparent` headers, keeps the Level 2 random flag, drops an invalid
/// `tracestate` as a whole, and never sends an empty `tracestate`.
///
/// # Example
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use opentelemetry::Context;
/// use std::collections::HashMap;
/// use trace_core::propagation::TraceContextPropagator;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_string(),
/// );
/// let propagator = TraceContextPropagator::new();
/// let cx = propagator.extract_with_context(&Context::new(), &headers);
/// let span = cx.span();
/// let sc = span.span_context();
/// assert!(sc.is_remote() && sc.is_sampled());
/// assert_eq!(sc.trace_flags().to_u8(), 0x03);
///
/// let mut out = HashMap::new();
/// propagator.inject_context(&cx, &mut out);
/// assert_eq!(out["traceparent"], headers["traceparent"]);
/// assert!(!out.contains_key("tracestate"));
/// ```
#[derive(Clone, Debug)]
pub struct TraceContextPropagator {
    fields: [String; 2],
}

impl TraceContextPropagator {
    /// Creates the propagator.
    pub fn new() -> Self {
        Self {
            fields: [TRACEPARENT_HEADER.to_owned(), TRACESTATE_HEADER.to_owned()],
        }
    }

    /// Extracts the remote span context, or `None` when `traceparent` is absent,
    /// repeated or invalid.
    pub fn extract_span_context(&self, extractor: &dyn Extractor) -> Option<SpanContext> {
        let values = extractor.get_all(TRACEPARENT_HEADER)?;
        // The spec allows exactly one traceparent; several are ambiguous.
        let [value] = values.as_slice() else {
            return None;
        };
        let parsed = parse_traceparent(value).ok()?;
        // A bad tracestate never invalidates a good traceparent.
        let trace_state = extractor
            .get_all(TRACESTATE_HEADER)
            .and_then(|values| parse_tracestate(&values).ok())
            .unwrap_or(TraceState::NONE);
        Some(SpanContext::new(
            parsed.trace_id(),
            parsed.span_id(),
            parsed.trace_flags(),
            true,
            trace_state,
        ))
    }
}

impl Default for TraceContextPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        // Traces started here carry the Level 2 random flag in their flags already.
        let Some(traceparent) = format_traceparent(span_context) else {
            return;
        };
        let tracestate = format_tracestate(span_context.trace_state());
        injector.reserve(1 + usize::from(tracestate.is_some()));
        injector.set(TRACEPARENT_HEADER, traceparent);
        if let Some(tracestate) = tracestate {
            injector.set(TRACESTATE_HEADER, tracestate);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match self.extract_span_context(extractor) {
            Some(span_context) => cx.with_remote_span_context(span_context),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}
