//! W3C Baggage conformance: parsing, properties, encoding, limits and injection.

use http::{HeaderMap, HeaderValue};
use opentelemetry::{
    Context, KeyValue,
    baggage::{Baggage, BaggageExt, KeyValueMetadata},
    propagation::TextMapPropagator,
};
use trace_core::carrier::{HeaderExtractor, HeaderInjector};
use trace_core::propagation::{BaggagePropagator, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS};

fn extract(values: &[&str]) -> Context {
    let mut map = HeaderMap::new();
    for value in values {
        map.append(
            "baggage",
            HeaderValue::from_str(value).expect("test header value"),
        );
    }
    BaggagePropagator::new().extract_with_context(&Context::new(), &HeaderExtractor(&map))
}

fn value(cx: &Context, key: &str) -> Option<String> {
    cx.baggage().get(key).map(|v| v.as_str().to_owned())
}

fn metadata(cx: &Context, key: &str) -> Option<String> {
    cx.baggage()
        .get_with_metadata(key)
        .map(|(_, m)| m.as_str().to_owned())
}

fn inject(baggage: Baggage) -> Option<String> {
    let cx = Context::new().with_baggage(baggage);
    let mut map = HeaderMap::new();
    BaggagePropagator::new().inject_context(&cx, &mut HeaderInjector(&mut map));
    assert!(map.get_all("baggage").iter().count() <= 1);
    map.get("baggage")
        .map(|v| v.to_str().expect("ascii").to_owned())
}

/// `count` members whose header is exactly `total` bytes long.
fn sized_members(count: usize, total: usize) -> Vec<String> {
    let commas = count - 1;
    let per_member = (total - commas) / count;
    let mut extra = (total - commas) % count;
    (0..count)
        .map(|i| {
            let key = format!("k{i:02}");
            let mut len = per_member - key.len() - 1;
            if extra > 0 {
                len += 1;
                extra -= 1;
            }
            format!("{key}={}", "v".repeat(len))
        })
        .collect()
}

mod parse {
    use super::*;

    #[test]
    fn simple_members() {
        let cx = extract(&["key1=val1,key2=val2"]);
        assert_eq!(value(&cx, "key1").as_deref(), Some("val1"));
        assert_eq!(value(&cx, "key2").as_deref(), Some("val2"));
        assert_eq!(cx.baggage().len(), 2);
    }

    #[test]
    fn whitespace_around_members_and_equals() {
        let cx = extract(&["key1 =   val1,  key2 =val2   ,\tkey3=\tval3"]);
        assert_eq!(value(&cx, "key1").as_deref(), Some("val1"));
        assert_eq!(value(&cx, "key2").as_deref(), Some("val2"));
        assert_eq!(value(&cx, "key3").as_deref(), Some("val3"));
    }

    #[test]
    fn token_keys_and_equals_in_value() {
        let cx = extract(&["a!#$%&'*+-.^_`|~9=1,k=a=b,empty="]);
        assert_eq!(value(&cx, "a!#$%&'*+-.^_`|~9").as_deref(), Some("1"));
        assert_eq!(value(&cx, "k").as_deref(), Some("a=b"));
        assert_eq!(value(&cx, "empty").as_deref(), Some(""));
    }

    #[test]
    fn later_duplicate_wins() {
        let cx = extract(&["k=1,k=2"]);
        assert_eq!(value(&cx, "k").as_deref(), Some("2"));
        assert_eq!(cx.baggage().len(), 1);
    }

    #[test]
    fn missing_header_keeps_parent_baggage() {
        let parent = Context::new().with_baggage([KeyValue::new("p", "1")]);
        let map = HeaderMap::new();
        let cx = BaggagePropagator::new().extract_with_context(&parent, &HeaderExtractor(&map));
        assert_eq!(value(&cx, "p").as_deref(), Some("1"));
    }
}

mod properties {
    use super::*;

    #[test]
    fn properties_are_kept_as_metadata() {
        let cx = extract(&["k=v;p1=x;p2,other=1"]);
        assert_eq!(value(&cx, "k").as_deref(), Some("v"));
        assert_eq!(metadata(&cx, "k").as_deref(), Some("p1=x;p2"));
        assert_eq!(metadata(&cx, "other").as_deref(), Some(""));
    }

    #[test]
    fn whitespace_in_properties_is_normalized() {
        let cx = extract(&["k = v ; p1 = x ;\tp2 ;"]);
        assert_eq!(value(&cx, "k").as_deref(), Some("v"));
        assert_eq!(metadata(&cx, "k").as_deref(), Some("p1=x;p2"));
    }

