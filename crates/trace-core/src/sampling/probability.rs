//! [`ProbabilitySampler`]: the OpenTelemetry specification's consistent probability
//! sampler (SDK spec, "ProbabilitySampler"), with the rejection threshold written to
//! the `ot` tracestate member (spec "TraceState: Probability Sampling" and
//! "TraceState Handling").

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

use super::ot::{MAX_OT_LEN, OT_KEY, OtValue, replace_ot};
use crate::propagation::TRACE_FLAG_RANDOM;

/// 2^56, the number of distinct 56-bit randomness values ("MaxAdjustedCount" in
/// tracestate-handling.md). As a threshold it rejects every span.
const MAX_ADJUSTED_COUNT: u64 = 1 << 56;

/// The smallest valid ratio, 2^-56 (sdk.md, "ProbabilitySampler sampler configuration").
const MIN_RATIO: f64 = 1.0 / MAX_ADJUSTED_COUNT as f64;

/// Significant hex digits of an encoded threshold: the default the spec recommends to
/// SDKs ("Converting floating-point probability to threshold value").
const PRECISION: u32 = 4;

/// Hex digits in a full 56-bit threshold or randomness value.
pub(super) const HEX_DIGITS: u32 = 14;

/// A sampler that keeps a span when its trace's 56-bit randomness `R` is at least the
/// rejection threshold `T` derived from a ratio, so that a trace kept at one ratio is
/// kept at every higher ratio, in every service and SDK that follows the specification.
///
/// This is the SDK specification's `ProbabilitySampler` (the consistent successor of
/// `TraceIdRatioBased`), implemented as the OpenTelemetry SDK's [`ShouldSample`]:
///
/// - `T` is `(1 - ratio) * 2^56` rounded to 4 significant hex digits, the precision the
///   spec recommends SDKs use, with a digit more for each leading `f` of small ratios
///   (`e666` for 0.1, `fd70a` for 0.01). Decisions use this rounded `T`, so a span is
///   kept exactly when `R` reaches the `th` written; [`threshold`](Self::threshold)
///   returns it.
/// - `R` is the `rv` sub-key of the parent's `ot` tracestate member when it holds a
///   valid value, else the trace id's least significant 56 bits.
/// - A sampled span's tracestate carries `th:<T>` in its `ot` member, which then moves
///   to the front; other sub-keys and other vendors' members are kept. A dropped span's
///   tracestate carries no `th`.
///
/// Like every probability sampler it ignores the parent's sampled flag. To follow the
/// parent and use the ratio only for roots, wrap it in the SDK's
/// [`ParentBasedSampler`](opentelemetry_sdk::trace::ParentBasedSampler), which keeps the
/// `th` this sampler writes (`Sampler::ParentBased` would return the parent's tracestate
/// instead and lose it):
///
/// ```
/// use opentelemetry::trace::{Tracer, TracerProvider, TraceContextExt};
/// use opentelemetry_sdk::trace::{ParentBasedSampler, SdkTracerProvider};
/// use trace_core::ProbabilitySampler;
///
/// let sampler = ProbabilitySampler::new(0.25);
/// assert_eq!(sampler.threshold(), Some("c"));
/// assert_eq!(sampler.to_string(), "ProbabilitySampler{0.25}");
///
/// let provider = SdkTracerProvider::builder()
///     .with_sampler(ParentBasedSampler::new(sampler))
///     .build();
/// let tracer = provider.tracer("example");
/// let cx = opentelemetry::Context::current_with_span(tracer.start("root"));
/// let span = cx.span();
/// let span_context = span.span_context();
/// if span_context.is_sampled() {
///     assert_eq!(span_context.trace_state().get("ot"), Some("th:c"));
/// }
/// ```
///
/// Ratios at or above 1 sample every span with `th:0`, and so do ratios within about
/// 7.6e-6 of 1, whose `T` rounds to 0 (the spec adds no digits near 1). Ratios below the
/// spec's minimum of 2^-56, including zero, negative ratios and NaN, sample nothing: the
/// spec does not define them, and turns a `ComposableProbability` of 0 into always-off.
///
/// A child decided on trace id bits that its parent did not flag as random (W3C Level 2
/// `random` flag) logs one warning per sampler, as the spec asks. The specification of
/// this sampler still has the status "Development".
#[derive(Clone)]
pub struct ProbabilitySampler {
    ratio: f64,
    /// The rejection threshold `T`; [`MAX_ADJUSTED_COUNT`] when nothing is sampled.
    threshold: u64,
    /// `th:<T>`, formatted once; empty when nothing is sampled.
    threshold_member: Box<str>,
    /// One-time warnings, shared by clones.
    warned: Arc<Warned>,
}

