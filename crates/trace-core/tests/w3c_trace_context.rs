//! W3C Trace Context (Level 1 and 2) conformance, case by case, through `http::HeaderMap`.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context,
    propagation::TextMapPropagator,
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
};
use trace_core::carrier::{HeaderExtractor, HeaderInjector, MapExtractor};
use trace_core::propagation::{TraceContextPropagator, parse_traceparent};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "00f067aa0ba902b7";
const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Builds a header map, appending so repeated names stay repeated.
fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("test header name");
        let value = HeaderValue::from_str(value).expect("test header value");
        map.append(name, value);
    }
    map
}

/// Extracts through the propagator and returns the span context if one was found.
fn extract(pairs: &[(&str, &str)]) -> Option<SpanContext> {
    let map = headers(pairs);
    let extractor = HeaderExtractor(&map);
    let cx = TraceContextPropagator::new().extract_with_context(&Context::new(), &extractor);
    let span_context = cx.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

#[track_caller]
fn accepted(traceparent: &str) -> SpanContext {
    extract(&[("traceparent", traceparent)]).unwrap_or_else(|| panic!("rejected {traceparent:?}"))
}

#[track_caller]
fn rejected(traceparent: &str) {
    let got = extract(&[("traceparent", traceparent)]);
    assert_eq!(got, None, "accepted {traceparent:?}");
}

/// Extracts with a valid traceparent, injects the context again, and returns the
/// tracestate sent on.
#[track_caller]
fn tracestate(values: &[&str]) -> Option<String> {
    let mut pairs = vec![("traceparent", VALID)];
    pairs.extend(values.iter().map(|v| ("tracestate", *v)));
    let map = headers(&pairs);
    let propagator = TraceContextPropagator::new();
    let cx = propagator.extract_with_context(&Context::new(), &HeaderExtractor(&map));
    assert!(
        cx.span().span_context().is_valid(),
        "traceparent is used even if tracestate is bad"
    );
    let mut out = HeaderMap::new();
    propagator.inject_context(&cx, &mut HeaderInjector(&mut out));
    let mut sent = out.get_all("tracestate").iter();
    let header = sent.next().map(|v| v.to_str().expect("ASCII").to_owned());
    assert!(sent.next().is_none(), "one tracestate header at most");
    header
}

#[track_caller]
fn tracestate_kept(header: &str) {
    assert_eq!(tracestate(&[header]).as_deref(), Some(header), "{header:?}");
}

#[track_caller]
fn tracestate_dropped(header: &str) {
    assert_eq!(tracestate(&[header]), None, "{header:?}");
}

fn inject(span_context: SpanContext) -> HeaderMap {
    let cx = Context::new().with_remote_span_context(span_context);
    let mut map = HeaderMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut map));
    map
}

fn span_context(flags: u8, trace_state: TraceState) -> SpanContext {
    let trace_id = TraceId::from_hex(TRACE_ID).expect("trace id");
    let span_id = SpanId::from_hex(SPAN_ID).expect("span id");
    SpanContext::new(trace_id, span_id, TraceFlags::new(flags), true, trace_state)
}

fn with_flags(flags: &str) -> String {
    format!("00-{TRACE_ID}-{SPAN_ID}-{flags}")
}

mod header_names {
    use super::*;

    #[test]
    fn traceparent_name_casing_is_ignored() {
        for name in ["traceparent", "TraceParent", "TRACEPARENT"] {
            assert!(extract(&[(name, VALID)]).is_some(), "{name}");
        }
    }

    #[test]
    fn tracestate_name_is_case_insensitive() {
        let sc = extract(&[("TRACEPARENT", VALID), ("TraceState", "foo=1")]).expect("valid");
        assert_eq!(sc.trace_state().get("foo"), Some("1"));
    }

    #[test]
    fn extracted_context_is_remote_with_ids() {
        let sc = accepted(VALID);
        assert!(sc.is_remote());
        assert_eq!(sc.trace_id().to_string(), TRACE_ID);
        assert_eq!(sc.span_id().to_string(), SPAN_ID);
    }

    #[test]
    fn missing_header_keeps_parent_context() {
        let map = HeaderMap::new();
        let parent = Context::new().with_remote_span_context(span_context(1, TraceState::NONE));
        let propagator = TraceContextPropagator::new();
        let cx = propagator.extract_with_context(&parent, &HeaderExtractor(&map));
        assert_eq!(cx.span().span_context(), parent.span().span_context());
    }
}

mod versions {
    use super::*;

    #[test]
    fn version_00_is_accepted() {
        accepted(VALID);
    }

