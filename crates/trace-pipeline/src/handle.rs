//! Carrying a trace across a queue or a database row: [`TraceHandle`] and
//! [`Continuation`].

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{Link, SpanContext, TraceContextExt};
use serde::{Deserialize, Serialize};
use trace_core::propagation::{TRACEPARENT_HEADER, TRACESTATE_HEADER, TraceContextPropagator};

/// A span context as W3C `traceparent` / `tracestate` strings, to store with a job or a
/// pipeline run that another task or process picks up later.
///
/// It serializes with serde (for example to a JSON column or message field):
/// `{"traceparent":"00-…-…-01","tracestate":"vendor=value"}`. Reading it back validates
/// both strings strictly with trace-core's W3C propagator: an invalid `traceparent`
/// gives no context (the work starts a new trace), an invalid `tracestate` is dropped.
///
/// ```
/// use trace_pipeline::TraceHandle;
///
/// let stored = r#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#;
/// let handle: TraceHandle = serde_json::from_str(stored)?;
/// let span_context = handle.span_context().expect("a valid traceparent");
/// assert_eq!(span_context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
///
/// let broken = TraceHandle { traceparent: "00-zz".into(), tracestate: None };
/// assert!(broken.span_context().is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceHandle {
    /// The W3C `traceparent` value.
    pub traceparent: String,
    /// The W3C `tracestate` value, if the context had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

impl TraceHandle {
    /// The handle of the span active in `cx`; `None` when `cx` has no valid span
    /// context (tracing off, or no span at all). An unsampled span, local or remote,
    /// gives a handle with its sampled flag off, so work picked up with it stays
    /// unsampled under a parent-based sampler, as the W3C specification asks.
    pub fn from_context(cx: &Context) -> Option<Self> {
        if !cx.span().span_context().is_valid() {
            return None;
        }
        let mut fields = Fields::default();
        TraceContextPropagator::new().inject_context(cx, &mut fields);
        Some(Self {
            traceparent: fields.traceparent?,
            tracestate: fields.tracestate,
        })
    }

    /// The handle of [`Context::current`].
    pub fn current() -> Option<Self> {
        Self::from_context(&Context::current())
    }

    /// The remote span context the handle describes, or `None` when `traceparent` is
    /// not valid W3C Trace Context.
    pub fn span_context(&self) -> Option<SpanContext> {
        TraceContextPropagator::new().extract_span_context(self)
    }

    /// A context whose parent is the handle's span, on top of `base` (so baggage and
    /// other values of `base` are kept); `None` when the handle is invalid.
    pub fn to_context_with(&self, base: &Context) -> Option<Context> {
        self.span_context()
            .map(|span_context| base.with_remote_span_context(span_context))
    }
}

/// The handle is a carrier: any propagator can read `traceparent` and `tracestate`
/// from it.
impl Extractor for TraceHandle {
    fn get(&self, key: &str) -> Option<&str> {
        if key.eq_ignore_ascii_case(TRACEPARENT_HEADER) {
            Some(&self.traceparent)
        } else if key.eq_ignore_ascii_case(TRACESTATE_HEADER) {
            self.tracestate.as_deref()
        } else {
            None
        }
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys = vec![TRACEPARENT_HEADER];
        keys.extend(self.tracestate.as_ref().map(|_| TRACESTATE_HEADER));
        keys
    }
}

/// What the propagator writes when a handle is made.
#[derive(Default)]
struct Fields {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Injector for Fields {
    fn set(&mut self, key: &str, value: String) {
        if key.eq_ignore_ascii_case(TRACEPARENT_HEADER) {
            self.traceparent = Some(value);
        } else if key.eq_ignore_ascii_case(TRACESTATE_HEADER) {
            self.tracestate = Some(value);
        }
    }
}

/// How work picked up from a queue or a database row relates to the trace stored
/// with it in a [`TraceHandle`].
///
/// | | [`Parent`](Self::Parent) | [`Link`](Self::Link) |
/// |---|---|---|
/// | Trace | the enqueuer's: the job is a child of the span that stored the handle | a new trace whose root links to the enqueuer's span |
/// | Right for | short jobs that finish the same request flow within seconds or minutes (send the e-mail a request asked for, a webhook's pipeline run) | work that runs long after, in batches, or on behalf of many requests (nightly reports, retries hours later, fan-in of many events into one run) |
/// | Sampling | follows the enqueuer's decision (parent-based): an unsampled request gives an unsampled job | a fresh decision for the job; a sampled job may link to an unsampled (never exported) enqueuer |
/// | In the backend | one long trace; its duration includes the time in the queue | two traces, each with a sensible duration, joined by the link |
///
/// With either choice a missing or invalid handle starts a new trace; it never panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Continuation {
    /// Continue the stored trace: the picked-up span is a child of the stored one.
    Parent,
    /// Start a new trace whose root span links to the stored one.
    Link,
}

/// Where work picked up with a handle starts: its parent, and what its span links to.
#[derive(Debug)]
pub(crate) struct PickUp {
    pub(crate) parent: Context,
    link_to: Option<SpanContext>,
}

impl PickUp {
    /// The span link for the picked-up span, given to its sampler with the other
    /// start values.
    pub(crate) fn links(&self) -> Option<Link> {
        self.link_to.clone().map(Link::with_context)
    }
}

/// The parent context and the optional link for work picked up with `handle`.
pub(crate) fn pick_up(handle: Option<&TraceHandle>, continuation: Continuation) -> PickUp {
    let span_context = handle.and_then(TraceHandle::span_context);
    match (span_context, continuation) {
        (Some(span_context), Continuation::Parent) => PickUp {
            parent: Context::new().with_remote_span_context(span_context),
            link_to: None,
        },
        (link_to, _) => PickUp {
            parent: Context::new(),
            link_to,
        },
    }
}
