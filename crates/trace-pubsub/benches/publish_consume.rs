//! Publish + consume cost per message on the in-process transport, traced beside
//! untraced, in one run:
//!
//! - `untraced`: [`InProcessBus`] and a bare handler, no trace-pubsub wrappers;
//! - `disabled`: [`TracedPublisher`] + [`ConsumeLayer`], trace-core initialised with
//!   `enabled: false`;
//! - `unsampled`: the same, parent-based ratio 0 (every root is dropped);
//! - `sampled`: the same, always-on.
//!
//! One iteration publishes one message and handles it (publish, channel, redelivery
//! copy, handler). Criterion runs first (group `publish_consume`), with no exporter: its
//! loops run flat out and would only fill an export queue. Then a summary measured in
//! the same process prints ns/message (best of many short timed loops, alternating each
//! case with the untraced pipeline), the ratio to untraced, and allocator calls per
//! message with the part added by the instrumentation (trace-bench-support's counting allocator, the whole
//! process's). For the summary the cases export as a service's would: OTLP
//! http/protobuf through `init`'s default pipeline to an OTLP receiver in a process of
//! its own (trace-bench-support's), with a flush after each traced loop, outside the
//! timing, so that each loop's spans fit the export queue; the spans ended and received
//! are compared at the end. `BENCH_NO_EXPORT=1` gives them no exporter. A missed target
//! is reported, never turned into a failing exit code.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use tokio::runtime::Runtime;
use tower_layer::Layer;
use tower_service::Service;
use trace_bench_support::BenchCase;
use trace_bench_support::alloc::{CountingAllocator, Region};
use trace_bench_support::receiver::{BenchExport, CaseRuns};
use trace_pubsub::{
    ConsumeLayer, Delivery, InProcessBus, Message, Publisher, Settlement, Subscription,
    TracedPublisher,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const TOPIC: &str = "orders";
const PAYLOAD: &[u8] = br#"{"order":42,"items":3}"#;

fn handler() -> impl Service<Delivery, Response = Settlement, Error = Infallible> {
    tower::service_fn(|delivery: Delivery| async move {
        black_box(delivery.message().payload().len());
        Ok::<_, Infallible>(Settlement::Ack)
    })
}

/// A publish-and-consume pipeline; `round` moves one message through it.
trait Pipeline {
    async fn round(&mut self);
}

struct Untraced<H> {
    bus: InProcessBus,
    subscription: Subscription,
    handler: H,
}

impl<H: Service<Delivery, Response = Settlement, Error = Infallible>> Pipeline for Untraced<H> {
    async fn round(&mut self) {
        self.bus
            .publish(TOPIC, Message::new(PAYLOAD))
            .await
            .unwrap();
        let outcome = self.subscription.handle_next(&mut self.handler).await;
        black_box(outcome.unwrap().unwrap());
    }
}

struct Traced<H> {
    publisher: TracedPublisher<InProcessBus>,
    subscription: Subscription,
    handler: H,
}

impl<H: Service<Delivery, Response = Settlement, Error = Infallible>> Pipeline for Traced<H> {
    async fn round(&mut self) {
        self.publisher
            .publish(TOPIC, Message::new(PAYLOAD))
            .await
            .unwrap();
        let outcome = self.subscription.handle_next(&mut self.handler).await;
        black_box(outcome.unwrap().unwrap());
    }
}

fn untraced() -> impl Pipeline {
    let bus = InProcessBus::new();
    Untraced {
        subscription: bus.subscribe(TOPIC),
        bus,
        handler: handler(),
    }
}

fn traced() -> impl Pipeline {
    let bus = InProcessBus::new();
    Traced {
        subscription: bus.subscribe(TOPIC),
        publisher: TracedPublisher::new(bus),
        handler: ConsumeLayer::new().layer(handler()),
    }
}

fn time_rounds(rt: &Runtime, pipeline: &mut impl Pipeline, rounds: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..rounds {
            pipeline.round().await;
        }
        start.elapsed()
    })
}

fn ns_per_round(rt: &Runtime, pipeline: &mut impl Pipeline, rounds: u64) -> f64 {
    time_rounds(rt, pipeline, rounds).as_nanos() as f64 / rounds as f64
}

/// Allocator calls per message over `loops` timed loops, with `settle` after each,
/// outside the count.
fn allocs_per_round(
    rt: &Runtime,
    budget: &Budget,
    pipeline: &mut impl Pipeline,
    settle: &mut impl FnMut(),
) -> f64 {
    let mut calls = 0;
    for _ in 0..budget.alloc_loops {
        let region = Region::new();
        time_rounds(rt, pipeline, budget.rounds);
        let stats = region.change();
        calls += stats.allocations + stats.reallocations;
        settle();
    }
    calls as f64 / (budget.alloc_loops * budget.rounds) as f64
}