    #[test]
    fn version_00_with_extra_field_is_rejected() {
        rejected(&format!("{VALID}-extra"));
        rejected(&format!("{VALID}-"));
    }

    #[test]
    fn version_00_too_long_is_rejected() {
        rejected(&format!("{VALID}0"));
    }

    #[test]
    fn too_short_is_rejected() {
        rejected(&VALID[..54]);
        rejected("00");
        rejected("");
    }

    #[test]
    fn future_version_cc_is_accepted() {
        assert!(accepted(&format!("cc-{TRACE_ID}-{SPAN_ID}-01")).is_sampled());
    }

    #[test]
    fn future_version_with_extra_fields_is_accepted() {
        let sc = accepted(&format!(
            "cc-{TRACE_ID}-{SPAN_ID}-01-what-the-future-will-be-like"
        ));
        assert_eq!(sc.trace_id().to_string(), TRACE_ID);
        assert_eq!(sc.span_id().to_string(), SPAN_ID);
    }

    #[test]
    fn future_version_with_extra_data_not_after_dash_is_rejected() {
        rejected(&format!("cc-{TRACE_ID}-{SPAN_ID}-01.what"));
        rejected(&format!("cc-{TRACE_ID}-{SPAN_ID}-010"));
    }

    #[test]
    fn future_version_too_short_is_rejected() {
        rejected(&format!("cc-{TRACE_ID}-{SPAN_ID}-0"));
    }

    #[test]
    fn version_ff_is_rejected() {
        rejected(&format!("ff-{TRACE_ID}-{SPAN_ID}-01"));
        rejected(&format!("ff-{TRACE_ID}-{SPAN_ID}-01-extra"));
    }

    #[test]
    fn illegal_version_characters_are_rejected() {
        for version in ["0x", "qw", "0A", "AA", "-0", "0-", "  "] {
            rejected(&format!("{version}-{TRACE_ID}-{SPAN_ID}-01"));
        }
    }

    #[test]
    fn wrong_version_length_is_rejected() {
        rejected(&format!("0-{TRACE_ID}-{SPAN_ID}-01"));
        rejected(&format!("000-{TRACE_ID}-{SPAN_ID}-01"));
    }

    #[test]
    fn wrong_delimiters_are_rejected() {
        rejected(&format!("00_{TRACE_ID}_{SPAN_ID}_01"));
        rejected(&format!("00-{TRACE_ID}.{SPAN_ID}-01"));
    }
}

mod ids {
    use super::*;

    #[test]
    fn all_zero_trace_id_or_parent_id_is_rejected() {
        rejected(&format!("00-{}-{SPAN_ID}-01", "0".repeat(32)));
        rejected(&format!("00-{TRACE_ID}-{}-01", "0".repeat(16)));
    }

    #[test]
    fn uppercase_trace_id_or_parent_id_is_rejected() {
        rejected(&format!("00-{}-{SPAN_ID}-01", TRACE_ID.to_uppercase()));
        rejected(&format!("00-{TRACE_ID}-{}-01", SPAN_ID.to_uppercase()));
        rejected(&format!("00-4BF92f3577b34da6a3ce929d0e0e4736-{SPAN_ID}-01"));
    }

    #[test]
    fn non_hex_ids_are_rejected() {
        rejected(&format!("00-{}g-{SPAN_ID}-01", &TRACE_ID[..31]));
        rejected(&format!("00-{TRACE_ID}-{}z-01", &SPAN_ID[..15]));
    }

    #[test]
    fn wrong_id_lengths_are_rejected() {
        rejected(&format!("00-{}-{SPAN_ID}-01", &TRACE_ID[..31]));
        rejected(&format!("00-{TRACE_ID}0-{SPAN_ID}-01"));
        rejected(&format!("00-{TRACE_ID}-{}-01", &SPAN_ID[..15]));
        rejected(&format!("00-{TRACE_ID}-{SPAN_ID}0-01"));
    }
}

mod flags {
    use super::*;

    fn flags_of(flags: &str) -> u8 {
        accepted(&with_flags(flags)).trace_flags().to_u8()
    }

    #[test]
    fn flags_00_is_not_sampled() {
        assert_eq!(flags_of("00"), 0x00);
    }

    #[test]
    fn flags_01_is_sampled() {
        assert_eq!(flags_of("01"), 0x01);
    }

    #[test]
    fn flags_02_keeps_random_bit() {
        let sc = accepted(&with_flags("02"));
        assert_eq!(sc.trace_flags().to_u8(), 0x02);
        assert!(!sc.is_sampled());
    }

