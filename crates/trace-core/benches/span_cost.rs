//! Per-span cost and allocations of trace-core's [`ScopedTracer`] beside the
//! alternatives a service would otherwise use, measured in one run:
//!
//! - `disabled`: trace-core initialised with `enabled: false`, beside the raw API's
//!   global no-op tracer (what a service without a provider gets);
//! - `unsampled`: a parent-based sampler and an unsampled (remote) parent, beside the
//!   raw SDK's span built the usual way;
//! - `sampled_6_attrs`: the same sampler and a sampled parent, beside the raw SDK and
//!   beside `tracing` + tracing-opentelemetry.
//!
//! Every enabled side runs the full SDK pipeline of a provider configured the same way:
//! the same parent-based sampler (`ParentBasedSampler` over `AlwaysOn`: for trace-core,
//! the default configuration's `parentbased_traceidratio` at 1.0), the default ID
//! generator and span limits, and one
//! [`CountAndDrop`] processor, whose `on_start` and `on_end` count and drop (so export
//! does not dominate, but the processor calls and the export data handed to `on_end`
//! are paid). trace-core's provider is built by `TracingBuilder` (exporter `none`); the
//! raw SDK and tracing-opentelemetry get providers of their own built the same way.
//!
//! Every span is a server span named `GET /api/v1/orders` with six attributes. The
//! call sites are written the way each API is meant to be used:
//!
//! - trace-core: `start_with_parent` with the six attributes in its `SpanStart` (built
//!   unless the configured sampler certainly drops the span: with an unsampled parent,
//!   the parent-based sampler does, and nothing is built), then `end`;
//! - raw SDK: all six attributes collected into the `SpanBuilder` before
//!   `build_with_context`, then `end`;
//! - tracing: `info_span!` with the six fields (and `otel.kind`), entered, exited and
//!   closed, through `tracing_opentelemetry::layer()` with its default settings (which
//!   add code-location and thread attributes) on a `tracing_subscriber::registry()`.
//!
//! The main figures start and end a span without taking its context; informational rows
//! also take it (`span.context()` for trace-core, `Context::with_span` for the raw SDK),
//! as a middleware does to run the handler in it. The "split" rows give trace-core the two
//! attributes a sampler may use (`http.request.method`, `url.path`) at start and the
//! other four with `set_attributes` (built only when the span records), beside the "SDK
//! floor", which makes the SDK calls of that call site directly (the same builder,
//! `build_with_context`, the four later attributes and `end` only when recording).
//!
//! Criterion runs first (groups `disabled`, `unsampled`, `sampled_6_attrs`, functions
//! `trace_core`, `raw_sdk`, `tracing_otel`); then a summary measured in the same process
//! prints ns/span (best of many short timed loops, the sides of a row alternating),
//! allocations per span (trace-bench-support's counting allocator), each ratio against the alternative measured
//! alongside, and PASS/MISS per target. A miss is reported, never turned into a failing
//! exit code.
//!
//! `cargo bench -p trace-core --bench span_cost` for the figures; add `-- --quick` for
//! a short run (criterion's quick mode and a small summary budget), or
//! `-- --profile-time 10 unsampled/trace_core` to run one benchmark alone under a
//! profiler (no summary then). Run as a test
//! (`cargo test --benches`), every benchmark runs once and the numbers mean nothing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags,
    TraceId, TraceState, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{
    ParentBasedSampler, Sampler, SdkTracer, SdkTracerProvider, ShouldSample,
};
use trace_bench_support::alloc::{CountingAllocator, Region};
use trace_bench_support::{CountAndDrop, ns_per_call};
use trace_core::config::ExporterKind;
use trace_core::{Config, ScopedTracer, SpanStart, TracingBuilder};
use tracing::Dispatch;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

static TRACER: ScopedTracer = ScopedTracer::new("bench", "0.1.0");

const SPAN_NAME: &str = "GET /api/v1/orders";

/// The attributes a sampler may use, known when the span starts (static values).
fn sampling_attributes() -> [KeyValue; 2] {
    [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("url.path", "/api/v1/orders"),
    ]
}

/// The other four attributes: wanted only on a recorded span.
fn recorded_attributes() -> [KeyValue; 4] {
    [
        KeyValue::new("http.response.status_code", 200_i64),
        KeyValue::new("server.port", 8080_i64),
        KeyValue::new("user.authenticated", true),
        KeyValue::new("server.address", "orders.internal"),
    ]
}

