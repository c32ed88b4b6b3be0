//! The `otlp-sink` component: a Python venv with PyPI's `oteltest`, in which the tests run
//! `crates/trace-core/tests/support/otlp_sink.py` (an independent OTLP receiver).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::venv::Venv;
use crate::util::{self, Result};

const SINK_SCRIPT: &str = "crates/trace-core/tests/support/otlp_sink.py";

/// The venv with the receiver's PyPI package, pinned (`TRACE_RS_OTLP_VENV` overrides its place).
pub(super) fn venv(target_dir: &Path) -> Venv {
    Venv::new(
        "otlp-venv",
        "TRACE_RS_OTLP_VENV",
        target_dir,
        "oteltest==0.49.0",
        "grpc, google.protobuf, oteltest.sink",
    )
}

/// Makes (or reuses) the venv, checks the receiver starts and decodes a request, and returns
/// the env var the tests need.
pub(super) fn provision(venv: &Venv, run_dir: &Path) -> Result<Vec<(String, String)>> {
    venv.ensure("otlp-sink")?;
    let started = Instant::now();
    let (grpc, http) = self_check(&venv.python(), run_dir)?;
    println!(
        "otlp-sink: receiver self-check passed in {:.2?} (listened on gRPC 127.0.0.1:{grpc} and \
         HTTP 127.0.0.1:{http}, decoded a request); tests start their own receivers",
        started.elapsed()
    );
    Ok(vec![(
        "TRACE_RS_OTLP_SINK_PYTHON".into(),
        venv.python().display().to_string(),
    )])
}

/// Starts the receiver on free ports, posts an empty OTLP/HTTP export request, and checks it
/// was decoded and written. Returns the (gRPC, HTTP) ports it listened on.
fn self_check(python: &Path, run_dir: &Path) -> Result<(u16, u16)> {
    let out = run_dir.join("otlp-self-check.jsonl");
    let log = run_dir.join("otlp-self-check.log");
    let log_file = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new(python)
        .arg(util::project_root().join(SINK_SCRIPT))
        .args([
            "--grpc-port",
            "0",
            "--http-port",
            "0",
            "--exit-on-stdin-eof",
            "--out",
        ])
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("could not start {SINK_SCRIPT}: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let ready = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    let port = |key: &str| -> Option<u16> {
        let rest = ready.trim().strip_prefix("READY")?;
        rest.split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.parse().ok())
    };
    let result = match (port("grpc="), port("http=")) {
        (Some(grpc), Some(http)) => post_empty_export(http).and_then(|()| {
            let lines = fs::read_to_string(&out).unwrap_or_default();
            match lines.lines().count() {
                1 => Ok((grpc, http)),
                n => Err(format!("the receiver wrote {n} lines for one request")),
            }
        }),
        _ => Err(format!(
            "the receiver did not print READY within 20 s (got {ready:?})"
        )),
    };
    let _ = child.kill();
    let _ = child.wait();
    result.map_err(|e| format!("{e}\nreceiver log:\n{}", super::system::tail(&log)))
}

/// `POST /v1/traces` with an empty protobuf `ExportTraceServiceRequest` (zero bytes).
fn post_empty_export(port: u16) -> Result {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    match response.lines().next() {
        Some(status) if status.starts_with("HTTP/1.1 200") => Ok(()),
        status => Err(format!(
            "the receiver answered {status:?} to an empty export request"
        )),
    }
}
