//! Cost of correlation per log line: each trace-log format beside the same format
//! without the ids, writing to `std::io::sink()` through tracing-subscriber's `fmt`
//! layer, inside a sampled trace-core span. trace-core runs as a service's would, its
//! spans exported over OTLP http/protobuf through `init`'s default pipeline to an OTLP
//! receiver in a process of its own (trace-bench-support's); `BENCH_NO_EXPORT=1` gives
//! it no exporter.
//!
//! - `text`: tracing-subscriber's `Full` format vs `WithTraceIds` around it;
//! - `json`: `JsonFormat` with `with_trace_ids(false)` vs `JsonFormat`.
//!
//! Every line is `tracing::info!(order.id = 42, status = "paid", "order stored")`.
//! Criterion runs first (group `log_line`); then a summary measured in the same
//! process prints ns/line (best of many short alternating loops), the delta (median of
//! the paired per-round differences) and ratio against the format without ids, and
//! extra allocations per line (trace-bench-support's counting allocator), with PASS/MISS for the targets
//! (delta <= 100 ns, no extra allocation). A miss is reported, never turned into a
//! failing exit code.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use opentelemetry::trace::SpanKind;
use trace_bench_support::BenchCase;
use trace_bench_support::alloc::{CountingAllocator, Region};
use trace_bench_support::receiver::{BenchExport, CaseRuns};
use trace_core::{ScopedTracer, SpanStart};
use trace_log::{JsonFormat, WithTraceIds};
use tracing::Dispatch;
use tracing_subscriber::fmt::FormatEvent;
use tracing_subscriber::fmt::format::{DefaultFields, Format};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::Registry;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

static TRACER: ScopedTracer = ScopedTracer::new("bench", "0.1.0");

const TARGET_DELTA_NS: f64 = 100.0;

/// A `fmt` layer with `format` writing to a sink, as the only layer. ANSI colours are
/// off for both sides: `WithTraceIds` hands its inner format a writer without them.
fn dispatch<F>(format: F) -> Dispatch
where
    F: FormatEvent<Registry, DefaultFields> + Send + Sync + 'static,
{
    Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(format)
                .with_ansi(false)
                .with_writer(std::io::sink),
        ),
    )
}

fn log_line() {
    tracing::info!(order.id = 42, status = "paid", "order stored");
}

struct Case {
    name: &'static str,
    plain: Dispatch,
    correlated: Dispatch,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "text",
            plain: dispatch(Format::default()),
            correlated: dispatch(WithTraceIds::new(Format::default())),
        },
        Case {
            name: "json",
            plain: dispatch(JsonFormat::new().with_trace_ids(false)),
            correlated: dispatch(JsonFormat::new()),
        },
    ]
}

fn criterion_benches(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group("log_line");
    for case in cases {
        for (variant, dispatch) in [("plain", &case.plain), ("correlated", &case.correlated)] {
            group.bench_function(format!("{}_{variant}", case.name), |b| {
                tracing::dispatcher::with_default(dispatch, || b.iter(log_line));
            });
        }
    }
    group.finish();
}

/// Nanoseconds per line over `lines` lines.
fn time_lines(dispatch: &Dispatch, lines: u32) -> f64 {
    tracing::dispatcher::with_default(dispatch, || {
        let start = Instant::now();
        for _ in 0..lines {
            log_line();
        }
        black_box(start.elapsed()).as_nanos() as f64 / f64::from(lines)
    })
}

/// Allocations per line, after a warm-up that lets the `fmt` layer grow its buffer.
fn allocations_per_line(dispatch: &Dispatch) -> f64 {
    const LINES: u32 = 10_000;
    tracing::dispatcher::with_default(dispatch, || {
        for _ in 0..100 {
            log_line();
        }
        let region = Region::new();
        for _ in 0..LINES {
            log_line();
        }
        region.change().allocations as f64 / f64::from(LINES)
    })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn summary(cases: &[Case]) {
    const ROUNDS: usize = 101;
    const LINES: u32 = 10_000;
    println!(
        "\nper log line, inside a sampled span; {ROUNDS} rounds of {LINES} lines per side, \
         sides alternating within each round; ns = best round, delta = median of the \
         per-round differences (robust to load bursts on a shared machine):"
    );
    println!(
        "{:<6} {:>9} {:>14} {:>9} {:>7} {:>18}  target",
        "format", "plain ns", "correlated ns", "delta ns", "ratio", "extra allocs/line"
    );
    for case in cases {
        let (mut plain, mut correlated) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Alternate which side goes first so neither always gets the warmer cache.
            if round % 2 == 0 {
                plain.push(time_lines(&case.plain, LINES));
                correlated.push(time_lines(&case.correlated, LINES));
            } else {
                correlated.push(time_lines(&case.correlated, LINES));
                plain.push(time_lines(&case.plain, LINES));
            }
        }
        let mut deltas: Vec<f64> = correlated.iter().zip(&plain).map(|(c, p)| c - p).collect();
        let delta = median(&mut deltas);
        let best_plain = plain.iter().copied().fold(f64::MAX, f64::min);
        let best_correlated = correlated.iter().copied().fold(f64::MAX, f64::min);
        let extra_allocs =
            allocations_per_line(&case.correlated) - allocations_per_line(&case.plain);
        let verdict = if delta <= TARGET_DELTA_NS && extra_allocs <= 0.0 {
            "PASS"
        } else {
            "MISS"
        };
        println!(
            "{:<6} {best_plain:>9.1} {best_correlated:>14.1} {delta:>9.1} {:>6.2}x {extra_allocs:>18.2}  {verdict} (delta <= {TARGET_DELTA_NS} ns, 0 extra allocs)",
            case.name,
            (best_plain + delta) / best_plain,
        );
    }
}

fn main() {
    BenchExport::serve_if_receiver();
    let export = BenchExport::start_unless_off("log_line");
    let mut runs = CaseRuns::new(export.as_ref(), "log-line-bench");
    let case_run = runs.start(BenchCase::Sampled);
    let span = TRACER.start(SpanKind::Server, || SpanStart::new("GET /orders/{id}"));
    assert!(
        span.is_recording(),
        "the benchmark runs inside a sampled span"
    );
    let active = span.context().clone().attach();

    let cases = cases();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    criterion_benches(&mut criterion, &cases);
    criterion.final_summary();

    summary(&cases);
    drop(active);
    span.end();
    runs.finish(case_run);
    runs.print();
}