struct Budget {
    /// Messages per timed loop: with a span on each side, 4000 spans, half the export
    /// queue's default 8192.
    rounds: u64,
    runs: usize,
    /// Loops whose allocations are counted.
    alloc_loops: u64,
}

struct Row {
    name: &'static str,
    ns: f64,
    untraced_ns: f64,
    allocs: f64,
    untraced_allocs: f64,
}

/// Best ns/message of `pipeline` and of a fresh untraced pipeline, alternating runs;
/// `settle` (the export flush) runs after each of `pipeline`'s loops, outside the timing.
fn measure(
    rt: &Runtime,
    budget: &Budget,
    name: &'static str,
    pipeline: &mut impl Pipeline,
    settle: &mut impl FnMut(),
) -> Row {
    let mut baseline = untraced();
    // Warm up both (lazily created tracers, channel buffers).
    time_rounds(rt, pipeline, budget.rounds);
    settle();
    time_rounds(rt, &mut baseline, budget.rounds);
    let (mut ns, mut untraced_ns) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..budget.runs {
        ns = ns.min(ns_per_round(rt, pipeline, budget.rounds));
        settle();
        untraced_ns = untraced_ns.min(ns_per_round(rt, &mut baseline, budget.rounds));
    }
    Row {
        name,
        ns,
        untraced_ns,
        allocs: allocs_per_round(rt, budget, pipeline, settle),
        untraced_allocs: allocs_per_round(rt, budget, &mut baseline, &mut || {}),
    }
}

fn criterion_case(
    criterion: &mut Criterion,
    rt: &Runtime,
    name: &str,
    pipeline: &mut impl Pipeline,
) {
    let mut group = criterion.benchmark_group("publish_consume");
    group.bench_function(name, |b| {
        b.iter_custom(|iters| time_rounds(rt, pipeline, iters))
    });
    group.finish();
}

fn mark(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn main() {
    BenchExport::serve_if_receiver();
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a Tokio runtime");
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    let budget = if smoke {
        Budget {
            rounds: 200,
            runs: 1,
            alloc_loops: 1,
        }
    } else {
        Budget {
            rounds: 2_000,
            runs: 40,
            alloc_loops: 10,
        }
    };

    criterion_case(&mut criterion, &rt, "untraced", &mut untraced());
    for case in BenchCase::ALL {
        let guard = case.init("publish-consume-bench", None);
        criterion_case(&mut criterion, &rt, case.name(), &mut traced());
        guard
            .shutdown()
            .expect("tracing with no exporter shuts down");
    }
    criterion.final_summary();

    let export = BenchExport::start_unless_off("publish_consume");
    let mut runs = CaseRuns::new(export.as_ref(), "publish-consume-bench");
    let mut rows = Vec::new();
    for case in BenchCase::ALL {
        let case_run = runs.start(case);
        let mut settle = || {
            case_run
                .guard()
                .force_flush()
                .expect("a flush between loops loses nothing");
        };
        let row = measure(&rt, &budget, case.name(), &mut traced(), &mut settle);
        rows.push((case, row));
        runs.finish(case_run);
    }

    println!();
    println!("publish_consume summary (in-process transport): ns/msg = best of timed loops of");
    println!(
        "{} messages; ratio = case / untraced measured alternately in the same run;",
        budget.rounds
    );
    println!("allocs/msg = allocator calls (allocations + reallocations) per message");
    trace_bench_support::print_machine(smoke);
    println!();
    println!(
        "{:<11}{:>10}{:>13}{:>8}{:>10}{:>12}{:>20}   target",
        "case", "ns/msg", "untraced ns", "ratio", "+ns/msg", "allocs/msg", "by instrumentation"
    );
    for (case, row) in &rows {
        let extra_allocs = row.allocs - row.untraced_allocs;
        let target = match case {
            BenchCase::Disabled => {
                format!("0 allocs by instrumentation {}", mark(extra_allocs <= 0.0))
            }
            // The unsampled decision travels with the message: `traceparent` written on
            // publish and read on consume, beside each span's own context.
            BenchCase::Unsampled => String::from("(informational: the decision propagated)"),
            BenchCase::Sampled => String::from("(informational)"),
        };
        println!(
            "{:<11}{:>10.1}{:>13.1}{:>7.2}x{:>10.1}{:>12.2}{:>20.2}   {}",
            row.name,
            row.ns,
            row.untraced_ns,
            row.ns / row.untraced_ns,
            row.ns - row.untraced_ns,
            row.allocs,
            extra_allocs,
            target
        );
    }
    runs.print();
}
