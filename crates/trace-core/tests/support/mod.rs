//! Test support: a real, independent OTLP receiver for integration tests.
//!
//! [`OtlpSink`] runs `otlp_sink.py` (beside this file) with the Python of the venv that
//! `cargo xtask test` provisions (env `TRACE_RS_OTLP_SINK_PYTHON`). The script decodes what we
//! export with the official OTLP protobuf definitions (PyPI `oteltest`) and writes each
//! `ExportTraceServiceRequest` as one JSON line in the protobuf JSON mapping: field names in
//! lowerCamelCase, enums as names (`"SPAN_KIND_SERVER"`), 64-bit integers as strings, and ids as
//! lowercase hex.
//!
//! Include it with `mod support;` (or `#[path = "support/mod.rs"] mod support;`).

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read as _};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Env var holding the venv Python that has `oteltest` installed.
pub(crate) const PYTHON_ENV: &str = "TRACE_RS_OTLP_SINK_PYTHON";
/// How long [`OtlpSink::start`] waits for the receiver to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/otlp_sink.py");

/// The OTLP transport a sink listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SinkProtocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP, protobuf or JSON, optionally gzip-compressed.
    Http,
}

/// Collector faults a sink plays, for the export pipeline's tests.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SinkFaults {
    /// Every trace request is answered this much later (a slow collector).
    pub(crate) delay: Duration,
    /// The first this many trace requests are answered `503` (OTLP/HTTP) or UNAVAILABLE
    /// (OTLP/gRPC) without being decoded (received as requests with `status` 503 and no
    /// spans).
    pub(crate) unavailable_first: usize,
    /// The `Retry-After` of those 503s, in seconds.
    pub(crate) retry_after_secs: u64,
}

/// One export request as received: transport, request headers (lowercase names) and the
/// decoded `ExportTraceServiceRequest`.
#[derive(Clone, Debug)]
pub(crate) struct ReceivedRequest {
    /// `"grpc"` or `"http"`.
    pub(crate) protocol: String,
    /// The status the sink answered: 200, or 503 for a fault it played (over gRPC:
    /// UNAVAILABLE).
    pub(crate) status: u16,
    /// Request headers (HTTP) or metadata (gRPC), names lowercased.
    pub(crate) headers: Value,
    /// The request, e.g. `body["resourceSpans"][0]["scopeSpans"]`.
    pub(crate) body: Value,
}

/// One span from a received request, with its resource and instrumentation scope.
#[derive(Clone, Debug)]
pub(crate) struct ReceivedSpan {
    /// The `Resource` message (`{"attributes": [...]}`).
    pub(crate) resource: Value,
    /// Instrumentation scope name.
    pub(crate) scope: String,
    /// The `Span` message.
    pub(crate) span: Value,
}

impl ReceivedSpan {
    /// Span name.
    pub(crate) fn name(&self) -> &str {
        self.span["name"].as_str().unwrap_or_default()
    }

    /// Span kind as its protobuf name, e.g. `"SPAN_KIND_CLIENT"`.
    pub(crate) fn kind(&self) -> &str {
        self.span["kind"]
            .as_str()
            .unwrap_or("SPAN_KIND_UNSPECIFIED")
    }

    /// Trace id, 32 lowercase hex digits.
    pub(crate) fn trace_id(&self) -> &str {
        self.span["traceId"].as_str().unwrap_or_default()
    }

    /// Span id, 16 lowercase hex digits.
    pub(crate) fn span_id(&self) -> &str {
        self.span["spanId"].as_str().unwrap_or_default()
    }

    /// Parent span id, `None` for a root span.
    pub(crate) fn parent_span_id(&self) -> Option<&str> {
        self.span["parentSpanId"]
            .as_str()
            .filter(|id| !id.is_empty())
    }

    /// A span attribute as plain JSON (string, integer, float, bool or array).
    pub(crate) fn attribute(&self, key: &str) -> Option<Value> {
        find_attribute(&self.span["attributes"], key)
    }

    /// A resource attribute as plain JSON, e.g. `resource_attribute("service.name")`.
    pub(crate) fn resource_attribute(&self, key: &str) -> Option<Value> {
        find_attribute(&self.resource["attributes"], key)
    }
}

/// A running OTLP receiver on a free loopback port; killed on drop.
pub(crate) struct OtlpSink {
    child: Child,
    _stdin: ChildStdin,
    protocol: SinkProtocol,
    port: u16,
    dir: PathBuf,
    python: PathBuf,
    faults: SinkFaults,
}

