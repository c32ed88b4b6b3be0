//! Collector faults, end to end, against the independent receiver: stopped for 5 s under
//! load, slow (1 s per request), answering 503 with `Retry-After`. In each, ending a span
//! stays as fast as with a healthy collector, memory stays bounded, spans are lost only
//! when the queue is full and every loss is counted, export resumes by itself, and
//! shutdown keeps its timeout.

mod support;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use support::{OtlpSink, SinkFaults, SinkProtocol};
use trace_core::Config;
use trace_core::config::{BatchConfig, Protocol};
use trace_core::export::{ExportStatus, OtlpBatchProcessor};

/// The fault tests take turns: they measure latency on a shared machine.
static SERIAL: Mutex<()> = Mutex::new(());

/// Spans ended per second: what the receiver decodes with room to spare.
const RATE: u32 = 1_500;
/// A queue small enough for a 5 s outage to overflow it.
const QUEUE: usize = 2_048;

/// What a load run saw on the thread that ended the spans.
struct Load {
    /// Span ids, with when each was ended (from the start of the run).
    ended: Vec<(String, Duration)>,
    /// How long each `span.end()` took.
    end_times: Vec<Duration>,
    /// The most spans the queue held at a sample.
    max_queued: usize,
    /// The most the resident memory grew over the run, in KiB.
    rss_growth_kib: u64,
}

impl Load {
    /// The 99th percentile of `span.end()` among the spans ended in `window`.
    fn p99(&self, window: std::ops::Range<Duration>) -> Duration {
        let mut times: Vec<Duration> = self
            .ended
            .iter()
            .zip(&self.end_times)
            .filter(|((_, at), _)| window.contains(at))
            .map(|(_, time)| *time)
            .collect();
        assert!(!times.is_empty(), "no span ended in {window:?}");
        times.sort();
        times[times.len() * 99 / 100]
    }
}

fn config(sink: &OtlpSink) -> Config {
    Config {
        service_name: Some("collector-faults".into()),
        endpoint: Some(sink.endpoint()),
        protocol: Protocol::HttpProtobuf,
        shutdown_timeout_ms: 20_000,
        batch: BatchConfig {
            max_queue_size: QUEUE,
            scheduled_delay_ms: 200,
            ..BatchConfig::default()
        },
        ..Config::default()
    }
}

fn provider(config: &Config) -> (SdkTracerProvider, ExportStatus) {
    let processor = OtlpBatchProcessor::from_config(config).expect("valid config");
    let status = processor.status();
    let provider = SdkTracerProvider::builder()
        .with_resource(trace_core::resource(config))
        .with_span_processor(processor)
        .build();
    (provider, status)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Ends HTTP-server-like spans at [`RATE`] per second until `done` says so, sampling the
/// queue and the resident memory meanwhile.
fn run_load(
    provider: &SdkTracerProvider,
    status: &ExportStatus,
    mut done: impl FnMut(Duration) -> bool,
) -> Load {
    let tracer = provider.tracer("collector-faults-test");
    let stop = AtomicBool::new(false);
    let max_queued = AtomicUsize::new(0);
    let rss_before = rss_kib();
    let max_rss = AtomicUsize::new(rss_before as usize);
    let mut ended = Vec::new();
    let mut end_times = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                max_queued.fetch_max(status.queued(), Ordering::Relaxed);
                max_rss.fetch_max(rss_kib() as usize, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let started = Instant::now();
        for index in 0.. {
            let due = started + Duration::from_secs(1) * index / RATE;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let elapsed = started.elapsed();
            if done(elapsed) {
                break;
            }
            let mut span = tracer
                .span_builder("GET /users/{id}")
                .with_kind(SpanKind::Server)
                .start(&tracer);
            span.set_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", "/users/{id}"),
                KeyValue::new("url.path", format!("/users/{index}")),
                KeyValue::new("url.scheme", "http"),
                KeyValue::new("server.address", "localhost"),
                KeyValue::new("server.port", 8080),
                KeyValue::new("http.response.status_code", 200),
                KeyValue::new("network.protocol.version", "1.1"),
            ]);
            if index % 10 == 0 {
                span.add_event("cache miss", vec![]);
            }
            let span_id = span.span_context().span_id().to_string();
            let before = Instant::now();
            span.end();
            end_times.push(before.elapsed());
            ended.push((span_id, elapsed));
        }
        stop.store(true, Ordering::Relaxed);
    });
    Load {
        ended,
        end_times,
        max_queued: max_queued.into_inner(),
        rss_growth_kib: (max_rss.into_inner() as u64).saturating_sub(rss_before),
    }
}

