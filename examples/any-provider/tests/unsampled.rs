//! Unsampled requests: a non-recording span with a span context of its own, which
//! children and downstream services follow and log lines carry.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
use support::{Services, Work};
use trace_core::config::{ExporterKind, SamplerKind};
use trace_core::{Config, TracingBuilder, TracingGuard};
use tracing_subscriber::layer::SubscriberExt as _;

/// Tests here replace the global provider: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn start(sampler: SamplerKind) -> (TracingGuard, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let config = Config {
        service_name: Some("orders".into()),
        exporters: vec![ExporterKind::None],
        sampler,
        ..Config::default()
    };
    let guard = TracingBuilder::new(&config)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .init()
        .expect("tracing starts");
    (guard, exporter)
}

/// `(trace id, parent id, flags)` of a `traceparent`.
fn fields(traceparent: &str) -> (&str, &str, &str) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[0], "00", "{traceparent}");
    (parts[1], parts[2], parts[3])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_caller_is_followed_downstream_under_a_new_parent_id() {
    let _serial = SERIAL.lock().await;
    let (guard, exporter) = start(SamplerKind::ParentBasedAlwaysOn);
    let services = Services::start(None).await;
    services
        .order(1, Some(&format!("00-{CALLER_TRACE}-{CALLER_SPAN}-00")))
        .await;
    let seen = services.seen.traceparents();
    let sent = seen[0].as_deref().expect("a traceparent downstream");
    let (trace_id, parent_id, flags) = fields(sent);
    assert_eq!(trace_id, CALLER_TRACE);
    assert_ne!(parent_id, CALLER_SPAN, "the client span's own id");
    assert_ne!(parent_id, "0000000000000000");
    assert_eq!(flags, "00");
    assert!(exporter.get_finished_spans().unwrap().is_empty());
    guard.shutdown().expect("tracing stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_roots_send_a_valid_unsampled_traceparent_with_a_trace_id_of_their_own() {
    let _serial = SERIAL.lock().await;
    let (guard, exporter) = start(SamplerKind::AlwaysOff);
    let services = Services::start(None).await;
    for id in 0..5 {
        services.order(id, None).await;
    }
    let seen: Vec<String> = services
        .seen
        .traceparents()
        .into_iter()
        .map(|t| t.expect("a traceparent downstream"))
        .collect();
    let mut trace_ids: Vec<&str> = seen.iter().map(|t| fields(t).0).collect();
    for traceparent in &seen {
        let (trace_id, parent_id, flags) = fields(traceparent);
        assert_ne!(trace_id, "00000000000000000000000000000000");
        assert_ne!(parent_id, "0000000000000000");
        assert_eq!(flags, "00", "{traceparent}");
    }
    trace_ids.sort_unstable();
    trace_ids.dedup();
    assert_eq!(trace_ids.len(), 5, "a new trace id per request: {seen:?}");
    assert!(exporter.get_finished_spans().unwrap().is_empty());
    guard.shutdown().expect("tracing stops");
}

/// Collects the JSON lines trace-log writes.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_line_of_an_unsampled_request_carries_its_trace_id() {
    let _serial = SERIAL.lock().await;
    let (guard, _exporter) = start(SamplerKind::AlwaysOff);
    let lines = Lines::default();
    let writer = lines.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(trace_log::JsonFormat::new())
                .with_writer(move || writer.clone()),
        ),
    )
    .expect("no other global subscriber in this test process");
    let work: Work =
        Arc::new(|id| Box::pin(async move { tracing::info!(order.id = id, "handling order") }));
    let services = Services::start(Some(work)).await;
    services.order(7, None).await;

    let sent = services.seen.traceparents()[0]
        .clone()
        .expect("a traceparent downstream");
    let output = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let line: serde_json::Value = output
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .find(|line: &serde_json::Value| line["fields"]["message"] == "handling order")
        .unwrap_or_else(|| panic!("no line: {output}"));
    assert_eq!(line["trace_id"], fields(&sent).0, "{line}");
    assert_eq!(line["trace_flags"], "00", "{line}");
    assert!(line["span_id"].as_str().is_some_and(|id| id.len() == 16));
    guard.shutdown().expect("tracing stops");
}