impl OtlpSink {
    /// Starts a receiver, or returns `None` (after printing why) when the tests were not run
    /// through `cargo xtask test`. Under `CI=true` a missing receiver is a panic, not a skip.
    pub(crate) fn start(protocol: SinkProtocol) -> Option<OtlpSink> {
        Self::start_with(protocol, SinkFaults::default())
    }

    /// [`start`](Self::start) for a receiver that plays `faults`.
    pub(crate) fn start_with(protocol: SinkProtocol, faults: SinkFaults) -> Option<OtlpSink> {
        let python = match std::env::var_os(PYTHON_ENV) {
            Some(python) if !python.is_empty() => PathBuf::from(python),
            _ => {
                let msg = format!(
                    "{PYTHON_ENV} is not set: run the tests with `cargo xtask test`, \
                     which provisions the OTLP receiver"
                );
                if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                    panic!("{msg}");
                }
                eprintln!("skipping OTLP receiver test: {msg}");
                return None;
            }
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "trace-rs-otlp-sink-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create the OTLP sink's temp dir");
        // Port 0: the receiver binds a free port itself and reports it (no bind race).
        let (child, stdin, port) = launch(&python, protocol, faults, &dir, 0);
        Some(OtlpSink {
            child,
            _stdin: stdin,
            protocol,
            port,
            dir,
            python,
            faults,
        })
    }

    /// Stops the receiver (its port refuses connections) until [`restart`](Self::restart).
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the receiver again on the same port, keeping what it received.
    pub(crate) fn restart(&mut self) {
        self.stop();
        let (child, stdin, _) = launch(
            &self.python,
            self.protocol,
            self.faults,
            &self.dir,
            self.port,
        );
        self.child = child;
        self._stdin = stdin;
    }

    /// The transport this sink listens on.
    pub(crate) fn protocol(&self) -> SinkProtocol {
        self.protocol
    }

    /// The loopback port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Base endpoint, `http://127.0.0.1:PORT` (as for `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Signal-specific endpoint (as for `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): the base
    /// endpoint for gRPC, `.../v1/traces` for HTTP.
    pub(crate) fn traces_endpoint(&self) -> String {
        match self.protocol {
            SinkProtocol::Grpc => self.endpoint(),
            SinkProtocol::Http => format!("{}/v1/traces", self.endpoint()),
        }
    }

    /// The requests received so far. Panics if the receiver could not decode one.
    pub(crate) fn requests(&self) -> Vec<ReceivedRequest> {
        let text = fs::read_to_string(self.dir.join("requests.jsonl")).unwrap_or_default();
        // Only complete lines: the receiver writes each line with its newline, then flushes.
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        complete
            .lines()
            .map(|line| {
                let mut body: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("bad JSON line from the OTLP receiver: {e}: {line}")
                });
                let meta = body.as_object_mut().and_then(|o| o.remove("_sink"));
                let meta = meta.unwrap_or_default();
                if let Some(error) = meta.get("error") {
                    panic!("the OTLP receiver rejected an export request: {error}");
                }
                ReceivedRequest {
                    protocol: meta["protocol"].as_str().unwrap_or_default().to_owned(),
                    status: meta["status"]
                        .as_u64()
                        .and_then(|status| u16::try_from(status).ok())
                        .unwrap_or(200),
                    headers: meta["headers"].clone(),
                    body,
                }
            })
            .collect()
    }

    /// The spans received so far, in arrival order.
    pub(crate) fn spans(&self) -> Vec<ReceivedSpan> {
        let mut spans = Vec::new();
        for request in self.requests() {
            for rs in as_slice(&request.body["resourceSpans"]) {
                for ss in as_slice(&rs["scopeSpans"]) {
                    let scope = ss["scope"]["name"].as_str().unwrap_or_default();
                    spans.extend(as_slice(&ss["spans"]).iter().map(|span| ReceivedSpan {
                        resource: rs["resource"].clone(),
                        scope: scope.to_owned(),
                        span: span.clone(),
                    }));
                }
            }
        }
        spans
    }

    /// Waits until at least `min` requests arrived; panics after `timeout`.
    pub(crate) fn wait_for_requests(&self, min: usize, timeout: Duration) -> Vec<ReceivedRequest> {
        self.wait(
            timeout,
            || Some(self.requests()).filter(|r| r.len() >= min),
            || format!("{min} export request(s), got {}", self.requests().len()),
        )
    }

    /// Waits until at least `min` spans arrived and returns all received; panics after
    /// `timeout` naming the spans that did arrive.
    pub(crate) fn wait_for_spans(&self, min: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        self.wait(
            timeout,
            || Some(self.spans()).filter(|s| s.len() >= min),
            || {
                let names: Vec<String> = self.spans().iter().map(|s| s.name().to_owned()).collect();
                format!("{min} span(s), got {}: {names:?}", names.len())
            },
        )
    }

    fn wait<T>(
        &self,
        timeout: Duration,
        mut ready: impl FnMut() -> Option<T>,
        wanted: impl FnOnce() -> String,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = ready() {
                return value;
            }
            if Instant::now() >= deadline {
                panic!(
                    "OTLP receiver on {}: waited {timeout:?} for {}; receiver log:\n{}",
                    self.endpoint(),
                    wanted(),
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sink.log")).unwrap_or_default()
    }
}

impl Drop for OtlpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs the receiver on `port` (0: any free one), writing into `dir`; returns it once it
/// listens, with the port it listens on.
fn launch(
    python: &Path,
    protocol: SinkProtocol,
    faults: SinkFaults,
    dir: &Path,
    port: u16,
) -> (Child, ChildStdin, u16) {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("sink.log"))
        .expect("open the OTLP sink log");
    let port_flag = match protocol {
        SinkProtocol::Grpc => "--grpc-port",
        SinkProtocol::Http => "--http-port",
    };
    let mut child = Command::new(python)
        .arg(SCRIPT)
        .args([port_flag, &port.to_string(), "--exit-on-stdin-eof", "--out"])
        .arg(dir.join("requests.jsonl"))
        .arg(format!("--delay-ms={}", faults.delay.as_millis()))
        .arg(format!("--unavailable-first={}", faults.unavailable_first))
        .arg(format!("--retry-after={}", faults.retry_after_secs))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {} {SCRIPT}: {e}", python.display()));
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        lines.for_each(drop); // keep draining so the pipe never fills
    });
    let ready = rx.recv_timeout(READY_TIMEOUT);
    let key = match protocol {
        SinkProtocol::Grpc => "grpc=",
        SinkProtocol::Http => "http=",
    };
    let listening = ready.as_deref().ok().and_then(|line| {
        let rest = line.strip_prefix("READY")?;
        rest.split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.parse().ok())
    });
    match listening {
        Some(port) => (child, stdin, port),
        None => {
            let _ = child.kill();
            panic!(
                "the OTLP receiver did not get ready within {READY_TIMEOUT:?} (first line: \
                 {ready:?}); its log:\n{}",
                fs::read_to_string(dir.join("sink.log")).unwrap_or_default()
            )
        }
    }
}

