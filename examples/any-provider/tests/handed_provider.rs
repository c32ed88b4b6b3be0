//! A service that builds its own `SdkTracerProvider` and hands it to trace-core with
//! `trace_core::set_provider` (the concrete SDK tracer, no boxing): every sibling's
//! spans reach it, its processors see each `on_start`, and the spans nest under the
//! incoming trace.

mod support;

use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
use support::StartRecorder;
use support::siblings::{every_sibling_records_into, redis_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_siblings_spans_reach_a_provider_handed_to_trace_core() {
    let Some(redis_url) = redis_url() else {
        return;
    };
    let exporter = InMemorySpanExporter::default();
    let starts = StartRecorder::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(starts.clone())
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build();
    // Not the global provider: trace-core's spans must still go to it.
    trace_core::set_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    every_sibling_records_into(&exporter, &starts, &redis_url).await;
    provider.shutdown().expect("the provider shuts down");
}
