//! The official W3C Trace Context test harness, ported to Rust, run against the
//! service binary.
//!
//! Ported from `test/test.py` of <https://github.com/w3c/trace-context> (W3C, 3-clause
//! BSD licence): every test of `TraceContextTest` and `AdvancedTest`, at
//! `STRICT_LEVEL = 2`, with the same names, headers and assertions. Like the harness,
//! each test POSTs to the service's `/test` endpoint with the given headers (written as
//! raw HTTP/1.1, so header-name casing, repeated headers and whitespace reach the service
//! exactly as the harness sends them) and a body asking the service to call back; it
//! then checks the `traceparent`/`tracestate` of the callbacks.
//!
//! The `level2_*` tests at the end go beyond `test.py` for the Level 2 random flag.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Headers = Vec<(String, String)>;
type Callbacks = Arc<Mutex<HashMap<String, Headers>>>;

const TRACE_ID: &str = "12345678901234567890123456789012";

/// The service process, a callback server, and the request plumbing of `test.py`.
struct Harness {
    service: Child,
    service_addr: SocketAddr,
    callback_base: String,
    callbacks: Callbacks,
    scope: AtomicU64,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.service.kill();
        let _ = self.service.wait();
    }
}

impl Harness {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let service = Command::new(env!("CARGO_BIN_EXE_w3c-test-service"))
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the w3c-test-service binary");
        let service_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(service_addr).await.is_err() {
            assert!(Instant::now() < deadline, "the service did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let callbacks = Callbacks::default();
        let router = Router::new()
            .route("/callback/{id}", post(record_callback))
            .with_state(callbacks.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let callback_base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            service,
            service_addr,
            callback_base,
            callbacks,
            scope: AtomicU64::new(0),
        }
    }

    /// `TestBase.make_request`: the service must call back `count` times.
    async fn make_request(&self, headers: &[(&str, &str)], count: usize) -> Vec<Headers> {
        let scope = self.scope.fetch_add(1, Ordering::Relaxed);
        let ids: Vec<String> = (0..count).map(|idx| format!("{scope}-{idx}")).collect();
        let arguments: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| {
                serde_json::json!({"url": format!("{}/callback/{id}", self.callback_base), "arguments": []})
            })
            .collect();
        let body = serde_json::to_string(&arguments).unwrap();
        let status = self.post_raw(headers, &body).await;
        assert_eq!(
            status, 200,
            "service answered {status} for headers {headers:?}"
        );
        let callbacks = self.callbacks.lock().unwrap();
        ids.iter()
            .map(|id| {
                callbacks.get(id).cloned().unwrap_or_else(|| {
                    panic!("your test service failed to make a callback to the test harness ({headers:?})")
                })
            })
            .collect()
    }

    /// Writes the request byte for byte, as the harness's HTTP client would.
    async fn post_raw(&self, headers: &[(&str, &str)], body: &str) -> u16 {
        let mut request = format!(
            "POST /test HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.service_addr,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}:{value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        let mut stream = TcpStream::connect(self.service_addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
            .await
            .expect("the service answered within 10s")
            .unwrap();
        let response = String::from_utf8_lossy(&response);
        response
            .split(' ')
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
    }

    /// `make_single_request_and_get_tracecontext`.
    async fn tracecontext(&self, headers: &[(&str, &str)]) -> (Traceparent, Tracestate) {
        let callback = self.make_request(headers, 1).await.remove(0);
        (get_traceparent(&callback), get_tracestate(&callback))
    }
}

async fn record_callback(
    State(callbacks): State<Callbacks>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> &'static str {
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    callbacks.lock().unwrap().insert(id, headers);
    "{}"
}

/// The harness's `Traceparent` after its format check.
#[derive(Debug)]
struct Traceparent {
    version: String,
    trace_id: String,
    parent_id: String,
    flags: u8,
}

/// `get_traceparent`: exactly one header, matching
/// `^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`.
fn get_traceparent(headers: &Headers) -> Traceparent {
    let values: Vec<&String> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("traceparent"))
        .map(|(_, value)| value)
        .collect();
    assert_eq!(
        values.len(),
        1,
        "expect one traceparent header, got {values:?}"
    );
    let value = values[0];
    let fields: Vec<&str> = value.split('-').collect();
    let lower_hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    assert!(
        fields.len() == 4
            && lower_hex(fields[0], 2)
            && lower_hex(fields[1], 32)
            && lower_hex(fields[2], 16)
            && lower_hex(fields[3], 2),
        "malformed traceparent {value:?}"
    );
    // What a service emits is the version it implements, with valid ids.
    assert_eq!(fields[0], "00", "{value:?}");
    assert_ne!(fields[1], "0".repeat(32), "{value:?}");
    assert_ne!(fields[2], "0".repeat(16), "{value:?}");
    Traceparent {
        version: fields[0].to_owned(),
        trace_id: fields[1].to_owned(),
        parent_id: fields[2].to_owned(),
        flags: u8::from_str_radix(fields[3], 16).unwrap(),
    }
}

