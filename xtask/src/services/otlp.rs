//! The `otlp-sink` component: a Python venv with PyPI's `oteltest`, in which the tests run
//! `crates/trace-core/tests/support/otlp_sink.py` (an independent OTLP receiver).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{self, Result, succeeds, which};

/// The receiver's PyPI package, pinned.
const OTELTEST: &str = "oteltest==0.49.0";
const SINK_SCRIPT: &str = "crates/trace-core/tests/support/otlp_sink.py";

/// The venv lives next to the target dir when that is outside the repository (a shared
/// cache), else inside it; `TRACE_RS_OTLP_VENV` overrides.
pub(crate) fn venv_dir(target_dir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("TRACE_RS_OTLP_VENV") {
        return PathBuf::from(dir);
    }
    match target_dir.parent() {
        Some(parent) if !target_dir.starts_with(util::project_root()) => parent.join("otlp-venv"),
        _ => target_dir.join("otlp-venv"),
    }
}

fn python(venv: &Path) -> PathBuf {
    venv.join("bin/python")
}

/// Whether the venv already has the pinned oteltest.
fn usable(venv: &Path) -> bool {
    let version = OTELTEST.split("==").nth(1).unwrap_or_default();
    let check = format!(
        "import grpc, google.protobuf, oteltest.sink, oteltest.version as v; \
         assert v.__version__ == '{version}'"
    );
    python(venv).is_file() && succeeds(Command::new(python(venv)).args(["-c", &check]))
}

/// Debian packages needed to build the venv (none when it exists or python3 can make one).
pub(crate) fn missing_packages(venv: &Path) -> Vec<&'static str> {
    if usable(venv) {
        Vec::new()
    } else if which("python3").is_none() {
        vec!["python3", "python3-venv"]
    } else if !succeeds(Command::new("python3").args(["-c", "import venv, ensurepip"])) {
        vec!["python3-venv"]
    } else {
        Vec::new()
    }
}

/// Makes (or reuses) the venv, checks the receiver starts and decodes a request, and returns
/// the env var the tests need.
pub(crate) fn provision(venv: &Path, run_dir: &Path) -> Result<Vec<(String, String)>> {
    if usable(venv) {
        println!(
            "otlp-sink: reusing the venv {} ({OTELTEST})",
            venv.display()
        );
    } else {
        let started = Instant::now();
        if venv.exists() {
            fs::remove_dir_all(venv).map_err(|e| format!("remove {}: {e}", venv.display()))?;
        }
        util::run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
        let pip = || {
            let mut cmd = Command::new(python(venv));
            cmd.args(["-m", "pip", "install", "-q", "--disable-pip-version-check"]);
            cmd
        };
        // The machine's stock pip fails to resolve oteltest's dependencies: upgrade it first.
        util::run(pip().args(["-U", "pip"]))?;
        util::run(pip().arg(OTELTEST))?;
        if !usable(venv) {
            return Err(format!(
                "{OTELTEST} is still not importable in {}",
                venv.display()
            ));
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "otlp-sink: created the venv {} with {OTELTEST} in {secs:.1} s",
            venv.display()
        );
    }
    let started = Instant::now();
    let (grpc, http) = self_check(&python(venv), run_dir)?;
    println!(
        "otlp-sink: receiver self-check passed in {:.2?} (listened on gRPC 127.0.0.1:{grpc} and \
         HTTP 127.0.0.1:{http}, decoded a request); tests start their own receivers",
        started.elapsed()
    );
    Ok(vec![(
        "TRACE_RS_OTLP_SINK_PYTHON".into(),
        python(venv).display().to_string(),
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