    #[test]
    fn flags_03_is_sampled_and_random() {
        assert_eq!(flags_of("03"), 0x03);
    }

    #[test]
    fn unknown_flag_bits_are_masked() {
        assert_eq!(flags_of("ff"), 0x03);
        assert_eq!(flags_of("09"), 0x01);
        assert_eq!(flags_of("fc"), 0x00);
        let parsed = parse_traceparent(&with_flags("ff")).expect("valid");
        assert_eq!(parsed.raw_flags(), 0xff);
    }

    #[test]
    fn malformed_flags_are_rejected() {
        for flags in ["0g", "FF", "0A", "-1", "  ", "1", "001", ""] {
            rejected(&with_flags(flags));
        }
    }
}

mod ows {
    use super::*;

    #[test]
    fn leading_and_trailing_whitespace_is_tolerated() {
        accepted(&format!(" {VALID}"));
        accepted(&format!("{VALID}\t"));
        accepted(&format!(" \t{VALID} \t "));
    }

    #[test]
    fn whitespace_inside_is_rejected() {
        rejected(&format!("00- {TRACE_ID}-{SPAN_ID}-01"));
        rejected(&format!("00-{TRACE_ID}-{SPAN_ID}- 1"));
    }
}

mod repeated_traceparent {
    use super::*;

    #[test]
    fn two_headers_are_rejected_whether_equal_or_not() {
        assert!(extract(&[("traceparent", VALID), ("traceparent", VALID)]).is_none());
        let other = format!("00-{TRACE_ID}-{}-01", "1".repeat(16));
        assert!(extract(&[("traceparent", VALID), ("TraceParent", &other)]).is_none());
    }

    #[test]
    fn tracestate_is_ignored_when_traceparent_is_rejected() {
        let twice = [
            ("traceparent", VALID),
            ("traceparent", VALID),
            ("tracestate", "a=1"),
        ];
        assert!(extract(&twice).is_none());
        assert!(extract(&[("traceparent", "00-bogus"), ("tracestate", "a=1")]).is_none());
    }
}

mod tracestate {
    use super::*;

