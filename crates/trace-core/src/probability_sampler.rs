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
const HEX_DIGITS: u32 = 14;

/// The tracestate member that holds every OpenTelemetry sub-key (tracestate-handling.md).
const OT_KEY: &str = "ot";

/// The longest `ot` value (tracestate-handling.md: "MUST NOT exceed 256 characters").
const MAX_OT_LEN: usize = 256;

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

/// The parts of a valid `ot` value that the sampler reads.
struct OtValue {
    /// A valid `rv` sub-key: exactly 14 lowercase hex digits (tracestate-handling.md).
    randomness: Option<u64>,
    /// Whether a `th` sub-key is present, valid or not.
    has_threshold: bool,
}

impl OtValue {
    /// Reads `value` if it is a list of `key:value` members with unique keys, as
    /// tracestate-handling.md defines it, within 256 characters. An `rv` that is not
    /// 14 lowercase hex digits is ignored, and kept as it is.
    fn parse(value: &str) -> Option<Self> {
        if value.is_empty() || value.len() > MAX_OT_LEN {
            return None;
        }
        let mut randomness = None;
        let mut has_threshold = false;
        // Where the current member starts: the members before it are checked already.
        let mut start = 0;
        for member in value.split(';') {
            let (key, sub_value) = member.split_once(':')?;
            if !valid_key(key) || !sub_value.bytes().all(valid_value_byte) {
                return None;
            }
            // A look back is cheaper than a set for the few members `ot` holds.
            let earlier = value[..start].split_terminator(';');
            if earlier
                .filter_map(|m| m.split_once(':'))
                .any(|(k, _)| k == key)
            {
                return None;
            }
            start += member.len() + 1;
            match key {
                "rv" => randomness = parse_randomness(sub_value),
                "th" => has_threshold = true,
                _ => {}
            }
        }
        Some(Self {
            randomness,
            has_threshold,
        })
    }
}

/// `key = lcalpha *(lcalpha / DIGIT)`.
fn valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `chr = ucalpha / lcalpha / DIGIT / "." / "_" / "-"`.
fn valid_value_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

fn parse_randomness(value: &str) -> Option<u64> {
    let lowercase_hex = value
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if value.len() != HEX_DIGITS as usize || !lowercase_hex {
        return None;
    }
    u64::from_str_radix(value, 16).ok()
}

