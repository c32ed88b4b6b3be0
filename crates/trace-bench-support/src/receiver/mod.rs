//! An OTLP trace receiver for benchmarks and tests (feature `receiver`): OTLP/gRPC
//! (`TraceService/Export`, opentelemetry-proto's generated tonic server) and OTLP/HTTP
//! protobuf (`POST /v1/traces`, gzip or identity) on 127.0.0.1, every request decoded into
//! opentelemetry-proto's `ExportTraceServiceRequest` and its spans counted, so that
//! "received" is a number the receiver checked rather than an exporter's claim.
//!
//! It runs in a process of its own ([`serve`] is its `main`; [`OtlpReceiver`] starts one and
//! talks to it), so its CPU time is not the producer's. Its HTTP port also answers
//! `GET /stats` (the [`ReceiverStats`] line) and `POST /control?mode=...` (a
//! [`ReceiverMode`]: accept, reject with a status and `Retry-After`, or delay), for fault
//! tests. A stopped collector is a killed receiver, restarted on the same ports
//! (`--grpc-port`, `--http-port`).
//!
//! It never panics on a request: one it cannot read or decode is counted in
//! `decode_errors` and answered 4xx. Requests are limited to [`MAX_REQUEST_BYTES`], inflated.

mod bench_export;
mod client;
mod grpc;
mod http;
mod state;

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

pub use bench_export::{BenchExport, CaseRun, CaseRuns, NO_EXPORT_ENV, RECEIVER_FLAG};
pub use client::OtlpReceiver;
pub use state::{ReceiverMode, ReceiverStats};

/// The largest request accepted, after inflating: 64 MiB (tonic's default is 4 MiB; a
/// pipeline under test may send bigger batches).
pub const MAX_REQUEST_BYTES: usize = 64 << 20;

/// The receiver's `main`. Arguments: `--grpc-port N` and `--http-port N` (default 0: the OS
/// picks), `--exit-on-stdin-eof` (exit when stdin closes: when the parent holding its other
/// end exits). Prints `READY grpc=P http=P` on stdout once both ports listen, then serves
/// until killed.
pub fn serve(args: impl IntoIterator<Item = String>) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("otlp-receiver: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: impl IntoIterator<Item = String>) -> Result<(), String> {
    let (mut grpc_port, mut http_port, mut exit_on_stdin_eof) = (0, 0, false);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut port = || -> Result<u16, String> {
            let value = args.next().unwrap_or_default();
            value
                .parse()
                .map_err(|_| format!("{arg} takes a port number, got {value:?}"))
        };
        match arg.as_str() {
            "--grpc-port" => grpc_port = port()?,
            "--http-port" => http_port = port()?,
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            other => {
                return Err(format!(
                    "unknown argument {other:?} (--grpc-port N, --http-port N, \
                     --exit-on-stdin-eof)"
                ));
            }
        }
    }
    let bind = |port: u16| {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok::<_, String>(listener)
    };
    let (grpc, http) = (bind(grpc_port)?, bind(http_port)?);
    let local_port = |l: &TcpListener| l.local_addr().map(|a| a.port()).unwrap_or_default();
    let (grpc_port, http_port) = (local_port(&grpc), local_port(&http));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("otlp-receiver")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    if exit_on_stdin_eof {
        std::thread::spawn(|| {
            let _ = io::stdin().lock().read_to_end(&mut Vec::new());
            std::process::exit(0);
        });
    }
    let shared = Arc::new(state::Shared::default());
    runtime.block_on(async move {
        let listener = |l| tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string());
        let (grpc, http) = (listener(grpc)?, listener(http)?);
        tokio::spawn(http::serve(http, Arc::clone(&shared)));
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "READY grpc={grpc_port} http={http_port}")
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot write READY: {e}"))?;
        drop(stdout);
        grpc::serve(grpc, shared)
            .await
            .map_err(|e| format!("the gRPC server stopped: {e}"))
    })
}

/// The spans of a request, over every resource and scope.
fn span_count(request: &ExportTraceServiceRequest) -> u64 {
    let spans: usize = request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    spans as u64
}
