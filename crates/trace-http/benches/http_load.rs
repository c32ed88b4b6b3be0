//! The cost of each tracing stack around a hyper hello world, two ways:
//!
//! - **direct calls**: requests handed straight to the tower service on one thread (no
//!   sockets, nothing waits), time and allocations per request, median of interleaved
//!   rounds. Without hyper's I/O around it, the stack's own cost per request stands out
//!   and load elsewhere on the machine blurs it least; the "+0.5 µs per request" target
//!   is checked here.
//! - **load test** on loopback: an in-repo load generator (keep-alive HTTP/1.1
//!   connections, each sending requests back to back), req/s, p99 and process CPU per
//!   request; the throughput ratios are checked here.
//!
//! Stacks, measured one after another in one process:
//!
//! - `untraced`: the bare hello-world service;
//! - `ours disabled`: [`HttpServerLayer`] with trace-core initialised with
//!   `enabled: false` (an uninitialised trace-core is not disabled: it starts spans
//!   through `opentelemetry::global`'s provider);
//! - `ours unsampled`: parent-based ratio 1e-12, so every request is an unsampled root
//!   (decided from its trace id, as under any fractional ratio). Its span is the SDK's
//!   non-recording span with a span context of its own, which the handler runs in: 4
//!   allocations per request, the 3 `tests/allocations.rs` asserts for a request
//!   without a `Host` header (the `url.path` value the sampler sees, the sampler's
//!   attribute vector, the context) and the `server.address` value from the `Host`
//!   header these requests carry;
//! - `ours 10%`: parent-based ratio 0.1 (requests carry no `traceparent`, so 90% are
//!   unsampled roots);
//! - `ours 100%`: parent-based always-on;
//! - `naive raw SDK`: a tower layer written here the way a first attempt looks: the
//!   global tracer, attributes built for every request, a boxed future;
//! - `tower-http + tracing-otel`: `tower_http::trace::TraceLayer::new_for_http()` with the
//!   `tracing-opentelemetry` layer (trace-core's `tracing` bridge).
//!
//! **Export on** (the default): every traced stack exports its spans over OTLP
//! http/protobuf to an OTLP receiver on loopback (trace-bench-support's, in a process of
//! its own, decoding every request and counting the spans), as a service would to a
//! collector: ours through trace-core's batch export pipeline (`init`'s default), the
//! raw-SDK layer and tower-http + tracing-opentelemetry through the SDK's
//! `BatchSpanProcessor` with opentelemetry-otlp's exporter (default settings), each with
//! a provider of its own. The process CPU per request then includes the export threads;
//! the receiver's CPU is its own process's, not counted, though it shares the machine's
//! two cores with the server and the load generator. After each stack's slice its
//! provider shuts down, and the spans ended, exported and received are compared (`spans
//! lost`). `--no-export` (or `BENCH_NO_EXPORT=1`) gives every traced stack one
//! trace-core provider with no exporter (`ExporterKind::None`): the instrumentation's
//! share alone, without the hand-off to a batch processor and the export work.
//!
//! The stacks take turns: `HTTP_LOAD_ROUNDS` rounds (default 12) of one slice per stack,
//! so load from elsewhere on the machine hits every stack alike; a stack's ratio is the
//! median over rounds of its slice's req/s over the untraced slice's in the same round.
//! `HTTP_LOAD_SECS` is the measured time per stack (default 9.6, split over the rounds), `HTTP_LOAD_CONNECTIONS` the
//! number of keep-alive connections (default 32); `--quick` or `HTTP_LOAD_QUICK=1` runs 2
//! rounds and 1 second per stack. `HTTP_LOAD_DIRECT_ROUNDS` (default 15) and
//! `HTTP_LOAD_DIRECT_REQUESTS` (default 20000) size the direct calls; `--direct` skips
//! the load test, and `HTTP_LOAD_ONLY=<stack name>` runs one stack's direct calls alone
//! (for a profiler). A full run takes about two minutes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use opentelemetry::context::FutureExt;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _};
use opentelemetry::{KeyValue, global};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanProcessor};
use tokio::net::{TcpListener, TcpStream};
use tower::layer::util::Identity;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use trace_bench_support::alloc::{CountingAllocator, Region};
use trace_bench_support::receiver::BenchExport;
use trace_core::carrier::HeaderExtractor;
use trace_core::config::{ExporterKind, Protocol, SamplerKind};
use trace_core::{Config, TracingGuard};
use trace_http::server::HttpServerLayer;
use tracing::Dispatch;
use tracing::instrument::WithSubscriber;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const BODY: &[u8] = b"Hello, World!";

