//! Encoding one export batch to an OTLP http/protobuf body: trace-core's encoder beside
//! opentelemetry-otlp's path, measured in one run.
//!
//! A batch is 512 spans shaped like HTTP server spans: eight attributes (method, route,
//! path, scheme, status code, server address and port, user agent), a remote parent,
//! and one event (an exception with two attributes) in one span of ten; one
//! instrumentation scope, and a resource with the SDK's detected attributes.
//!
//! - opentelemetry-otlp: what its HTTP exporter does with the batch it is handed:
//!   opentelemetry-proto's `group_spans_by_resource_and_scope` (every string copied
//!   into proto structs), prost's `encode_to_vec`; with gzip, a new `GzEncoder` at the
//!   default level into a new `Vec`;
//! - trace-core: `OtlpTraceEncoder::encode` (straight from `SpanData` into a reused
//!   buffer), then the batch dropped; with gzip, `encode_gzip` (reused deflate state
//!   and buffer, the same level).
//!
//! Both sides start from an owned batch and end with it dropped, as an exporter does.
//! Two informational rows follow trace-core's: the encoder alone (the batch dropped
//! after the clock stops), and gzip at level 1. Before measuring, the bench checks that
//! both sides produce the same bytes.
//!
//! Criterion runs first (group `encode_512_http_spans`); then a summary measured in the
//! same process: CPU time of this thread (Linux `/proc/thread-self/schedstat`, else
//! wall time) over rounds of batches, the sides taking turns, as spans per CPU-second
//! and the ratio trace-core / opentelemetry-otlp; allocations per batch
//! (trace-bench-support's counting allocator); body sizes. The export pipeline's target is 1,000,000 spans per
//! CPU-second for drain, encode and send together: encoding alone must be well above.
//!
//! `cargo bench -p trace-core --bench otlp_encode`; add `-- --quick` for a short run.
//! Run as a test (`cargo test --benches`), every benchmark runs once and the numbers
//! mean nothing.

use std::borrow::Cow;
use std::fs::File;
use std::hint::black_box;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion};
use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message as _;
use trace_bench_support::alloc::{CountingAllocator, Region};
use trace_core::testing::OtlpTraceEncoder;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Spans per batch: the SDK's default `max_export_batch_size`.
const BATCH: usize = 512;

/// The pipeline's target for drain, encode and send together.
const PIPELINE_TARGET: f64 = 1_000_000.0;

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// The batch: HTTP server spans as trace-http's middleware records them.
fn http_batch() -> Vec<SpanData> {
    let scope = InstrumentationScope::builder("trace-http")
        .with_version("0.1.0")
        .with_schema_url("https://opentelemetry.io/schemas/1.26.0")
        .build();
    let start = SystemTime::now();
    (0..BATCH as u64)
        .map(|n| {
            let trace_id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0000_0000 + u128::from(n));
            let failed = n % 10 == 0;
            let mut events = SpanEvents::default();
            if failed {
                events.events.push(Event::new(
                    "exception",
                    start + Duration::from_micros(n * 100 + 50),
                    vec![
                        KeyValue::new("exception.type", "std::io::Error"),
                        KeyValue::new("exception.message", "connection reset by peer"),
                    ],
                    0,
                ));
            }
            SpanData {
                span_context: SpanContext::new(
                    trace_id,
                    SpanId::from(0x1000_0000_0000_0000 + n),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id: SpanId::from(0x2000_0000_0000_0000 + n),
                parent_span_is_remote: true,
                span_kind: SpanKind::Server,
                name: Cow::Borrowed("GET /api/v1/orders/{id}"),
                start_time: start + Duration::from_micros(n * 100),
                end_time: start + Duration::from_micros(n * 100 + 80),
                attributes: vec![
                    KeyValue::new("http.request.method", "GET"),
                    KeyValue::new("http.route", "/api/v1/orders/{id}"),
                    KeyValue::new("url.path", format!("/api/v1/orders/{}", 10_000 + n)),
                    KeyValue::new("url.scheme", "https"),
                    KeyValue::new("http.response.status_code", if failed { 500 } else { 200 }),
                    KeyValue::new("server.address", "orders.internal"),
                    KeyValue::new("server.port", 8443),
                    KeyValue::new("user_agent.original", USER_AGENT),
                ],
                dropped_attributes_count: 0,
                events,
                links: SpanLinks::default(),
                status: if failed {
                    Status::error("connection reset by peer")
                } else {
                    Status::Unset
                },
                instrumentation_scope: scope.clone(),
            }
        })
        .collect()
}

