//! Emits a small nested trace and prints it as a waterfall; no collector needed.
//!
//! ```text
//! cargo run -p trace-core --example quickstart
//! ```
//!
//! Set `OTEL_EXPORTER_OTLP_ENDPOINT` (and `OTEL_TRACES_EXPORTER=otlp,console`) to send
//! the same trace to a collector as well.

use std::process::ExitCode;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use trace_core::config::{ConfigLoader, ExporterKind};
use trace_core::{Config, ScopedTracer, SpanStart};

static TRACER: ScopedTracer = ScopedTracer::new("quickstart", env!("CARGO_PKG_VERSION"));

#[tokio::main]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();

    // Defaults print to the console; the environment may override anything.
    let config = ConfigLoader::new()
        .defaults(Config {
            service_name: Some("quickstart".into()),
            exporters: vec![ExporterKind::Console],
            ..Config::default()
        })
        .load()?;
    let guard = trace_core::init(&config)?;

    let request = TRACER.start(SpanKind::Server, || {
        SpanStart::new("GET /orders/{id}").with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/orders/{id}"),
        ])
    });
    trace_core::in_context(request.context().clone(), handle_request()).await;
    request.set_attribute(KeyValue::new("http.response.status_code", 200));
    tracing::info!(
        trace_id = %request.span_context().trace_id(),
        "request handled"
    );
    request.end();

    let report = guard.shutdown()?;
    tracing::info!(spans = report.exported, "done");
    Ok(())
}

async fn handle_request() {
    let query = TRACER.start(SpanKind::Client, || {
        SpanStart::new("SELECT orders").with_attributes([
            KeyValue::new("db.system.name", "sqlite"),
            KeyValue::new("db.query.text", "SELECT * FROM orders WHERE id = ?"),
        ])
    });
    tokio::time::sleep(Duration::from_millis(3)).await;
    query.end();

    // Work on another task stays in the same trace.
    trace_core::spawn_in_current_context(async {
        let quote = TRACER.start(SpanKind::Internal, || {
            SpanStart::new("ability.pricing.quote").with_attributes([
                KeyValue::new("capability.name", "pricing"),
                KeyValue::new("capability.operation", "quote"),
            ])
        });
        tokio::time::sleep(Duration::from_millis(2)).await;
        quote.record_error("timeout", "pricing service did not answer in time");
        quote.end();
    })
    .await
    .expect("the task does not panic");
}