async fn hello<B>(_request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(BODY))))
}

/// One stack's figures.
struct Measured {
    name: &'static str,
    requests_per_second: f64,
    /// Requests per second of each round's slice.
    round_rates: Vec<f64>,
    p99: Duration,
    /// Process CPU time (server and load generator) per request.
    cpu_per_request: Duration,
    /// Time per request called directly, no sockets (median of rounds).
    direct_ns: f64,
    allocations: f64,
    /// Export on: spans the stack's provider ended over the load test, and spans the
    /// receiver accepted; shutdown errors that reported losses.
    spans_ended: u64,
    spans_received: u64,
    /// The receiver's process CPU while the stack's slices ran and flushed.
    receiver_cpu: Duration,
    export_errors: Vec<String>,
}

/// What the slices of one stack added up to.
#[derive(Default)]
struct Totals {
    elapsed: Duration,
    cpu: Duration,
    latencies: Vec<Duration>,
    /// Requests per second of each slice, in round order.
    round_rates: Vec<f64>,
    /// Spans the stack's provider ended, and that the receiver got (export on).
    spans_ended: u64,
    spans_received: u64,
    /// The receiver's process CPU from each slice's start to its provider's shutdown.
    receiver_cpu: Duration,
    /// Shutdown errors that reported losses.
    export_errors: Vec<String>,
}

/// CPU time this process has used (user + system), from `/proc/self/stat`; zero where
/// that file does not exist.
fn process_cpu_time(ticks_per_second: f64) -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14, 15.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    Duration::from_secs_f64(ticks / ticks_per_second)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

struct Settings {
    slice: Duration,
    rounds: u32,
    connections: usize,
    ticks_per_second: f64,
    direct_rounds: u32,
    direct_requests: usize,
    /// `--direct`: only the direct-call figures, no load test.
    direct_only: bool,
    /// `HTTP_LOAD_ONLY=<stack name>`: direct calls of that stack alone (for profilers).
    only: Option<String>,
}

impl Settings {
    fn from_env() -> Self {
        let quick = std::env::args().any(|arg| arg == "--quick")
            || std::env::var("HTTP_LOAD_QUICK").is_ok_and(|v| v == "1");
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
        let secs = env("HTTP_LOAD_SECS").unwrap_or(if quick { 1.0 } else { 9.6 });
        let rounds = env("HTTP_LOAD_ROUNDS").unwrap_or(if quick { 2.0 } else { 12.0 });
        let rounds = (rounds as u32).max(1);
        Self {
            slice: Duration::from_secs_f64(secs / f64::from(rounds)),
            rounds,
            connections: env("HTTP_LOAD_CONNECTIONS").map_or(32, |v| v as usize),
            ticks_per_second: clock_ticks_per_second(),
            direct_rounds: env("HTTP_LOAD_DIRECT_ROUNDS")
                .map_or(if quick { 3 } else { 15 }, |v| (v as u32).max(1)),
            direct_requests: env("HTTP_LOAD_DIRECT_REQUESTS")
                .map_or(if quick { 2_000 } else { 20_000 }, |v| (v as usize).max(1)),
            direct_only: std::env::args().any(|arg| arg == "--direct"),
            only: std::env::var("HTTP_LOAD_ONLY").ok(),
        }
    }
}

