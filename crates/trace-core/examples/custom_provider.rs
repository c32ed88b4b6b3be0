//! `init` with a provider customised: a span processor and a sampler of the service's
//! own, added through `TracingBuilder`, beside the configured console exporter.
//!
//! ```text
//! cargo run -p trace-core --example custom_provider
//! ```
//!
//! The sampler keeps every trace but the health checks; the processor counts the spans
//! it sees start and end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    ParentBasedSampler, SamplingDecision, SamplingResult, ShouldSample, Span, SpanData,
    SpanProcessor,
};
use std::process::ExitCode;
use trace_core::config::ExporterKind;
use trace_core::{Config, ScopedTracer, SpanStart, TracingBuilder};

static TRACER: ScopedTracer = ScopedTracer::new("custom-provider", env!("CARGO_PKG_VERSION"));

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("custom_provider: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let counts = Counts::default();
    let config = Config {
        service_name: Some("custom-provider".into()),
        exporters: vec![ExporterKind::Console],
        ..Config::default()
    };
    let guard = TracingBuilder::new(&config)
        .with_span_processor(counts.clone())
        // Roots by the rule below, children as their parent decided.
        .with_sampler(ParentBasedSampler::new(SkipHealthChecks))
        .init()
        .map_err(|error| error.to_string())?;

    for route in ["/orders/{id}", "/healthz", "/orders/{id}"] {
        let request = TRACER.start(SpanKind::Server, || {
            SpanStart::new(format!("GET {route}"))
                .with_attribute(KeyValue::new("http.route", route))
        });
        TRACER
            .start_with_parent(request.context(), SpanKind::Client, || {
                SpanStart::new("SELECT orders")
            })
            .end();
        request.end();
    }

    guard.shutdown().map_err(|error| error.to_string())?;
    println!(
        "the service's processor saw {} spans start and {} end (the health check's two \
         were dropped by its sampler)",
        counts.started.load(Ordering::Relaxed),
        counts.ended.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Drops roots whose `http.route` is a health check; keeps every other root.
#[derive(Debug, Clone)]
struct SkipHealthChecks;

impl ShouldSample for SkipHealthChecks {
    fn should_sample(
        &self,
        _parent: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let health_check = attributes
            .iter()
            .any(|kv| kv.key.as_str() == "http.route" && kv.value.as_str() == "/healthz");
        SamplingResult {
            decision: if health_check {
                SamplingDecision::Drop
            } else {
                SamplingDecision::RecordAndSample
            },
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }
}

/// Counts `on_start` and `on_end` calls.
#[derive(Debug, Clone, Default)]
struct Counts {
    started: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
}

impl SpanProcessor for Counts {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    fn on_end(&self, _span: SpanData) {
        self.ended.fetch_add(1, Ordering::Relaxed);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
