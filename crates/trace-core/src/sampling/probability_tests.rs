//! Unit tests of [`ProbabilitySampler`](super::ProbabilitySampler): the spec's examples,
//! edge ratios, `rv` and `ot` handling.

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