fn resource() -> Resource {
    Resource::builder()
        .with_service_name("orders")
        .with_attributes([
            KeyValue::new("service.version", "1.4.2"),
            KeyValue::new("deployment.environment.name", "production"),
            KeyValue::new("host.name", "orders-7d9f8b6c5-x2k4q"),
        ])
        .build()
}

/// opentelemetry-otlp's HTTP exporter on a batch: proto structs, then prost.
fn otlp(batch: Vec<SpanData>, resource: &ResourceAttributesWithSchema) -> Vec<u8> {
    let resource_spans = group_spans_by_resource_and_scope(batch, resource);
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

/// [`otlp`], then gzip as its HTTP exporter compresses a body.
fn otlp_gzip(batch: Vec<SpanData>, resource: &ResourceAttributesWithSchema) -> Vec<u8> {
    let body = otlp(batch, resource);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&body).expect("writing to a Vec");
    gzip.finish().expect("writing to a Vec")
}

/// trace-core's gzip body's length.
fn gzip_len(encoder: &mut OtlpTraceEncoder, resource: &Resource, batch: &[SpanData]) -> usize {
    encoder
        .encode_gzip(resource, batch)
        .expect("gzip into a Vec")
        .len()
}

/// The sides, in the order the summary prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Otlp,
    Ours,
    /// Informational: the encoder alone, the batch dropped after the clock stops.
    OursEncodeOnly,
    OtlpGzip,
    OursGzip,
    /// Informational: gzip level 1 instead of the default 6.
    OursGzipFast,
}

impl Side {
    const ALL: [Side; 6] = [
        Side::Otlp,
        Side::Ours,
        Side::OursEncodeOnly,
        Side::OtlpGzip,
        Side::OursGzip,
        Side::OursGzipFast,
    ];

    fn name(self) -> &'static str {
        match self {
            Side::Otlp => "opentelemetry-otlp",
            Side::Ours => "trace-core",
            Side::OursEncodeOnly => "trace-core, batch not dropped",
            Side::OtlpGzip => "opentelemetry-otlp + gzip",
            Side::OursGzip => "trace-core + gzip",
            Side::OursGzipFast => "trace-core + gzip level 1",
        }
    }

    /// The side this one's ratio is against.
    fn versus(self) -> Option<Side> {
        match self {
            Side::Ours | Side::OursEncodeOnly => Some(Side::Otlp),
            Side::OursGzip | Side::OursGzipFast => Some(Side::OtlpGzip),
            Side::Otlp | Side::OtlpGzip => None,
        }
    }

    /// Whether the summary's targets apply (else the row is informational).
    fn has_target(self) -> bool {
        matches!(self, Side::Ours | Side::OursGzip)
    }

    fn index(self) -> usize {
        Side::ALL
            .iter()
            .position(|side| *side == self)
            .unwrap_or_default()
    }
}

/// What the sides run against.
struct Setup {
    batch: Vec<SpanData>,
    resource: Resource,
    otlp_resource: ResourceAttributesWithSchema,
    encoder: OtlpTraceEncoder,
    fast_gzip: OtlpTraceEncoder,
}

impl Setup {
    fn new() -> Self {
        let resource = resource();
        Self {
            batch: http_batch(),
            otlp_resource: ResourceAttributesWithSchema::from(&resource),
            resource,
            encoder: OtlpTraceEncoder::new(),
            fast_gzip: OtlpTraceEncoder::with_gzip_level(1),
        }
    }