/// `state` with its `ot` member (`old`) replaced by `new`, moved to the front when it
/// changed (W3C: a modified member moves to the left), removed when `new` is empty.
fn replace_ot(state: &TraceState, old: Option<&str>, new: String) -> TraceState {
    let updated = if new.is_empty() {
        state.delete(OT_KEY)
    } else if old == Some(new.as_str()) {
        return state.clone();
    } else {
        state.insert(OT_KEY, new)
    };
    // Neither can fail: `ot` is a valid key and `new` uses only `ot` grammar characters
    // within 256 characters.
    updated.unwrap_or_else(|_| state.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    use opentelemetry::trace::{SpanId, TraceFlags};
    use opentelemetry_sdk::trace::{ParentBasedSampler, Sampler};

    /// The table in tracestate-probability-sampling.md, "Converting floating-point
    /// probability to threshold value": probability and `th` at precision 3, 4, 5.
    const SPEC_TABLE: [(f64, [&str; 3]); 13] = [
        (1.0, ["0", "0", "0"]),
        (0.5, ["8", "8", "8"]),
        (1.0 / 3.0, ["aab", "aaab", "aaaab"]),
        (0.25, ["c", "c", "c"]),
        (0.2, ["ccd", "cccd", "ccccd"]),
        (0.125, ["e", "e", "e"]),
        (0.1, ["e66", "e666", "e6666"]),
        (0.0625, ["f", "f", "f"]),
        (0.01, ["fd71", "fd70a", "fd70a4"]),
        (0.001, ["ffbe7", "ffbe77", "ffbe76d"]),
        (0.0001, ["fff972", "fff9724", "fff97247"]),
        (0.00001, ["ffff584", "ffff583a", "ffff583a5"]),
        (0.000001, ["ffffef4", "ffffef39", "ffffef391"]),
    ];

    /// A valid trace id whose 56 bits of randomness are all zeros.
    const LOW: u128 = 1 << 64;
    /// A trace id whose 56 bits of randomness are all ones.
    const HIGH: u128 = u128::MAX;

    fn parent(trace_id: u128, flags: u8, tracestate: &str) -> Context {
        let state: TraceState = tracestate.parse().expect("valid tracestate");
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(trace_id),
            SpanId::from(1),
            TraceFlags::new(flags),
            true,
            state,
        ))
    }

    fn sample(sampler: &impl ShouldSample, cx: Option<&Context>, trace_id: u128) -> SamplingResult {
        sampler.should_sample(
            cx,
            TraceId::from(trace_id),
            "span",
            &SpanKind::Internal,
            &[],
            &[],
        )
    }

    /// A decision for the child of a remote parent, in the parent's trace.
    fn child(
        sampler: &impl ShouldSample,
        trace_id: u128,
        flags: u8,
        tracestate: &str,
    ) -> SamplingResult {
        sample(
            sampler,
            Some(&parent(trace_id, flags, tracestate)),
            trace_id,
        )
    }

    fn sampled(result: &SamplingResult) -> bool {
        result.decision == SamplingDecision::RecordAndSample
    }

    /// splitmix64: reproducible trace ids for the statistical tests.
    fn trace_ids(seed: u64, count: usize) -> impl Iterator<Item = u128> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        (0..count).map(move |_| (u128::from(next()) << 64) | u128::from(next()))
    }

    #[test]
    fn thresholds_match_the_spec_table_at_precision_3_4_and_5() {
        for (ratio, expected) in SPEC_TABLE {
            for (precision, th) in (3..=5).zip(expected) {
                let threshold = rejection_threshold(ratio, precision);
                assert_eq!(
                    encode_threshold(threshold),
                    th,
                    "{ratio} at precision {precision}"
                );
            }
            assert_eq!(
                ProbabilitySampler::new(ratio).threshold(),
                Some(expected[1])
            );
        }
    }

    #[test]
    fn thresholds_match_the_spec_prose_examples() {
        // tracestate-probability-sampling.md, "Rejection Threshold (T)": 1% with five
        // digits is 0xfd70a400000000, written `th:fd70a4`.
        assert_eq!(rejection_threshold(0.01, 5), 0x00fd_70a4_0000_0000);
        // tracestate-handling.md, "Sampling threshold value th": `th:0` is 100% and
        // `th:c` (0xc0000000000000) is 25%.
        assert_eq!(ProbabilitySampler::new(1.0).threshold(), Some("0"));
        assert_eq!(rejection_threshold(0.25, PRECISION), 0x00c0_0000_0000_0000);
    }

    #[test]
    fn ratios_outside_the_valid_range_are_clamped_or_never_sample() {
        for ratio in [0.0, -0.5, f64::NAN, f64::NEG_INFINITY, MIN_RATIO / 2.0] {
            let sampler = ProbabilitySampler::new(ratio);
            assert_eq!(sampler.ratio(), 0.0, "{ratio}");
            assert_eq!(sampler.threshold(), None, "{ratio}");
            assert!(!sampled(&sample(&sampler, None, HIGH)), "{ratio}");
        }
        for ratio in [1.0, 1.5, f64::INFINITY] {
            let sampler = ProbabilitySampler::new(ratio);
            assert_eq!((sampler.ratio(), sampler.threshold()), (1.0, Some("0")));
            let result = sample(&sampler, None, LOW);
            assert!(sampled(&result));
            assert_eq!(result.trace_state.get("ot"), Some("th:0"));
        }
        // The smallest valid ratio rejects all but the largest randomness value.
        let smallest = ProbabilitySampler::new(MIN_RATIO);
        assert_eq!(smallest.threshold(), Some("ffffffffffffff"));
        assert!(sampled(&sample(&smallest, None, HIGH)));
        assert!(!sampled(&sample(&smallest, None, HIGH - 1)));
    }

    #[test]
    fn ratios_near_one_round_the_threshold_without_extra_digits() {
        // The spec adds no digits for leading zeros, so these keep 4 digits of `T`.
        assert_eq!(ProbabilitySampler::new(0.999).threshold(), Some("0042"));
        assert_eq!(ProbabilitySampler::new(0.99999).threshold(), Some("0001"));
        // Half a digit, 2^-17 (7.63e-6), below 1 is where `T` rounds to 0.
        assert_eq!(
            ProbabilitySampler::new(1.0 - 8e-6).threshold(),
            Some("0001")
        );
        assert_eq!(ProbabilitySampler::new(1.0 - 7e-6).threshold(), Some("0"));
    }

    #[test]
    fn samples_exactly_when_randomness_reaches_the_written_threshold() {
        let sampler = ProbabilitySampler::new(0.1);
        let threshold = 0x00e6_6600_0000_0000_u128;
        // The high 72 bits of the trace id are not randomness.
        let high = 0xffff_ffff_ffff_ffff_ff00_0000_0000_0000_u128;
        assert!(sampled(&sample(&sampler, None, threshold)));
        assert!(sampled(&sample(&sampler, None, high | threshold)));
        assert!(!sampled(&sample(&sampler, None, threshold - 1)));
        assert!(!sampled(&sample(&sampler, None, high | (threshold - 1))));
    }

    #[test]
    fn rv_overrides_the_trace_id() {
        let half = ProbabilitySampler::new(0.5);
        // sdk.md, "Explicit randomness": an all-ones trace id with rv 7479cfb506891d.
        let result = child(&half, HIGH, 0x01, "ot=rv:7479cfb506891d");
        assert!(!sampled(&result));
        assert_eq!(result.trace_state.header(), "ot=rv:7479cfb506891d");

        let result = child(&half, LOW, 0x01, "ot=rv:80000000000000");
        assert!(sampled(&result));
        assert_eq!(result.trace_state.header(), "ot=th:8;rv:80000000000000");
        let result = child(&half, HIGH, 0x01, "ot=rv:7fffffffffffff");
        assert!(!sampled(&result));
    }

    #[test]
    fn rv_example_is_kept_from_56_9_percent_up() {
        // tracestate-handling.md, "Explicit randomness value rv": 0x6e6d1a75832a2f is
        // kept at probabilities from 56.9% through 100%.
        for ratio in [0.569, 0.6, 0.75, 1.0] {
            let sampler = ProbabilitySampler::new(ratio);
            assert!(
                sampled(&child(&sampler, LOW, 0x03, "ot=rv:6e6d1a75832a2f")),
                "{ratio}"
            );
        }
        for ratio in [0.568, 0.5, 0.1] {
            let sampler = ProbabilitySampler::new(ratio);
            assert!(
                !sampled(&child(&sampler, HIGH, 0x03, "ot=rv:6e6d1a75832a2f")),
                "{ratio}"
            );
        }
    }

    #[test]
    fn invalid_rv_is_ignored_and_kept() {
        let sampler = ProbabilitySampler::new(0.5);
        for rv in [
            "ffffffffffffff0",
            "fffffffffffff",
            "FFFFFFFFFFFFFF",
            "fffffffffffffg",
        ] {
            let result = child(&sampler, LOW, 0x03, &format!("ot=rv:{rv}"));
            assert!(!sampled(&result), "{rv} was used");
            let kept = format!("rv:{rv}");
            assert_eq!(result.trace_state.get("ot"), Some(kept.as_str()));
        }
    }

    #[test]
    fn keeps_other_vendors_and_ot_sub_keys_with_ot_in_front() {
        let sampler = ProbabilitySampler::new(0.5);
        let tracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,ot=rv:c0000000000000;foo:bar";
        let result = child(&sampler, LOW, 0x03, tracestate);
        assert!(sampled(&result));
        assert_eq!(
            result.trace_state.header(),
            "ot=th:8;rv:c0000000000000;foo:bar,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        );
    }

    #[test]
    fn replaces_the_parents_threshold_when_sampled_and_removes_it_when_not() {
        let sampler = ProbabilitySampler::new(0.5);
        let tracestate = "a=1,ot=foo:bar;th:c;x:y,b=2";
        let kept = child(&sampler, HIGH, 0x03, tracestate);
        assert_eq!(kept.trace_state.header(), "ot=th:8;foo:bar;x:y,a=1,b=2");

        let dropped = child(&sampler, LOW, 0x03, tracestate);
        assert!(!sampled(&dropped));
        assert_eq!(dropped.trace_state.header(), "ot=foo:bar;x:y,a=1,b=2");

        // An `ot` member holding only `th` goes away; one without `th` stays in place.
        let dropped = child(&sampler, LOW, 0x03, "a=1,ot=th:0,b=2");
        assert_eq!(dropped.trace_state.header(), "a=1,b=2");
        let dropped = child(&sampler, HIGH, 0x03, "a=1,ot=rv:00000000000000,b=2");
        assert_eq!(dropped.trace_state.header(), "a=1,ot=rv:00000000000000,b=2");

        // Our `th` already in front leaves `ot` as it is, and where it is.
        let kept = child(&sampler, LOW, 0x03, "a=1,ot=th:8;rv:ffffffffffffff");
        assert_eq!(kept.trace_state.header(), "a=1,ot=th:8;rv:ffffffffffffff");
        let kept = child(&sampler, LOW, 0x03, "a=1,ot=rv:ffffffffffffff;th:8");
        assert_eq!(kept.trace_state.header(), "ot=th:8;rv:ffffffffffffff,a=1");
        let kept = child(&sampler, LOW, 0x03, "a=1,ot=th:80;rv:ffffffffffffff");
        assert_eq!(kept.trace_state.header(), "ot=th:8;rv:ffffffffffffff,a=1");
    }

    #[test]
    fn an_ot_value_outside_the_grammar_is_treated_as_absent() {
        let sampler = ProbabilitySampler::new(0.5);
        let invalid = [
            "rv:00000000000000;;th:0",
            "rv:00000000000000;",
            "th",
            "Th:8",
            "1x:8",
            "rv:00000000000000;x:a b",
            "rv:00000000000000;x:+",
            "rv:00000000000000;rv:00000000000000",
            "x:1;rv:00000000000000;x:2",
            "",
        ];
        for ot in invalid {
            let tracestate = format!("a=1,ot={ot}");
            // The trace id decides, not the `rv` of all zeros.
            let kept = child(&sampler, HIGH, 0x03, &tracestate);
            assert!(sampled(&kept), "{ot:?}");
            assert_eq!(kept.trace_state.header(), "ot=th:8,a=1", "{ot:?}");
            let dropped = child(&sampler, LOW, 0x03, &tracestate);
            assert_eq!(dropped.trace_state.header(), "a=1", "{ot:?}");
        }
    }

    #[test]
    fn does_not_grow_ot_past_256_characters() {
        let sampler = ProbabilitySampler::new(0.1);
        // 256 characters with the parent's `th:8;`, 259 with `th:e666;`.
        let long = format!("rv:{};x:{}", "f".repeat(14), "a".repeat(231));
        assert_eq!(long.len(), 251);
        let result = child(&sampler, LOW, 0x03, &format!("ot=th:8;{long}"));
        assert!(sampled(&result));
        // The parent's `th` no longer holds, so it goes even though ours does not fit.
        assert_eq!(result.trace_state.get("ot"), Some(long.as_str()));
        assert!(sampler.warned.ot_too_long.load(Ordering::Relaxed));

        // Exactly 256 characters still fit.
        let fits = format!("rv:{};x:{}", "f".repeat(14), "a".repeat(228));
        let result = child(&sampler, LOW, 0x03, &format!("ot={fits}"));
        assert_eq!(result.trace_state.get("ot").map(str::len), Some(MAX_OT_LEN));
    }

    #[test]
    fn an_unsampled_span_without_ot_keeps_the_parents_tracestate() {
        let sampler = ProbabilitySampler::new(0.1);
        let tracestate = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
        let result = child(&sampler, LOW, 0x03, tracestate);
        assert!(!sampled(&result));
        assert_eq!(result.trace_state.header(), tracestate);
        assert!(sample(&sampler, None, LOW).trace_state.header().is_empty());
    }

    #[test]
    fn warns_once_about_presumed_randomness_for_children_without_the_random_flag() {
        let with_flag = ProbabilitySampler::new(0.5);
        child(&with_flag, LOW, 0x03, "");
        sample(&with_flag, None, LOW);
        child(&with_flag, LOW, 0x01, "ot=rv:00000000000000");
        assert!(!with_flag.warned.presumed_random.load(Ordering::Relaxed));

        let without_flag = ProbabilitySampler::new(0.5);
        child(&without_flag.clone(), LOW, 0x01, "");
        assert!(without_flag.warned.presumed_random.load(Ordering::Relaxed));
    }

    #[test]
    fn lower_ratios_keep_a_subset_at_the_expected_rate() {
        const COUNT: usize = 200_000;
        let ratios = [0.01, 0.1, 0.25, 0.5, 0.9];
        let samplers = ratios.map(ProbabilitySampler::new);
        let mut kept = [0_usize; 5];
        for trace_id in trace_ids(0x5eed, COUNT) {
            let decisions = samplers
                .each_ref()
                .map(|s| sampled(&sample(s, None, trace_id)));
            for (i, pair) in decisions.windows(2).enumerate() {
                let (lower, higher) = (ratios[i], ratios[i + 1]);
                assert!(!pair[0] || pair[1], "kept at {lower} but not {higher}");
            }
            for (count, decision) in kept.iter_mut().zip(decisions) {
                *count += usize::from(decision);
            }
        }
        for ((ratio, sampler), count) in ratios.iter().zip(&samplers).zip(kept) {
            // The probability the written threshold stands for.
            let effective = (MAX_ADJUSTED_COUNT - sampler.threshold) as f64 / 2f64.powi(56);
            let fraction = count as f64 / COUNT as f64;
            let bound = 5.0 * (effective * (1.0 - effective) / COUNT as f64).sqrt();
            assert!(
                (fraction - effective).abs() < bound,
                "{ratio}: kept {fraction}, expected {effective} ± {bound}"
            );
            assert!(
                (effective - ratio).abs() < 1e-4,
                "{ratio} encodes as {effective}"
            );
        }
    }

    #[test]
    fn ignores_the_parents_sampled_flag() {
        let sampler = ProbabilitySampler::new(0.5);
        assert!(sampled(&child(&sampler, HIGH, 0x02, "")));
        assert!(!sampled(&child(&sampler, LOW, 0x03, "")));
    }

    #[test]
    fn parent_based_sampler_keeps_the_threshold_of_a_root() {
        let root = Context::new();
        let parent_based = ParentBasedSampler::new(ProbabilitySampler::new(0.25));
        let result = sample(&parent_based, Some(&root), HIGH);
        assert!(sampled(&result));
        assert_eq!(result.trace_state.get("ot"), Some("th:c"));
        // Children follow the parent and keep its tracestate, `th` included.
        let result = child(&parent_based, LOW, 0x03, "ot=th:c");
        assert!(sampled(&result));
        assert_eq!(result.trace_state.get("ot"), Some("th:c"));

        // The older `Sampler::ParentBased` returns the parent's (empty) tracestate.
        let legacy = Sampler::ParentBased(Box::new(ProbabilitySampler::new(0.25)));
        let result = sample(&legacy, Some(&root), HIGH);
        assert!(sampled(&result));
        assert_eq!(result.trace_state.get("ot"), None);
    }

    #[test]
    fn describes_itself() {
        let sampler = ProbabilitySampler::new(0.1);
        assert_eq!(sampler.to_string(), "ProbabilitySampler{0.1}");
        let tiny = ProbabilitySampler::new(1e-7);
        assert_eq!(tiny.to_string(), "ProbabilitySampler{0.0000001}");
        assert_eq!(
            ProbabilitySampler::new(2.0).to_string(),
            "ProbabilitySampler{1}"
        );
        assert_eq!(
            ProbabilitySampler::new(f64::NAN).to_string(),
            "ProbabilitySampler{0}"
        );
        assert_eq!(
            format!("{sampler:?}"),
            r#"ProbabilitySampler { ratio: 0.1, threshold: Some("e666") }"#
        );
        let clone = sampler.clone();
        assert_eq!((clone.ratio(), clone.threshold()), (0.1, Some("e666")));
    }
}
