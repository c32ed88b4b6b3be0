//! A service that installs its own `SdkTracerProvider` globally and never calls
//! `trace_core::init`: every sibling's spans reach its provider through the
//! OpenTelemetry API, its processors see each `on_start`, and the spans nest under the
//! incoming trace.

mod support;

use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
use support::StartRecorder;
use support::siblings::{every_sibling_records_into, redis_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_siblings_spans_reach_the_global_provider_the_service_built() {
    let Some(redis_url) = redis_url() else {
        return;
    };
    let exporter = InMemorySpanExporter::default();
    let starts = StartRecorder::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(starts.clone())
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    every_sibling_records_into(&exporter, &starts, &redis_url).await;
    provider.shutdown().expect("the provider shuts down");
}
