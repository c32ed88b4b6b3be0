//! W3C propagators.
//!
//! Strict implementations of W3C Trace Context (Level 1 and 2) and W3C Baggage
//! that plug into `opentelemetry::global::set_text_map_propagator`, a
//! [`CompositePropagator`] to combine them, [`PropagatorKind`] to pick them by
//! name, and helpers that go through the globally installed propagator.
//!
//! `tracestate` follows the current official W3C test suite: one key grammar,
//! `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")`, with no
//! tenant@vendor split; a repeated key keeps its first member; any other invalid
//! member, more than 32 members or more than [`MAX_TRACESTATE_BYTES`] drop the whole
//! list (never the `traceparent`). Members that `opentelemetry` 0.33's `TraceState`
//! cannot hold (`foo@@bar`, more than 13 characters after `@`) travel in the
//! extracted `Context` and are sent on by every span of the same trace that inherits
//! it; see [`TraceContextPropagator`].
//!
//! ```
//! use opentelemetry::trace::TraceContextExt;
//! use std::collections::HashMap;
//! use trace_core::propagation::{build_propagator, extract_context, PropagatorKind};
//!
//! opentelemetry::global::set_text_map_propagator(build_propagator(&[
//!     PropagatorKind::TraceContext,
//!     PropagatorKind::Baggage,
//! ]));
//! let mut headers = HashMap::new();
//! headers.insert(
//!     "traceparent".to_string(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
//! );
//! let cx = extract_context(&headers);
//! assert!(cx.span().span_context().is_remote());
//! ```

use opentelemetry::{
    Context, global,
    propagation::{Extractor, Injector},
};

mod baggage;
mod composite;
mod trace_context;
mod traceparent;

mod tracestate;

pub use baggage::{
    BAGGAGE_HEADER, BaggagePropagator, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, format_baggage,
    parse_baggage,
};
pub use composite::{
    CompositePropagator, PropagatorKind, UnknownPropagator, build_propagator, parse_propagator_list,
};
pub use trace_context::{TRACEPARENT_HEADER, TRACESTATE_HEADER, TraceContextPropagator};
pub use traceparent::{
    KNOWN_TRACE_FLAGS, ParsedTraceparent, TRACE_FLAG_RANDOM, TraceparentError, format_traceparent,
    parse_traceparent,
};
pub use tracestate::{
    MAX_TRACESTATE_BYTES, MAX_TRACESTATE_MEMBERS, TracestateError, format_tracestate,
    parse_tracestate,
};

/// Injects `cx` into `injector` with the global text map propagator.
pub fn inject_context(cx: &Context, injector: &mut dyn Injector) {
    global::get_text_map_propagator(|propagator| propagator.inject_context(cx, injector));
}

/// Extracts a context from `extractor` with the global text map propagator.
///
/// Like `TextMapPropagator::extract`, the result is built on top of
/// [`Context::current`]; use [`extract_context_with`] to choose the parent.
pub fn extract_context(extractor: &dyn Extractor) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(extractor))
}

/// Extracts a context from `extractor` on top of `parent` with the global propagator.
///
/// When nothing valid is found, a clone of `parent` is returned.
pub fn extract_context_with(parent: &Context, extractor: &dyn Extractor) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract_with_context(parent, extractor))
}

/// Extracts a context on top of `parent` with the global propagator, or `None` when
/// `extractor` holds none of the propagator's fields (for the default ones:
/// `traceparent`, `tracestate`, `baggage`): extraction could then only return `parent`
/// unchanged, so a caller may keep running in the parent's context as it is.
///
/// One look at the global propagator for both the check and the extraction.
///
/// ```
/// use http::HeaderMap;
/// use opentelemetry::Context;
/// use opentelemetry::baggage::BaggageExt;
/// use trace_core::carrier::HeaderExtractor;
/// use trace_core::propagation::{PropagatorKind, build_propagator, extract_carried_context};
///
/// // `init` installs the configured propagators; here, the default two.
/// opentelemetry::global::set_text_map_propagator(build_propagator(&[
///     PropagatorKind::TraceContext,
///     PropagatorKind::Baggage,
/// ]));
/// let mut headers = HeaderMap::new();
/// headers.insert("host", "example.com".parse()?);
/// assert!(extract_carried_context(&Context::new(), &HeaderExtractor(&headers)).is_none());
/// headers.insert("baggage", "user=42".parse()?);
/// let cx = extract_carried_context(&Context::new(), &HeaderExtractor(&headers)).unwrap();
/// assert_eq!(cx.baggage().get("user").map(|v| v.as_str()), Some("42"));
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
pub fn extract_carried_context(parent: &Context, extractor: &dyn Extractor) -> Option<Context> {
    global::get_text_map_propagator(|propagator| {
        propagator
            .fields()
            .any(|field| extractor.get(field).is_some())
            .then(|| propagator.extract_with_context(parent, extractor))
    })
}
