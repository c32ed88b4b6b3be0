//! The sampler, shared by the SDK and by the fast path that decides before any
//! attribute is built.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

use crate::config::SamplerKind;

/// How root spans are sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RootRule {
    On,
    Off,
    Ratio(f64),
}

/// A sampling policy: a rule for roots and whether a parent's decision is followed.
///
/// It implements the SDK's [`ShouldSample`], so the SDK and trace-core's fast path
/// always agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    root: RootRule,
    parent_based: bool,
}

/// The outcome of the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FastDecision {
    Sample,
    Drop,
    /// A fractional ratio for a root: the decision needs the new trace id.
    Defer,
}

impl Sampling {
    /// Samples everything.
    pub const ALWAYS_ON: Sampling = Sampling {
        root: RootRule::On,
        parent_based: false,
    };

    /// Builds the policy named by `kind` with `ratio` for the ratio samplers.
    pub fn new(kind: SamplerKind, ratio: f64) -> Self {
        let ratio_rule = if ratio >= 1.0 {
            RootRule::On
        } else if ratio <= 0.0 || ratio.is_nan() {
            RootRule::Off
        } else {
            RootRule::Ratio(ratio)
        };
        let (root, parent_based) = match kind {
            SamplerKind::AlwaysOn => (RootRule::On, false),
            SamplerKind::AlwaysOff => (RootRule::Off, false),
            SamplerKind::TraceIdRatio => (ratio_rule, false),
            SamplerKind::ParentBasedAlwaysOn => (RootRule::On, true),
            SamplerKind::ParentBasedAlwaysOff => (RootRule::Off, true),
            SamplerKind::ParentBasedTraceIdRatio => (ratio_rule, true),
        };
        Self { root, parent_based }
    }

    pub(crate) fn fast_decision(&self, parent: &SpanContext) -> FastDecision {
        let has_parent = parent.is_valid();
        if self.parent_based && has_parent {
            return if parent.is_sampled() {
                FastDecision::Sample
            } else {
                FastDecision::Drop
            };
        }
        match self.root {
            RootRule::On => FastDecision::Sample,
            RootRule::Off => FastDecision::Drop,
            RootRule::Ratio(ratio) if has_parent => {
                if ratio_samples(ratio, parent.trace_id()) {
                    FastDecision::Sample
                } else {
                    FastDecision::Drop
                }
            }
            RootRule::Ratio(_) => FastDecision::Defer,
        }
    }

    /// Whether a root with `trace_id` is sampled (the rule [`FastDecision::Defer`] defers).
    pub(crate) fn samples_root(&self, trace_id: TraceId) -> bool {
        self.decide(&SpanContext::empty_context(), trace_id)
    }

    fn decide(&self, parent: &SpanContext, trace_id: TraceId) -> bool {
        match self.fast_decision(parent) {
            FastDecision::Sample => true,
            FastDecision::Drop => false,
            FastDecision::Defer => match self.root {
                RootRule::Ratio(ratio) => ratio_samples(ratio, trace_id),
                RootRule::On => true,
                RootRule::Off => false,
            },
        }
    }

    /// Describes the policy for the start-up log line.
    pub(crate) fn describe(&self) -> String {
        let root = match self.root {
            RootRule::On => "always_on".to_owned(),
            RootRule::Off => "always_off".to_owned(),
            RootRule::Ratio(ratio) => format!("traceidratio({ratio})"),
        };
        if self.parent_based {
            format!("parentbased({root})")
        } else {
            root
        }
    }

    fn encode(&self) -> (u8, u64) {
        let (rule, ratio) = match self.root {
            RootRule::On => (0, 0.0),
            RootRule::Off => (1, 0.0),
            RootRule::Ratio(ratio) => (2, ratio),
        };
        (rule | (u8::from(self.parent_based) << 2), ratio.to_bits())
    }

    fn decode(mode: u8, ratio_bits: u64) -> Self {
        let root = match mode & 0b11 {
            0 => RootRule::On,
            1 => RootRule::Off,
            _ => RootRule::Ratio(f64::from_bits(ratio_bits)),
        };
        Self {
            root,
            parent_based: mode & 0b100 != 0,
        }
    }
}

/// The SDK's TraceIdRatioBased rule, so decisions match other OpenTelemetry SDKs.
fn ratio_samples(ratio: f64, trace_id: TraceId) -> bool {
    let upper_bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    let low = u128::from_be_bytes(trace_id.to_bytes()) as u64;
    (low >> 1) < upper_bound
}

impl ShouldSample for Sampling {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        // Borrowed, not cloned: this runs for every span the SDK starts.
        let empty = SpanContext::empty_context();
        let parent_span = parent_context.map(|cx| cx.span());
        let parent = parent_span
            .as_ref()
            .map_or(&empty, |span| span.span_context());
        let decision = if self.decide(parent, trace_id) {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        };
        let trace_state = if parent.is_valid() {
            parent.trace_state().clone()
        } else {
            TraceState::NONE
        };
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state,
        }
    }
}

/// The installed policy, read lock-free on every span start.
static MODE: AtomicU8 = AtomicU8::new(0);
static RATIO_BITS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn store(policy: Sampling) {
    let (mode, ratio) = policy.encode();
    RATIO_BITS.store(ratio, Ordering::Relaxed);
    MODE.store(mode, Ordering::Release);
}

#[inline]
pub(crate) fn load() -> Sampling {
    let mode = MODE.load(Ordering::Acquire);
    Sampling::decode(mode, RATIO_BITS.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags};

    use super::*;

    fn parent(sampled: bool) -> SpanContext {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(3u64),
            flags,
            true,
            TraceState::NONE,
        )
    }

    #[test]
    fn parent_based_follows_the_parent() {
        let policy = Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.0);
        assert_eq!(policy.fast_decision(&parent(true)), FastDecision::Sample);
        assert_eq!(policy.fast_decision(&parent(false)), FastDecision::Drop);
        assert_eq!(
            policy.fast_decision(&SpanContext::empty_context()),
            FastDecision::Drop
        );
    }

    #[test]
    fn fractional_roots_are_deferred_and_match_the_sdk_rule() {
        let policy = Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.5);
        let root = SpanContext::empty_context();
        assert_eq!(policy.fast_decision(&root), FastDecision::Defer);
        let sdk = opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(0.5);
        for seed in 0..200u128 {
            let trace_id =
                TraceId::from(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835));
            let ours = policy.decide(&root, trace_id);
            let theirs = sdk
                .should_sample(None, trace_id, "", &SpanKind::Internal, &[], &[])
                .decision
                == SamplingDecision::RecordAndSample;
            assert_eq!(ours, theirs, "trace id {trace_id}");
        }
    }

    #[test]
    fn encoding_round_trips() {
        for policy in [
            Sampling::new(SamplerKind::AlwaysOff, 1.0),
            Sampling::new(SamplerKind::TraceIdRatio, 0.25),
            Sampling::new(SamplerKind::ParentBasedAlwaysOn, 0.0),
        ] {
            let (mode, bits) = policy.encode();
            assert_eq!(Sampling::decode(mode, bits), policy);
        }
    }
}
