//! Export throughput: how many spans an export pipeline gets to a collector on loopback, at
//! what CPU cost, and what it loses, for the SDK's `BatchSpanProcessor` with
//! opentelemetry-otlp and for trace-core's batch pipeline, side by side in one run
//! (issue 20).
//!
//! ## Set-up
//!
//! - **Receiver**: trace-bench-support's OTLP receiver, in a process of its own (this
//!   binary run again with `--otlp-receiver`), OTLP/gRPC and OTLP/HTTP on 127.0.0.1. It
//!   decodes every request into opentelemetry-proto's `ExportTraceServiceRequest` and
//!   counts the spans: "received" is its count, not the exporter's claim.
//! - **Runs**: each run is a process of its own (this binary with `--run SPEC`), so its
//!   threads, its peak RSS and any state a pipeline leaves behind are its own. `OTEL_*`
//!   variables are removed from its environment: default settings are the defaults.
//! - **Producers**: 1 or 2 threads end sampled root spans through an `SdkTracerProvider`
//!   whose one processor is the pipeline under test: server spans
//!   `GET /api/v1/orders/{id}` with eight attributes (`http.request.method`, `url.path`,
//!   `url.scheme`, `http.route`, `http.response.status_code`, `server.address`,
//!   `server.port`, `user_agent.original`), and an `exception` event with two attributes on
//!   one span in ten.
//! - **Loads**: flat out, and paced to 50k and 200k spans/s offered (all producers
//!   together; a producer ahead of its schedule sleeps 200 µs, then catches up).
//! - **Pipelines**: `no-op` (trace-bench-support's `CountAndDrop`: the producer's cost
//!   with nothing exported), `SDK` (`BatchSpanProcessor` + `opentelemetry_otlp::SpanExporter`,
//!   both with default settings: http/protobuf on reqwest's blocking client, gRPC on tonic),
//!   and `ours` (trace-core's batch pipeline with default settings, `OtlpBatchProcessor`,
//!   built by `ours()` in `pipeline.rs`).
//! - Every run has a multi-thread Tokio runtime (threads `export-rt`) entered while the
//!   pipeline is built: tonic's channel runs on it, as it would on a service's runtime.
//!
//! ## Figures
//!
//! After a warm-up, a window is measured while the producers run; then they stop and the
//! provider shuts down (which flushes).
//!
//! - **offered/s**: spans ended in the window per second; **received/s**: the receiver's
//!   count over the window per second.
//! - **drops**: `proc` is the processor's own count, where it gives one a program can read
//!   (the SDK's only goes to a log line at shutdown: `-`); `checked` is ended - received
//!   over the whole run, after shutdown.
//! - **pipeline CPU**: CPU time in the window of every thread of the run's process except
//!   the producers and the main thread (which sleeps), per thread from
//!   `/proc/self/task/TID/schedstat` and named by `comm`. For the SDK these are
//!   `OpenTelemetry.Traces.BatchProcessor` (shown as `OpenTelemetry.T`: queue drain, proto
//!   conversion, encoding, waiting on the send), `reqwest-internal-sync-runtime`
//!   (`reqwest-interna`: the HTTP client's own runtime: compression, sending) and
//!   `export-rt` (gRPC: tonic's connection). Every thread listed is counted; a thread that
//!   exits inside the window would be missing and is reported. Per CPU-second and per
//!   million spans use the spans received in the window.
//! - **on_end**: time of the processor's `on_end` on the producer thread, one call in 16
//!   of the window timed with `Instant`; the mean of the fastest 99% (a thread descheduled
//!   mid-call for milliseconds says nothing about `on_end`). Also the producer's CPU per
//!   span, and, flat out, that minus the no-op pipeline's ("vs no-op"): what the hand-off
//!   costs the producer (paced producers also pay for sleeping and waking, so not there).
//! - **end() p50/p99**: `span.end()` (with `on_end`) timed on the producer thread for
//!   one other span in 16 of the window. Both timings go into fixed-size histograms
//!   (within 6%), so recording does not grow the process.
//! - **peak RSS**: `VmHWM` of the run's process. `--long` adds 60 s runs at 200k spans/s
//!   with `VmRSS` every second, for the flat-memory target.
//! - The receiver's process CPU is printed beside each run: producers, pipeline and
//!   receiver share the machine's cores, which is why CPU is counted per thread.
//!
//! The targets (issue 20) are read at 200k spans/s offered with one producer: >= 1,000,000
//! spans per CPU-second of the pipeline's threads over http/protobuf, >= 5x the SDK's,
//! `on_end` no slower than the SDK's, 0 drops (1 and 2 producers), flat memory over 60 s.
//! A miss is printed, never turned into a failing exit code.
//!
//! ## Running
//!
//! `cargo xtask bench export_throughput` (4 s windows, about 2.5 minutes with ours);
//! `-- --quick` (1 s windows, under a minute); `-- --long` adds the 60 s memory runs;
//! `-- --rotel` adds runs at 200k spans/s against rotel (`rotel-agent --exporter
//! blackhole`), a collector written in Rust, which `cargo xtask bench` installs from PyPI
//! and names in `TRACE_RS_ROTEL_AGENT`; what rotel received is the sum of its debug log's
//! line per request. Run as a test (`cargo test --benches`, no
//! `--bench` argument), it makes a tiny smoke run whose numbers mean nothing.