/// Which once-per-sampler warnings were logged.
#[derive(Default)]
struct Warned {
    presumed_random: AtomicBool,
    ot_too_long: AtomicBool,
}

impl ProbabilitySampler {
    /// A sampler for `ratio`, the probability of keeping a trace, in `[2^-56, 1]`.
    ///
    /// Ratios above 1 are taken as 1; ratios below 2^-56 (zero, negative, NaN) sample
    /// nothing.
    pub fn new(ratio: f64) -> Self {
        // NaN fails both comparisons and ends up with the never-sampling ratio.
        let ratio = if ratio >= 1.0 {
            1.0
        } else if ratio >= MIN_RATIO {
            ratio
        } else {
            0.0
        };
        let threshold = rejection_threshold(ratio, PRECISION);
        let threshold_member = if threshold < MAX_ADJUSTED_COUNT {
            format!("th:{}", encode_threshold(threshold)).into_boxed_str()
        } else {
            Box::default()
        };
        Self {
            ratio,
            threshold,
            threshold_member,
            warned: Arc::default(),
        }
    }

    /// The ratio in use, after the adjustments [`new`](Self::new) describes.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// The rejection threshold as written to `th` (`"e666"` for 0.1, `"0"` for 1), or
    /// `None` when the sampler samples nothing.
    pub fn threshold(&self) -> Option<&str> {
        self.threshold_member.strip_prefix("th:")
    }

    fn decide(&self, parent: &SpanContext, trace_id: TraceId) -> (SamplingDecision, TraceState) {
        let state = parent.trace_state();
        let ot = state.get(OT_KEY);
        // An `ot` value outside the tracestate-handling.md grammar is treated as absent.
        let parsed = ot.and_then(OtValue::parse);
        let randomness = match parsed.as_ref().and_then(|ot| ot.randomness) {
            Some(rv) => rv,
            None => {
                if parent.is_valid()
                    && parent.trace_flags() & TRACE_FLAG_RANDOM != TRACE_FLAG_RANDOM
                {
                    self.warn_presumed_random();
                }
                trace_id_randomness(trace_id)
            }
        };
        // tracestate-probability-sampling.md, "Decision algorithm": keep when R >= T.
        let sampled = randomness >= self.threshold;
        let decision = if sampled {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        };
        // The parent's `ot` members to keep: none from an invalid value.
        let others = match (ot, parsed) {
            // The parent's tracestate is the answer: no `th` to remove, or ours in front.
            (None, _) if !sampled => return (decision, state.clone()),
            (Some(_), Some(parsed)) if !sampled && !parsed.has_threshold => {
                return (decision, state.clone());
            }
            (Some(ot), Some(_)) if sampled && self.leads(ot) => return (decision, state.clone()),
            (Some(ot), Some(_)) => ot,
            _ => "",
        };
        (
            decision,
            replace_ot(state, ot, self.rewrite(others, sampled)),
        )
    }

