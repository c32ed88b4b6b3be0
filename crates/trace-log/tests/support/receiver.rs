//! A running `tests/support/otlp_logs_sink.py`: a real OTLP receiver (gRPC and HTTP, logs
//! and traces) from PyPI's `oteltest`. It exits when its stdin closes on drop.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

pub struct Receiver {
    _child: Child,
    pub grpc_port: u16,
    pub http_port: u16,
    out: PathBuf,
}

/// One export request the receiver decoded.
#[derive(Debug, Clone)]
pub struct Received {
    /// `logs` or `traces`.
    pub signal: String,
    /// `grpc` or `http`.
    pub transport: String,
    /// The HTTP path (the service's path for gRPC).
    pub path: String,
    /// Request headers (gRPC metadata), names lowercase.
    pub headers: Value,
    /// The request as OTLP/JSON, ids in hex.
    pub request: Value,
}

impl Received {
    /// `resourceLogs` or `resourceSpans`, whichever the signal has.
    pub fn resources(&self) -> Vec<&Value> {
        let key = match self.signal.as_str() {
            "logs" => "resourceLogs",
            _ => "resourceSpans",
        };
        self.request[key].as_array().into_iter().flatten().collect()
    }

    /// Every log record or span, with its resource.
    pub fn items(&self) -> Vec<(&Value, &Value)> {
        let (scopes, items) = match self.signal.as_str() {
            "logs" => ("scopeLogs", "logRecords"),
            _ => ("scopeSpans", "spans"),
        };
        let mut found = Vec::new();
        for resource in self.resources() {
            for scope in resource[scopes].as_array().into_iter().flatten() {
                for item in scope[items].as_array().into_iter().flatten() {
                    found.push((&resource["resource"], item));
                }
            }
        }
        found
    }
}

/// The string value of resource attribute `key`.
pub fn resource_attribute(resource: &Value, key: &str) -> Option<String> {
    resource["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|kv| kv["key"] == key)
        .and_then(|kv| kv["value"]["stringValue"].as_str())
        .map(str::to_owned)
}

impl Receiver {
    /// `None` (after saying why) when the tests were not run through `cargo xtask test`;
    /// under `CI=true` a missing receiver is a failure.
    pub fn start() -> Option<Self> {
        const PYTHON_ENV: &str = "TRACE_RS_OTLP_SINK_PYTHON";
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let Some(python) = std::env::var_os(PYTHON_ENV).filter(|p| !p.is_empty()) else {
            let why = format!("{PYTHON_ENV} is not set: run the tests with `cargo xtask test`");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("skipping the OTLP receiver test: {why}");
            return None;
        };
        let out = std::env::temp_dir().join(format!(
            "trace-log-otlp-{}-{}.jsonl",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&out);
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/otlp_logs_sink.py"
        );
        let mut child = Command::new(python)
            .arg(script)
            .arg("--out")
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the OTLP receiver");
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        let port = |key: &str| -> u16 {
            ready
                .trim()
                .strip_prefix("READY")
                .and_then(|rest| {
                    rest.split_whitespace()
                        .find_map(|word| word.strip_prefix(key)?.parse().ok())
                })
                .unwrap_or_else(|| panic!("the receiver did not get ready: {ready:?}"))
        };
        Some(Self {
            grpc_port: port("grpc="),
            http_port: port("http="),
            _child: child,
            out,
        })
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Received> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .map(|line| {
                let line: Value = serde_json::from_str(line).unwrap();
                let text = |key: &str| line[key].as_str().unwrap_or_default().to_owned();
                Received {
                    signal: text("signal"),
                    transport: text("transport"),
                    path: text("path"),
                    headers: line["headers"].clone(),
                    request: line["request"].clone(),
                }
            })
            .collect()
    }

    /// Every log record received so far, with its resource's `service.name`.
    pub fn records(&self) -> Vec<(String, Value)> {
        let requests = self.requests();
        let mut records = Vec::new();
        for request in requests.iter().filter(|r| r.signal == "logs") {
            for (resource, record) in request.items() {
                let service = resource_attribute(resource, "service.name").unwrap_or_default();
                records.push((service, record.clone()));
            }
        }
        records
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.out);
    }
}