/// The harness's `Tracestate`: every `tracestate` header combined, in order.
#[derive(Debug, Default)]
struct Tracestate(Vec<(String, String)>);

impl Tracestate {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn text(&self) -> String {
        self.0
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn get_tracestate(headers: &Headers) -> Tracestate {
    let mut members = Vec::new();
    for (_, value) in headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("tracestate"))
    {
        assert!(
            !value.trim().is_empty(),
            "the service sent an empty tracestate"
        );
        for member in value.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let (key, value) = member
                .split_once('=')
                .unwrap_or_else(|| panic!("invalid tracestate member {member:?}"));
            members.push((key.to_owned(), value.to_owned()));
        }
    }
    Tracestate(members)
}

fn tp(value: &str) -> (&'static str, String) {
    ("traceparent", value.to_owned())
}

/// Sends `headers` and returns the callback's trace context.
async fn single(harness: &Harness, headers: &[(&str, String)]) -> (Traceparent, Tracestate) {
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    harness.tracecontext(&borrowed).await
}

/// Asserts the callback started a new trace (the header was rejected).
async fn assert_new_trace(harness: &Harness, headers: &[(&str, String)], rejected: &str) {
    let (traceparent, _) = single(harness, headers).await;
    assert_ne!(traceparent.trace_id, rejected, "{headers:?} was accepted");
}

/// Asserts the callback continued the trace.
async fn assert_same_trace(harness: &Harness, headers: &[(&str, String)]) {
    let (traceparent, _) = single(harness, headers).await;
    assert_eq!(traceparent.trace_id, TRACE_ID, "{headers:?} was rejected");
}

const P01: &str = "00-12345678901234567890123456789012-1234567890123456-01";
const P00: &str = "00-12345678901234567890123456789012-1234567890123456-00";

fn ts(value: &str) -> (&'static str, String) {
    ("tracestate", value.to_owned())
}

// ---------------------------------------------------------------- TraceContextTest

#[tokio::test]
async fn test_both_traceparent_and_tracestate_missing() {
    let harness = Harness::start().await;
    single(&harness, &[]).await;
}

#[tokio::test]
async fn test_traceparent_included_tracestate_missing() {
    let harness = Harness::start().await;
    let (traceparent, _) = single(&harness, &[tp(P01)]).await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    assert_ne!(traceparent.parent_id, "1234567890123456");
}

#[tokio::test]
async fn test_traceparent_duplicated() {
    let harness = Harness::start().await;
    let (traceparent, _) = single(
        &harness,
        &[
            tp("00-12345678901234567890123456789011-1234567890123456-01"),
            tp("00-12345678901234567890123456789012-1234567890123456-01"),
        ],
    )
    .await;
    assert_ne!(traceparent.trace_id, "12345678901234567890123456789011");
    assert_ne!(traceparent.trace_id, TRACE_ID);
}

#[tokio::test]
async fn test_traceparent_header_name() {
    let harness = Harness::start().await;
    assert_new_trace(&harness, &[("trace-parent", P01.into())], TRACE_ID).await;
    assert_new_trace(&harness, &[("trace.parent", P01.into())], TRACE_ID).await;
}

#[tokio::test]
async fn test_traceparent_header_name_valid_casing() {
    let harness = Harness::start().await;
    for name in ["TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
        assert_same_trace(&harness, &[(name, P01.into())]).await;
    }
}