/// All six, as a raw SDK call site builds them; nothing here allocates by itself.
fn attributes() -> [KeyValue; 6] {
    let [method, path] = sampling_attributes();
    let [status, port, authenticated, address] = recorded_attributes();
    [method, path, status, port, authenticated, address]
}

/// One span through trace-core, written as a call site with six cheap attributes is:
/// start (the attributes built only when the sampler does not certainly drop the
/// span), end.
///
/// Nothing is hidden behind `black_box`: what the optimiser can remove here it can
/// remove in a service too (the enabled check is an atomic load, which it never
/// removes).
fn trace_core_span(parent: &Context) {
    let span = TRACER.start_with_parent(parent, SpanKind::Server, || {
        SpanStart::new(SPAN_NAME).with_attributes(attributes())
    });
    span.end();
}

/// One span through trace-core with the attributes split: the two a sampler may use at
/// start, the other four only if the span records. Informational, beside the SDK floor.
fn trace_core_span_split(parent: &Context) {
    let span = TRACER.start_with_parent(parent, SpanKind::Server, || {
        SpanStart::with_capacity(SPAN_NAME, 6).with_attributes(sampling_attributes())
    });
    span.set_attributes(recorded_attributes);
    span.end();
}

/// [`trace_core_span`] with the span's context taken, as a server middleware does to
/// run the handler in it.
fn trace_core_span_with_context(parent: &Context) {
    let span = TRACER.start_with_parent(parent, SpanKind::Server, || {
        SpanStart::new(SPAN_NAME).with_attributes(attributes())
    });
    black_box(span.context());
    span.end();
}

/// [`trace_core_span`] with the `TracedSpan` forced into memory, as when a call site
/// passes it on. Informational, for the disabled case.
fn trace_core_span_materialised(parent: &Context) {
    let span = TRACER.start_with_parent(parent, SpanKind::Server, || {
        SpanStart::with_capacity(SPAN_NAME, 6).with_attributes(sampling_attributes())
    });
    black_box(&span);
    span.end();
}

/// One span through a raw OpenTelemetry tracer, written the usual way: the builder
/// and its attribute `Vec` are built up front, whatever the sampler decides.
fn raw_span<T: Tracer>(tracer: &T, parent: &Context) {
    let mut span = tracer.build_with_context(
        SpanBuilder::from_name(SPAN_NAME)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes()),
        parent,
    );
    span.end();
}

/// The SDK work [`trace_core_span_split`] cannot avoid, called directly: a builder with the
/// two sampling-time attributes and room for six, `build_with_context`, and only for a
/// recording span the other four attributes and `end` (a dropped span is let go, as
/// trace-core does: `end` would read the clock for nothing). What trace-core adds is
/// its figure minus this one.
fn sdk_floor(tracer: &SdkTracer, parent: &Context) {
    let mut attributes = Vec::with_capacity(6);
    attributes.extend(sampling_attributes());
    let mut builder = SpanBuilder::from_name(SPAN_NAME).with_kind(SpanKind::Server);
    builder.attributes = Some(attributes);
    let mut span = tracer.build_with_context(builder, parent);
    if span.is_recording() {
        span.set_attributes(recorded_attributes());
        span.end();
    }
}

/// [`raw_span`] also wrapped in a [`Context`], the raw equivalent of
/// [`trace_core_span_with_context`].
fn raw_span_in_context(tracer: &SdkTracer, parent: &Context) {
    let span = tracer.build_with_context(
        SpanBuilder::from_name(SPAN_NAME)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes()),
        parent,
    );
    let cx = parent.with_span(span);
    black_box(&cx);
    cx.span().end();
}

/// One span through `tracing` + tracing-opentelemetry: created with the same six
/// fields, entered, exited and closed. Its parent is the attached context.
fn tracing_span() {
    let span = tracing::info_span!(
        "GET /api/v1/orders",
        otel.kind = "server",
        http.request.method = "GET",
        url.path = "/api/v1/orders",
        http.response.status_code = 200_i64,
        server.port = 8080_i64,
        user.authenticated = true,
        server.address = "orders.internal",
    );
    drop(span.enter());
    drop(span);
}

/// A remote parent context, sampled or not.
fn remote_parent(sampled: bool) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        flags,
        true,
        TraceState::default(),
    ))
}

