//! [`OtlpReceiver`]: a receiver in a child process, as its parent sees it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::state::{ReceiverMode, ReceiverStats};

/// How long a starting receiver has to print `READY`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a `/stats` or `/control` request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A receiver running in a child process: its ports, and its counts on request. The
/// process is killed when this drops.
#[derive(Debug)]
pub struct OtlpReceiver {
    child: Child,
    grpc_port: u16,
    http_port: u16,
}

impl OtlpReceiver {
    /// Starts `command`, a program whose `main` hands its arguments to
    /// [`serve`](super::serve) (the `otlp-receiver` binary, or a benchmark binary run again
    /// with a flag that says so), on ports the OS picks, and waits for its `READY` line.
    /// Its stderr is this process's.
    pub fn start(mut command: Command) -> io::Result<Self> {
        command
            .args([
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                "--exit-on-stdin-eof",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("the receiver's stdout is not piped"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(READY_TIMEOUT).unwrap_or_default();
        let port = |key: &str| {
            line.trim()
                .strip_prefix("READY")?
                .split_whitespace()
                .find_map(|word| word.strip_prefix(key)?.parse().ok())
        };
        match (port("grpc="), port("http=")) {
            (Some(grpc_port), Some(http_port)) => Ok(Self {
                child,
                grpc_port,
                http_port,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other(format!(
                    "the receiver did not print `READY grpc=P http=P` within {READY_TIMEOUT:?} \
                     (got {line:?})"
                )))
            }
        }
    }

    /// The receiver's process id (to read its CPU time from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The OTLP/gRPC endpoint: `http://127.0.0.1:PORT`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// The OTLP/HTTP traces endpoint: `http://127.0.0.1:PORT/v1/traces`.
    pub fn http_traces_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/v1/traces", self.http_port)
    }

    /// The gRPC and HTTP ports.
    pub fn ports(&self) -> (u16, u16) {
        (self.grpc_port, self.http_port)
    }

    /// The receiver's counts now.
    pub fn stats(&self) -> io::Result<ReceiverStats> {
        ReceiverStats::fetch(self.http_port)
    }

    /// Makes the receiver answer the following requests as `mode` says.
    pub fn set_mode(&self, mode: ReceiverMode) -> io::Result<()> {
        request(
            self.http_port,
            "POST",
            &format!("/control?{}", mode.to_query()),
        )
        .map(drop)
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ReceiverStats {
    /// The counts of the receiver whose HTTP port is `http_port`, for a process that did
    /// not start it (another process of the same benchmark).
    pub fn fetch(http_port: u16) -> io::Result<Self> {
        let body = request(http_port, "GET", "/stats")?;
        Self::from_line(&body).map_err(io::Error::other)
    }
}

/// One HTTP/1.1 request on a fresh connection; the body of a 200 answer.
fn request(port: u16, method: &str, target: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default();
    if status.starts_with("HTTP/1.1 200") {
        Ok(body.to_owned())
    } else {
        Err(io::Error::other(format!(
            "{method} {target} on 127.0.0.1:{port}: {status:?} {body}"
        )))
    }
}
