//! Collector faults, end to end, against the independent receiver: stopped for 5 s under
//! load, slow (1 s per request), answering 503 with `Retry-After`. The load is HTTP
//! requests to a traced service (a server span ended per request, before the answer).
//! In each fault the service's request latency, and ending a span in it, stay as fast as
//! with a healthy collector, memory stays bounded, spans are lost only when the queue is
//! full and every loss is counted, export resumes by itself, and shutdown keeps its
//! timeout.

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use support::{OtlpSink, SinkFaults, SinkProtocol, pipeline_provider};
use trace_core::Config;
use trace_core::config::{BatchConfig, Protocol};
use trace_core::export::ExportStatus;

/// The fault tests take turns: they measure latency on a shared machine.
static SERIAL: Mutex<()> = Mutex::new(());

/// Spans ended per second: what the receiver decodes with room to spare.
const RATE: u32 = 1_500;
/// A queue small enough for a 5 s outage to overflow it.
const QUEUE: usize = 2_048;

/// What a load run saw: the traced service's spans and the latency of its requests.
struct Load {
    /// Span ids, with when each was ended (from the start of the run).
    ended: Vec<(String, Duration)>,
    /// How long each `span.end()` took on the service's thread.
    end_times: Vec<Duration>,
    /// Each request's latency as its client saw it, with when it was sent.
    requests: Vec<(Duration, Duration)>,
    /// The most spans the queue held at a sample.
    max_queued: usize,
    /// The most the resident memory grew over the run, in KiB.
    rss_growth_kib: u64,
}

impl Load {
    /// The 99th percentile of `span.end()` among the spans ended in `window`.
    fn end_p99(&self, window: Range<Duration>) -> Duration {
        let times = self
            .ended
            .iter()
            .zip(&self.end_times)
            .filter(|((_, at), _)| window.contains(at))
            .map(|(_, time)| *time);
        p99(times, &window)
    }

    /// The 99th percentile of the latency of requests sent in `window`.
    fn request_p99(&self, window: Range<Duration>) -> Duration {
        let times = self
            .requests
            .iter()
            .filter(|(at, _)| window.contains(at))
            .map(|(_, latency)| *latency);
        p99(times, &window)
    }
}

fn p99(times: impl Iterator<Item = Duration>, window: &Range<Duration>) -> Duration {
    let mut times: Vec<Duration> = times.collect();
    assert!(!times.is_empty(), "nothing in {window:?}");
    times.sort();
    times[times.len() * 99 / 100]
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

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Sends [`RATE`] requests per second over one keep-alive connection to a traced HTTP
/// service until `done` says so, sampling the export queue and the resident memory
/// meanwhile. The service (a thread answering HTTP/1.1) ends an HTTP server span per
/// request through `provider` before it answers.
fn run_load(
    provider: &SdkTracerProvider,
    status: &ExportStatus,
    mut done: impl FnMut(Duration) -> bool,
) -> Load {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    let stop = AtomicBool::new(false);
    let max_queued = AtomicUsize::new(0);
    let rss_before = rss_kib();
    let max_rss = AtomicUsize::new(rss_before as usize);
    let started = Instant::now();
    let mut requests = Vec::new();
    let (ended, end_times) = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                max_queued.fetch_max(status.queued(), Ordering::Relaxed);
                max_rss.fetch_max(rss_kib() as usize, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let service = scope.spawn(|| serve(&listener, provider, started));
        let mut client = TcpStream::connect(address).expect("the service accepts");
        client.set_nodelay(true).expect("TCP_NODELAY");
        let mut reader = BufReader::new(client.try_clone().expect("a second handle"));
        for index in 0_u32.. {
            let due = started + Duration::from_secs(1) * index / RATE;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let sent_at = started.elapsed();
            if done(sent_at) {
                break;
            }
            let before = Instant::now();
            write!(
                client,
                "GET /users/{index} HTTP/1.1\r\nHost: localhost\r\n\r\n"
            )
            .expect("the request is sent");
            read_response(&mut reader);
            requests.push((sent_at, before.elapsed()));
        }
        // Closing the connection ends the service's loop.
        client
            .shutdown(Shutdown::Both)
            .expect("the connection closes");
        stop.store(true, Ordering::Relaxed);
        service.join().expect("the service ran")
    });
    Load {
        ended,
        end_times,
        requests,
        max_queued: max_queued.into_inner(),
        rss_growth_kib: (max_rss.into_inner() as u64).saturating_sub(rss_before),
    }
}