/// Serves the stack on loopback for one slice, driven by keep-alive connections.
/// `dispatch` is the `tracing` subscriber the server's tasks run with, if any.
async fn load<S, B>(settings: &Settings, stack: S, dispatch: Option<Dispatch>, totals: &mut Totals)
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(stack.clone());
            let connection = async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            };
            match &dispatch {
                Some(dispatch) => tokio::spawn(connection.with_subscriber(dispatch.clone())),
                None => tokio::spawn(connection),
            };
        }
    });
    // Warm up connections, caches and the tracer before measuring.
    drive(addr, settings.connections, Duration::from_millis(200)).await;
    let started = Instant::now();
    let cpu_before = process_cpu_time(settings.ticks_per_second);
    let latencies = drive(addr, settings.connections, settings.slice).await;
    totals.cpu += process_cpu_time(settings.ticks_per_second).saturating_sub(cpu_before);
    let elapsed = started.elapsed();
    totals.elapsed += elapsed;
    totals
        .round_rates
        .push(latencies.len() as f64 / elapsed.as_secs_f64());
    totals.latencies.extend(latencies);
    server.abort();
}

/// `connections` clients sending requests back to back for `duration`; returns every
/// request's latency.
async fn drive(addr: SocketAddr, connections: usize, duration: Duration) -> Vec<Duration> {
    let deadline = Instant::now() + duration;
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                let _ = stream.set_nodelay(true);
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                let mut latencies = Vec::with_capacity(1 << 14);
                while Instant::now() < deadline {
                    let request = Request::get("/")
                        .header("host", "localhost")
                        .body(Empty::<Bytes>::new())
                        .unwrap();
                    let started = Instant::now();
                    sender.ready().await.unwrap();
                    let response = sender.send_request(request).await.unwrap();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    latencies.push(started.elapsed());
                    assert_eq!(body.as_ref(), BODY);
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.unwrap());
    }
    all
}

/// One request through `stack` called directly (no sockets): allocations and time,
/// averaged over `requests` requests on a single-threaded runtime, so nothing else
/// allocates or runs meanwhile (nothing waits either, so the time is CPU time). Without sockets, hyper's share
/// of a request is gone and the instrumentation's own cost stands out.
fn direct<S, B>(mut stack: S, requests: usize) -> Direct
where
    S: Service<Request<Empty<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let one = |stack: &mut S, request| {
            let future = stack.call(request);
            async move {
                let response = future.await.unwrap();
                response.into_body().collect().await.unwrap();
            }
        };
        let prepare = || {
            (0..requests)
                .map(|_| {
                    Request::get("/")
                        .header("host", "localhost")
                        .body(Empty::<Bytes>::new())
                        .unwrap()
                })
                .collect::<Vec<_>>()
        };
        for request in prepare() {
            stack.ready().await.unwrap();
            one(&mut stack, request).await;
        }
        let prepared = prepare();
        let region = Region::new();
        let started = Instant::now();
        for request in prepared {
            stack.ready().await.unwrap();
            one(&mut stack, request).await;
        }
        let elapsed = started.elapsed();
        Direct {
            allocations: region.change().allocations as f64 / requests as f64,
            ns: elapsed.as_secs_f64() * 1e9 / requests as f64,
        }
    })
}