    #[test]
    fn invalid_property_skips_only_its_member() {
        let cx = extract(&["bad=v;p 1=x,good=v;p=1"]);
        assert_eq!(value(&cx, "bad"), None);
        assert_eq!(metadata(&cx, "good").as_deref(), Some("p=1"));
    }

    #[test]
    fn properties_round_trip() {
        let header = "k=v;p1=x;p2";
        let cx = extract(&[header]);
        let baggage: Baggage = cx
            .baggage()
            .iter()
            .map(|(k, (v, m))| KeyValueMetadata::new(k.clone(), v.clone(), m.clone()))
            .collect();
        assert_eq!(inject(baggage).as_deref(), Some(header));
    }
}

mod percent_encoding {
    use super::*;

    #[test]
    fn values_are_decoded() {
        let cx = extract(&["a=%E4%BD%A0%E5%A5%BD,b=a%20b,c=%2C%3B%25,d=%c3%a9"]);
        assert_eq!(value(&cx, "a").as_deref(), Some("你好"));
        assert_eq!(value(&cx, "b").as_deref(), Some("a b"));
        assert_eq!(value(&cx, "c").as_deref(), Some(",;%"));
        assert_eq!(value(&cx, "d").as_deref(), Some("é"));
    }

    #[test]
    fn malformed_escapes_stay_literal_and_bad_utf8_is_replaced() {
        let cx = extract(&["a=%zz,b=%4,c=%FF"]);
        assert_eq!(value(&cx, "a").as_deref(), Some("%zz"));
        assert_eq!(value(&cx, "b").as_deref(), Some("%4"));
        assert_eq!(value(&cx, "c").as_deref(), Some("\u{FFFD}"));
    }

    #[test]
    fn encoding_round_trips() {
        let original = "a b,c;d=e%f\"g\\h\té 你好 \u{1}";
        let header = inject(Baggage::from_iter([KeyValue::new("k", original)])).expect("header");
        assert!(header.bytes().all(|b| b.is_ascii_graphic()), "{header}");
        assert!(
            !header[2..].contains([' ', ',', ';', '"', '\\']),
            "{header}"
        );
        let cx = extract(&[&header]);
        assert_eq!(value(&cx, "k").as_deref(), Some(original));
    }

    #[test]
    fn safe_characters_are_not_encoded() {
        let header = inject(Baggage::from_iter([KeyValue::new("k", "a=b/c:d")]));
        assert_eq!(header.as_deref(), Some("k=a=b/c:d"));
    }
}

mod invalid_members {
    use super::*;

    #[test]
    fn invalid_members_are_skipped_individually() {
        let header = "k1=v1,bad key=v,k2=v2,=nokey,novalue,k3=\"q\",k4=a b,(k)=1,k5=ok";
        let cx = extract(&[header]);
        let mut keys: Vec<String> = cx.baggage().iter().map(|(k, _)| k.to_string()).collect();
        keys.sort();
        assert_eq!(keys, ["k1", "k2", "k5"]);
    }

    #[test]
    fn empty_members_are_skipped() {
        let cx = extract(&["a=1,,  ,b=2,"]);
        assert_eq!(cx.baggage().len(), 2);
    }

    #[test]
    fn all_invalid_keeps_parent_context() {
        let parent = Context::new().with_baggage([KeyValue::new("p", "1")]);
        let mut map = HeaderMap::new();
        map.insert("baggage", HeaderValue::from_static("bad key=1"));
        let cx = BaggagePropagator::new().extract_with_context(&parent, &HeaderExtractor(&map));
        assert_eq!(value(&cx, "p").as_deref(), Some("1"));
    }
}

mod limits {
    use super::*;

    #[test]
    fn sixty_four_members_in_8192_bytes_are_accepted() {
        let members = sized_members(MAX_BAGGAGE_MEMBERS, MAX_BAGGAGE_BYTES);
        let header = members.join(",");
        assert_eq!(header.len(), MAX_BAGGAGE_BYTES);
        let cx = extract(&[&header]);
        assert_eq!(cx.baggage().len(), MAX_BAGGAGE_MEMBERS);
        for member in &members {
            let (k, v) = member.split_once('=').expect("member");
            assert_eq!(value(&cx, k).as_deref(), Some(v));
        }
    }