/// The sampler every enabled side uses: parent-based over always-on, boxed as
/// `TracingBuilder::with_sampler` boxes it, so the three providers hold the same sampler
/// the same way.
fn sampler() -> Box<dyn ShouldSample> {
    Box::new(ParentBasedSampler::new(Sampler::AlwaysOn))
}

/// A provider for the raw SDK or tracing-opentelemetry side, configured like
/// trace-core's: the same sampler, default IDs and limits, one counting processor.
fn sdk_provider(processor: CountAndDrop) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(sampler())
        .with_span_processor(processor)
        .build()
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("bench")
        .with_version("0.1.0")
        .build()
}

fn bench_config(enabled: bool) -> Config {
    Config {
        enabled,
        service_name: Some("span-cost-bench".into()),
        exporters: vec![ExporterKind::None],
        ..Config::default()
    }
}

/// Everything the enabled cases run against.
struct Enabled {
    guard: trace_core::TracingGuard,
    ours: CountAndDrop,
    raw_provider: SdkTracerProvider,
    raw: SdkTracer,
    raw_counts: CountAndDrop,
    tracing_provider: SdkTracerProvider,
    tracing: Dispatch,
    tracing_counts: CountAndDrop,
    unsampled_parent: Context,
    sampled_parent: Context,
}

impl Enabled {
    fn start() -> Self {
        let ours = CountAndDrop::new();
        // The default configuration's sampler, `parentbased_traceidratio` at 1.0: the
        // SDK's `ParentBasedSampler` over `AlwaysOn`, as on the other sides.
        let guard = TracingBuilder::new(&bench_config(true))
            .with_span_processor(ours.clone())
            .init()
            .expect("bench config is valid");
        let raw_counts = CountAndDrop::new();
        let raw_provider = sdk_provider(raw_counts.clone());
        let raw = raw_provider.tracer_with_scope(scope());
        let tracing_counts = CountAndDrop::new();
        let tracing_provider = sdk_provider(tracing_counts.clone());
        let tracing = {
            use tracing_subscriber::layer::SubscriberExt as _;
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracing_provider.tracer_with_scope(scope()));
            Dispatch::new(tracing_subscriber::registry().with(layer))
        };
        let enabled = Self {
            guard,
            ours,
            raw_provider,
            raw,
            raw_counts,
            tracing_provider,
            tracing,
            tracing_counts,
            unsampled_parent: remote_parent(false),
            sampled_parent: remote_parent(true),
        };
        enabled.check();
        enabled
    }

    /// Checks once that every side makes the span it is meant to: recorded and seen by
    /// its processor under the sampled parent, dropped under the unsampled one.
    fn check(&self) {
        let counts = [&self.ours, &self.raw_counts, &self.tracing_counts];
        let before = counts.map(|c| (c.started(), c.ended()));
        trace_core_span(&self.unsampled_parent);
        raw_span(&self.raw, &self.unsampled_parent);
        self.in_tracing(&self.unsampled_parent, tracing_span);
        let after = counts.map(|c| (c.started(), c.ended()));
        assert_eq!(before, after, "unsampled spans reached a processor");
        let span = TRACER.start_with_parent(&self.unsampled_parent, SpanKind::Server, || {
            SpanStart::new(SPAN_NAME)
        });
        assert!(span.is_valid() && !span.is_recording());
        span.end();

        trace_core_span(&self.sampled_parent);
        raw_span(&self.raw, &self.sampled_parent);
        self.in_tracing(&self.sampled_parent, tracing_span);
        let after = counts.map(|c| (c.started(), c.ended()));
        for ((started, ended), (was_started, was_ended)) in after.iter().zip(before) {
            assert_eq!(
                (*started, *ended),
                (was_started + 1, was_ended + 1),
                "a sampled span missed its processor"
            );
        }
    }

    /// Runs `f` with the tracing-opentelemetry subscriber as the default and `parent`
    /// attached, as a traced request handler would run.
    fn in_tracing<R>(&self, parent: &Context, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.tracing, || {
            let _attached = parent.clone().attach();
            f()
        })
    }

    /// Spans each processor saw start and end: (trace-core, raw SDK, tracing).
    fn processed(&self) -> [(u64, u64); 3] {
        [&self.ours, &self.raw_counts, &self.tracing_counts].map(|c| (c.started(), c.ended()))
    }

    fn shutdown(self) {
        let _ = self.guard.shutdown();
        let _ = self.raw_provider.shutdown();
        let _ = self.tracing_provider.shutdown();
    }
}

