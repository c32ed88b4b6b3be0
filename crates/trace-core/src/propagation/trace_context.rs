//! The strict W3C Trace Context propagator.

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter},
    trace::{SpanContext, TraceContextExt, TraceState},
};

use super::traceparent::{format_traceparent, parse_traceparent};
use super::tracestate::{KeptTracestate, format_tracestate, parse_members};

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
/// `tracestate` keys follow the single key grammar of the current official test
/// suite, which allows keys that `opentelemetry` 0.33's `TraceState` refuses
/// (`foo@@bar`, more than 13 characters after `@`). The span context then holds the
/// members `TraceState` can represent, and the extracted `Context` also keeps the
/// whole list: injecting from that context, or from a child span's context in the
/// same trace, sends those members on, after any member a sampler added or changed.
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
    ///
    /// Its `TraceState` holds the `tracestate` members `opentelemetry` 0.33 can
    /// represent; `extract_with_context` also keeps the others.
    pub fn extract_span_context(&self, extractor: &dyn Extractor) -> Option<SpanContext> {
        self.extract_parts(extractor)
            .map(|(span_context, _)| span_context)
    }

    /// The remote span context, and the whole `tracestate` when its `TraceState`
    /// cannot hold every member.
    fn extract_parts(
        &self,
        extractor: &dyn Extractor,
    ) -> Option<(SpanContext, Option<KeptTracestate>)> {
        let values = extractor.get_all(TRACEPARENT_HEADER)?;
        // The spec allows exactly one traceparent; several are ambiguous.
        let [value] = values.as_slice() else {
            return None;
        };
        let parsed = parse_traceparent(value).ok()?;
        // A bad tracestate never invalidates a good traceparent.
        let tracestate = extractor.get_all(TRACESTATE_HEADER);
        let members = tracestate.as_deref().and_then(|v| parse_members(v).ok());
        let (trace_state, kept) = match members {
            Some(members) => {
                let kept = (!members.all_representable()).then(|| members.kept(parsed.trace_id()));
                (members.trace_state(), kept)
            }
            None => (TraceState::NONE, None),
        };
        let span_context = SpanContext::new(
            parsed.trace_id(),
            parsed.span_id(),
            parsed.trace_flags(),
            true,
            trace_state,
        );
        Some((span_context, kept))
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
        let kept = cx
            .get::<KeptTracestate>()
            .filter(|kept| kept.applies_to(span_context.trace_id()));
        let tracestate = match kept {
            Some(kept) => kept.merge(span_context.trace_state()),
            None => format_tracestate(span_context.trace_state()),
        };
        injector.reserve(1 + usize::from(tracestate.is_some()));
        injector.set(TRACEPARENT_HEADER, traceparent);
        if let Some(tracestate) = tracestate {
            injector.set(TRACESTATE_HEADER, tracestate);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some((span_context, kept)) = self.extract_parts(extractor) else {
            return cx.clone();
        };
        let cx = cx.with_remote_span_context(span_context);
        match kept {
            Some(kept) => cx.with_value(kept),
            // A list `cx` kept for an earlier parent must not mix with this tracestate.
            None if cx.get::<KeptTracestate>().is_some() => cx.with_value(KeptTracestate::NONE),
            None => cx,
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

    use super::*;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn extract(tracestate: &str) -> Context {
        let headers = HashMap::from([
            (TRACEPARENT_HEADER.to_owned(), TRACEPARENT.to_owned()),
            (TRACESTATE_HEADER.to_owned(), tracestate.to_owned()),
        ]);
        TraceContextPropagator::new().extract_with_context(&Context::new(), &headers)
    }

    /// What a child span's context looks like: the parent's values, a new span id,
    /// and the tracestate the sampler returned.
    fn child(parent: &Context, trace_state: TraceState) -> Context {
        let span = parent.span();
        let ids = span.span_context();
        parent.with_remote_span_context(SpanContext::new(
            ids.trace_id(),
            SpanId::from(0x1234_u64),
            ids.trace_flags(),
            false,
            trace_state,
        ))
    }

    fn inject(cx: &Context) -> Option<String> {
        let mut headers = HashMap::new();
        TraceContextPropagator::new().inject_context(cx, &mut headers);
        assert!(headers.contains_key(TRACEPARENT_HEADER));
        headers.remove(TRACESTATE_HEADER)
    }

    fn trace_state(cx: &Context) -> TraceState {
        cx.span().span_context().trace_state().clone()
    }

    #[test]
    fn representable_lists_store_nothing_in_the_context() {
        let cx = extract("foo@=1,bar=2");
        assert!(cx.get::<KeptTracestate>().is_none());
        assert_eq!(trace_state(&cx).header(), "foo@=1,bar=2");
        assert_eq!(inject(&cx).as_deref(), Some("foo@=1,bar=2"));
    }

    #[test]
    fn unrepresentable_members_reach_a_child_spans_calls() {
        let cx = extract("foo@@bar=1,bar=2,t@vvvvvvvvvvvvvvvvvv=3");
        assert_eq!(trace_state(&cx).header(), "bar=2");
        let header = "foo@@bar=1,bar=2,t@vvvvvvvvvvvvvvvvvv=3";
        assert_eq!(inject(&cx).as_deref(), Some(header));
        let grandchild = child(&child(&cx, trace_state(&cx)), trace_state(&cx));
        assert_eq!(inject(&grandchild).as_deref(), Some(header));
    }

    #[test]
    fn a_sampler_modification_goes_first() {
        let cx = extract("bar=2,foo@@bar=1,ot=th:4");
        let sampled = trace_state(&cx).insert("ot", "th:8").expect("valid");
        assert_eq!(sampled.header(), "ot=th:8,bar=2");
        assert_eq!(
            inject(&child(&cx, sampled)).as_deref(),
            Some("ot=th:8,bar=2,foo@@bar=1")
        );
    }

    #[test]
    fn a_deletion_is_honoured() {
        let cx = extract("bar=2,foo@@bar=1");
        let deleted = trace_state(&cx).delete("bar").expect("valid");
        assert_eq!(inject(&child(&cx, deleted)).as_deref(), Some("foo@@bar=1"));
    }

    #[test]
    fn a_new_root_does_not_inherit_the_members() {
        let cx = extract("foo@@bar=1,bar=2");
        let root = cx.with_remote_span_context(SpanContext::new(
            TraceId::from(42_u128),
            SpanId::from(42_u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_key_value([("own", "1")]).expect("valid"),
        ));
        assert_eq!(inject(&root).as_deref(), Some("own=1"));
        let bare = cx.with_remote_span_context(SpanContext::new(
            TraceId::from(42_u128),
            SpanId::from(42_u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ));
        assert_eq!(inject(&bare), None);
    }

    #[test]
    fn extracting_again_replaces_the_kept_list() {
        let first = extract("foo@@bar=1,bar=2");
        let headers = HashMap::from([
            (TRACEPARENT_HEADER.to_owned(), TRACEPARENT.to_owned()),
            (TRACESTATE_HEADER.to_owned(), "baz=3".to_owned()),
        ]);
        let propagator = TraceContextPropagator::new();
        let again = propagator.extract_with_context(&first, &headers);
        assert_eq!(inject(&again).as_deref(), Some("baz=3"));
        let other = HashMap::from([(TRACESTATE_HEADER.to_owned(), "a@@b=1".to_owned())]);
        // No traceparent: the parent context, with its list, is kept as it was.
        let kept = propagator.extract_with_context(&first, &other);
        assert_eq!(inject(&kept).as_deref(), Some("foo@@bar=1,bar=2"));
    }
}
