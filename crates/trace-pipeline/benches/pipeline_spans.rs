//! Per-step overhead of trace-pipeline beside a bare future, and allocations per step.
//!
//! One measured step is what an engine does per step: open the step span, open the
//! capability span inside it, run the work future inside both (`run`), finish both.
//! The bare case polls the same work future with no instrumentation. Cases:
//!
//! - `disabled`: trace-core initialised with `enabled: false`;
//! - `unsampled`: parent-based ratio 0 (every root dropped);
//! - `sampled`: always on.
//!
//! Criterion runs first, with no exporter: its loops run flat out and would only fill
//! an export queue. Then a summary measured in the same process prints ns/step (best of
//! timed loops of [`STEPS_PER_LOOP`] steps), the overhead over the bare future, and
//! allocator calls per step (trace-bench-support's counting allocator, the whole process's). For the summary the
//! cases export as a service's would: OTLP http/protobuf through `init`'s default
//! pipeline to an OTLP receiver in a process of its own (trace-bench-support's), with a
//! flush between loops, outside the timing, so that each loop's spans fit the export
//! queue; the spans ended and received are compared at the end. `BENCH_NO_EXPORT=1`
//! gives them no exporter. The goals: no allocation for a disabled step, and at most one
//! per span for an unsampled one (its span context, which the work runs in so that
//! children follow the decision); a miss is reported, never turned into a failing exit
//! code.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;
use trace_bench_support::alloc::{CountingAllocator, Region};
use trace_bench_support::receiver::{BenchExport, CaseRuns};
use trace_bench_support::{BenchCase, ns_per_call};
use trace_pipeline::{Event, Outcome, PipelineRun};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[derive(Debug)]
struct Never;

impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("never")
    }
}

impl std::error::Error for Never {}

/// The step's work: ready at the first poll, like a cache hit.
async fn work() -> Result<u64, Never> {
    Ok(black_box(42))
}

/// Polls a future that completes without waiting; no runtime in the measurement.
fn poll_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the work future is ready at once"),
    }
}

fn bare_step() {
    black_box(poll_ready(work())).ok();
}

fn traced_step(run: &PipelineRun) {
    let step = run.step("fetch", "rss", "fetch");
    let call = step.capability("rss", "fetch");
    black_box(poll_ready(step.run(call.run(work())))).ok();
}

/// Steps per timed loop: 4000 spans, half the export queue's default 8192.
const STEPS_PER_LOOP: u64 = 2_000;

/// Best ns/call over `loops` loops of [`STEPS_PER_LOOP`] calls, with `settle` (the
/// export flush) after each, outside the timing.
fn best_ns(loops: usize, f: &mut impl FnMut(), settle: &mut impl FnMut()) -> f64 {
    (0..loops)
        .map(|_| {
            let ns = ns_per_call(STEPS_PER_LOOP, f);
            settle();
            ns
        })
        .fold(f64::INFINITY, f64::min)
}

/// Allocator calls (allocations plus reallocations) per call of `f`, over `loops` loops
/// of [`STEPS_PER_LOOP`] calls with `settle` after each, outside the count.
fn allocs_per_call(loops: u64, f: &mut impl FnMut(), settle: &mut impl FnMut()) -> f64 {
    let mut calls = 0;
    for _ in 0..loops {
        let region = Region::new();
        for _ in 0..STEPS_PER_LOOP {
            f();
        }
        let stats = region.change();
        calls += stats.allocations + stats.reallocations;
        settle();
    }
    calls as f64 / (loops * STEPS_PER_LOOP) as f64
}

struct Row {
    case: BenchCase,
    ns: f64,
    allocs: f64,
}

fn main() {
    BenchExport::serve_if_receiver();
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a tiny smoke test.
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let (loops, alloc_loops) = if smoke { (1, 1) } else { (300, 50) };
    let export = BenchExport::start_unless_off("pipeline_spans");
    let mut runs = CaseRuns::new(export.as_ref(), "pipeline-bench");
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
        .configure_from_args();

    criterion.bench_function("bare_future", |b| b.iter(bare_step));
    for case in BenchCase::ALL {
        let guard = case.init("pipeline-bench", None);
        let run = PipelineRun::start("digest", Event::new("evt-1", "pipeline:data_event"));
        criterion.bench_function(&format!("{}_step", case.name()), |b| {
            b.iter(|| traced_step(&run));
        });
        run.finish(Outcome::Success);
        guard
            .shutdown()
            .expect("tracing with no exporter shuts down");
    }
    criterion.final_summary();

    let bare_ns = best_ns(loops, &mut bare_step, &mut || {});
    let bare_allocs = allocs_per_call(alloc_loops, &mut bare_step, &mut || {});
    let mut rows = Vec::new();
    for case in BenchCase::ALL {
        let case_run = runs.start(case);
        let run = PipelineRun::start("digest", Event::new("evt-1", "pipeline:data_event"));
        let mut step = || traced_step(&run);
        let mut settle = || {
            case_run
                .guard()
                .force_flush()
                .expect("a flush between loops loses nothing");
        };
        rows.push(Row {
            case,
            ns: best_ns(loops, &mut step, &mut settle),
            allocs: allocs_per_call(alloc_loops, &mut step, &mut settle),
        });
        run.finish(Outcome::Success);
        runs.finish(case_run);
    }

    println!();
    println!("pipeline_spans summary: one step = step span + capability span + the work future");
    trace_bench_support::print_machine(smoke);
    println!(
        "{:<12}{:>12}{:>16}{:>14}   target",
        "case", "ns/step", "overhead ns", "allocs/step"
    );
    println!(
        "{:<12}{:>12.1}{:>16}{:>14.2}",
        "bare", bare_ns, "-", bare_allocs
    );
    for row in rows {
        // Disabled: nothing. Unsampled: each span's own context, which its work runs in
        // so that children follow the decision (design: at most one allocation a span).
        let target = match (row.case, row.allocs) {
            (BenchCase::Disabled, 0.0) => "0 allocs PASS",
            (BenchCase::Disabled, _) => "0 allocs MISS",
            (BenchCase::Unsampled, allocs) if allocs <= 2.0 => "<= 1 alloc per span PASS",
            (BenchCase::Unsampled, _) => "<= 1 alloc per span MISS",
            (BenchCase::Sampled, _) => "(informational: two recorded spans)",
        };
        println!(
            "{:<12}{:>12.1}{:>16.1}{:>14.2}   {target}",
            row.case.name(),
            row.ns,
            row.ns - bare_ns,
            row.allocs
        );
    }
    runs.print();
}