/// The receiver's spans, each once (a request retried after the receiver died may arrive
/// twice).
fn received_ids(sink: &OtlpSink) -> HashSet<String> {
    sink.spans()
        .iter()
        .map(|span| span.span_id().to_owned())
        .collect()
}

/// Checks what holds after any fault: memory bounded, every loss counted, the receiver
/// got what the processor says it exported, shutdown within its timeout.
fn check_accounting(
    provider: SdkTracerProvider,
    status: &ExportStatus,
    sink: &OtlpSink,
    load: &Load,
) {
    assert!(
        load.max_queued <= QUEUE,
        "the queue held {}",
        load.max_queued
    );
    assert!(
        load.rss_growth_kib < 64 * 1024,
        "resident memory grew by {} KiB",
        load.rss_growth_kib
    );
    let started = Instant::now();
    let _ = provider.shutdown_with_timeout(Duration::from_secs(3));
    assert!(
        started.elapsed() < Duration::from_millis(3_500),
        "shutdown took {:?}",
        started.elapsed()
    );
    let report = status.report();
    assert_eq!(report.ended, load.ended.len() as u64);
    let received = received_ids(sink);
    let ended: HashSet<&str> = load.ended.iter().map(|(id, _)| id.as_str()).collect();
    assert!(received.iter().all(|id| ended.contains(id.as_str())));
    // What the processor counts as exported arrived; a failed request may have arrived
    // too (the receiver died before answering).
    assert!(
        received.len() as u64 >= report.exported,
        "{report:?}: {}",
        received.len()
    );
    assert!(
        received.len() as u64 <= report.exported + report.failed,
        "{report:?}: {}",
        received.len()
    );
    eprintln!(
        "{report:?}; losses: {:?}; received {}; queue at most {}; rss +{} KiB",
        status.losses(),
        received.len(),
        load.max_queued,
        load.rss_growth_kib
    );
}

/// `span.end()` stays as fast as with a healthy collector: within noise of `healthy`.
fn assert_end_unchanged(load: &Load, healthy: Duration, faulty: std::ops::Range<Duration>) {
    let during = load.p99(faulty.clone());
    eprintln!("span.end() p99: healthy {healthy:?}, during the fault {during:?}");
    assert!(
        during <= healthy * 3 + Duration::from_micros(100),
        "span.end() p99 was {healthy:?} with a healthy collector, {during:?} during {faulty:?}"
    );
}

