//! rotel (a collector written in Rust, PyPI `rotel`) as the receiver of a run, with its
//! blackhole exporter: it decodes and batches what it receives and throws it away. Its
//! debug log of traces (`--debug-log traces`, basic verbosity) writes one line per request
//! with the number of spans decoded: what rotel received is the sum of those.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The variable naming the `rotel-agent` binary (`cargo xtask bench ... -- --rotel` sets it).
pub(crate) const AGENT_ENV: &str = "TRACE_RS_ROTEL_AGENT";
/// How long rotel has to listen on both ports.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `rotel-agent`, stopped on drop.
pub(crate) struct Rotel {
    child: Child,
    pub(crate) grpc_port: u16,
    pub(crate) http_port: u16,
    /// Its pid and log files.
    dir: TempDir,
}

impl Rotel {
    /// Starts `agent` on two free loopback ports and waits until both accept connections.
    pub(crate) fn start(agent: &Path) -> Result<Self, String> {
        let dir = TempDir::new().map_err(|e| format!("a directory for rotel: {e}"))?;
        let (grpc_port, http_port) = free_ports().map_err(|e| format!("free ports: {e}"))?;
        let log = |name: &str| {
            File::create(dir.path().join(name)).map_err(|e| format!("rotel's {name}: {e}"))
        };
        let child = Command::new(agent)
            .arg("start")
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
            .args(["--exporter", "blackhole", "--debug-log", "traces"])
            .arg("--pid-file")
            .arg(dir.path().join("rotel.pid"))
            .arg("--log-file")
            .arg(dir.path().join("rotel.log"))
            .stdin(Stdio::null())
            .stdout(log("stdout.log")?)
            .stderr(log("stderr.log")?)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", agent.display()))?;
        let mut rotel = Self {
            child,
            grpc_port,
            http_port,
            dir,
        };
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if let Ok(Some(status)) = rotel.child.try_wait() {
                return Err(format!("rotel exited ({status}): {}", rotel.logs()));
            }
            let listening = |port: u16| TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok();
            if listening(grpc_port) && listening(http_port) {
                return Ok(rotel);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "rotel did not listen within {START_TIMEOUT:?}: {}",
            rotel.logs()
        ))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where rotel's debug log of traces goes (its stdout).
    pub(crate) fn debug_log(&self) -> PathBuf {
        self.dir.path().join("stdout.log")
    }

    /// The ends of rotel's output files, for an error message.
    fn logs(&self) -> String {
        ["stdout.log", "stderr.log", "rotel.log"]
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
                let tail: String = text
                    .chars()
                    .rev()
                    .take(1500)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("{name}: {tail}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The spans rotel has logged receiving: the `spans=N` of its `Received traces.` lines
/// (colour codes and all: `spans\x1b[0m\x1b[2m=\x1b[0m512`).
pub(crate) fn spans_received(debug_log: &Path) -> Result<u64, String> {
    let log = std::fs::read_to_string(debug_log)
        .map_err(|e| format!("rotel's log {}: {e}", debug_log.display()))?;
    Ok(log
        .lines()
        .filter(|line| line.contains("Received traces"))
        .filter_map(|line| {
            let plain = without_colour(line);
            let count = plain.split_once(" spans=")?.1;
            count
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum())
}

/// `line` without its ANSI colour sequences (`ESC [ ... m`).
fn without_colour(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Two distinct ports nothing listens on now (both held until both are known).
fn free_ports() -> std::io::Result<(u16, u16)> {
    let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let second = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok((first.local_addr()?.port(), second.local_addr()?.port()))
}
