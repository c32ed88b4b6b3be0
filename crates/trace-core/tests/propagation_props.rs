//! Property tests: hostile input never panics, and whatever is extracted
//! re-injects as valid headers that extract back to the same context.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context,
    baggage::{Baggage, BaggageExt, KeyValueMetadata},
    propagation::{Extractor, TextMapPropagator},
    trace::{SpanContext, TraceContextExt, TraceState},
};
use proptest::prelude::*;
use trace_core::carrier::{HeaderExtractor, MapExtractor, MapInjector};
use trace_core::propagation::{
    BaggagePropagator, MAX_BAGGAGE_BYTES, TraceContextPropagator, parse_traceparent,
};

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

type Pairs = Vec<(String, String)>;

/// The extracted context, when it has a valid span context.
fn extract_trace(pairs: &Pairs) -> Option<Context> {
    let cx =
        TraceContextPropagator::new().extract_with_context(&Context::new(), &MapExtractor(pairs));
    cx.span().span_context().is_valid().then_some(cx)
}

fn span_context(cx: &Context) -> SpanContext {
    cx.span().span_context().clone()
}

fn inject_trace(cx: &Context) -> Pairs {
    let mut pairs = Pairs::new();
    TraceContextPropagator::new().inject_context(cx, &mut MapInjector(&mut pairs));
    pairs
}

fn extract_baggage(values: &[String]) -> Context {
    let pairs: Pairs = values
        .iter()
        .map(|v| ("baggage".to_owned(), v.clone()))
        .collect();
    BaggagePropagator::new().extract_with_context(&Context::new(), &MapExtractor(&pairs))
}

fn inject_baggage(cx: &Context) -> Option<String> {
    let mut pairs = Pairs::new();
    BaggagePropagator::new().inject_context(cx, &mut MapInjector(&mut pairs));
    assert!(pairs.len() <= 1);
    pairs.pop().map(|(_, v)| v)
}

/// Baggage as a sorted list, since `Baggage` itself has no equality.
fn entries(baggage: &Baggage) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = baggage
        .iter()
        .map(|(k, (v, m))| (k.to_string(), v.as_str().to_owned(), m.as_str().to_owned()))
        .collect();
    out.sort();
    out
}

/// Arbitrary text, including control characters and non-ASCII.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9a-fA-F\\- \t,;=%@]{0,80}",
        // A valid traceparent with one character replaced.
        (0..VALID.len(), "[0-9a-gA-F\\- \t.]").prop_map(|(at, c)| {
            let mut s = VALID.to_owned();
            s.replace_range(at..at + 1, &c);
            s
        }),
        // A valid traceparent with a random suffix and version.
        ("[0-9a-f]{2}", "(-[a-z0-9]{0,8}){0,2}")
            .prop_map(|(v, tail)| format!("{v}{}{tail}", &VALID[2..])),
    ]
}

/// Any key of the grammar, `@` included, so some are keys opentelemetry's
/// `TraceState` cannot hold (`a@@b`, `a@-`, 14 or more characters after `@`).
fn tracestate_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9_*/\\-]{0,20}",
        "[a-z0-9][a-z0-9_*/@\\-]{0,20}",
        "[a-z0-9][a-z0-9_*/\\-]{0,12}@[a-z0-9_*/@\\-]{0,20}",
    ]
}

fn tracestate_value() -> impl Strategy<Value = String> {
    "[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,30}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]"
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~\\-]{1,16}"
}

/// Any characters, controls included; short enough that 8 members always fit.
fn baggage_value() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..30).prop_map(String::from_iter)
}

