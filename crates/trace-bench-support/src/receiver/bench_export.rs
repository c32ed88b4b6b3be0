//! [`BenchExport`]: a benchmark's traced cases export as a service's would, to a receiver
//! in a process of its own, and [`CaseRuns`] checks that every span they ended arrived.

use std::fmt;
use std::process::Command;
use std::time::Duration;

use trace_core::TracingGuard;

use crate::BenchCase;

use super::OtlpReceiver;

/// The flag that makes a benchmark binary the OTLP receiver its cases export to.
pub const RECEIVER_FLAG: &str = "--otlp-receiver";

/// The environment variable that turns export off (`BENCH_NO_EXPORT=1`), for benchmarks
/// whose arguments belong to Criterion; the others also take `--no-export`.
pub const NO_EXPORT_ENV: &str = "BENCH_NO_EXPORT";

/// The receiver a benchmark's traced cases export OTLP http/protobuf to, through `init`'s
/// default pipeline with its default settings (trace-core's `OtlpBatchProcessor`): this
/// benchmark's binary run again with [`RECEIVER_FLAG`], decoding every request.
#[derive(Debug)]
pub struct BenchExport {
    receiver: OtlpReceiver,
    endpoint: String,
}

impl BenchExport {
    /// The first call of a benchmark's `main`: when this process was started as the
    /// receiver, it serves until its parent exits and this never returns.
    pub fn serve_if_receiver() {
        let mut args = std::env::args().skip(1);
        if args.next().as_deref() == Some(RECEIVER_FLAG) {
            let code = match super::run(args) {
                Ok(()) => 0,
                Err(error) => {
                    eprintln!("otlp-receiver: {error}");
                    1
                }
            };
            std::process::exit(code);
        }
    }

    /// Whether `--no-export` or `BENCH_NO_EXPORT=1` asks for no exporter.
    pub fn is_off() -> bool {
        std::env::args().any(|arg| arg == "--no-export")
            || std::env::var(NO_EXPORT_ENV).is_ok_and(|value| value == "1")
    }

    /// Starts the receiver, unless export is off ([`is_off`](Self::is_off)); prints
    /// which it is, for `bench`'s report.
    ///
    /// # Panics
    ///
    /// When the receiver does not start: a benchmark that claims export on must have it.
    pub fn start_unless_off(bench: &str) -> Option<Self> {
        if Self::is_off() {
            println!(
                "{bench}: export off ({NO_EXPORT_ENV}=1 or --no-export): traced cases have no \
                 exporter"
            );
            return None;
        }
        let receiver = std::env::current_exe()
            .and_then(|exe| {
                let mut command = Command::new(exe);
                command.arg(RECEIVER_FLAG);
                OtlpReceiver::start(command)
            })
            .unwrap_or_else(|error| panic!("{bench}: cannot start the OTLP receiver: {error}"));
        let endpoint = format!("http://127.0.0.1:{}", receiver.ports().1);
        println!(
            "{bench}: export on: traced cases send OTLP http/protobuf through init's default \
             pipeline to trace-bench-support's receiver at {endpoint} (a process of its own, \
             decoding every request); {NO_EXPORT_ENV}=1 turns it off"
        );
        Some(Self { receiver, endpoint })
    }

    /// The OTLP/HTTP base URL (`http://127.0.0.1:PORT`), for `otlp_endpoint`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// CPU time the receiver's process has used so far (user + system, in the kernel's
    /// 10 ms ticks): what decoding the exports costs the machine the benchmark shares
    /// with it.
    pub fn receiver_cpu(&self) -> Duration {
        crate::proc::process_cpu(Some(self.receiver.pid()))
    }

    /// Spans the receiver has accepted so far.
    ///
    /// # Panics
    ///
    /// When the receiver does not answer `GET /stats`.
    pub fn received(&self) -> u64 {
        self.receiver
            .stats()
            .expect("the receiver answers GET /stats")
            .spans
    }

    /// Shuts `guard` (one case's tracing) down and compares the spans it ended with what
    /// the receiver accepted since `received_before`.
    fn finish(&self, case: &str, received_before: u64, guard: TracingGuard) -> Delivery {
        let (report, error) = match guard.shutdown() {
            Ok(report) => (report, None),
            Err(error) => (error.report(), Some(error.to_string())),
        };
        Delivery {
            case: case.to_owned(),
            ended: report.ended,
            received: self.received().saturating_sub(received_before),
            dropped_queue_full: report.dropped_queue_full,
            error,
        }
    }
}

