//! A provider the service built itself, handed to trace-core with `set_provider`:
//! trace-core's spans use its concrete SDK tracer (no boxing), and the service keeps
//! the provider's lifecycle. No `trace_core::init`.
//!
//! ```text
//! cargo run -p trace-core --example own_provider
//! ```

use std::process::ExitCode;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
use trace_core::export::ConsoleTreeExporter;
use trace_core::{ScopedTracer, SpanStart};

static TRACER: ScopedTracer = ScopedTracer::new("own-provider", env!("CARGO_PKG_VERSION"));

fn main() -> ExitCode {
    // The service's own setup: any exporter and processor the SDK takes.
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(ConsoleTreeExporter::new()).build())
        .build();
    // Global, for other instrumentation; handed over, for trace-core's concrete tracer.
    opentelemetry::global::set_tracer_provider(provider.clone());
    trace_core::set_provider(provider.clone());

    let request = TRACER.start(SpanKind::Server, || {
        SpanStart::new("GET /orders/{id}")
            .with_attribute(KeyValue::new("http.route", "/orders/{id}"))
    });
    TRACER
        .start_with_parent(request.context(), SpanKind::Client, || {
            SpanStart::new("SELECT orders")
        })
        .end();
    request.end();

    // The service shuts its provider down: the batch is exported then.
    match provider.shutdown() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("own_provider: shutting the provider down: {error}");
            ExitCode::FAILURE
        }
    }
}
