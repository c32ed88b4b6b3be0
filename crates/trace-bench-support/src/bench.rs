//! Pieces the benchmarks of several crates share.

use std::time::Instant;

use trace_core::config::{ExporterKind, Protocol, SamplerKind};
use trace_core::{Config, TracingGuard};

/// The three states a benchmark compares its instrumentation in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchCase {
    /// trace-core initialised with `enabled: false`: every span is a no-op.
    Disabled,
    /// Initialised with parent-based ratio 0: every root is dropped.
    Unsampled,
    /// Initialised with always-on sampling.
    Sampled,
}

impl BenchCase {
    /// Every case, in the order benchmarks report them.
    pub const ALL: [BenchCase; 3] = [
        BenchCase::Disabled,
        BenchCase::Unsampled,
        BenchCase::Sampled,
    ];

    /// `disabled`, `unsampled` or `sampled`.
    pub fn name(self) -> &'static str {
        match self {
            BenchCase::Disabled => "disabled",
            BenchCase::Unsampled => "unsampled",
            BenchCase::Sampled => "sampled",
        }
    }

    /// Initialises trace-core for this case as `service`, exporting OTLP http/protobuf to
    /// `endpoint` (`http://HOST:PORT`, such as the receiver's `BenchExport::endpoint`) through `init`'s
    /// default pipeline, or with no exporter when `endpoint` is `None`.
    ///
    /// [`BenchCase::Disabled`] initialises it with `enabled: false`, the state of a
    /// service that turned tracing off: an uninitialised trace-core is not disabled, it
    /// starts spans through `opentelemetry::global`'s provider.
    pub fn init(self, service: &str, endpoint: Option<&str>) -> TracingGuard {
        let (enabled, sampler, sample_rate) = match self {
            BenchCase::Disabled => (false, SamplerKind::AlwaysOn, 1.0),
            BenchCase::Unsampled => (true, SamplerKind::ParentBasedTraceIdRatio, 0.0),
            BenchCase::Sampled => (true, SamplerKind::AlwaysOn, 1.0),
        };
        let config = Config {
            enabled,
            service_name: Some(service.to_owned()),
            exporters: vec![match endpoint {
                Some(_) => ExporterKind::Otlp,
                None => ExporterKind::None,
            }],
            endpoint: endpoint.map(str::to_owned),
            protocol: Protocol::HttpProtobuf,
            sampler,
            sample_rate,
            ..Config::default()
        };
        trace_core::init(&config).expect("a benchmark's config is valid")
    }
}

/// Nanoseconds per call of `f`, over `iters` calls in one timed loop.
pub fn ns_per_call(iters: u64, f: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// Prints the machine a benchmark ran on (cores and load average, which move its
/// figures), and, in `smoke` mode (`cargo test` runs of a bench), that the numbers
/// mean nothing.
pub fn print_machine(smoke: bool) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cores} cores, load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if smoke {
        println!("(test mode: tiny budget, numbers are not meaningful; run `cargo bench`)");
    }
}