/// What became of one case's sampled spans with export on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Delivery {
    /// The case's name.
    case: String,
    /// Spans the case's provider ended (the exporter's count).
    ended: u64,
    /// Spans the receiver accepted while the case ran.
    received: u64,
    /// Spans dropped because the export queue was full.
    dropped_queue_full: u64,
    /// The shutdown error, which says what was lost and why.
    error: Option<String>,
}

impl Delivery {
    /// Spans ended but not received.
    fn lost(&self) -> u64 {
        self.ended.saturating_sub(self.received)
    }
}

/// A benchmark's traced case runs: each starts trace-core for its case, exporting to
/// the receiver when export is on, and on finishing adds what became of its spans to
/// its case's line (one per case however often it ran).
#[derive(Debug)]
pub struct CaseRuns<'a> {
    export: Option<&'a BenchExport>,
    service: &'static str,
    deliveries: Vec<Delivery>,
}

/// One run of a case: its tracing, and the receiver's count when it started.
#[derive(Debug)]
#[must_use = "finish the run with `CaseRuns::finish`"]
pub struct CaseRun {
    case: BenchCase,
    guard: TracingGuard,
    received_before: u64,
}

impl<'a> CaseRuns<'a> {
    /// Runs as `service`, exporting to `export` (no exporter when `None`).
    pub fn new(export: Option<&'a BenchExport>, service: &'static str) -> Self {
        Self {
            export,
            service,
            deliveries: Vec::new(),
        }
    }

    /// Initialises trace-core for `case` ([`BenchCase::init`]).
    pub fn start(&self, case: BenchCase) -> CaseRun {
        let received_before = self.export.map_or(0, BenchExport::received);
        CaseRun {
            case,
            guard: case.init(self.service, self.export.map(BenchExport::endpoint)),
            received_before,
        }
    }

    /// Shuts `run` down; with export on, adds what became of its spans to its case's line.
    ///
    /// # Panics
    ///
    /// With export off, when the shutdown fails: with no exporter nothing can be lost.
    pub fn finish(&mut self, run: CaseRun) {
        let Some(export) = self.export else {
            run.guard
                .shutdown()
                .expect("tracing with no exporter shuts down");
            return;
        };
        let delivery = export.finish(run.case.name(), run.received_before, run.guard);
        match self
            .deliveries
            .iter_mut()
            .find(|known| known.case == delivery.case)
        {
            Some(known) => {
                known.ended += delivery.ended;
                known.received += delivery.received;
                known.dropped_queue_full += delivery.dropped_queue_full;
                if known.error.is_none() {
                    known.error = delivery.error;
                }
            }
            None => self.deliveries.push(delivery),
        }
    }

    /// With export on, prints a line per case and the verdict on the "0 spans lost"
    /// target.
    pub fn print(&self) {
        if self.export.is_none() {
            return;
        }
        println!("export (ended: the exporter's count; received: the receiver's):");
        for delivery in &self.deliveries {
            println!("  {delivery}");
        }
        let lost: u64 = self.deliveries.iter().map(Delivery::lost).sum();
        let ended: u64 = self.deliveries.iter().map(|delivery| delivery.ended).sum();
        let verdict = if lost == 0 { "PASS" } else { "MISS" };
        println!("{verdict} 0 spans lost with export on ({lost} of {ended} lost)");
    }
}

impl CaseRun {
    /// The run's tracing.
    pub fn guard(&self) -> &TracingGuard {
        &self.guard
    }
}

impl fmt::Display for Delivery {
    /// `sampled: 12345 spans ended, 12345 received, 0 lost` and any loss's cause.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} spans ended, {} received, {} lost",
            self.case,
            self.ended,
            self.received,
            self.lost()
        )?;
        if self.dropped_queue_full > 0 {
            write!(f, " ({} dropped: queue full)", self.dropped_queue_full)?;
        }
        if let Some(error) = &self.error {
            write!(f, "; shutdown: {error}")?;
        }
        Ok(())
    }
}
