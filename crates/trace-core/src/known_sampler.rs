//! [`KnownSampler`]: the sampler and ID generator of a provider trace-core built, so a
//! span that sampler certainly drops can be made without the SDK's span machinery.
//!
//! The SDK makes a dropped span by drawing a span id (and a trace id at a root) from
//! the provider's ID generator, asking the sampler, and wrapping the result in a
//! non-recording span; no processor sees it. When trace-core built the provider from
//! configuration, it knows the sampler is one of the SDK's built-ins (and trace-core's
//! `ProbabilitySampler`), which decide from the parent and the trace's randomness alone
//! and have no side effects. For a span they drop, trace-core draws the same ids from
//! the same generator, gets the same answer, and builds the same span context, without
//! building the span's name and attributes, a builder, or an SDK span. A root it keeps
//! goes to the SDK, whose ID generator hands it the ids already drawn. The built-ins'
//! answers for an unsampled parent are known without asking: the parent's trace state,
//! kept. `tests/sdk_contract.rs` checks the result against the SDK's.

use std::fmt;
use std::sync::Arc;

use opentelemetry::Context;
use std::cell::Cell;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId};
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
    /// `sampler` behaves as `rule` says; `ids` is the generator inside the provider's
    /// [`ProviderIds`].
    pub(crate) fn new(
        rule: Rule,
        sampler: Box<dyn ShouldSample>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { rule, sampler, ids }
    }

    /// What can be decided about a span under `parent` before the SDK is called.
    #[inline]
    pub(crate) fn decide(&self, parent: &Context) -> Decided {
        if parent.is_telemetry_suppressed() {
            return Decided::Undecided;
        }
        let parent_span = parent.span();
        let parent_span_context = parent_span.span_context();
        if parent_span_context.is_valid() {
            self.decide_child(parent, parent_span_context)
        } else {
            self.decide_root(parent)
        }
    }

    fn decide_child(&self, parent: &Context, parent_span_context: &SpanContext) -> Decided {
        let trace_id = parent_span_context.trace_id();
        let trace_state = match (self.rule.parent_based, self.rule.root) {
            // The SDK's `ParentBasedSampler` hands an unsampled parent to `AlwaysOff`,
            // and a plain `AlwaysOff` drops everything: both keep the parent's state.
            (true, _) if !parent_span_context.is_sampled() => {
                parent_span_context.trace_state().clone()
            }
            (false, RootRule::Off) => parent_span_context.trace_state().clone(),
            (true, _) | (false, RootRule::On) => return Decided::Undecided,
            // A child's trace id is its parent's: the sampler can decide before the
            // span id it does not look at is drawn.
            (false, RootRule::Ratio) => {
                let result = self.ask(parent, trace_id);
                if result.decision != SamplingDecision::Drop {
                    return Decided::Undecided;
                }
                result.trace_state
            }
        };
        let span_id = self.ids.new_span_id();
        Decided::Dropped(SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::default(),
            false,
            trace_state,
        ))
    }

    fn decide_root(&self, parent: &Context) -> Decided {
        if self.rule.root == RootRule::On {
            return Decided::Undecided;
        }
        // The SDK draws the span id first, then the trace id, then asks the sampler.
        let span_id = self.ids.new_span_id();
        let trace_id = self.ids.new_trace_id();
        let result = self.ask(parent, trace_id);
        if result.decision == SamplingDecision::Drop {
            return Decided::Dropped(SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::default(),
                false,
                result.trace_state,
            ));
        }
        // The SDK draws them again, from the provider's generator: it gets these.
        PENDING_SPAN_ID.set(Some(span_id));
        PENDING_TRACE_ID.set(Some(trace_id));
        Decided::IdsDrawn
    }

    /// The sampler's answer; the built-ins do not look at the name, kind, attributes
    /// or links, so none are built.
    fn ask(&self, parent: &Context, trace_id: TraceId) -> opentelemetry_sdk::trace::SamplingResult {
        self.sampler
            .should_sample(Some(parent), trace_id, "", &SpanKind::Internal, &[], &[])
    }
}

/// What [`KnownSampler::decide`] found.
#[derive(Debug)]
pub(crate) enum Decided {
    /// The sampler drops the span: the SDK's non-recording span has this context.
    Dropped(SpanContext),
    /// The sampler keeps this root: its ids are drawn and waiting for the SDK, which
    /// must build the span now, then [`ProviderIds::forget_pending`].
    IdsDrawn,
    /// Only the SDK decides.
    Undecided,
}

thread_local! {
    static PENDING_SPAN_ID: Cell<Option<SpanId>> = const { Cell::new(None) };
    static PENDING_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// The ID generator of a provider trace-core built, shared with its [`KnownSampler`].
/// Ids the known sampler drew for a root it keeps are handed to the SDK, which draws
/// them right after: the span gets the ids the sampler decided on, drawn once.
#[derive(Debug)]
pub(crate) struct ProviderIds(pub(crate) Arc<dyn IdGenerator>);

impl ProviderIds {
    /// Drops ids drawn for a span the SDK did not build (it returns early when
    /// telemetry is suppressed or the provider is shut down).
    #[inline]
    pub(crate) fn forget_pending() {
        PENDING_SPAN_ID.set(None);
        PENDING_TRACE_ID.set(None);
    }
}

impl IdGenerator for ProviderIds {
    fn new_trace_id(&self) -> TraceId {
        PENDING_TRACE_ID
            .take()
            .unwrap_or_else(|| self.0.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        PENDING_SPAN_ID
            .take()
            .unwrap_or_else(|| self.0.new_span_id())
    }
}