/// How long the summary measures.
#[derive(Debug, Clone, Copy)]
struct Budget {
    warm_up: Duration,
    per_run: Duration,
    runs: usize,
    alloc_iters: u64,
}

/// One side of a row: how to time it and count its allocations.
trait Side {
    /// ns per call over `iters` calls in one timed loop.
    fn time(&mut self, iters: u64) -> f64;
    /// Allocator calls (allocations plus reallocations) per call over `iters` calls.
    fn allocs(&mut self, iters: u64) -> f64;
}

/// A side whose loop runs `f` directly (the loop is monomorphised: no indirect call
/// per iteration), inside `around` (a subscriber or an attached context, say).
struct Body<F, A> {
    f: F,
    around: A,
}

/// What a [`Body`] runs its loop in: nothing, for a [`plain`] one.
type Direct = fn(&mut dyn FnMut());

fn plain<F: FnMut()>(f: F) -> Body<F, Direct> {
    Body {
        f,
        around: |run| run(),
    }
}

impl<F: FnMut(), A: FnMut(&mut dyn FnMut())> Side for Body<F, A> {
    fn time(&mut self, iters: u64) -> f64 {
        let mut ns = 0.0;
        let f = &mut self.f;
        (self.around)(&mut || ns = ns_per_call(iters, f));
        ns
    }

    fn allocs(&mut self, iters: u64) -> f64 {
        let mut per_call = 0.0;
        let f = &mut self.f;
        (self.around)(&mut || {
            let region = Region::new();
            for _ in 0..iters {
                f();
            }
            let stats = region.change();
            per_call = (stats.allocations + stats.reallocations) as f64 / iters as f64;
        });
        per_call
    }
}

/// Iterations that take about `per_run`, estimated while warming up for `warm_up`.
fn calibrate(budget: Budget, side: &mut dyn Side) -> u64 {
    let deadline = Instant::now() + budget.warm_up;
    let mut ns = side.time(1_000);
    while Instant::now() < deadline {
        ns = ns.min(side.time(10_000));
    }
    ((budget.per_run.as_nanos() as f64 / ns.max(0.01)) as u64).max(1_000)
}

/// What one side measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    ns: f64,
    allocs: f64,
}