    /// Whether the valid `ot` value starts with this sampler's `th`, its only `th`.
    fn leads(&self, ot: &str) -> bool {
        ot.strip_prefix(&*self.threshold_member)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(';'))
    }

    /// The `ot` value for a decision: `th:<T>` when sampled, then every member of the
    /// valid `others` except `th`. A dropped span loses `th` (sdk.md, CompositeSampler);
    /// `rv` goes out unchanged (sdk.md, "Do not overwrite explicit randomness"), and so
    /// do sub-keys this sampler does not know (tracestate-handling.md, "Setting values").
    fn rewrite(&self, others: &str, sampled: bool) -> String {
        let mut value = String::with_capacity(self.threshold_member.len() + 1 + others.len());
        if sampled {
            value.push_str(&self.threshold_member);
        }
        let kept = others
            .split(';')
            .filter(|m| !m.is_empty() && !m.starts_with("th:"));
        for member in kept {
            if !value.is_empty() {
                value.push(';');
            }
            value.push_str(member);
        }
        if sampled && value.len() > MAX_OT_LEN {
            // tracestate-handling.md advises aborting the update; a kept span without
            // `th` only has an unknown probability.
            if !self.warned.ot_too_long.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    target: "trace_core",
                    "ProbabilitySampler: adding `{}` would make the `ot` tracestate value longer \
                     than 256 characters; sampled spans of such traces carry no threshold",
                    self.threshold_member
                );
            }
            value.replace_range(..=self.threshold_member.len(), "");
        }
        value
    }

    /// sdk.md, "Compatibility warnings for ProbabilitySampler": a child decision made on
    /// trace id bits that the parent did not flag as random deserves a warning.
    fn warn_presumed_random(&self) {
        let flag = &self.warned.presumed_random;
        if !flag.load(Ordering::Relaxed) && !flag.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "trace_core",
                "The ProbabilitySampler sampler is presuming TraceIDs are random and expects \
                 the Trace random flag to be set in confirmation. Please upgrade your caller(s) \
                 to use W3C Trace Context Level 2."
            );
        }
    }
}

impl ShouldSample for ProbabilitySampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let (decision, trace_state) = match parent_context {
            Some(cx) => self.decide(cx.span().span_context(), trace_id),
            None => self.decide(&SpanContext::NONE, trace_id),
        };
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state,
        }
    }
}

impl fmt::Display for ProbabilitySampler {
    /// The spec's description form, `ProbabilitySampler{0.1}`: Rust's shortest decimal
    /// that reads back as the same ratio, so different ratios never share a description
    /// (sdk.md, GetDescription and TraceIdRatioBased).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProbabilitySampler{{{}}}", self.ratio)
    }
}

impl fmt::Debug for ProbabilitySampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbabilitySampler")
            .field("ratio", &self.ratio)
            .field("threshold", &self.threshold())
            .finish()
    }
}

/// The rejection threshold for `ratio` (0 or in `[2^-56, 1]`), rounded to `precision`
/// significant hex digits.
///
/// This follows the spec's "Converting floating-point probability to threshold value":
/// the precision grows by one digit for each leading `f` the threshold of a small ratio
/// has, and not for leading zeros near 1. It rounds in integers, as the Collector's
/// `pkg/sampling` does, rather than through the float's hex digits, so it may use all 14
/// digits (the spec's float version stops at 12).
fn rejection_threshold(ratio: f64, precision: u32) -> u64 {
    if ratio < MIN_RATIO {
        return MAX_ADJUSTED_COUNT;
    }
    // The exponent `frexp` would return, for a normal `ratio` in [2^-56, 1].
    let exponent = ((ratio.to_bits() >> 52) & 0x7ff) as i32 - 1022;
    let precision = (precision + exponent.unsigned_abs() / 4).clamp(1, HEX_DIGITS);
    // Exact: the ratio times a power of two, rounded to an integer below 2^56.
    let kept = (ratio * MAX_ADJUSTED_COUNT as f64).round() as u64;
    let threshold = MAX_ADJUSTED_COUNT - kept;
    let shift = 4 * (HEX_DIGITS - precision);
    if shift == 0 {
        return threshold;
    }
    // Rounds half up; it cannot reach 2^56 because small ratios get more digits.
    ((threshold + (1 << (shift - 1))) >> shift) << shift
}

/// `threshold` as a `th` value: 14 hex digits without trailing zeros, `0` for zero
/// (tracestate-probability-sampling.md, "Converting integer threshold to a T-value").
fn encode_threshold(threshold: u64) -> String {
    if threshold == 0 {
        return "0".to_owned();
    }
    let digits = format!("{threshold:014x}");
    digits.trim_end_matches('0').to_owned()
}

/// The least significant 56 bits of the trace id (W3C Trace Context Level 2).
fn trace_id_randomness(trace_id: TraceId) -> u64 {
    let bytes = trace_id.to_bytes();
    let mut low = [0; 8];
    low.copy_from_slice(&bytes[8..]);
    u64::from_be_bytes(low) & (MAX_ADJUSTED_COUNT - 1)
}

#[cfg(test)]
#[path = "probability_tests.rs"]
mod tests;