mod histogram;
mod pipeline;
mod report;
mod rotel;
mod run;

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use pipeline::{PipelineKind, Protocol};
use report::{Group, Run, TARGET_RATE};
use run::{Outcome, ReceiverSpec, RunSpec, SpanCounter};
use trace_bench_support::receiver::{self, OtlpReceiver};

/// The flag that makes this binary the OTLP receiver.
const RECEIVER_FLAG: &str = "--otlp-receiver";
/// The paced loads besides flat out, spans/s offered by all producers together.
const PACED_RATES: [u32; 2] = [50_000, TARGET_RATE];
/// The `--long` runs' window: the flat-memory target's 60 s.
const LONG_WINDOW: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(RECEIVER_FLAG) => receiver::serve(args.into_iter().skip(1)),
        Some(run::RUN_FLAG) => run::child_main(&args[1..]),
        _ => orchestrate(&Settings::from_args(&args)),
    }
}

struct Settings {
    /// Run as a test (`cargo test --benches`): tiny, numbers meaningless.
    smoke: bool,
    long: bool,
    rotel: bool,
    warmup: Duration,
    window: Duration,
}

impl Settings {
    fn from_args(args: &[String]) -> Self {
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let (smoke, quick) = (!has("--bench"), has("--quick"));
        let (warmup, window) = match (smoke, quick) {
            (true, _) => (Duration::from_millis(100), Duration::from_millis(200)),
            (false, true) => (Duration::from_millis(300), Duration::from_secs(1)),
            (false, false) => (Duration::from_millis(500), Duration::from_secs(4)),
        };
        Self {
            smoke,
            long: has("--long"),
            rotel: has("--rotel"),
            warmup,
            window,
        }
    }
}