/// What [`direct`] measured per request.
struct Direct {
    allocations: f64,
    ns: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// A stack's tracing for one slice or direct-call round, shut down after it.
enum Tracing {
    /// The untraced service.
    Off,
    /// trace-core's `init`: ours, or (with export off) every traced stack.
    Ours(TracingGuard),
    /// A provider of the stack's own with the SDK's batch processor and
    /// opentelemetry-otlp's exporter (raw-SDK and tower-http stacks, export on), and its
    /// count of spans ended.
    Sdk(SdkTracerProvider, Arc<AtomicU64>),
}

/// What a stack's provider did with the spans of one slice, from its own counts.
#[derive(Default)]
struct Delivered {
    /// Spans ended and handed to the export pipeline (sampled ones).
    ended: u64,
    /// The shutdown's error, when it reported spans lost.
    error: Option<String>,
}

impl Tracing {
    /// Sets `stack`'s tracing up. `export` is the receiver's OTLP/HTTP base URL, or
    /// `None` for no export (one trace-core provider with no exporter for every stack).
    fn start(stack: Stack, export: Option<&str>) -> Self {
        let Some(ratio) = stack.ratio() else {
            return Tracing::Off;
        };
        let Some(endpoint) = export else {
            return Tracing::Ours(init(ratio, None));
        };
        match stack {
            Stack::RawSdk | Stack::TowerHttp => {
                let ended = Arc::new(AtomicU64::new(0));
                let provider = sdk_provider(endpoint, Arc::clone(&ended));
                // The raw-SDK layer asks `global` for its tracer, the tower-http stack's
                // bridge asks trace-core for the provider in use.
                global::set_tracer_provider(provider.clone());
                trace_core::set_provider(provider.clone());
                Tracing::Sdk(provider, ended)
            }
            _ => Tracing::Ours(init(ratio, Some(endpoint))),
        }
    }

    /// Shuts the provider down (flushing what is queued).
    fn finish(self) -> Delivered {
        match self {
            Tracing::Off => Delivered::default(),
            Tracing::Ours(guard) => match guard.shutdown() {
                Ok(report) => Delivered {
                    ended: report.ended,
                    error: None,
                },
                Err(error) => Delivered {
                    ended: error.report().ended,
                    error: Some(error.to_string()),
                },
            },
            Tracing::Sdk(provider, ended) => {
                let error = provider.shutdown().err().map(|e| e.to_string());
                Delivered {
                    ended: ended.load(Ordering::Relaxed),
                    error,
                }
            }
        }
    }
}

/// trace-core as a stack runs with it: `None` leaves it disabled (`enabled: false`);
/// `export`, the receiver to send OTLP http/protobuf to (else no exporter).
fn init(rate: Option<f64>, export: Option<&str>) -> TracingGuard {
    trace_core::init(&Config {
        enabled: rate.is_some(),
        service_name: Some("http-load".into()),
        exporters: vec![if export.is_some() {
            ExporterKind::Otlp
        } else {
            ExporterKind::None
        }],
        endpoint: export.map(str::to_owned),
        protocol: Protocol::HttpProtobuf,
        sampler: SamplerKind::ParentBasedTraceIdRatio,
        sample_rate: rate.unwrap_or(1.0),
        ..Config::default()
    })
    .expect("trace-core init")
}

/// What a service using the SDK directly has: its default sampler (parent-based always
/// on), the SDK's batch processor and opentelemetry-otlp's http/protobuf exporter, both
/// with default settings.
fn sdk_provider(endpoint: &str, ended: Arc<AtomicU64>) -> SdkTracerProvider {
    // reqwest is built without a crypto provider in this workspace (ring only).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .build()
        .expect("opentelemetry-otlp's exporter");
    SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("http-load").build())
        .with_span_processor(CountEnded {
            inner: BatchSpanProcessor::builder(exporter).build(),
            ended,
        })
        .build()
}

/// The SDK's batch processor with a count of the spans handed to it, which it does not
/// keep (it only logs its drops). One processor, so the SDK does not clone the spans.
#[derive(Debug)]
struct CountEnded {
    inner: BatchSpanProcessor,
    ended: Arc<AtomicU64>,
}

impl SpanProcessor for CountEnded {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.ended.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
}