/// The traced service: answers each request on one connection with `200 ok`, after
/// ending an HTTP server span for it; returns the spans' ids with when each ended, and
/// how long each `span.end()` took.
fn serve(
    listener: &TcpListener,
    provider: &SdkTracerProvider,
    started: Instant,
) -> (Vec<(String, Duration)>, Vec<Duration>) {
    let tracer = provider.tracer("collector-faults-test");
    let (stream, _) = listener.accept().expect("the client connects");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let mut writer = stream.try_clone().expect("a second handle");
    let mut reader = BufReader::new(stream);
    let (mut ended, mut end_times) = (Vec::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return (ended, end_times);
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        // The rest of the head, up to its blank line.
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {}
        let mut span = tracer
            .span_builder("GET /users/{id}")
            .with_kind(SpanKind::Server)
            .start(&tracer);
        span.set_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/users/{id}"),
            KeyValue::new("url.path", path),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("server.address", "localhost"),
            KeyValue::new("server.port", 8080),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("network.protocol.version", "1.1"),
        ]);
        if ended.len() % 10 == 0 {
            span.add_event("cache miss", vec![]);
        }
        let span_id = span.span_context().span_id().to_string();
        let before = Instant::now();
        span.end();
        end_times.push(before.elapsed());
        ended.push((span_id, started.elapsed()));
        writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .expect("the answer is sent");
    }
}

/// Reads one `200 ok` answer of [`serve`].
fn read_response(reader: &mut BufReader<TcpStream>) {
    let mut line = String::new();
    reader.read_line(&mut line).expect("an answer");
    assert!(line.starts_with("HTTP/1.1 200"), "answer: {line:?}");
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let mut body = [0; 2];
    reader.read_exact(&mut body).expect("the body");
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

/// The service's requests, and `span.end()` in it, stay as fast as with a healthy
/// collector: the p99s during the fault within noise of those in the `healthy` window.
fn assert_latency_unchanged(load: &Load, healthy: Range<Duration>, faulty: Range<Duration>) {
    let (request_healthy, request_during) = (
        load.request_p99(healthy.clone()),
        load.request_p99(faulty.clone()),
    );
    let (end_healthy, end_during) = (load.end_p99(healthy), load.end_p99(faulty.clone()));
    eprintln!(
        "p99 request latency: healthy {request_healthy:?}, during the fault \
         {request_during:?}; span.end(): healthy {end_healthy:?}, during {end_during:?}"
    );
    assert!(
        request_during <= request_healthy * 3 + Duration::from_micros(300),
        "request p99 was {request_healthy:?} with a healthy collector, {request_during:?} \
         during {faulty:?}"
    );
    assert!(
        end_during <= end_healthy * 3 + Duration::from_micros(100),
        "span.end() p99 was {end_healthy:?} with a healthy collector, {end_during:?} during \
         {faulty:?}"
    );
}

#[test]
fn a_collector_stopped_for_5_s_under_load() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(mut sink) = OtlpSink::start(SinkProtocol::Http) else {
        return;
    };
    let config = config(&sink);
    let (provider, status) = pipeline_provider(&config);
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
    assert_latency_unchanged(
        &load,
        Duration::from_millis(200)..down_at,
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
    let (provider, status) = pipeline_provider(&config);
    let load = run_load(&provider, &status, |elapsed| {
        elapsed > Duration::from_secs(7)
    });
    assert_latency_unchanged(
        &load,
        Duration::from_millis(200)..Duration::from_millis(1_000),
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
    let (provider, status) = pipeline_provider(&config);
    let load = run_load(&provider, &status, |elapsed| {
        elapsed > Duration::from_secs(4)
    });
    assert_latency_unchanged(
        &load,
        Duration::from_secs(3)..Duration::from_secs(4),
        Duration::ZERO..Duration::from_secs(2),
    );
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
