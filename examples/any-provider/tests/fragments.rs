//! Parent-based ratio sampling across a service chain (front server -> client ->
//! downstream server, in one process): children follow the decision of their root, so
//! every exported span's parent is exported too, or is the remote caller. No fragments.

mod support;

use std::time::Duration;

use opentelemetry_sdk::trace::{
    InMemorySpanExporter, ParentBasedSampler, Sampler, ShouldSample, SimpleSpanProcessor,
};
use support::{Services, fragments, outline};
use trace_core::config::{ExporterKind, SamplerKind};
use trace_core::{Config, TracingBuilder};

const REQUESTS: u32 = 200;

/// Tests here replace the global provider: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Sends `REQUESTS` requests without a caller through a service sampling with
/// `sampler` (the configured one when `None`); returns (traces, fragments, spans).
async fn chain(config: &Config, sampler: Option<Box<dyn ShouldSample>>) -> (usize, usize, usize) {
    let exporter = InMemorySpanExporter::default();
    let mut builder =
        TracingBuilder::new(config).with_span_processor(SimpleSpanProcessor::new(exporter.clone()));
    if let Some(sampler) = sampler {
        builder = builder.with_sampler(sampler);
    }
    let guard = builder.init().expect("tracing starts");
    let services = Services::start(None).await;
    for id in 0..REQUESTS {
        services.order(id, None).await;
    }
    // The downstream span ends as its response body is sent, just after the caller
    // has the answer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let spans = exporter.get_finished_spans().expect("spans");
    guard.shutdown().expect("tracing stops");
    let (traces, broken) = fragments(&spans);
    println!(
        "{REQUESTS} requests: {traces} traces, {} spans, {broken} fragments",
        spans.len()
    );
    assert_eq!(broken, 0, "{}", outline(&spans));
    assert_eq!(
        spans.len(),
        traces * 3,
        "whole traces only:\n{}",
        outline(&spans)
    );
    // 200 draws at 0.1: outside 3..=50 has a probability far below 1e-6.
    assert!((3..=50).contains(&traces), "{traces} sampled traces");
    (traces, broken, spans.len())
}

fn config(sampler: SamplerKind) -> Config {
    Config {
        service_name: Some("orders".into()),
        exporters: vec![ExporterKind::None],
        sampler,
        sample_rate: 0.1,
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_parent_based_trace_id_ratio_leaves_no_fragments() {
    let _serial = SERIAL.lock().await;
    let sdk = ParentBasedSampler::new(Sampler::TraceIdRatioBased(0.1));
    chain(
        &config(SamplerKind::ParentBasedAlwaysOn),
        Some(Box::new(sdk)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_parent_based_probability_sampler_leaves_no_fragments() {
    let _serial = SERIAL.lock().await;
    chain(&config(SamplerKind::ParentBasedTraceIdRatio), None).await;
}