/// Best ns/call of each side over many short runs, the sides taking turns so that
/// drift and preemption on a busy machine hit them alike; then allocations per call.
fn measure(budget: Budget, sides: &mut [&mut dyn Side]) -> Vec<Figures> {
    let iters: Vec<u64> = sides
        .iter_mut()
        .map(|side| calibrate(budget, *side))
        .collect();
    let mut best = vec![f64::INFINITY; sides.len()];
    for _ in 0..budget.runs {
        for ((side, iters), best) in sides.iter_mut().zip(&iters).zip(&mut best) {
            *best = best.min(side.time(*iters));
        }
    }
    sides
        .iter_mut()
        .zip(best)
        .map(|(side, ns)| Figures {
            ns,
            allocs: side.allocs(budget.alloc_iters),
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Target {
    /// At most this many ns per span and no allocation.
    Disabled {
        max_ns: f64,
    },
    /// At most this ratio and at most this many allocations per span.
    RatioAndAllocs {
        max_ratio: f64,
        max_allocs: f64,
    },
    /// At most this ratio.
    Ratio {
        max_ratio: f64,
    },
    Informational,
}

struct Row {
    case: &'static str,
    versus: &'static str,
    ours: Figures,
    theirs: Figures,
    target: Target,
}

fn mark(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

impl Row {
    fn ratio(&self) -> f64 {
        self.ours.ns / self.theirs.ns
    }

    fn verdict(&self) -> String {
        let ratio = self.ratio();
        match self.target {
            Target::Disabled { max_ns } => format!(
                "<= {max_ns} ns {}, 0 allocs {}",
                mark(self.ours.ns <= max_ns),
                mark(self.ours.allocs == 0.0)
            ),
            Target::RatioAndAllocs {
                max_ratio,
                max_allocs,
            } => format!(
                "<= {max_ratio:.2}x {}, <= {max_allocs} alloc {}",
                mark(ratio <= max_ratio),
                mark(self.ours.allocs <= max_allocs)
            ),
            Target::Ratio { max_ratio } => {
                format!("<= {max_ratio:.2}x {}", mark(ratio <= max_ratio))
            }
            Target::Informational => "(informational)".to_owned(),
        }
    }
}

struct Summary {
    rows: Vec<Row>,
    /// ns/iteration of the timing loop around an empty body.
    loop_overhead: f64,
    /// ns/span of [`trace_core_span_materialised`] with tracing disabled.
    disabled_materialised: f64,
    /// What the processors saw over the whole run: (trace-core, raw SDK, tracing).
    processed: [(u64, u64); 3],
}

fn run_criterion(criterion: &mut Criterion, noop: &BoxedTracer) {
    let empty = Context::new();
    {
        let _guard = trace_core::init(&bench_config(false)).expect("bench config is valid");
        let mut group = criterion.benchmark_group("disabled");
        group.bench_function("trace_core", |b| b.iter(|| trace_core_span(&empty)));
        group.bench_function("raw_sdk", |b| b.iter(|| raw_span(noop, &empty)));
        group.finish();
    }
    let enabled = Enabled::start();
    let mut group = criterion.benchmark_group("unsampled");
    let parent = &enabled.unsampled_parent;
    group.bench_function("trace_core", |b| b.iter(|| trace_core_span(parent)));
    group.bench_function("raw_sdk", |b| b.iter(|| raw_span(&enabled.raw, parent)));
    group.finish();
    let mut group = criterion.benchmark_group("sampled_6_attrs");
    let parent = &enabled.sampled_parent;
    group.bench_function("trace_core", |b| b.iter(|| trace_core_span(parent)));
    group.bench_function("raw_sdk", |b| b.iter(|| raw_span(&enabled.raw, parent)));
    group.bench_function("tracing_otel", |b| {
        enabled.in_tracing(parent, || b.iter(tracing_span))
    });
    group.finish();
    enabled.shutdown();
}

fn run_summary(budget: Budget, noop: &BoxedTracer) -> Summary {
    let empty = Context::new();
    let loop_overhead = measure(budget, &mut [&mut plain(|| black_box(()))])[0].ns;
    let mut rows = Vec::new();

    let guard = trace_core::init(&bench_config(false)).expect("bench config is valid");
    assert!(!trace_core::is_enabled(), "trace-core must be disabled");
    let disabled_materialised = measure(
        budget,
        &mut [&mut plain(|| trace_core_span_materialised(&empty))],
    )[0]
    .ns;
    let figures = measure(
        budget,
        &mut [
            &mut plain(|| trace_core_span(&empty)),
            &mut plain(|| raw_span(noop, &empty)),
        ],
    );
    rows.push(Row {
        case: "disabled",
        versus: "raw API, global no-op",
        ours: figures[0],
        theirs: figures[1],
        target: Target::Disabled { max_ns: 2.0 },
    });
    drop(guard);

    let enabled = Enabled::start();
    let raw = &enabled.raw;
    let parent = &enabled.unsampled_parent;
    let figures = measure(
        budget,
        &mut [
            &mut plain(|| trace_core_span(parent)),
            &mut plain(|| raw_span(raw, parent)),
            &mut plain(|| trace_core_span_split(parent)),
            &mut plain(|| sdk_floor(raw, parent)),
        ],
    );
    rows.push(Row {
        case: "unsampled",
        versus: "raw SDK",
        ours: figures[0],
        theirs: figures[1],
        target: Target::RatioAndAllocs {
            max_ratio: 0.5,
            max_allocs: 1.0,
        },
    });
    rows.push(Row {
        case: "unsampled, split",
        versus: "SDK floor, same calls",
        ours: figures[2],
        theirs: figures[3],
        target: Target::Informational,
    });
    let figures = measure(
        budget,
        &mut [
            &mut plain(|| trace_core_span_with_context(parent)),
            &mut plain(|| raw_span_in_context(raw, parent)),
        ],
    );
    rows.push(Row {
        case: "unsampled + context",
        versus: "raw SDK + with_span",
        ours: figures[0],
        theirs: figures[1],
        target: Target::Informational,
    });

    let parent = &enabled.sampled_parent;
    let mut tracing_side = Body {
        f: tracing_span,
        around: |run: &mut dyn FnMut()| enabled.in_tracing(parent, run),
    };
    let figures = measure(
        budget,
        &mut [
            &mut plain(|| trace_core_span(parent)),
            &mut plain(|| raw_span(raw, parent)),
            &mut tracing_side,
            &mut plain(|| trace_core_span_split(parent)),
            &mut plain(|| sdk_floor(raw, parent)),
        ],
    );
    rows.push(Row {
        case: "sampled (6 attrs)",
        versus: "raw SDK",
        ours: figures[0],
        theirs: figures[1],
        target: Target::Ratio { max_ratio: 1.10 },
    });
    rows.push(Row {
        case: "sampled (6 attrs)",
        versus: "tracing + tracing-otel",
        ours: figures[0],
        theirs: figures[2],
        target: Target::Ratio { max_ratio: 0.35 },
    });
    rows.push(Row {
        case: "sampled, split",
        versus: "SDK floor, same calls",
        ours: figures[3],
        theirs: figures[4],
        target: Target::Informational,
    });
    let figures = measure(
        budget,
        &mut [
            &mut plain(|| trace_core_span_with_context(parent)),
            &mut plain(|| raw_span_in_context(raw, parent)),
        ],
    );
    rows.push(Row {
        case: "sampled + context",
        versus: "raw SDK + with_span",
        ours: figures[0],
        theirs: figures[1],
        target: Target::Informational,
    });
    let processed = enabled.processed();
    enabled.shutdown();
    Summary {
        rows,
        loop_overhead,
        disabled_materialised,
        processed,
    }
}

fn print_summary(summary: &Summary, smoke: bool) {
    println!();
    println!("span_cost summary: ns/span = best of timed loops, the sides of a row taking turns;");
    println!("allocs = allocator calls (allocations + reallocations) per span;");
    println!("ratio = trace-core / the alternative in the same row");
    trace_bench_support::print_machine(smoke);
    println!();
    println!(
        "{:<21}{:>14}  {:<24}{:>10}{:>8}{:>11}{:>11}   target",
        "case", "trace-core ns", "versus", "ns", "ratio", "tc allocs", "allocs"
    );
    for row in &summary.rows {
        println!(
            "{:<21}{:>14.1}  {:<24}{:>10.1}{:>7.2}x{:>11.2}{:>11.2}   {}",
            row.case,
            row.ours.ns,
            row.versus,
            row.theirs.ns,
            row.ratio(),
            row.ours.allocs,
            row.theirs.allocs,
            row.verdict()
        );
    }
    println!();
    println!(
        "info: timing-loop overhead (empty body): {:.1} ns/iter, included in every ns above",
        summary.loop_overhead
    );
    println!(
        "info: disabled with the TracedSpan forced into memory (black_box(&span)): {:.1} ns/span",
        summary.disabled_materialised
    );
    let [ours, raw, tracing] = summary.processed;
    println!(
        "info: spans through each CountAndDrop processor (on_start/on_end): trace-core {}/{}, \
         raw SDK {}/{}, tracing-otel {}/{}",
        ours.0, ours.1, raw.0, raw.1, tracing.0, tracing.1
    );
    println!(
        "info: tracing-opentelemetry runs with its defaults (it adds code-location, thread \
         and busy/idle-time attributes to the six fields)"
    );
}

fn main() {
    // Taken before trace-core is ever initialised: the no-op tracer a service without
    // a provider gets from `global::tracer`.
    let noop = opentelemetry::global::tracer("bench");

    // `cargo bench` passes `--bench`; without it (`cargo test --benches`) criterion runs
    // each benchmark once and the summary uses a tiny budget as a smoke test.
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let quick = std::env::args().any(|arg| arg == "--quick");

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .configure_from_args();
    run_criterion(&mut criterion, &noop);
    criterion.final_summary();
    if std::env::args().any(|arg| arg.starts_with("--profile-time")) {
        // Criterion's profiling mode (for a profiler): the selected benchmarks only.
        return;
    }

    let budget = if smoke {
        Budget {
            warm_up: Duration::from_millis(5),
            per_run: Duration::from_millis(1),
            runs: 1,
            alloc_iters: 1_000,
        }
    } else if quick {
        Budget {
            warm_up: Duration::from_millis(50),
            per_run: Duration::from_millis(2),
            runs: 10,
            alloc_iters: 5_000,
        }
    } else {
        Budget {
            warm_up: Duration::from_millis(300),
            per_run: Duration::from_millis(3),
            runs: 60,
            alloc_iters: 20_000,
        }
    };
    let summary = run_summary(budget, &noop);
    print_summary(&summary, smoke);
}