/// The `tracing` subscriber of the tower-http stack: tracing-opentelemetry on the
/// provider trace-core installed.
fn tracing_dispatch() -> Dispatch {
    use tracing_subscriber::layer::SubscriberExt;
    Dispatch::new(tracing_subscriber::registry().with(trace_core::tracing_bridge::layer()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    Untraced,
    OursDisabled,
    OursUnsampled,
    Ours10,
    Ours100,
    RawSdk,
    TowerHttp,
}

const STACKS: [Stack; 7] = [
    Stack::Untraced,
    Stack::OursDisabled,
    Stack::OursUnsampled,
    Stack::Ours10,
    Stack::Ours100,
    Stack::RawSdk,
    Stack::TowerHttp,
];

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Stack::Untraced => "untraced",
            Stack::OursDisabled => "ours disabled",
            Stack::OursUnsampled => "ours unsampled",
            Stack::Ours10 => "ours 10%",
            Stack::Ours100 => "ours 100%",
            Stack::RawSdk => "naive raw SDK",
            Stack::TowerHttp => "tower-http + tracing-otel",
        }
    }

    /// How trace-core is set up for the stack: `None`, not at all (the untraced
    /// service does not use it); `Some(None)`, disabled; `Some(Some(ratio))`, enabled
    /// with that parent-based sampling ratio.
    fn ratio(self) -> Option<Option<f64>> {
        match self {
            Stack::Untraced => None,
            Stack::OursDisabled => Some(None),
            // Every root unsampled, decided from its trace id like any fractional ratio.
            Stack::OursUnsampled => Some(Some(1e-12)),
            Stack::Ours10 => Some(Some(0.1)),
            Stack::Ours100 | Stack::RawSdk | Stack::TowerHttp => Some(Some(1.0)),
        }
    }

    /// One load slice of this stack.
    fn slice(
        self,
        runtime: &tokio::runtime::Runtime,
        settings: &Settings,
        export: Option<&BenchExport>,
        totals: &mut Totals,
    ) {
        let received_before = export.map(BenchExport::received);
        let receiver_cpu_before = export.map(BenchExport::receiver_cpu);
        let tracing = Tracing::start(self, export.map(BenchExport::endpoint));
        let hello = hello::<Incoming>;
        runtime.block_on(async {
            match self {
                Stack::Untraced => {
                    let stack = ServiceBuilder::new()
                        .layer(Identity::new())
                        .service_fn(hello);
                    load(settings, stack, None, totals).await;
                }
                Stack::OursDisabled | Stack::OursUnsampled | Stack::Ours10 | Stack::Ours100 => {
                    let stack = ServiceBuilder::new()
                        .layer(HttpServerLayer::new())
                        .service_fn(hello);
                    load(settings, stack, None, totals).await;
                }
                Stack::RawSdk => {
                    let stack = ServiceBuilder::new()
                        .layer(RawSdkLayer::new())
                        .service_fn(hello);
                    load(settings, stack, None, totals).await;
                }
                Stack::TowerHttp => {
                    let stack = ServiceBuilder::new()
                        .layer(tower_http::trace::TraceLayer::new_for_http())
                        .service_fn(hello);
                    load(settings, stack, Some(tracing_dispatch()), totals).await;
                }
            }
        });
        let delivered = tracing.finish();
        if let (Some(export), Some(before)) = (export, received_before) {
            totals.spans_ended += delivered.ended;
            totals.spans_received += export.received() - before;
            totals.receiver_cpu += export
                .receiver_cpu()
                .saturating_sub(receiver_cpu_before.unwrap_or_default());
            totals.export_errors.extend(delivered.error);
        }
    }

    /// One direct-call measurement of this stack (see [`direct`]).
    fn direct(self, requests: usize, export: Option<&str>) -> Direct {
        let tracing = Tracing::start(self, export);
        let hello = hello::<Empty<Bytes>>;
        let figures = match self {
            Stack::Untraced => direct(ServiceBuilder::new().service_fn(hello), requests),
            Stack::OursDisabled | Stack::OursUnsampled | Stack::Ours10 | Stack::Ours100 => direct(
                ServiceBuilder::new()
                    .layer(HttpServerLayer::new())
                    .service_fn(hello),
                requests,
            ),
            Stack::RawSdk => direct(
                ServiceBuilder::new()
                    .layer(RawSdkLayer::new())
                    .service_fn(hello),
                requests,
            ),
            Stack::TowerHttp => tracing::dispatcher::with_default(&tracing_dispatch(), || {
                direct(
                    ServiceBuilder::new()
                        .layer(tower_http::trace::TraceLayer::new_for_http())
                        .service_fn(hello),
                    requests,
                )
            }),
        };
        tracing.finish();
        figures
    }
}

