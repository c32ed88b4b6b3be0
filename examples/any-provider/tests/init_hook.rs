//! `trace_core::init` with a span processor and a sampler of the service's own, added
//! through `TracingBuilder`: the processor sees every span start and end, and the
//! sampler decides every root, with the attributes the HTTP layer gives it.

mod support;

use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, ParentBasedSampler, SamplingDecision, SamplingResult, ShouldSample,
    SimpleSpanProcessor,
};
use support::{Services, StartRecorder, fragments, outline, wait_for_spans};
use trace_core::config::ExporterKind;
use trace_core::{Config, TracingBuilder};

/// Samples the roots whose `url.path` ends in an odd digit, and remembers every root it
/// was asked about.
#[derive(Debug, Clone, Default)]
struct OddOrders(Arc<Mutex<Vec<String>>>);

impl ShouldSample for OddOrders {
    fn should_sample(
        &self,
        _parent: Option<&Context>,
        _trace_id: TraceId,
        name: &str,
        _kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let path = attributes
            .iter()
            .find(|kv| kv.key.as_str() == "url.path")
            .map(|kv| kv.value.as_str().into_owned())
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{name} {path}"));
        let odd = path
            .bytes()
            .last()
            .is_some_and(|digit| (digit - b'0') % 2 == 1);
        SamplingResult {
            decision: if odd {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_and_a_sampler_added_to_init_see_every_span_and_decide_every_root() {
    let exporter = InMemorySpanExporter::default();
    let starts = StartRecorder::default();
    let sampler = OddOrders::default();
    let config = Config {
        service_name: Some("orders".into()),
        exporters: vec![ExporterKind::None],
        ..Config::default()
    };
    let guard = TracingBuilder::new(&config)
        .with_span_processor(starts.clone())
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .with_sampler(ParentBasedSampler::new(sampler.clone()))
        .init()
        .expect("tracing starts");
    assert!(
        guard
            .summary()
            .contains("custom=[span processor StartRecorder"),
        "{}",
        guard.summary()
    );

    let services = Services::start(None).await;
    for id in 1..=10 {
        services.order(id, None).await;
    }
    // Five sampled requests: the front server span, its client span, the downstream
    // server span.
    let spans = wait_for_spans(&exporter, 15, |_| true).await;
    guard.shutdown().expect("tracing stops");

    let asked = sampler
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let expected: Vec<String> = (1..=10)
        .map(|id| format!("GET /orders/{{id}} /orders/{id}"))
        .collect();
    assert_eq!(
        asked, expected,
        "the sampler decides each root, and only roots"
    );
    assert_eq!(spans.len(), 15, "{}", outline(&spans));
    assert_eq!(fragments(&spans), (5, 0), "{}", outline(&spans));
    let started = starts.started();
    assert_eq!(started.len(), 15, "on_start for each recording span");
    for span in &spans {
        assert!(started.contains(&span.span_context.span_id()));
    }
    // The dropped roots' downstream calls carried their unsampled decision along.
    let seen = services.seen.traceparents();
    assert_eq!(seen.len(), 10);
    for (id, traceparent) in (1..=10).zip(seen) {
        let traceparent = traceparent.expect("every call carries a traceparent");
        let flags = if id % 2 == 1 { "-01" } else { "-00" };
        assert!(traceparent.ends_with(flags), "order {id}: {traceparent}");
    }
}