    #[test]
    fn sixty_fifth_member_is_dropped() {
        let header = (0..65)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        let cx = extract(&[&header]);
        assert_eq!(cx.baggage().len(), MAX_BAGGAGE_MEMBERS);
        assert_eq!(value(&cx, "k63").as_deref(), Some("v"));
        assert_eq!(value(&cx, "k64"), None);
    }

    #[test]
    fn member_crossing_byte_limit_is_dropped_whole() {
        let mut members = sized_members(4, MAX_BAGGAGE_BYTES);
        members[3].push('x');
        let cx = extract(&[&members.join(",")]);
        assert_eq!(cx.baggage().len(), 3);
        assert_eq!(value(&cx, "k03"), None);
        let (k, v) = members[2].split_once('=').expect("member");
        assert_eq!(value(&cx, k).as_deref(), Some(v));
    }

    #[test]
    fn oversized_single_member_yields_nothing() {
        let header = format!("k={}", "v".repeat(1 << 20));
        let cx = extract(&[&header]);
        assert!(cx.baggage().is_empty());
    }

    #[test]
    fn megabyte_header_keeps_only_what_fits() {
        let header = "a=1,".repeat(1 << 18);
        let cx = extract(&[&header]);
        assert_eq!(cx.baggage().len(), 1);
        let distinct = (0..100_000)
            .map(|i| format!("k{i}=1"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(extract(&[&distinct]).baggage().len(), MAX_BAGGAGE_MEMBERS);
    }

    #[test]
    fn repeated_headers_share_the_byte_limit() {
        let members = sized_members(2, MAX_BAGGAGE_BYTES - 4);
        let cx = extract(&[&members[0], &members[1], "z=1", "y=2"]);
        // 8188 bytes + "," + "z=1" is exactly 8192; "y=2" no longer fits.
        assert_eq!(value(&cx, "z").as_deref(), Some("1"));
        assert_eq!(value(&cx, "y"), None);
        assert_eq!(cx.baggage().len(), 3);
    }
}

mod repeated_headers {
    use super::*;

    #[test]
    fn headers_are_combined_in_order() {
        let cx = extract(&["a=1,b=2", "c=3", "a=4"]);
        assert_eq!(value(&cx, "a").as_deref(), Some("4"));
        assert_eq!(value(&cx, "b").as_deref(), Some("2"));
        assert_eq!(value(&cx, "c").as_deref(), Some("3"));
    }
}

mod inject {
    use super::*;

    #[test]
    fn empty_baggage_writes_no_header() {
        assert_eq!(inject(Baggage::new()), None);
    }

    #[test]
    fn members_are_sorted_with_metadata() {
        let baggage = Baggage::from_iter([
            KeyValueMetadata::new("b", "2", "p=1;q"),
            KeyValueMetadata::new("a", "1", ""),
        ]);
        assert_eq!(inject(baggage).as_deref(), Some("a=1,b=2;p=1;q"));
    }

    #[test]
    fn invalid_metadata_is_left_off() {
        let baggage = Baggage::from_iter([KeyValueMetadata::new("k", "v", "not valid=a b")]);
        assert_eq!(inject(baggage).as_deref(), Some("k=v"));
    }

    #[test]
    fn encoded_size_limit_drops_whole_members() {
        // Each value is 120 spaces: 120 bytes in Baggage, 360 bytes on the wire.
        let baggage: Baggage = (0..MAX_BAGGAGE_MEMBERS)
            .map(|i| KeyValue::new(format!("k{i:02}"), " ".repeat(120)))
            .collect();
        assert_eq!(baggage.len(), MAX_BAGGAGE_MEMBERS);
        let header = inject(baggage).expect("header");
        assert!(header.len() <= MAX_BAGGAGE_BYTES);
        let members: Vec<&str> = header.split(',').collect();
        let member_len = 3 + 1 + 360;
        assert_eq!(members.len(), (MAX_BAGGAGE_BYTES + 1) / (member_len + 1));
        let cx = extract(&[&header]);
        for (k, v) in cx.baggage() {
            assert_eq!(v.0.as_str(), " ".repeat(120), "member {k} is complete");
        }
        assert_eq!(cx.baggage().len(), members.len());
    }

    #[test]
    fn sixty_four_members_fit_and_round_trip() {
        let members = sized_members(MAX_BAGGAGE_MEMBERS, MAX_BAGGAGE_BYTES);
        let header = members.join(",");
        let cx = extract(&[&header]);
        let mut out = HeaderMap::new();
        BaggagePropagator::new().inject_context(&cx, &mut HeaderInjector(&mut out));
        assert_eq!(out["baggage"], header.as_str());
    }
}