    fn members(range: std::ops::Range<usize>) -> String {
        range
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn valid_list_is_kept_in_order() {
        tracestate_kept("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    }

    #[test]
    fn duplicate_key_keeps_the_first_member() {
        assert_eq!(
            tracestate(&["foo=1,bar=2,foo=3"]).as_deref(),
            Some("foo=1,bar=2")
        );
        assert_eq!(tracestate(&["foo=1,foo=1"]).as_deref(), Some("foo=1"));
    }

    #[test]
    fn thirty_two_members_are_kept_thirty_three_dropped() {
        tracestate_kept(&members(0..32));
        tracestate_dropped(&members(0..33));
    }

    #[test]
    fn keys_follow_one_grammar() {
        tracestate_kept(&format!("a{}=1", "b".repeat(255)));
        tracestate_dropped(&format!("a{}=1", "b".repeat(256)));
        tracestate_kept("a0_-*/@z=1");
        tracestate_kept(&format!("{}=1", "0".repeat(256)));
        for key in [
            "1abc",
            "tenant@vendor",
            "1tenant@vendor",
            "t_-*/@v0_-*/",
            "a@b",
        ] {
            tracestate_kept(&format!("{key}=1"));
        }
        for key in [
            "Foo", "fOo", "_foo", "foo.bar", "foo bar", "", "*", "@vendor",
        ] {
            tracestate_dropped(&format!("{key}=1"));
        }
        for key in ["Tenant@vendor", "_t@v", "tenant@Vendor"] {
            tracestate_dropped(&format!("{key}=1"));
        }
    }

    /// The tenant@vendor split is gone: these keys are valid, though
    /// opentelemetry 0.33's `TraceState` refuses all but `foo@`.
    #[test]
    fn keys_with_at_signs_anywhere_after_the_first_character() {
        let long_system = format!("{}@{}", "t".repeat(241), "v".repeat(14));
        let long_tenant = format!("{}@v", "t".repeat(242));
        let keys = [
            "foo@",
            "foo@@bar",
            "foo@bar@baz",
            "tenant@1vendor",
            "t@-",
            &long_system,
            &long_tenant,
            &format!("t@{}", "v".repeat(15)),
        ];
        for key in keys {
            tracestate_kept(&format!("{key}=1,bar=2"));
        }
        assert!(TraceState::from_key_value([(long_system.as_str(), "1")]).is_err());
        tracestate_dropped("@foo=1,bar=2");
    }

    #[test]
    fn unrepresentable_members_keep_their_place() {
        let header = "a=1,foo@@bar=2,b=3,x@y@z=4";
        tracestate_kept(header);
        let sc = extract(&[("traceparent", VALID), ("tracestate", header)]).expect("valid");
        assert_eq!(sc.trace_state().header(), "a=1,b=3");
    }

    #[test]
    fn values() {
        tracestate_kept(&format!("k={}", "v".repeat(256)));
        tracestate_dropped(&format!("k={}", "v".repeat(257)));
        tracestate_kept("k=a b!~");
        tracestate_kept("k= lead");
        for header in ["k=", "k=a=b", "k", "=v", "k=a\tb", "k =v"] {
            tracestate_dropped(header);
        }
    }

    #[test]
    fn control_and_non_ascii_values_drop_tracestate() {
        for value in ["a\u{1}b", "a\u{7f}", "é"] {
            let pairs = vec![
                ("traceparent".to_owned(), VALID.to_owned()),
                ("tracestate".to_owned(), format!("k={value}")),
            ];
            let cx = TraceContextPropagator::new().extract(&MapExtractor(&pairs));
            let sc = cx.span().span_context().clone();
            assert!(sc.is_valid());
            assert_eq!(sc.trace_state(), &TraceState::NONE, "{value:?}");
        }
    }

    #[test]
    fn trailing_whitespace_is_ows_not_value() {
        assert_eq!(tracestate(&["k=v \t, j=w  "]).as_deref(), Some("k=v,j=w"));
    }

    #[test]
    fn empty_members_are_skipped() {
        let two = tracestate(&["foo=1,,bar=2"]);
        assert_eq!(two.as_deref(), Some("foo=1,bar=2"));
        assert_eq!(tracestate(&[",foo=1, \t ,"]).as_deref(), Some("foo=1"));
        assert_eq!(tracestate(&[" , "]), None);
        assert_eq!(tracestate(&[""]), None);
    }

    #[test]
    fn repeated_headers_are_combined_in_order() {
        let combined = tracestate(&["foo=1", "bar=2,baz=3"]);
        assert_eq!(combined.as_deref(), Some("foo=1,bar=2,baz=3"));
    }

    #[test]
    fn repeated_headers_share_limits_and_uniqueness() {
        assert_eq!(tracestate(&["foo=1", "foo=2"]).as_deref(), Some("foo=1"));
        assert_eq!(tracestate(&[&members(0..32), "k0=again"]), None);
        let split = tracestate(&[&members(0..16), &members(16..32)]);
        assert_eq!(split, Some(members(0..32)));
        assert_eq!(tracestate(&[&members(0..32), "extra=1"]), None);
    }
}

mod inject {
    use super::*;

    fn traceparent_for(flags: u8) -> Option<String> {
        let map = inject(span_context(flags, TraceState::NONE));
        map.get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Injects a tracestate built by upstream's lenient `from_key_value`.
    fn tracestate_for(members: &[(&str, &str)]) -> Option<String> {
        let trace_state = TraceState::from_key_value(members.iter().copied());
        let map = inject(span_context(0x01, trace_state.expect("upstream accepts")));
        map.get("tracestate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[test]
    fn sampled_and_unsampled_flags_are_written() {
        assert_eq!(traceparent_for(0x01), Some(with_flags("01")));
        assert_eq!(traceparent_for(0x00), Some(with_flags("00")));
    }

    #[test]
    fn random_flag_is_written() {
        assert_eq!(traceparent_for(0x02), Some(with_flags("02")));
        assert_eq!(traceparent_for(0x03), Some(with_flags("03")));
    }

    #[test]
    fn unknown_flag_bits_are_not_propagated() {
        assert_eq!(traceparent_for(0xff), Some(with_flags("03")));
        assert_eq!(traceparent_for(0x80), Some(with_flags("00")));
    }

    #[test]
    fn invalid_context_writes_nothing() {
        let mut map = HeaderMap::new();
        let propagator = TraceContextPropagator::new();
        propagator.inject_context(&Context::new(), &mut HeaderInjector(&mut map));
        assert!(map.is_empty());
    }

    #[test]
    fn empty_tracestate_is_never_injected() {
        let map = inject(span_context(0x01, TraceState::NONE));
        assert!(map.get("tracestate").is_none());
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn tracestate_is_injected_when_present() {
        let injected = tracestate_for(&[("foo", "1"), ("tenant@vendor", "x y")]);
        assert_eq!(injected.as_deref(), Some("foo=1,tenant@vendor=x y"));
    }

    #[test]
    fn spec_invalid_local_members_are_not_injected() {
        let members = [
            ("space", "a "),
            ("ok", "b"),
            ("empty", ""),
            ("ctl", "a\u{1}"),
        ];
        assert_eq!(tracestate_for(&members).as_deref(), Some("ok=b"));
        assert_eq!(tracestate_for(&[("empty", "")]), None);
    }

    #[test]
    fn duplicate_local_keys_are_injected_once() {
        let injected = tracestate_for(&[("a", "new"), ("b", "1"), ("a", "old")]);
        assert_eq!(injected.as_deref(), Some("a=new,b=1"));
    }

    #[test]
    fn reinjection_replaces_headers() {
        let mut map = headers(&[("traceparent", "old"), ("traceparent", "older")]);
        let cx = Context::new().with_remote_span_context(span_context(0x01, TraceState::NONE));
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut map));
        let values: Vec<_> = map.get_all("traceparent").iter().collect();
        assert_eq!(values, [VALID]);
    }
}

mod round_trip {
    use super::*;

    #[test]
    fn extract_then_inject_reproduces_headers() {
        let tracestate = "congo=t61rcWkgMzE,tenant@vendor=a b";
        for flags in ["00", "01", "02", "03"] {
            let traceparent = with_flags(flags);
            let pairs = [
                ("traceparent", traceparent.as_str()),
                ("tracestate", tracestate),
            ];
            let map = inject(extract(&pairs).expect("valid"));
            assert_eq!(map["traceparent"], traceparent.as_str());
            assert_eq!(map["tracestate"], tracestate);
        }
    }

    #[test]
    fn future_version_is_reinjected_as_version_00() {
        let sc = accepted(&format!("cc-{TRACE_ID}-{SPAN_ID}-ff-more"));
        assert_eq!(inject(sc)["traceparent"], with_flags("03").as_str());
    }
}

/// Members opentelemetry's `TraceState` cannot hold, through real SDK child spans.
mod kept_members {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Link, SpanKind, TraceContextExt, Tracer, TracerProvider};
    use opentelemetry_sdk::trace::{
        SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample,
    };

    use super::*;

    /// Samples everything and records its decision in `ot`, as a consistent
    /// probability sampler does: at the front of the parent's tracestate.
    #[derive(Clone, Debug)]
    struct ThresholdSampler;

    impl ShouldSample for ThresholdSampler {
        fn should_sample(
            &self,
            parent_context: Option<&Context>,
            _trace_id: TraceId,
            _name: &str,
            _span_kind: &SpanKind,
            _attributes: &[KeyValue],
            _links: &[Link],
        ) -> SamplingResult {
            let parent = parent_context.map(|cx| cx.span().span_context().trace_state().clone());
            let trace_state = parent.unwrap_or_default().insert("ot", "th:8");
            SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state: trace_state.expect("valid member"),
            }
        }
    }

    fn send(cx: &Context) -> (String, String) {
        let mut map = HeaderMap::new();
        TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(&mut map));
        let get = |name: &str| map[name].to_str().expect("ASCII").to_owned();
        (get("traceparent"), get("tracestate"))
    }

    #[test]
    fn a_child_span_sends_the_samplers_member_first_then_the_received_list() {
        let provider = SdkTracerProvider::builder()
            .with_sampler(ThresholdSampler)
            .build();
        let tracer = provider.tracer("w3c");
        let received = "foo@@bar=1,ot=th:c,congo=t61rcWkgMzE";
        let map = headers(&[("traceparent", VALID), ("tracestate", received)]);
        let propagator = TraceContextPropagator::new();
        let remote = propagator.extract_with_context(&Context::new(), &HeaderExtractor(&map));

        let server = remote.with_span(tracer.start_with_context("server", &remote));
        let client = server.with_span(tracer.start_with_context("client", &server));
        let (traceparent, tracestate) = send(&client);
        assert!(traceparent.starts_with(&format!("00-{TRACE_ID}-")));
        assert!(!traceparent.contains(SPAN_ID));
        assert_eq!(tracestate, "ot=th:8,foo@@bar=1,congo=t61rcWkgMzE");

        // A new root in the same context is another trace: only its own tracestate.
        let root = tracer
            .span_builder("root")
            .start_with_context(&tracer, &Context::new());
        let other = client.with_span(root);
        let (traceparent, tracestate) = send(&other);
        assert!(!traceparent.contains(TRACE_ID));
        assert_eq!(tracestate, "ot=th:8");
    }
}
