//! [`KnownSampler`]: the sampler and ID generator of a provider trace-core built, so a
//! span that sampler certainly drops can be made without the SDK's span machinery.
//!
//! The SDK makes a dropped span by drawing a span id (and a trace id at a root) from
//! the provider's ID generator, asking the sampler, and wrapping the result in a
//! non-recording span; no processor sees it. When trace-core built the provider from
//! configuration, it knows the sampler is one of the SDK's built-ins (and trace-core's
//! `ProbabilitySampler`), which decide from the parent and the trace's randomness alone
//! and have no side effects. For a span they certainly drop, trace-core draws the same
//! ids from the same generator, asks the same sampler, and builds the same span
//! context, without building the span's name and attributes, a builder, or an SDK
//! span. `tests/sdk_contract.rs` checks the result against the SDK's.

use std::fmt;
use std::sync::Arc;

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt, TraceFlags};
use opentelemetry_sdk::trace::{IdGenerator, SamplingDecision, ShouldSample};

/// How the configured sampler decides roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootRule {
    /// Every root is sampled.
    On,
    /// No root is sampled.
    Off,
    /// A ratio of roots, by the trace's randomness.
    Ratio,
}

/// The shape of a configured sampler: what it does with roots, and whether it follows
/// a valid parent's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) root: RootRule,
    pub(crate) parent_based: bool,
}

/// A provider's sampler and ID generator, as trace-core built them.
#[derive(Clone)]
pub(crate) struct KnownSampler {
    rule: Rule,
    /// A clone of the provider's sampler: the built-ins hold no state that a clone
    /// would not share.
    sampler: Box<dyn ShouldSample>,
    ids: Arc<dyn IdGenerator>,
}

impl fmt::Debug for KnownSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnownSampler")
            .field("rule", &self.rule)
            .field("sampler", &self.sampler)
            .finish_non_exhaustive()
    }
}

impl KnownSampler {
    /// `sampler` behaves as `rule` says; `ids` is the provider's ID generator (or one
    /// that draws the same ids: the SDK's random generator keeps no state of its own).
    pub(crate) fn new(
        rule: Rule,
        sampler: Box<dyn ShouldSample>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { rule, sampler, ids }
    }

    /// The span context of the non-recording span the SDK would make under `parent`
    /// when the sampler certainly drops it; `None` when the span may record (or when
    /// telemetry is suppressed), which only the SDK decides.
    #[inline]
    pub(crate) fn dropped(&self, parent: &Context) -> Option<SpanContext> {
        if parent.is_telemetry_suppressed() {
            return None;
        }
        let parent_span = parent.span();
        let parent_span_context = parent_span.span_context();
        let (span_id, trace_id, result) = if parent_span_context.is_valid() {
            let certain = match (self.rule.parent_based, self.rule.root) {
                (true, _) => !parent_span_context.is_sampled(),
                (false, RootRule::Off) => true,
                (false, RootRule::On) => false,
                // Its decision needs only the parent's trace id and trace state.
                (false, RootRule::Ratio) => true,
            };
            if !certain {
                return None;
            }
            // A child's trace id is its parent's, so the sampler can decide first; the
            // span id it does not look at is drawn after, as the SDK would have.
            let trace_id = parent_span_context.trace_id();
            let result = self.ask(parent, trace_id);
            if result.decision != SamplingDecision::Drop {
                return None;
            }
            (self.ids.new_span_id(), trace_id, result)
        } else {
            // A root: only a sampler that drops every root is certain before it has
            // the trace id. The SDK draws the span id first, then the trace id.
            if self.rule.root != RootRule::Off {
                return None;
            }
            let span_id = self.ids.new_span_id();
            let trace_id = self.ids.new_trace_id();
            (span_id, trace_id, self.ask(parent, trace_id))
        };
        Some(SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::default(),
            false,
            result.trace_state,
        ))
    }

    /// The sampler's answer; the built-ins do not look at the name, kind, attributes
    /// or links, so none are built.
    fn ask(
        &self,
        parent: &Context,
        trace_id: opentelemetry::trace::TraceId,
    ) -> opentelemetry_sdk::trace::SamplingResult {
        self.sampler
            .should_sample(Some(parent), trace_id, "", &SpanKind::Internal, &[], &[])
    }
}

/// An ID generator shared by the provider and its [`KnownSampler`].
#[derive(Debug)]
pub(crate) struct SharedIds(pub(crate) Arc<dyn IdGenerator>);

impl IdGenerator for SharedIds {
    fn new_trace_id(&self) -> opentelemetry::trace::TraceId {
        self.0.new_trace_id()
    }

    fn new_span_id(&self) -> opentelemetry::trace::SpanId {
        self.0.new_span_id()
    }
}