#[tokio::test]
async fn test_traceparent_version_0x00() {
    let harness = Harness::start().await;
    assert_new_trace(&harness, &[tp(&format!("{P01}."))], TRACE_ID).await;
    assert_new_trace(
        &harness,
        &[tp(&format!("{P01}-what-the-future-will-be-like"))],
        TRACE_ID,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_version_0xcc() {
    let harness = Harness::start().await;
    let future = "cc-12345678901234567890123456789012-1234567890123456-01";
    assert_same_trace(&harness, &[tp(future)]).await;
    assert_same_trace(
        &harness,
        &[tp(&format!("{future}-what-the-future-will-be-like"))],
    )
    .await;
    assert_new_trace(
        &harness,
        &[tp(&format!("{future}.what-the-future-will-be-like"))],
        TRACE_ID,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_version_0xff() {
    let harness = Harness::start().await;
    assert_new_trace(
        &harness,
        &[tp(
            "ff-12345678901234567890123456789012-1234567890123456-01",
        )],
        TRACE_ID,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_version_illegal_characters() {
    let harness = Harness::start().await;
    for value in [
        ".0-12345678901234567890123456789012-1234567890123456-01",
        "0.-12345678901234567890123456789012-1234567890123456-01",
    ] {
        assert_new_trace(&harness, &[tp(value)], TRACE_ID).await;
    }
}

#[tokio::test]
async fn test_traceparent_version_too_long() {
    let harness = Harness::start().await;
    for value in [
        "000-12345678901234567890123456789012-1234567890123456-01",
        "0000-12345678901234567890123456789012-1234567890123456-01",
    ] {
        assert_new_trace(&harness, &[tp(value)], TRACE_ID).await;
    }
}

#[tokio::test]
async fn test_traceparent_version_too_short() {
    let harness = Harness::start().await;
    assert_new_trace(
        &harness,
        &[tp("0-12345678901234567890123456789012-1234567890123456-01")],
        TRACE_ID,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_trace_id_all_zero() {
    let harness = Harness::start().await;
    let zero = "00000000000000000000000000000000";
    assert_new_trace(
        &harness,
        &[tp(&format!("00-{zero}-1234567890123456-01"))],
        zero,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_trace_id_illegal_characters() {
    let harness = Harness::start().await;
    for trace_id in [
        ".2345678901234567890123456789012",
        "1234567890123456789012345678901.",
    ] {
        assert_new_trace(
            &harness,
            &[tp(&format!("00-{trace_id}-1234567890123456-01"))],
            trace_id,
        )
        .await;
    }
}

#[tokio::test]
async fn test_traceparent_trace_id_too_long() {
    let harness = Harness::start().await;
    let (traceparent, _) = single(
        &harness,
        &[tp(
            "00-123456789012345678901234567890123-1234567890123456-01",
        )],
    )
    .await;
    assert_ne!(traceparent.trace_id, "123456789012345678901234567890123");
    assert_ne!(traceparent.trace_id, TRACE_ID);
    assert_ne!(traceparent.trace_id, "23456789012345678901234567890123");
}

#[tokio::test]
async fn test_traceparent_trace_id_too_short() {
    let harness = Harness::start().await;
    assert_new_trace(
        &harness,
        &[tp("00-1234567890123456789012345678901-1234567890123456-01")],
        "1234567890123456789012345678901",
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_parent_id_all_zero() {
    let harness = Harness::start().await;
    assert_new_trace(
        &harness,
        &[tp(
            "00-12345678901234567890123456789012-0000000000000000-01",
        )],
        TRACE_ID,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_parent_id_illegal_characters() {
    let harness = Harness::start().await;
    for value in [
        "00-12345678901234567890123456789012-.234567890123456-01",
        "00-12345678901234567890123456789012-123456789012345.-01",
    ] {
        assert_new_trace(&harness, &[tp(value)], TRACE_ID).await;
    }
}

#[tokio::test]
async fn test_traceparent_parent_id_too_long() {
    let harness = Harness::start().await;
    assert_new_trace(
        &harness,
        &[tp(
            "00-12345678901234567890123456789012-12345678901234567-01",
        )],
        TRACE_ID,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_parent_id_too_short() {
    let harness = Harness::start().await;
    assert_new_trace(
        &harness,
        &[tp("00-12345678901234567890123456789012-123456789012345-01")],
        TRACE_ID,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_trace_flags_illegal_characters() {
    let harness = Harness::start().await;
    for value in [
        "00-12345678901234567890123456789012-1234567890123456-.0",
        "00-12345678901234567890123456789012-1234567890123456-0.",
    ] {
        assert_new_trace(&harness, &[tp(value)], TRACE_ID).await;
    }
}

#[tokio::test]
async fn test_traceparent_trace_flags_too_long() {
    let harness = Harness::start().await;
    assert_new_trace(
        &harness,
        &[tp(
            "00-12345678901234567890123456789012-1234567890123456-001",
        )],
        TRACE_ID,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_trace_flags_too_short() {
    let harness = Harness::start().await;
    assert_new_trace(
        &harness,
        &[tp("00-12345678901234567890123456789012-1234567890123456-1")],
        TRACE_ID,
    )
    .await;
}

#[tokio::test]
async fn test_traceparent_ows_handling() {
    let harness = Harness::start().await;
    for value in [
        format!(" {P01}"),
        format!("\t{P01}"),
        format!("{P01} "),
        format!("{P01}\t"),
        format!("\t {P01} \t"),
    ] {
        assert_same_trace(&harness, &[tp(&value)]).await;
    }
}

#[tokio::test]
async fn test_tracestate_included_traceparent_missing() {
    let harness = Harness::start().await;
    let (_, tracestate1) = single(&harness, &[ts("foo=1")]).await;
    let (_, tracestate2) = single(&harness, &[ts("foo=1,bar=2")]).await;
    assert_eq!(tracestate1.len(), tracestate2.len());
}

#[tokio::test]
async fn test_tracestate_included_traceparent_included() {
    let harness = Harness::start().await;
    let (traceparent, tracestate) = single(&harness, &[tp(P00), ts("foo=1,bar=2")]).await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    assert_eq!(tracestate.get("foo"), Some("1"));
    assert_eq!(tracestate.get("bar"), Some("2"));
}

#[tokio::test]
async fn test_tracestate_header_name() {
    let harness = Harness::start().await;
    for name in ["trace-state", "trace.state"] {
        let (_, tracestate) = single(&harness, &[tp(P00), (name, "foo=1".into())]).await;
        assert_eq!(tracestate.get("foo"), None);
    }
}

#[tokio::test]
async fn test_tracestate_header_name_valid_casing() {
    let harness = Harness::start().await;
    for name in ["TraceState", "TrAcEsTaTe", "TRACESTATE"] {
        let (_, tracestate) = single(&harness, &[tp(P00), (name, "foo=1".into())]).await;
        assert_eq!(tracestate.get("foo"), Some("1"));
    }
}

#[tokio::test]
async fn test_tracestate_empty_header() {
    let harness = Harness::start().await;
    let (traceparent, _) = single(&harness, &[tp(P00), ts("")]).await;
    assert_eq!(traceparent.trace_id, TRACE_ID);

    let (traceparent, tracestate) = single(&harness, &[tp(P00), ts("foo=1"), ts("")]).await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    assert_eq!(tracestate.get("foo"), Some("1"));

    let (traceparent, tracestate) = single(&harness, &[tp(P00), ts(""), ts("foo=1")]).await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    assert_eq!(tracestate.get("foo"), Some("1"));
}

#[tokio::test]
async fn test_tracestate_multiple_headers_different_keys() {
    let harness = Harness::start().await;
    let (traceparent, tracestate) = single(
        &harness,
        &[
            tp(P00),
            ts("foo=1,bar=2"),
            ts("rojo=1,congo=2"),
            ts("baz=3"),
        ],
    )
    .await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    let text = tracestate.text();
    let position = |member: &str| {
        text.find(member)
            .unwrap_or_else(|| panic!("{member} missing from {text}"))
    };
    assert!(position("foo=1") < position("bar=2"));
    assert!(position("bar=2") < position("rojo=1"));
    assert!(position("rojo=1") < position("congo=2"));
    assert!(position("congo=2") < position("baz=3"));
}

#[tokio::test]
async fn test_tracestate_duplicated_keys() {
    let harness = Harness::start().await;
    let cases = [
        (vec![tp(P00), ts("foo=1,foo=1")], ["1", "1"]),
        (vec![tp(P00), ts("foo=1,foo=2")], ["1", "2"]),
        (vec![tp(P00), ts("foo=1"), ts("foo=1")], ["1", "1"]),
        (vec![tp(P00), ts("foo=1"), ts("foo=2")], ["1", "2"]),
    ];
    for (headers, allowed) in &cases {
        let (traceparent, tracestate) = single(&harness, headers).await;
        assert_eq!(traceparent.trace_id, TRACE_ID);
        let foo = tracestate.get("foo");
        assert!(foo.is_some_and(|v| allowed.contains(&v)), "{headers:?}");
    }
}

#[tokio::test]
async fn test_tracestate_all_allowed_characters() {
    let harness = Harness::start().await;
    let key_without_vendor: String = ('a'..='z')
        .chain('0'..='9')
        .chain(['_', '-', '*', '/'])
        .collect();
    let key_with_vendor = format!("{key_without_vendor}@a-z0-9_-*/");
    let value: String = (0x20u8..=0x2B)
        .chain(0x2D..=0x3C)
        .chain(0x3E..=0x7E)
        .map(char::from)
        .collect();
    for key in [&key_without_vendor, &key_with_vendor] {
        let (_, tracestate) = single(&harness, &[tp(P00), ts(&format!("{key}={value}"))]).await;
        assert_eq!(tracestate.get(key), Some(value.as_str()));
    }
}

#[tokio::test]
async fn test_tracestate_ows_handling() {
    let harness = Harness::start().await;
    for value in [
        "foo=1 \t , \t bar=2, \t baz=3",
        "foo=1\t \t,\t \tbar=2,\t \tbaz=3",
    ] {
        let (_, tracestate) = single(&harness, &[tp(P00), ts(value)]).await;
        assert_eq!(tracestate.get("foo"), Some("1"));
        assert_eq!(tracestate.get("bar"), Some("2"));
        assert_eq!(tracestate.get("baz"), Some("3"));
    }
    for value in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
        let (traceparent, tracestate) = single(&harness, &[tp(P00), ts(value)]).await;
        assert_eq!(traceparent.trace_id, TRACE_ID);
        assert_eq!(tracestate.get("foo"), Some("1"), "{value:?}");
    }
}

#[tokio::test]
async fn test_tracestate_key_illegal_characters() {
    let harness = Harness::start().await;
    for (value, key) in [
        ("foo =1", "foo "),
        ("FOO=1", "FOO"),
        ("foo.bar=1", "foo.bar"),
    ] {
        let (_, tracestate) = single(&harness, &[tp(P00), ts(value)]).await;
        assert_eq!(tracestate.get(key), None, "{value:?}");
    }
}

#[tokio::test]
async fn test_tracestate_key_illegal_vendor_format() {
    let harness = Harness::start().await;
    for key in ["foo@", "foo@@bar", "foo@bar@baz"] {
        let value = format!("{key}=1,bar=2");
        let (_, tracestate) = single(&harness, &[tp(P00), ts(&value)]).await;
        assert_eq!(tracestate.get(key), Some("1"), "{value:?}");
        assert_eq!(tracestate.get("bar"), Some("2"), "{value:?}");
    }
    let (_, tracestate) = single(&harness, &[tp(P00), ts("@foo=1,bar=2")]).await;
    assert_eq!(tracestate.get("bar"), None);
}

#[tokio::test]
async fn test_tracestate_member_count_limit() {
    let harness = Harness::start().await;
    let first =
        "bar01=01,bar02=02,bar03=03,bar04=04,bar05=05,bar06=06,bar07=07,bar08=08,bar09=09,bar10=10";
    let second =
        "bar11=11,bar12=12,bar13=13,bar14=14,bar15=15,bar16=16,bar17=17,bar18=18,bar19=19,bar20=20";
    let third =
        "bar21=21,bar22=22,bar23=23,bar24=24,bar25=25,bar26=26,bar27=27,bar28=28,bar29=29,bar30=30";
    let (_, tracestate) = single(
        &harness,
        &[
            tp(P00),
            ts(first),
            ts(second),
            ts(third),
            ts("bar31=31,bar32=32"),
        ],
    )
    .await;
    assert_eq!(tracestate.get("bar01"), Some("01"));
    assert_eq!(tracestate.len(), 32);

    let (_, tracestate) = single(
        &harness,
        &[
            tp(P00),
            ts(first),
            ts(second),
            ts(third),
            ts("bar31=31,bar32=32,bar33=33"),
        ],
    )
    .await;
    assert_eq!(tracestate.get("bar01"), None);
}

#[tokio::test]
async fn test_tracestate_key_length_limit() {
    let harness = Harness::start().await;
    let kept = [
        "z".repeat(256),
        format!("{}@{}", "t".repeat(241), "v".repeat(14)),
        format!("{}@v", "t".repeat(242)),
        format!("t@{}", "v".repeat(15)),
    ];
    for key in &kept {
        let member = format!("{key}=1");
        let (_, tracestate) = single(&harness, &[tp(P00), ts("foo=1"), ts(&member)]).await;
        assert_eq!(tracestate.get("foo"), Some("1"), "{member}");
        assert_eq!(tracestate.get(key), Some("1"), "{member}");
    }
    let member = format!("{}=1", "z".repeat(257));
    let (_, tracestate) = single(&harness, &[tp(P00), ts("foo=1"), ts(&member)]).await;
    assert_eq!(tracestate.get("foo"), None, "{member}");
}

#[tokio::test]
async fn test_tracestate_value_illegal_characters() {
    let harness = Harness::start().await;
    let (_, tracestate) = single(&harness, &[tp(P00), ts("foo=bar=baz")]).await;
    assert_eq!(tracestate.get("foo"), None);
    let (_, tracestate) = single(&harness, &[tp(P00), ts("foo=,bar=3")]).await;
    assert_eq!(tracestate.get("foo"), None);
    assert_eq!(tracestate.get("bar"), None);
}

// ------------------------------------------------------------------- AdvancedTest

#[tokio::test]
async fn test_multiple_requests_with_valid_traceparent() {
    let harness = Harness::start().await;
    let callbacks = harness.make_request(&[("traceparent", P01)], 3).await;
    let traceparents: Vec<Traceparent> = callbacks.iter().map(get_traceparent).collect();
    assert!(traceparents.iter().all(|tp| tp.trace_id == TRACE_ID));
    let parent_ids: std::collections::HashSet<&str> = traceparents
        .iter()
        .map(|tp| tp.parent_id.as_str())
        .collect();
    assert_eq!(parent_ids.len(), 3);
}

#[tokio::test]
async fn test_multiple_requests_without_traceparent() {
    let harness = Harness::start().await;
    let callbacks = harness.make_request(&[], 3).await;
    let parent_ids: std::collections::HashSet<String> = callbacks
        .iter()
        .map(|headers| get_traceparent(headers).parent_id)
        .collect();
    assert_eq!(parent_ids.len(), 3);
}

#[tokio::test]
async fn test_multiple_requests_with_illegal_traceparent() {
    let harness = Harness::start().await;
    let zero = "00-00000000000000000000000000000000-1234567890123456-01";
    let callbacks = harness.make_request(&[("traceparent", zero)], 3).await;
    let traceparents: Vec<Traceparent> = callbacks.iter().map(get_traceparent).collect();
    assert!(traceparents.iter().all(|tp| tp.trace_id != "0".repeat(32)));
    let parent_ids: std::collections::HashSet<&str> = traceparents
        .iter()
        .map(|tp| tp.parent_id.as_str())
        .collect();
    assert_eq!(parent_ids.len(), 3);
}

// ------------------------------------------------- Level 2: the random trace-id flag

#[tokio::test]
async fn level2_the_random_flag_is_propagated_unchanged() {
    let harness = Harness::start().await;
    // Sampled and random: a new span, both flags kept.
    let (traceparent, _) = single(
        &harness,
        &[tp(
            "00-12345678901234567890123456789012-1234567890123456-03",
        )],
    )
    .await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    assert_ne!(traceparent.parent_id, "1234567890123456");
    assert_eq!(traceparent.flags, 0x03);
    // Random but not sampled: the trace id's randomness claim still travels on.
    let (traceparent, _) = single(
        &harness,
        &[tp(
            "00-12345678901234567890123456789012-1234567890123456-02",
        )],
    )
    .await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    assert_eq!(traceparent.flags & 0x02, 0x02);
}

#[tokio::test]
async fn level2_the_random_flag_is_never_invented_and_unknown_flags_are_cleared() {
    let harness = Harness::start().await;
    // The caller made no randomness claim for this trace id: none may be added.
    let (traceparent, _) = single(&harness, &[tp(P01)]).await;
    assert_eq!(traceparent.flags, 0x01);
    // Unknown bits (0x08, 0xf0) are not propagated; sampled and random are.
    let (traceparent, _) = single(
        &harness,
        &[tp(
            "00-12345678901234567890123456789012-1234567890123456-fb",
        )],
    )
    .await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    assert_eq!(traceparent.flags, 0x03);
    // A future version's flags are read the same way.
    let (traceparent, _) = single(
        &harness,
        &[tp(
            "cc-12345678901234567890123456789012-1234567890123456-09-extra",
        )],
    )
    .await;
    assert_eq!(traceparent.version, "00");
    assert_eq!(traceparent.flags, 0x01);
}

#[tokio::test]
async fn level2_a_trace_started_here_is_sampled_and_random() {
    let harness = Harness::start().await;
    // No traceparent, and an invalid one: the service starts the trace, with an SDK-random
    // trace id, so it may and does claim randomness.
    for headers in [
        vec![],
        vec![tp(
            "00-00000000000000000000000000000000-1234567890123456-01",
        )],
    ] {
        let (traceparent, _) = single(&harness, &headers).await;
        assert_ne!(traceparent.trace_id, TRACE_ID);
        assert_eq!(traceparent.flags, 0x03);
    }
}
