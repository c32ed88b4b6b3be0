//! Level 2 random-flag cases that the official W3C suite does not check, run against the
//! service binary the way the suite drives it.
//!
//! `cargo xtask test` runs the official suite itself (`w3c-suite/test.py`, every test at
//! `STRICT_LEVEL=2 SPEC_LEVEL=2`). Like the suite, each test here POSTs to the service's
//! `/test` endpoint with the given headers (written as raw HTTP/1.1, so they reach the
//! service exactly as given) and a body asking the service to call back, then checks the
//! callback's `traceparent`, more strictly than the suite: version `00`, non-zero ids, and
//! the exact trace flags.

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
const P01: &str = "00-12345678901234567890123456789012-1234567890123456-01";

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

    /// The `traceparent` of the one callback made for `headers`.
    async fn traceparent(&self, headers: &[(&str, &str)]) -> Traceparent {
        let callback = self.make_request(headers, 1).await.remove(0);
        get_traceparent(&callback)
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

fn tp(value: &str) -> (&'static str, String) {
    ("traceparent", value.to_owned())
}

/// Sends `headers` and returns the callback's `traceparent`.
async fn single(harness: &Harness, headers: &[(&str, String)]) -> Traceparent {
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    harness.traceparent(&borrowed).await
}

/// The suite's `test_propagates_random_flag` checks the unsampled case (`02`).
#[tokio::test]
async fn level2_a_sampled_random_parent_keeps_both_flags() {
    let harness = Harness::start().await;
    let traceparent = single(
        &harness,
        &[tp(
            "00-12345678901234567890123456789012-1234567890123456-03",
        )],
    )
    .await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    assert_ne!(traceparent.parent_id, "1234567890123456");
    assert_eq!(traceparent.flags, 0x03);
}

#[tokio::test]
async fn level2_the_random_flag_is_never_invented_and_unknown_flags_are_cleared() {
    let harness = Harness::start().await;
    // The caller made no randomness claim for this trace id: none may be added.
    let traceparent = single(&harness, &[tp(P01)]).await;
    assert_eq!(traceparent.flags, 0x01);
    // Unknown bits (0x08, 0xf0) are not propagated; sampled and random are.
    let traceparent = single(
        &harness,
        &[tp(
            "00-12345678901234567890123456789012-1234567890123456-fb",
        )],
    )
    .await;
    assert_eq!(traceparent.trace_id, TRACE_ID);
    assert_eq!(traceparent.flags, 0x03);
    // A future version's flags are read the same way.
    let traceparent = single(
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
async fn level2_a_trace_started_here_is_sampled_with_the_sdks_flags() {
    let harness = Harness::start().await;
    // No traceparent, and an invalid one: the service starts the trace. Its SDK
    // (opentelemetry_sdk 0.33) sets the sampled flag only, and trace-core adds none.
    for headers in [
        vec![],
        vec![tp(
            "00-00000000000000000000000000000000-1234567890123456-01",
        )],
    ] {
        let traceparent = single(&harness, &headers).await;
        assert_ne!(traceparent.trace_id, TRACE_ID);
        assert_eq!(traceparent.flags, 0x01);
    }
}