/// A loopback port that was free a moment ago, e.g. for "collector is down" tests.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral loopback port")
        .port()
}

fn as_slice(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn find_attribute(attributes: &Value, key: &str) -> Option<Value> {
    let kv = as_slice(attributes).iter().find(|kv| kv["key"] == key)?;
    Some(plain_value(&kv["value"]))
}

/// `{"stringValue": "x"}` -> `"x"`, `{"intValue": "3"}` -> `3`, arrays element-wise.
fn plain_value(any: &Value) -> Value {
    let Some((kind, value)) = any.as_object().and_then(|o| o.iter().next()) else {
        return Value::Null;
    };
    match kind.as_str() {
        "intValue" => value
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .map_or_else(|| value.clone(), Value::from),
        "arrayValue" => Value::Array(as_slice(&value["values"]).iter().map(plain_value).collect()),
        _ => value.clone(),
    }
}

/// A loopback port nothing listens on: a collector that is down.
pub(crate) fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Accepts connections and reads forever without answering: a hung collector.
pub(crate) fn hanging_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut sink = [0u8; 4096];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

/// A provider of the test's own with only trace-core's batch export pipeline in it, built
/// from `config`, and the pipeline's status.
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(crate) fn pipeline_provider(
    config: &trace_core::Config,
) -> (
    opentelemetry_sdk::trace::SdkTracerProvider,
    trace_core::export::ExportStatus,
) {
    let processor =
        trace_core::export::OtlpBatchProcessor::from_config(config).expect("valid config");
    let status = processor.status();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_resource(trace_core::resource(config))
        .with_span_processor(processor)
        .build();
    (provider, status)
}