fn orchestrate(settings: &Settings) -> ExitCode {
    println!("export_throughput: spans through an export pipeline to an OTLP receiver on loopback");
    trace_bench_support::print_machine(settings.smoke);
    let receiver = match OtlpReceiver::start(this_binary(RECEIVER_FLAG)) {
        Ok(receiver) => receiver,
        Err(error) => {
            eprintln!("export_throughput: cannot start the OTLP receiver: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (grpc_port, http_port) = receiver.ports();
    let ours = ReceiverSpec {
        grpc_port,
        http_port,
        pid: receiver.pid(),
        counter: SpanCounter::Stats,
    };
    let mut runs = Vec::new();
    let spec = |pipeline, protocol, producers, rate, receiver: &ReceiverSpec| RunSpec {
        pipeline,
        protocol,
        producers,
        rate,
        warmup: settings.warmup,
        window: settings.window,
        receiver: receiver.clone(),
        rss_series: false,
    };

    let (producer_counts, rates): (&[usize], Vec<Option<u32>>) = if settings.smoke {
        (&[1], vec![None])
    } else {
        (
            &[1, 2],
            [None].into_iter().chain(PACED_RATES.map(Some)).collect(),
        )
    };
    println!(
        "runs ({:?} windows after {:?} of warm-up):",
        settings.window, settings.warmup
    );
    for &producers in producer_counts {
        for &rate in &rates {
            // The no-op pipeline exports nothing: one run serves both protocols.
            let noop = spec(
                PipelineKind::Noop,
                Protocol::HttpProtobuf,
                producers,
                rate,
                &ours,
            );
            measure(&mut runs, Group::Matrix, noop);
            for protocol in Protocol::ALL {
                for pipeline in [PipelineKind::Sdk, PipelineKind::Ours] {
                    let matrix = spec(pipeline, protocol, producers, rate, &ours);
                    measure(&mut runs, Group::Matrix, matrix);
                }
            }
        }
    }
    if settings.long {
        println!("memory runs ({LONG_WINDOW:?} each):");
        for protocol in Protocol::ALL {
            for pipeline in [PipelineKind::Sdk, PipelineKind::Ours] {
                let long = RunSpec {
                    window: LONG_WINDOW,
                    rss_series: true,
                    ..spec(pipeline, protocol, 1, Some(TARGET_RATE), &ours)
                };
                measure(&mut runs, Group::Long, long);
            }
        }
    }
    if settings.rotel {
        match rotel_agent().and_then(|agent| rotel::Rotel::start(&agent)) {
            Err(error) => println!("rotel: not run: {error}"),
            Ok(rotel) => {
                println!("runs against rotel:");
                let receiver = ReceiverSpec {
                    grpc_port: rotel.grpc_port,
                    http_port: rotel.http_port,
                    pid: rotel.pid(),
                    counter: SpanCounter::RotelLog(rotel.debug_log()),
                };
                for protocol in Protocol::ALL {
                    for pipeline in [PipelineKind::Sdk, PipelineKind::Ours] {
                        let against_rotel =
                            spec(pipeline, protocol, 1, Some(TARGET_RATE), &receiver);
                        measure(&mut runs, Group::Rotel, against_rotel);
                    }
                }
            }
        }
    }
    report::print(&runs);
    ExitCode::SUCCESS
}

/// Runs `spec`, prints a line about it and keeps it for the summary.
fn measure(runs: &mut Vec<Run>, group: Group, spec: RunSpec) {
    let outcome = run_in_process(&spec);
    let run = Run {
        group,
        spec,
        outcome,
    };
    println!("{}", report::progress(&run));
    runs.push(run);
}

/// The `rotel-agent` binary `cargo xtask bench` provisioned.
fn rotel_agent() -> Result<PathBuf, String> {
    std::env::var_os(rotel::AGENT_ENV)
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .ok_or_else(|| {
            format!(
                "{} does not name the rotel-agent binary: run `cargo xtask bench \
                 export_throughput -- --rotel`, which installs it from PyPI",
                rotel::AGENT_ENV
            )
        })
}

/// This binary, run with `flag`.
fn this_binary(flag: &str) -> Command {
    let exe = std::env::current_exe()
        .unwrap_or_else(|_| PathBuf::from(std::env::args().next().unwrap_or_default()));
    let mut command = Command::new(exe);
    command.arg(flag);
    command
}

/// Runs `spec` in a process of its own and reads back its outcome.
fn run_in_process(spec: &RunSpec) -> Outcome {
    let json = match serde_json::to_string(spec) {
        Ok(json) => json,
        Err(error) => return Outcome::Failed(format!("cannot write the run spec: {error}")),
    };
    let mut command = this_binary(run::RUN_FLAG);
    command
        .arg(json)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(error) => return Outcome::Failed(format!("cannot start the run: {error}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = stdout
        .lines()
        .find_map(|line| line.strip_prefix(run::RESULT_PREFIX));
    match result.map(serde_json::from_str::<Outcome>) {
        Some(Ok(outcome)) => outcome,
        Some(Err(error)) => Outcome::Failed(format!("unreadable result: {error}")),
        None => Outcome::Failed(format!(
            "the run's process ended ({}) without a result",
            output.status
        )),
    }
}