fn main() -> ExitCode {
    BenchExport::serve_if_receiver();
    let settings = Settings::from_env();
    println!(
        "http_load: direct calls: {} rounds of {} requests per stack; load test: {} \
         connections, {} rounds of {:?} per stack; stacks interleaved; hyper hello world",
        settings.direct_rounds,
        settings.direct_requests,
        settings.connections,
        settings.rounds,
        settings.slice
    );
    let export = BenchExport::start_unless_off("http_load");
    if export.is_some() {
        println!(
            "http_load: ours exports through trace-core's batch pipeline, the raw-SDK and \
             tower-http stacks through the SDK's BatchSpanProcessor + opentelemetry-otlp"
        );
    } else {
        println!("http_load: every traced stack has one trace-core provider with no exporter");
    }
    // Interleaved rounds: a burst of load from elsewhere on the machine hits every
    // stack alike instead of whichever happened to run then.
    let mut direct_ns: Vec<Vec<f64>> = STACKS.iter().map(|_| Vec::new()).collect();
    let mut allocations: Vec<Vec<f64>> = STACKS.iter().map(|_| Vec::new()).collect();
    for _ in 0..settings.direct_rounds {
        for (index, stack) in STACKS.iter().enumerate() {
            if settings
                .only
                .as_deref()
                .is_some_and(|only| only != stack.name())
            {
                continue;
            }
            let figures = stack.direct(
                settings.direct_requests,
                export.as_ref().map(BenchExport::endpoint),
            );
            direct_ns[index].push(figures.ns);
            allocations[index].push(figures.allocations);
        }
    }
    let mut totals: Vec<Totals> = STACKS.iter().map(|_| Totals::default()).collect();
    if !settings.direct_only {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        for _ in 0..settings.rounds {
            for (stack, totals) in STACKS.iter().zip(totals.iter_mut()) {
                stack.slice(&runtime, &settings, export.as_ref(), totals);
            }
        }
    }
    let results: Vec<Measured> = STACKS
        .iter()
        .zip(totals)
        .zip(direct_ns.into_iter().zip(allocations))
        .map(|((stack, mut totals), (direct_ns, allocations))| {
            totals.latencies.sort_unstable();
            let requests = totals.latencies.len().max(1);
            Measured {
                name: stack.name(),
                requests_per_second: requests as f64 / totals.elapsed.as_secs_f64(),
                round_rates: std::mem::take(&mut totals.round_rates),
                p99: totals
                    .latencies
                    .get(requests * 99 / 100)
                    .or(totals.latencies.last())
                    .copied()
                    .unwrap_or_default(),
                cpu_per_request: totals.cpu / u32::try_from(requests).unwrap_or(u32::MAX),
                direct_ns: median(direct_ns),
                allocations: median(allocations),
                spans_ended: totals.spans_ended,
                spans_received: totals.spans_received,
                receiver_cpu: totals.receiver_cpu,
                export_errors: totals.export_errors,
            }
        })
        .collect();
    report(&results, export.is_some());
    ExitCode::SUCCESS
}

/// The receiver's CPU per span it received while `result`'s stack ran.
fn receiver_us_per_span(result: &Measured) -> f64 {
    result.receiver_cpu.as_secs_f64() * 1e6 / result.spans_received.max(1) as f64
}

