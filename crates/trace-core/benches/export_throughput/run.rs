//! One measured run in a process of its own (the bench binary run again with
//! [`RUN_FLAG`] and a [`RunSpec`]): producer threads end spans through a provider with the
//! pipeline under test while the main thread takes the window's figures; the [`Outcome`]
//! goes back to the parent as one `RESULT {json}` line on stdout.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_semantic_conventions::attribute::{
    EXCEPTION_MESSAGE, EXCEPTION_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE,
    SERVER_ADDRESS, SERVER_PORT, URL_PATH, URL_SCHEME, USER_AGENT_ORIGINAL,
};
use serde::{Deserialize, Serialize};
use trace_bench_support::proc::{self, ThreadCpu};
use trace_bench_support::receiver::ReceiverStats;

use crate::histogram::Summary;
use crate::pipeline::{self, PipelineKind, Protocol, TimedOnEnd, Timings};
use crate::rotel;

/// The flag that makes the bench binary a run's process.
pub(crate) const RUN_FLAG: &str = "--run";
/// The prefix of the line that carries the outcome.
pub(crate) const RESULT_PREFIX: &str = "RESULT ";
/// The name of the export runtime's threads.
const EXPORT_RUNTIME_THREAD: &str = "export-rt";

const SPAN_NAME: &str = "GET /api/v1/orders/{id}";
/// One span in this many gets an event.
const EVENT_EVERY: u64 = 10;
/// Time `end()` of one span in this many, while the window is measured.
const END_SAMPLE_EVERY: u64 = pipeline::ON_END_SAMPLE_EVERY;
/// Spans a flat-out producer ends between two looks at the stop flag.
const FLAT_OUT_BURST: u64 = 64;
/// How long a paced producer that is ahead of its schedule sleeps.
const PACING_SLEEP: Duration = Duration::from_micros(200);

/// What one run measures: which pipeline, over which protocol, under which load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunSpec {
    pub(crate) pipeline: PipelineKind,
    pub(crate) protocol: Protocol,
    pub(crate) producers: usize,
    /// Spans per second offered by all producers together; `None`: flat out.
    pub(crate) rate: Option<u32>,
    pub(crate) warmup: Duration,
    pub(crate) window: Duration,
    pub(crate) receiver: ReceiverSpec,
    /// Whether to sample resident memory every second of the window.
    pub(crate) rss_series: bool,
}

/// The receiver a run exports to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReceiverSpec {
    pub(crate) grpc_port: u16,
    pub(crate) http_port: u16,
    pub(crate) pid: u32,
    pub(crate) counter: SpanCounter,
}

/// Where a run reads how many spans its receiver decoded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum SpanCounter {
    /// trace-bench-support's receiver: `GET /stats` on its HTTP port.
    Stats,
    /// rotel: its debug log of traces.
    RotelLog(PathBuf),
}

/// What a run came to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Failed(String),
    Measured(Box<Measured>),
}

/// A run's figures. "Window" figures cover the measured window only (after the warm-up,
/// before the producers stop); totals cover the whole run, shutdown included.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Measured {
    pub(crate) window: Duration,
    pub(crate) ended_in_window: u64,
    pub(crate) received_in_window: u64,
    pub(crate) ended: u64,
    pub(crate) received: u64,
    /// The processor's own count of the spans it dropped, where it keeps one.
    pub(crate) processor_dropped: Option<u64>,
    /// CPU time of every thread but the producers and the main thread, in the window.
    pub(crate) pipeline_cpu: Duration,
    /// The same per thread name, most first.
    pub(crate) pipeline_threads: Vec<(String, Duration)>,
    /// Pipeline threads that exited inside the window: their time is missing above.
    pub(crate) exited_threads: usize,
    pub(crate) producer_cpu: Duration,
    /// The receiver process's CPU time in the window.
    pub(crate) receiver_cpu: Duration,
    /// The `on_end` calls timed in the window.
    pub(crate) on_end: Option<Summary>,
    /// The `span.end()` calls timed in the window.
    pub(crate) end: Option<Summary>,
    pub(crate) peak_rss_kib: u64,
    /// Resident memory at each second of the window (`rss_series` runs).
    pub(crate) rss_series_kib: Vec<u64>,
    pub(crate) shutdown: Duration,
    pub(crate) shutdown_error: Option<String>,
}