#[test]
fn a_collector_stopped_for_5_s_under_load() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(mut sink) = OtlpSink::start(SinkProtocol::Http) else {
        return;
    };
    let config = config(&sink);
    let (provider, status) = provider(&config);
    let (down_at, up_at) = (Duration::from_secs(2), Duration::from_secs(7));
    let mut phase = 0;
    let mut exported_at_restart = 0;
    let mut resumed_at = None;
    let load = run_load(&provider, &status, |elapsed| {
        // The receiver is stopped and started on the producer's thread, between two
        // spans, which the latency windows below leave out.
        if phase == 0 && elapsed >= down_at {
            sink.stop();
            phase = 1;
        } else if phase == 1 && elapsed >= up_at {
            sink.restart();
            exported_at_restart = status.report().exported;
            phase = 2;
        } else if phase == 2
            && resumed_at.is_none()
            && status.report().exported > exported_at_restart
        {
            resumed_at = Some(elapsed);
        }
        // Run on for a second once export resumed, at most 15 s after the restart.
        resumed_at.is_some_and(|at| elapsed > at + Duration::from_secs(1))
            || elapsed > up_at + Duration::from_secs(15)
    });
    let resumed_at = resumed_at.expect("export resumes by itself once the receiver is back");
    eprintln!("export resumed {:?} after the restart", resumed_at - up_at);
    let healthy = load.p99(Duration::from_millis(200)..down_at);
    assert_end_unchanged(
        &load,
        healthy,
        down_at + Duration::from_millis(100)..up_at - Duration::from_millis(100),
    );
    let outage = load
        .ended
        .iter()
        .filter(|(_, at)| (down_at..up_at).contains(at))
        .count();
    assert!(
        outage > QUEUE + 4 * 512,
        "{outage} spans during the outage overflow the queue and the 4 exports in flight"
    );
    provider.force_flush().ok();
    let report = status.report();
    assert!(report.dropped_queue_full > 0, "{report:?}");
    assert_eq!(report.unsent(), 0, "flushed: {report:?}");
    // Spans ended after export resumed arrived.
    let received = received_ids(&sink);
    let later: Vec<&String> = load
        .ended
        .iter()
        .filter(|(_, at)| *at > resumed_at + Duration::from_millis(500))
        .map(|(id, _)| id)
        .collect();
    assert!(!later.is_empty());
    assert!(later.iter().all(|id| received.contains(*id)));
    check_accounting(provider, &status, &sink, &load);
}

#[test]
fn a_collector_that_takes_1_s_per_request() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let faults = SinkFaults {
        delay: Duration::from_secs(1),
        ..SinkFaults::default()
    };
    let Some(sink) = OtlpSink::start_with(SinkProtocol::Http, faults) else {
        return;
    };
    let mut config = config(&sink);
    // 2 requests of at most 512 spans per second: slower than the spans come; the queue
    // overflows after about 4 s.
    config.batch.max_concurrent_exports = 2;
    let (provider, status) = provider(&config);
    let load = run_load(&provider, &status, |elapsed| {
        elapsed > Duration::from_secs(7)
    });
    let healthy = load.p99(Duration::from_millis(200)..Duration::from_millis(1_000));
    assert_end_unchanged(
        &load,
        healthy,
        Duration::from_secs(2)..Duration::from_secs(7),
    );
    let report = status.report();
    assert!(report.dropped_queue_full > 0, "{report:?}");
    check_accounting(provider, &status, &sink, &load);
    let report = status.report();
    assert_eq!(
        report.lost(),
        report.failed + report.dropped_queue_full + report.unsent()
    );
}

#[test]
fn a_collector_answering_503_with_retry_after() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let faults = SinkFaults {
        unavailable_first: 6,
        retry_after_secs: 1,
        ..SinkFaults::default()
    };
    let Some(sink) = OtlpSink::start_with(SinkProtocol::Http, faults) else {
        return;
    };
    let config = config(&sink);
    let (provider, status) = provider(&config);
    let load = run_load(&provider, &status, |elapsed| {
        elapsed > Duration::from_secs(4)
    });
    let healthy = load.p99(Duration::from_secs(3)..Duration::from_secs(4));
    assert_end_unchanged(&load, healthy, Duration::ZERO..Duration::from_secs(2));
    provider
        .force_flush()
        .expect("every span delivered after the retries");
    let report = status.report();
    assert_eq!(report.lost(), 0, "{report:?}");
    let unavailable = sink.requests().iter().filter(|r| r.status == 503).count();
    assert_eq!(unavailable, 6);
    // Each span once: a 503 is not a delivery.
    assert_eq!(sink.spans().len(), load.ended.len());
    check_accounting(provider, &status, &sink, &load);
}