fn report(results: &[Measured], export: bool) {
    let untraced = &results[0];
    let find = |name: &str| results.iter().find(|r| r.name == name).unwrap();
    println!();
    trace_bench_support::print_machine(false);
    println!("direct calls (no sockets, one thread, nothing waits; median of rounds):");
    println!(
        "{:<26} {:>12} {:>10} {:>11}",
        "stack", "ns/req", "+ns", "allocs/req"
    );
    for result in results {
        println!(
            "{:<26} {:>12.0} {:>+10.0} {:>11.1}",
            result.name,
            result.direct_ns,
            result.direct_ns - untraced.direct_ns,
            result.allocations
        );
    }
    let load_measured = untraced.requests_per_second.is_finite();
    let cpu_us = |result: &Measured| result.cpu_per_request.as_secs_f64() * 1e6;
    // The median over rounds of each round's ratio: a burst of load from elsewhere hits
    // one round's slices, not the whole run's totals.
    let ratio = |name: &str| {
        let rounds = find(name).round_rates.iter().zip(&untraced.round_rates);
        median(rounds.map(|(rate, base)| rate / base).collect())
    };
    if load_measured {
        println!();
        println!(
            "load test (ratio: median over rounds of same-round req/s ratios; cpu: this \
             process's CPU time, server and load generator):"
        );
        println!(
            "{:<26} {:>9} {:>9} {:>8} {:>11} {:>10}",
            "stack", "req/s", "p99", "ratio", "cpu us/req", "+cpu us"
        );
        for result in results {
            println!(
                "{:<26} {:>9.0} {:>7.0}us {:>7.3}x {:>11.2} {:>+10.2}",
                result.name,
                result.requests_per_second,
                result.p99.as_secs_f64() * 1e6,
                ratio(result.name),
                cpu_us(result),
                cpu_us(result) - cpu_us(untraced),
            );
        }
    }
    if load_measured && export {
        println!();
        println!(
            "spans over the load test (ended: handed to the export pipeline, trace-core's count \
             or one kept beside the SDK's batch processor; received: counted by the receiver; \
             receiver cpu: its process's CPU per span received, on the same two cores):"
        );
        println!(
            "{:<26} {:>10} {:>10} {:>8} {:>17}",
            "stack", "ended", "received", "lost", "receiver us/span"
        );
        for result in results.iter().filter(|r| r.spans_ended > 0) {
            println!(
                "{:<26} {:>10} {:>10} {:>8} {:>17.2}",
                result.name,
                result.spans_ended,
                result.spans_received,
                result.spans_ended as i64 - result.spans_received as i64,
                receiver_us_per_span(result)
            );
            for error in &result.export_errors {
                println!("  {error}");
            }
        }
    }
    let extra_allocs = |name: &str| find(name).allocations - untraced.allocations;
    let extra_ns = |name: &str| find(name).direct_ns - untraced.direct_ns;
    let check = |ok: bool| if ok { "PASS" } else { "MISS" };
    println!();
    println!("targets:");
    println!(
        "  disabled allocates nothing extra ......... {} ({:+.1})",
        check(extra_allocs("ours disabled") <= 0.0),
        extra_allocs("ours disabled")
    );
    println!(
        "  unsampled root allocates <= 1 extra ...... {} ({:+.1}: the span's context; the \
         configured sampler drops the root before its attributes are built)",
        check(extra_allocs("ours unsampled") <= 1.0),
        extra_allocs("ours unsampled")
    );
    println!(
        "  100% costs <= +0.5 us per request ......... {} ({:+.2} us, direct)",
        check(extra_ns("ours 100%") <= 500.0),
        extra_ns("ours 100%") / 1e3
    );
    let versus = |name: &str| extra_ns(name) / extra_ns("ours 100%").max(1.0);
    println!(
        "  100% costs 1/1.4 of tower-http + otel ..... {} ({:.2}x less, direct)",
        check(versus("tower-http + tracing-otel") >= 1.4),
        versus("tower-http + tracing-otel")
    );
    println!(
        "  info: the naive raw-SDK layer costs {:.2}x what ours does at 100% (direct)",
        versus("naive raw SDK")
    );
    if !load_measured {
        return;
    }
    println!(
        "  disabled >= 0.98x untraced ................ {} ({:.3}x, load)",
        check(ratio("ours disabled") >= 0.98),
        ratio("ours disabled")
    );
    println!(
        "  unsampled >= 0.98x untraced ............... {} ({:.3}x, load)",
        check(ratio("ours unsampled") >= 0.98),
        ratio("ours unsampled")
    );
    println!(
        "  info: 10% sampled runs at {:.3}x untraced (load)",
        ratio("ours 10%")
    );
    println!(
        "  100% >= 0.90x untraced .................... {} ({:.3}x, load)",
        check(ratio("ours 100%") >= 0.90),
        ratio("ours 100%")
    );
    if export {
        // The two cores run the server, the load generator and the receiver: when they
        // are the limit, req/s goes as the inverse of the machine's CPU per request.
        // At 100% every request ends one span.
        let ours = find("ours 100%");
        let receiver_us = receiver_us_per_span(ours);
        println!(
            "  info: CPU per request at 100%: this process {:.2} us (untraced {:.2}) + the \
             receiver {receiver_us:.2} us; bound by CPU, that is {:.3}x untraced, and {:.3}x \
             with the receiver's share elsewhere",
            cpu_us(ours),
            cpu_us(untraced),
            cpu_us(untraced) / (cpu_us(ours) + receiver_us),
            cpu_us(untraced) / cpu_us(ours)
        );
    }
    let extra_cpu = |name: &str| cpu_us(find(name)) - cpu_us(untraced);
    let cpu_share = extra_cpu("ours 100%") / extra_cpu("tower-http + tracing-otel");
    if export {
        println!(
            "  100% adds <= 1/4 the CPU per request of tower-http + tracing-otel .... {} \
             ({cpu_share:.2}x: {:+.2} us against {:+.2} us, load, export threads included)",
            check(cpu_share <= 0.25),
            extra_cpu("ours 100%"),
            extra_cpu("tower-http + tracing-otel")
        );
        let ours = results.iter().filter(|r| r.name.starts_with("ours"));
        let (ended, received) = ours.fold((0, 0), |(e, r), m| {
            (e + m.spans_ended, r + m.spans_received)
        });
        println!(
            "  0 spans lost (ours, every sampled span received) .......... {} ({} of {ended})",
            check(ended > 0 && ended == received),
            ended as i64 - received as i64
        );
    } else {
        println!(
            "  info: 100% adds {cpu_share:.2}x the CPU per request that tower-http + \
             tracing-otel adds (load; the <= 0.25x target is judged with export on)"
        );
    }
    let tower_http = ratio("tower-http + tracing-otel");
    println!(
        "  100% >= 1.4x tower-http + tracing-otel .... {} ({:.2}x req/s, load; untraced \
         itself is {:.2}x here)",
        check(ratio("ours 100%") / tower_http >= 1.4),
        ratio("ours 100%") / tower_http,
        1.0 / tower_http
    );
}