    /// Encodes an owned batch on `side`: the body's length, and the batch when the side
    /// leaves it to be dropped after the clock stops.
    fn run(&mut self, side: Side, batch: Vec<SpanData>) -> (usize, Option<Vec<SpanData>>) {
        let resource = &self.resource;
        match side {
            Side::Otlp => (otlp(batch, &self.otlp_resource).len(), None),
            Side::Ours => (self.encoder.encode(resource, &batch).len(), None),
            Side::OursEncodeOnly => (self.encoder.encode(resource, &batch).len(), Some(batch)),
            Side::OtlpGzip => (otlp_gzip(batch, &self.otlp_resource).len(), None),
            Side::OursGzip => (gzip_len(&mut self.encoder, resource, &batch), None),
            Side::OursGzipFast => (gzip_len(&mut self.fast_gzip, resource, &batch), None),
        }
    }

    /// Checks that both paths make the same body, before anything is measured.
    fn check(&mut self) {
        let theirs = otlp(self.batch.clone(), &self.otlp_resource);
        let ours = self.encoder.encode(&self.resource, &self.batch);
        assert!(
            ours == theirs.as_slice(),
            "trace-core's body differs from opentelemetry-otlp's"
        );
    }
}

fn run_criterion(criterion: &mut Criterion, setup: &mut Setup) {
    let batch = setup.batch.clone();
    let mut group = criterion.benchmark_group("encode_512_http_spans");
    for (side, name) in [
        (Side::Otlp, "otlp"),
        (Side::Ours, "trace_core"),
        (Side::OtlpGzip, "otlp_gzip"),
        (Side::OursGzip, "trace_core_gzip"),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || batch.clone(),
                |batch| black_box(setup.run(side, batch)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// This thread's CPU time: Linux's schedstat (its first field, nanoseconds on a CPU),
/// kept open and re-read at offset 0. For a running thread the kernel brings that count
/// up to date only at scheduler ticks (4 ms here) or when the thread yields, so each
/// reading yields first: microsecond-precise rounds.
struct ThreadCpu {
    schedstat: Option<File>,
    started: Instant,
}

impl ThreadCpu {
    fn new() -> Self {
        let schedstat = File::open("/proc/thread-self/schedstat")
            .ok()
            .filter(|file| schedstat_ns(file).is_some());
        Self {
            schedstat,
            started: Instant::now(),
        }
    }

    fn is_cpu_time(&self) -> bool {
        self.schedstat.is_some()
    }

    /// CPU time so far (wall time where schedstat is missing).
    fn now(&self) -> Duration {
        std::thread::yield_now();
        match self.schedstat.as_ref().and_then(schedstat_ns) {
            Some(ns) => Duration::from_nanos(ns),
            None => self.started.elapsed(),
        }
    }
}

/// The first field of a schedstat file: nanoseconds on a CPU.
fn schedstat_ns(schedstat: &File) -> Option<u64> {
    let mut buf = [0_u8; 96];
    let read = schedstat.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(buf.get(..read)?).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// How long the summary measures.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// Batches per round, cloned before the round starts.
    batches_per_round: usize,
    /// Rounds per side.
    rounds: usize,
}

/// What one side measured.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    cpu: Duration,
    batches: u64,
    allocs: u64,
    allocated_bytes: usize,
    body_bytes: usize,
}

impl Figures {
    fn per_batch(&self) -> Duration {
        self.cpu / u32::try_from(self.batches.max(1)).unwrap_or(u32::MAX)
    }

    /// Spans per CPU-second; NaN when no CPU time was seen (a run shorter than a tick).
    fn spans_per_cpu_second(&self) -> f64 {
        if self.cpu.is_zero() {
            return f64::NAN;
        }
        (self.batches as f64 * BATCH as f64) / self.cpu.as_secs_f64()
    }
}

/// CPU time of every side over `budget.rounds` rounds each, the sides taking turns so
/// that what else runs on the machine hits them alike; then allocations per batch.
fn measure(setup: &mut Setup, budget: Budget, cpu: &ThreadCpu) -> [Figures; 6] {
    let mut figures = [Figures::default(); 6];
    // Warm-up: buffers grown, code and data in cache.
    for side in Side::ALL {
        for _ in 0..3 {
            setup.run(side, setup.batch.clone());
        }
    }
    for _ in 0..budget.rounds {
        for (side, figures) in Side::ALL.into_iter().zip(&mut figures) {
            let batches: Vec<Vec<SpanData>> = (0..budget.batches_per_round)
                .map(|_| setup.batch.clone())
                .collect();
            let mut kept = Vec::with_capacity(batches.len());
            let start = cpu.now();
            for batch in batches {
                let (body_bytes, batch) = setup.run(side, batch);
                figures.body_bytes = black_box(body_bytes);
                kept.push(batch);
            }
            figures.cpu += cpu.now().saturating_sub(start);
            figures.batches += budget.batches_per_round as u64;
            drop(kept);
        }
    }
    for (side, figures) in Side::ALL.into_iter().zip(&mut figures) {
        let batch = setup.batch.clone();
        let region = Region::new();
        let kept = black_box(setup.run(side, batch));
        let stats = region.change();
        drop(kept);
        figures.allocs = (stats.allocations + stats.reallocations) as u64;
        figures.allocated_bytes = stats.bytes_allocated;
    }
    figures
}

fn mark(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn print_summary(figures: &[Figures; 6], cpu: &ThreadCpu, smoke: bool) {
    println!();
    println!(
        "otlp_encode summary: one batch = {BATCH} HTTP server spans (8 attributes; 1 event in \
         1 span of 10) to an OTLP http/protobuf body, from the owned batch to the body, the \
         batch dropped;"
    );
    println!(
        "{} of this thread over {} batches per side, the sides taking turns; allocs = \
         allocator calls (allocations + reallocations) per batch",
        if cpu.is_cpu_time() {
            "CPU time (schedstat)"
        } else {
            "wall time (no schedstat here)"
        },
        figures[0].batches
    );
    trace_bench_support::print_machine(smoke);
    println!();
    println!(
        "{:<32}{:>10}{:>14}{:>8}{:>14}{:>12}{:>12}   target",
        "side", "us/batch", "spans/CPU-s", "ratio", "allocs/batch", "KiB alloc", "body bytes"
    );
    for (side, row) in Side::ALL.into_iter().zip(figures) {
        let ratio = match side.versus() {
            Some(versus) => format!(
                "{:>7.2}x",
                row.spans_per_cpu_second() / figures[versus.index()].spans_per_cpu_second()
            ),
            None => format!("{:>8}", ""),
        };
        let verdict = if side.has_target() {
            format!(
                ">= {PIPELINE_TARGET:.0} spans/CPU-s {}",
                mark(row.spans_per_cpu_second() >= PIPELINE_TARGET)
            )
        } else if side.versus().is_some() {
            "(informational)".to_owned()
        } else {
            String::new()
        };
        println!(
            "{:<32}{:>10.1}{:>14.0}{ratio}{:>14}{:>12.1}{:>12}   {verdict}",
            side.name(),
            row.per_batch().as_secs_f64() * 1e6,
            row.spans_per_cpu_second(),
            row.allocs,
            row.allocated_bytes as f64 / 1024.0,
            row.body_bytes,
        );
    }
    println!();
    println!(
        "info: ratio = spans per CPU-second of the row / of opentelemetry-otlp's path \
         (with gzip for the gzip rows)"
    );
    println!(
        "info: the target is the whole export pipeline's (drain + encode + send); encoding \
         alone has to leave most of that budget to the rest"
    );
}

fn main() {
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`) criterion runs
    // each benchmark once and the summary uses a tiny budget as a smoke test.
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let quick = std::env::args().any(|arg| arg == "--quick");

    let mut setup = Setup::new();
    setup.check();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    run_criterion(&mut criterion, &mut setup);
    criterion.final_summary();
    if std::env::args().any(|arg| arg.starts_with("--profile-time")) {
        return;
    }

    let budget = if smoke {
        Budget {
            batches_per_round: 1,
            rounds: 1,
        }
    } else if quick {
        Budget {
            batches_per_round: 8,
            rounds: 20,
        }
    } else {
        Budget {
            batches_per_round: 16,
            rounds: 100,
        }
    };
    let cpu = ThreadCpu::new();
    let figures = measure(&mut setup, budget, &cpu);
    print_summary(&figures, &cpu, smoke);
}
