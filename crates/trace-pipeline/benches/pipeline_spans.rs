//! Per-step overhead of trace-pipeline beside a bare future, and allocations per step.
//!
//! One measured step is what an engine does per step: open the step span, open the
//! capability span inside it, run the work future inside both (`run`), finish both.
//! The bare case polls the same work future with no instrumentation. Cases:
//!
//! - `disabled`: trace-core initialised with `enabled: false`;
//! - `unsampled`: parent-based ratio 0 (every root dropped), no exporter;
//! - `sampled`: always on, no exporter (span processing does not dominate).
//!
//! Criterion runs first; then a summary measured in the same process prints ns/step
//! (best of several timed loops), the overhead over the bare future, and allocator
//! calls per step (`stats_alloc`). The goals: no allocation for a disabled step, and at
//! most one per span for an unsampled one (its span context, which the work runs in so
//! that children follow the decision); a miss is reported, never turned into a failing
//! exit code.

use std::alloc::System;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use trace_bench_support::{BenchCase, ns_per_call};
use trace_pipeline::{Event, Outcome, PipelineRun};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

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

/// Best ns/call over `runs` loops of about `per_run` each.
fn best_ns(per_run: Duration, runs: usize, f: &mut impl FnMut()) -> f64 {
    let estimate = ns_per_call(10_000, f).max(0.01);
    let iters = ((per_run.as_nanos() as f64 / estimate) as u64).max(1_000);
    (0..runs)
        .map(|_| ns_per_call(iters, f))
        .fold(f64::INFINITY, f64::min)
}

/// Allocator calls (allocations plus reallocations) per call of `f`.
fn allocs_per_call(iters: u64, f: &mut impl FnMut()) -> f64 {
    let region = Region::new(GLOBAL);
    for _ in 0..iters {
        f();
    }
    let stats = region.change();
    (stats.allocations + stats.reallocations) as f64 / iters as f64
}

struct Row {
    case: BenchCase,
    ns: f64,
    allocs: f64,
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a tiny smoke test.
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let (per_run, runs, alloc_iters) = if smoke {
        (Duration::from_millis(2), 1, 1_000)
    } else {
        (Duration::from_millis(100), 15, 100_000)
    };
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
        .configure_from_args();

    let bare_ns = best_ns(per_run, runs, &mut bare_step);
    let bare_allocs = allocs_per_call(alloc_iters, &mut bare_step);
    criterion.bench_function("bare_future", |b| b.iter(bare_step));

    let mut rows = Vec::new();
    for case in BenchCase::ALL {
        let guard = case.init("pipeline-bench");
        let run = PipelineRun::start("digest", Event::new("evt-1", "pipeline:data_event"));
        let mut step = || traced_step(&run);
        criterion.bench_function(&format!("{}_step", case.name()), |b| b.iter(&mut step));
        rows.push(Row {
            case,
            ns: best_ns(per_run, runs, &mut step),
            allocs: allocs_per_call(alloc_iters, &mut step),
        });
        run.finish(Outcome::Success);
        let _ = guard.shutdown();
    }
    criterion.final_summary();

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
}