/// A first-attempt tower layer on the raw OpenTelemetry API.
#[derive(Clone)]
struct RawSdkLayer {
    tracer: std::sync::Arc<BoxedTracer>,
}

impl RawSdkLayer {
    fn new() -> Self {
        Self {
            tracer: std::sync::Arc::new(global::tracer("naive-raw-sdk")),
        }
    }
}

impl<S> Layer<S> for RawSdkLayer {
    type Service = RawSdkService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RawSdkService {
            inner,
            tracer: self.tracer.clone(),
        }
    }
}

#[derive(Clone)]
struct RawSdkService<S> {
    inner: S,
    tracer: std::sync::Arc<BoxedTracer>,
}

impl<S, B, RB> Service<Request<B>> for RawSdkService<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let parent = global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        let span = self
            .tracer
            .span_builder(format!("{} {}", request.method(), request.uri().path()))
            .with_kind(SpanKind::Server)
            .with_attributes(vec![
                KeyValue::new("http.request.method", request.method().to_string()),
                KeyValue::new("url.path", request.uri().path().to_owned()),
                KeyValue::new("url.scheme", "http"),
            ])
            .start_with_context(&*self.tracer, &parent);
        let cx = parent.with_span(span);
        let future = self.inner.call(request).with_context(cx.clone());
        Box::pin(async move {
            let result = future.await;
            if let Ok(response) = &result {
                cx.span().set_attribute(KeyValue::new(
                    "http.response.status_code",
                    i64::from(response.status().as_u16()),
                ));
            }
            cx.span().end();
            result
        })
    }
}
