//! A failed export is logged with the endpoint and the cause a person can act on:
//! connection refused, timed out, TLS, or the HTTP status the collector answered with.

mod support;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use opentelemetry::trace::SpanKind;
use support::{closed_port, hanging_listener};
use trace_core::config::{BatchConfig, ExporterKind, Protocol};
use trace_core::{Config, ScopedTracer, SpanStart};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

static TRACER: ScopedTracer = ScopedTracer::new("export-errors-test", "0.0.0");

/// `init` installs process-wide state, and the capture is shared: tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

/// `trace_core` warnings logged by any thread (exports run on the batch processor's).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target() == "trace_core" && *meta.level() == tracing::Level::WARN {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(capture.clone()),
        )
        .expect("no other global subscriber in this test binary");
        capture
    })
}

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts tracing to `endpoint`, ends one span, flushes, and returns the export
/// warnings logged meanwhile.
fn export_warnings(protocol: Protocol, endpoint: String) -> Vec<String> {
    let capture = capture();
    capture.0.lock().unwrap().clear();
    let config = Config {
        service_name: Some("export-errors".into()),
        exporters: vec![ExporterKind::Otlp],
        protocol,
        endpoint: Some(endpoint),
        timeout_ms: 300,
        shutdown_timeout_ms: 3_000,
        batch: BatchConfig {
            // Only the explicit flush exports.
            scheduled_delay_ms: 60_000,
            // One attempt: no time is left for a retry (at least 500 ms away).
            export_timeout_ms: 400,
            ..Default::default()
        },
        ..Default::default()
    };
    let guard = trace_core::init(&config).expect("init does not need the collector");
    TRACER
        .start(SpanKind::Internal, || SpanStart::new("work"))
        .end();
    let flushed = guard.force_flush();
    assert!(flushed.is_err(), "the export cannot succeed");
    let report = guard.report();
    assert_eq!((report.exported, report.failed), (0, 1), "{report:?}");
    let _ = guard.shutdown();
    let warnings = capture.0.lock().unwrap().clone();
    warnings
        .into_iter()
        .filter(|message| message.starts_with("span export to "))
        .collect()
}

/// A tiny HTTP server that reads each request and answers `503 Service Unavailable`.
fn unavailable_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer_503(stream));
        }
    });
    port
}

fn answer_503(mut stream: TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut buffer) else {
            return;
        };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buffer[..n]);
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        if request.len() >= end + 4 + length {
            break;
        }
    }
    let _ = stream.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
}

/// A plain-text HTTP server that answers whatever arrives (a TLS ClientHello too) with
/// `400 Bad Request`, as a collector without TLS does.
fn plain_text_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                if matches!(stream.read(&mut buffer), Ok(n) if n > 0) {
                    let _ = stream.write_all(
                        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                }
            });
        }
    });
    port
}

#[test]
fn a_refused_connection_is_named_with_the_endpoint() {
    let _serial = serial();
    let port = closed_port();
    assert_eq!(
        export_warnings(Protocol::HttpProtobuf, format!("http://127.0.0.1:{port}")),
        [format!(
            "span export to http://127.0.0.1:{port}/v1/traces (otlp http/protobuf) failed: \
             connection refused"
        )]
    );
}

#[test]
fn a_collector_that_never_answers_is_a_timeout() {
    let _serial = serial();
    let port = hanging_listener();
    assert_eq!(
        export_warnings(Protocol::HttpJson, format!("http://127.0.0.1:{port}")),
        [format!(
            "span export to http://127.0.0.1:{port}/v1/traces (otlp http/json) failed: \
             timed out after 300 ms"
        )]
    );
}

#[test]
fn an_error_status_is_named_with_its_code() {
    let _serial = serial();
    let port = unavailable_server();
    assert_eq!(
        export_warnings(Protocol::HttpProtobuf, format!("http://127.0.0.1:{port}")),
        [format!(
            "span export to http://127.0.0.1:{port}/v1/traces (otlp http/protobuf) failed: \
             HTTP status 503 Service Unavailable"
        )]
    );
}

#[test]
fn tls_to_a_plain_text_collector_is_a_tls_failure() {
    let _serial = serial();
    let port = plain_text_server();
    assert_eq!(
        export_warnings(Protocol::HttpProtobuf, format!("https://127.0.0.1:{port}")),
        [format!(
            "span export to https://127.0.0.1:{port}/v1/traces (otlp http/protobuf) failed: \
             TLS handshake failed: received corrupt message of type InvalidContentType"
        )]
    );
}

#[test]
fn grpc_failures_name_the_endpoint_and_cause_too() {
    let _serial = serial();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let port = closed_port();
        assert_eq!(
            export_warnings(Protocol::Grpc, format!("http://127.0.0.1:{port}")),
            [format!(
                "span export to http://127.0.0.1:{port} (otlp grpc) failed: connection refused"
            )]
        );
        let port = plain_text_server();
        assert_eq!(
            export_warnings(Protocol::Grpc, format!("https://127.0.0.1:{port}")),
            [format!(
                "span export to https://127.0.0.1:{port} (otlp grpc) failed: \
                 TLS handshake failed: received corrupt message of type InvalidContentType"
            )]
        );
        let port = hanging_listener();
        assert_eq!(
            export_warnings(Protocol::Grpc, format!("http://127.0.0.1:{port}")),
            [format!(
                "span export to http://127.0.0.1:{port} (otlp grpc) failed: timed out after 300 ms"
            )]
        );
    });
}

#[test]
fn a_full_queue_is_warned_about_with_the_endpoint() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use trace_core::export::OtlpBatchProcessor;

    let _serial = serial();
    let capture = capture();
    capture.0.lock().unwrap().clear();
    let port = hanging_listener();
    let config = Config {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        timeout_ms: 60_000,
        batch: BatchConfig {
            max_queue_size: 300,
            max_export_batch_size: 100,
            scheduled_delay_ms: 60_000,
            export_timeout_ms: 60_000,
            max_concurrent_exports: 1,
        },
        ..Default::default()
    };
    let processor = OtlpBatchProcessor::from_config(&config).unwrap();
    let status = processor.status();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("export-errors-test");
    let end = |count| (0..count).for_each(|_| tracer.in_span("work", |_| {}));
    // The first batch hangs in the only export slot; then the queue overflows.
    end(100);
    while status.queued() > 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    end(1_000);
    // The export thread looks for losses at least every second.
    std::thread::sleep(Duration::from_millis(1_500));
    let warnings = capture.0.lock().unwrap().clone();
    // One warning (the next may come 10 s later), with the drops seen when it was made.
    let [warning] = warnings.as_slice() else {
        panic!("{warnings:?}");
    };
    let dropped = warning
        .strip_prefix(&format!(
            "span export to http://127.0.0.1:{port}/v1/traces (otlp http/protobuf) cannot keep \
             up: "
        ))
        .and_then(|rest| rest.strip_suffix(" spans dropped because the queue was full (300 spans)"))
        .and_then(|count| count.parse::<u64>().ok());
    assert!(
        dropped.is_some_and(|count| (1..=700).contains(&count)),
        "{warning}"
    );
    let _ = provider.shutdown_with_timeout(Duration::from_millis(100));
}
