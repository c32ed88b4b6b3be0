//! The pipelines under test, each a span processor a provider gets: the no-op reference,
//! the SDK's batch processor with opentelemetry-otlp, and ours (trace-core's batch
//! pipeline, [`ours`]); and [`TimedOnEnd`], which times `on_end` around any of
//! them.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Span, SpanData, SpanProcessor};
use serde::{Deserialize, Serialize};
use trace_bench_support::CountAndDrop;
use trace_core::Config;
use trace_core::export::OtlpBatchProcessor;

use crate::histogram::AtomicHistogram;

/// Which pipeline a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PipelineKind {
    /// `CountAndDrop`: the producer's cost with no export at all, the reference for
    /// `on_end`'s share of the producer's CPU.
    Noop,
    /// `BatchSpanProcessor` + opentelemetry-otlp's `SpanExporter`, default settings.
    Sdk,
    /// trace-core's batch pipeline, default settings ([`ours`]).
    Ours,
}

impl PipelineKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            PipelineKind::Noop => "no-op",
            PipelineKind::Sdk => "SDK",
            PipelineKind::Ours => "ours",
        }
    }
}

/// The OTLP transport a run exports over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Protocol {
    /// OTLP/HTTP with protobuf bodies (opentelemetry-otlp: its blocking reqwest client).
    HttpProtobuf,
    /// OTLP/gRPC (opentelemetry-otlp: tonic).
    Grpc,
}

impl Protocol {
    pub(crate) const ALL: [Protocol; 2] = [Protocol::HttpProtobuf, Protocol::Grpc];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::Grpc => "grpc",
        }
    }

    /// The signal's endpoint on a receiver listening on these ports.
    pub(crate) fn endpoint(self, grpc_port: u16, http_port: u16) -> String {
        match self {
            Protocol::HttpProtobuf => format!("http://127.0.0.1:{http_port}/v1/traces"),
            Protocol::Grpc => format!("http://127.0.0.1:{grpc_port}"),
        }
    }
}

/// A pipeline under test: the processor the provider gets, and the processor's own count of
/// the spans it dropped, where it keeps one (read after shutdown).
pub(crate) struct Pipeline {
    pub(crate) processor: Box<dyn SpanProcessor>,
    pub(crate) dropped: Option<Box<dyn Fn() -> u64>>,
}

/// trace-core's batch export pipeline ([`OtlpBatchProcessor`]) with its default settings,
/// exporting to `endpoint` over `protocol`. `dropped` reads its own count of the spans it
/// did not deliver (dropped on a full queue, failed or left unsent), which the report
/// checks against ended - received. It starts its own export thread (`trace-rs-export`),
/// counted as a pipeline thread. `endpoint` is the signal's URL:
/// `http://127.0.0.1:PORT/v1/traces` for http/protobuf, `http://127.0.0.1:PORT` for gRPC.
fn ours(protocol: Protocol, endpoint: &str) -> Result<Pipeline, String> {
    let config = Config {
        traces_endpoint: Some(endpoint.to_owned()),
        protocol: match protocol {
            Protocol::HttpProtobuf => trace_core::config::Protocol::HttpProtobuf,
            Protocol::Grpc => trace_core::config::Protocol::Grpc,
        },
        ..Config::default()
    };
    let processor = OtlpBatchProcessor::from_config(&config)
        .map_err(|e| format!("ours over {}: {e}", protocol.name()))?;
    let status = processor.status();
    Ok(Pipeline {
        processor: Box::new(processor),
        dropped: Some(Box::new(move || status.report().lost())),
    })
}

/// The pipeline `kind` exporting to `endpoint`.
pub(crate) fn build(
    kind: PipelineKind,
    protocol: Protocol,
    endpoint: &str,
) -> Result<Pipeline, String> {
    match kind {
        PipelineKind::Noop => Ok(Pipeline {
            processor: Box::new(CountAndDrop::new()),
            dropped: None,
        }),
        PipelineKind::Sdk => sdk(protocol, endpoint),
        PipelineKind::Ours => ours(protocol, endpoint),
    }
}

/// The SDK's `BatchSpanProcessor` (2048-span queue, 512-span batches, 5 s delay, one export
/// at a time) over opentelemetry-otlp's exporter, both with their default settings. It
/// counts its drops but only logs them at shutdown, so `dropped` is `None`.
fn sdk(protocol: Protocol, endpoint: &str) -> Result<Pipeline, String> {
    // The workspace builds reqwest without a TLS crypto provider (ring only, installed by
    // whoever builds a client): its blocking client will not start without one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = opentelemetry_otlp::SpanExporter::builder();
    let exporter = match protocol {
        Protocol::HttpProtobuf => builder
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build(),
        Protocol::Grpc => builder.with_tonic().with_endpoint(endpoint).build(),
    }
    .map_err(|e| format!("the SDK's {} exporter: {e}", protocol.name()))?;
    Ok(Pipeline {
        processor: Box::new(BatchSpanProcessor::builder(exporter).build()),
        dropped: None,
    })
}

/// Time one `on_end` call in this many (per thread).
pub(crate) const ON_END_SAMPLE_EVERY: u64 = 16;
/// Which call of each [`ON_END_SAMPLE_EVERY`] is timed: half a period away from the spans
/// whose `end()` the producer times (its span counter runs in step with this per-thread
/// count), so neither timing contains the other's clock reads.
const ON_END_SAMPLE_OFFSET: u64 = ON_END_SAMPLE_EVERY / 2;

thread_local! {
    static ON_END_CALLS: Cell<u64> = const { Cell::new(0) };
}

/// The latencies a run times on its producer threads, recorded only while the window is
/// measured.
#[derive(Debug, Default)]
pub(crate) struct Timings {
    pub(crate) measuring: AtomicBool,
    /// The processor's `on_end`, one call in [`ON_END_SAMPLE_EVERY`].
    pub(crate) on_end: AtomicHistogram,
    /// `span.end()`, `on_end` included, on other spans than those.
    pub(crate) end: AtomicHistogram,
}

/// Forwards everything to the processor under test, timing one `on_end` in
/// [`ON_END_SAMPLE_EVERY`] on the calling (producer) thread.
#[derive(Debug)]
pub(crate) struct TimedOnEnd {
    inner: Box<dyn SpanProcessor>,
    timings: Arc<Timings>,
}

impl TimedOnEnd {
    pub(crate) fn new(inner: Box<dyn SpanProcessor>, timings: Arc<Timings>) -> Self {
        Self { inner, timings }
    }
}

impl SpanProcessor for TimedOnEnd {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let call = ON_END_CALLS.with(|calls| {
            let call = calls.get();
            calls.set(call + 1);
            call
        });
        if call % ON_END_SAMPLE_EVERY != ON_END_SAMPLE_OFFSET
            || !self.timings.measuring.load(Ordering::Relaxed)
        {
            self.inner.on_end(span);
            return;
        }
        let start = Instant::now();
        self.inner.on_end(span);
        self.timings
            .on_end
            .record(start.elapsed().as_nanos() as u64);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