/// The `main` of a run's process: `args` is the spec as JSON.
pub(crate) fn child_main(args: &[String]) -> ExitCode {
    let outcome = match args
        .first()
        .map(|spec| serde_json::from_str::<RunSpec>(spec))
    {
        Some(Ok(spec)) => run(&spec).unwrap_or_else(Outcome::Failed),
        Some(Err(error)) => Outcome::Failed(format!("bad run spec: {error}")),
        None => Outcome::Failed(format!("{RUN_FLAG} needs a spec")),
    };
    match serde_json::to_string(&outcome) {
        Ok(json) => {
            println!("{RESULT_PREFIX}{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("export_throughput: cannot write the outcome: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What the producers and the main thread share.
struct Shared {
    stop: AtomicBool,
    /// Spans each producer has ended so far, on cache lines of their own.
    ended: Vec<PaddedCounter>,
    producer_tids: Mutex<Vec<u32>>,
}

#[repr(align(128))]
#[derive(Default)]
struct PaddedCounter(AtomicU64);

impl Shared {
    fn ended(&self) -> u64 {
        self.ended.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }

    fn producer_tids(&self) -> Vec<u32> {
        self.producer_tids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn run(spec: &RunSpec) -> Result<Outcome, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(EXPORT_RUNTIME_THREAD)
        .build()
        .map_err(|e| format!("the export runtime: {e}"))?;
    let entered = runtime.enter();
    let endpoint = spec
        .protocol
        .endpoint(spec.receiver.grpc_port, spec.receiver.http_port);
    let pipeline = pipeline::build(spec.pipeline, spec.protocol, &endpoint)?;
    let timings = Arc::new(Timings::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(TimedOnEnd::new(pipeline.processor, Arc::clone(&timings)))
        .with_resource(
            Resource::builder()
                .with_service_name("export-throughput")
                .build(),
        )
        .build();
    let tracer = provider.tracer("export_throughput");
    let received_before = received(spec)?;
    let shared = Shared {
        stop: AtomicBool::new(false),
        ended: (0..spec.producers)
            .map(|_| PaddedCounter::default())
            .collect(),
        producer_tids: Mutex::new(Vec::new()),
    };
    let (window, ended) = thread::scope(|scope| {
        let handles: Vec<_> = (0..spec.producers)
            .map(|index| {
                let (tracer, shared, timings) = (&tracer, &shared, &*timings);
                thread::Builder::new()
                    .name(format!("producer-{index}"))
                    .spawn_scoped(scope, move || produce(tracer, spec, shared, timings, index))
                    .expect("a producer thread starts")
            })
            .collect();
        let window = measure_window(spec, &shared, &timings);
        shared.stop.store(true, Ordering::Relaxed);
        let ended: Vec<u64> = handles
            .into_iter()
            .map(|handle| handle.join().expect("a producer finishes"))
            .collect();
        (window, ended)
    });
    let window = window?;
    let shutdown_start = Instant::now();
    let shutdown_error = provider.shutdown().err().map(|e| e.to_string());
    let shutdown = shutdown_start.elapsed();
    let received_after = received_when_settled(spec)?;
    let processor_dropped = pipeline.dropped.map(|dropped| dropped());
    drop(entered);
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(Outcome::Measured(Box::new(Measured {
        ended: ended.iter().sum(),
        received: received_after.saturating_sub(received_before),
        processor_dropped,
        on_end: timings.on_end.summary(),
        end: timings.end.summary(),
        peak_rss_kib: proc::memory().peak_rss_kib,
        shutdown,
        shutdown_error,
        ..window
    })))
}

/// One point in time of the figures a window is the difference of.
struct Snapshot {
    at: Instant,
    threads: Vec<ThreadCpu>,
    ended: u64,
    received: u64,
    receiver_cpu: Duration,
}

fn snapshot(spec: &RunSpec, shared: &Shared) -> Result<Snapshot, String> {
    Ok(Snapshot {
        at: Instant::now(),
        threads: proc::threads_cpu(None),
        ended: shared.ended(),
        received: received(spec)?,
        receiver_cpu: proc::threads_cpu(Some(spec.receiver.pid))
            .iter()
            .map(|t| t.cpu)
            .sum(),
    })
}

/// Waits out the warm-up, then measures the window; the totals are filled in later.
fn measure_window(spec: &RunSpec, shared: &Shared, timings: &Timings) -> Result<Measured, String> {
    thread::sleep(spec.warmup);
    let start = snapshot(spec, shared)?;
    timings.measuring.store(true, Ordering::Relaxed);
    let mut rss_series_kib = Vec::new();
    let deadline = start.at + spec.window;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        thread::sleep(left.min(Duration::from_secs(1)));
        if spec.rss_series {
            rss_series_kib.push(proc::memory().rss_kib);
        }
    }
    let end = snapshot(spec, shared)?;
    timings.measuring.store(false, Ordering::Relaxed);

    let producer_tids = shared.producer_tids();
    let main_tid = proc::current_thread_id();
    let is_bench = |tid: u32| producer_tids.contains(&tid) || Some(tid) == main_tid;
    let cpu_before = |tid: u32| {
        start
            .threads
            .iter()
            .find(|t| t.tid == tid)
            .map_or(Duration::ZERO, |t| t.cpu)
    };
    let mut pipeline_threads: Vec<(String, Duration)> = Vec::new();
    let mut producer_cpu = Duration::ZERO;
    for thread in &end.threads {
        let used = thread.cpu.saturating_sub(cpu_before(thread.tid));
        if producer_tids.contains(&thread.tid) {
            producer_cpu += used;
        } else if !is_bench(thread.tid) {
            match pipeline_threads.iter_mut().find(|(n, _)| *n == thread.name) {
                Some((_, total)) => *total += used,
                None => pipeline_threads.push((thread.name.clone(), used)),
            }
        }
    }
    pipeline_threads.sort_by_key(|(_, used)| std::cmp::Reverse(*used));
    let exited_threads = start
        .threads
        .iter()
        .filter(|t| !is_bench(t.tid) && !end.threads.iter().any(|e| e.tid == t.tid))
        .count();
    Ok(Measured {
        window: end.at - start.at,
        ended_in_window: end.ended - start.ended,
        received_in_window: end.received.saturating_sub(start.received),
        ended: 0,
        received: 0,
        processor_dropped: None,
        pipeline_cpu: pipeline_threads.iter().map(|(_, used)| *used).sum(),
        pipeline_threads,
        exited_threads,
        producer_cpu,
        receiver_cpu: end.receiver_cpu.saturating_sub(start.receiver_cpu),
        on_end: None,
        end: None,
        peak_rss_kib: 0,
        rss_series_kib,
        shutdown: Duration::ZERO,
        shutdown_error: None,
    })
}

/// Spans the receiver has decoded so far.
fn received(spec: &RunSpec) -> Result<u64, String> {
    match &spec.receiver.counter {
        SpanCounter::Stats => ReceiverStats::fetch(spec.receiver.http_port)
            .map(|stats| stats.spans)
            .map_err(|e| format!("the receiver's counts: {e}")),
        SpanCounter::RotelLog(log) => rotel::spans_received(log),
    }
}

/// [`received`] once it has stopped moving: rotel writes its log a little after answering.
fn received_when_settled(spec: &RunSpec) -> Result<u64, String> {
    let mut last = received(spec)?;
    if let SpanCounter::RotelLog(_) = spec.receiver.counter {
        for _ in 0..40 {
            thread::sleep(Duration::from_millis(50));
            let now = received(spec)?;
            if now == last {
                break;
            }
            last = now;
        }
    }
    Ok(last)
}

/// Ends spans until told to stop: flat out, or paced to this producer's share of the rate.
fn produce(
    tracer: &SdkTracer,
    spec: &RunSpec,
    shared: &Shared,
    timings: &Timings,
    index: usize,
) -> u64 {
    if let Some(tid) = proc::current_thread_id() {
        shared
            .producer_tids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tid);
    }
    let counter = &shared.ended[index].0;
    let rate = spec.rate.map(|r| f64::from(r) / spec.producers as f64);
    let mut ended = 0u64;
    let start = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        let due = match rate {
            None => ended + FLAT_OUT_BURST,
            Some(rate) => (start.elapsed().as_secs_f64() * rate) as u64,
        };
        if ended >= due {
            thread::sleep(PACING_SLEEP);
            continue;
        }
        let measuring = timings.measuring.load(Ordering::Relaxed);
        while ended < due {
            end_one_span(tracer, ended, measuring.then_some(timings));
            ended += 1;
            counter.store(ended, Ordering::Relaxed);
        }
    }
    ended
}

/// Starts and ends span number `n` of a producer, shaped like an HTTP server span: eight
/// attributes, and an exception event on one span in [`EVENT_EVERY`]. Times `end()` on one
/// span in [`END_SAMPLE_EVERY`] into `timings` while the window is measured.
fn end_one_span(tracer: &SdkTracer, n: u64, timings: Option<&Timings>) {
    let mut span = tracer
        .span_builder(SPAN_NAME)
        .with_kind(SpanKind::Server)
        .with_attributes(vec![
            KeyValue::new(HTTP_REQUEST_METHOD, "GET"),
            KeyValue::new(URL_PATH, "/api/v1/orders/4711"),
            KeyValue::new(URL_SCHEME, "https"),
            KeyValue::new(HTTP_ROUTE, "/api/v1/orders/{id}"),
            KeyValue::new(HTTP_RESPONSE_STATUS_CODE, 200_i64),
            KeyValue::new(SERVER_ADDRESS, "orders.internal.example.com"),
            KeyValue::new(SERVER_PORT, 8443_i64),
            KeyValue::new(
                USER_AGENT_ORIGINAL,
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/126.0 Safari/537.36",
            ),
        ])
        .start(tracer);
    if n.is_multiple_of(EVENT_EVERY) {
        span.add_event(
            "exception",
            vec![
                KeyValue::new(EXCEPTION_TYPE, "OrderNotFound"),
                KeyValue::new(EXCEPTION_MESSAGE, "no order 4711 for this customer"),
            ],
        );
    }
    match timings {
        Some(timings) if n.is_multiple_of(END_SAMPLE_EVERY) => {
            let start = Instant::now();
            span.end();
            timings.end.record(start.elapsed().as_nanos() as u64);
        }
        _ => span.end(),
    }
}