fn properties() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            token(),
            prop::option::of("[\\x21\\x23-\\x2b\\x2d-\\x3a\\x3c-\\x5b\\x5d-\\x7e]{0,10}"),
        ),
        0..3,
    )
    .prop_map(|props| {
        props
            .into_iter()
            .map(|(k, v)| v.map_or(k.clone(), |v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(";")
    })
}

proptest! {
    #[test]
    fn hostile_trace_headers_never_panic_and_reinject(
        traceparent in hostile(),
        tracestate in prop::collection::vec(hostile(), 0..3),
    ) {
        let mut pairs = vec![("traceparent".to_owned(), traceparent)];
        pairs.extend(tracestate.into_iter().map(|v| ("tracestate".to_owned(), v)));
        if let Some(cx) = extract_trace(&pairs) {
            prop_assert!(span_context(&cx).is_remote());
            let injected = inject_trace(&cx);
            let header = &injected[0].1;
            prop_assert_eq!(header.len(), 55);
            prop_assert_eq!(parse_traceparent(header).map(|p| p.version()), Ok(0));
            prop_assert!(injected.iter().all(|(_, v)| !v.is_empty()));
            let again = extract_trace(&injected).expect("what we send is valid");
            prop_assert_eq!(span_context(&again), span_context(&cx));
            prop_assert_eq!(inject_trace(&again), injected);
        }
    }

    #[test]
    fn hostile_bytes_in_header_maps_never_panic(
        traceparent in prop::collection::vec(any::<u8>(), 0..80),
        baggage in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut map = HeaderMap::new();
        for (name, bytes) in [("traceparent", traceparent), ("baggage", baggage)] {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                map.append(HeaderName::from_static(name), value);
            }
        }
        let extractor = HeaderExtractor(&map);
        let _ = TraceContextPropagator::new().extract_with_context(&Context::new(), &extractor);
        let _ = BaggagePropagator::new().extract_with_context(&Context::new(), &extractor);
    }

    #[test]
    fn header_maps_small_and_large_give_every_value_in_order(
        fillers in 0usize..40,
        values in prop::collection::vec("[a-z]{1,8}=[a-z0-9]{1,8}", 0..4),
        asked in prop::sample::select(vec!["tracestate", "TraceState", "TRACESTATE"]),
    ) {
        // Small maps are scanned, large ones looked up: both must see the same values.
        let mut map = HeaderMap::new();
        for i in 0..fillers {
            map.append(
                HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("1"),
            );
        }
        for value in &values {
            map.append(HeaderName::from_static("tracestate"), HeaderValue::from_str(value).unwrap());
        }
        let extractor = HeaderExtractor(&map);
        let expected: Vec<&str> = values.iter().map(String::as_str).collect();
        prop_assert_eq!(
            Extractor::get_all(&extractor, asked).unwrap_or_default(),
            expected.clone()
        );
        prop_assert_eq!(Extractor::get(&extractor, asked), expected.first().copied());
    }

    #[test]
    fn valid_traceparent_round_trips_exactly(
        trace_id in 1..=u128::MAX,
        span_id in 1..=u64::MAX,
        flags in any::<u8>(),
    ) {
        let header = format!("00-{trace_id:032x}-{span_id:016x}-{flags:02x}");
        let pairs = vec![("traceparent".to_owned(), header)];
        let cx = extract_trace(&pairs).expect("generated header is valid");
        prop_assert_eq!(span_context(&cx).trace_flags().to_u8(), flags & 0x03);
        let injected = inject_trace(&cx);
        let expected = format!("00-{trace_id:032x}-{span_id:016x}-{:02x}", flags & 0x03);
        prop_assert_eq!(injected, vec![("traceparent".to_owned(), expected)]);
    }

    #[test]
    fn valid_tracestate_round_trips_exactly(
        members in prop::collection::btree_map(tracestate_key(), tracestate_value(), 1..=32),
    ) {
        let header = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let pairs = vec![
            ("traceparent".to_owned(), VALID.to_owned()),
            ("tracestate".to_owned(), header.clone()),
        ];
        let cx = extract_trace(&pairs).expect("valid traceparent");
        // The span context holds the members opentelemetry can represent, in order.
        let representable: Vec<String> = members
            .iter()
            .filter(|(k, _)| TraceState::from_key_value([(k.as_str(), "v")]).is_ok())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        prop_assert_eq!(span_context(&cx).trace_state().header(), representable.join(","));
        let injected = inject_trace(&cx);
        prop_assert_eq!(&injected[1], &("tracestate".to_owned(), header));
    }

    #[test]
    fn repeated_tracestate_keys_keep_their_first_member(
        members in prop::collection::vec(
            (prop::sample::select(vec!["a", "b", "c@@d", "e@", "f@ggggggggggggggg"]), tracestate_value()),
            1..=32,
        ),
        split in any::<prop::sample::Index>(),
    ) {
        let all: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // Repeated headers combine as one list, wherever the list is split.
        let at = split.index(all.len() + 1);
        let mut pairs = vec![("traceparent".to_owned(), VALID.to_owned())];
        for part in [&all[..at], &all[at..]] {
            pairs.push(("tracestate".to_owned(), part.join(",")));
        }
        let mut first: Vec<&(&str, String)> = Vec::new();
        for member in &members {
            if first.iter().all(|(k, _)| *k != member.0) {
                first.push(member);
            }
        }
        let expected: Vec<String> = first.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cx = extract_trace(&pairs).expect("valid traceparent");
        prop_assert_eq!(&inject_trace(&cx)[1].1, &expected.join(","));
    }

    #[test]
    fn hostile_baggage_never_panics_and_reinjects_stably(
        values in prop::collection::vec(hostile(), 1..4),
    ) {
        let cx = extract_baggage(&values);
        let extracted = entries(cx.baggage());
        let Some(header) = inject_baggage(&cx) else {
            prop_assert!(extracted.is_empty());
            return Ok(());
        };
        prop_assert!(header.len() <= MAX_BAGGAGE_BYTES);
        let again = extract_baggage(std::slice::from_ref(&header));
        let reextracted = entries(again.baggage());
        // Re-encoding can grow a value, so members may be dropped, never altered.
        prop_assert!(reextracted.iter().all(|e| extracted.contains(e)));
        prop_assert_eq!(inject_baggage(&again), Some(header));
    }

    #[test]
    fn valid_baggage_round_trips_exactly(
        members in prop::collection::btree_map(token(), (baggage_value(), properties()), 1..8),
    ) {
        let baggage: Baggage = members
            .iter()
            .map(|(k, (v, m))| KeyValueMetadata::new(k.clone(), v.clone(), m.as_str()))
            .collect();
        let cx = Context::new().with_baggage(baggage);
        let header = inject_baggage(&cx).expect("non-empty");
        let back = extract_baggage(&[header]);
        // The map is sorted by key, as `entries` is.
        let want: Vec<_> = members
            .into_iter()
            .map(|(k, (v, m))| (k, v, m))
            .collect();
        prop_assert_eq!(entries(back.baggage()), want);
    }
}
