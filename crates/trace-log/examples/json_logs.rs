//! JSON log lines next to the console tree of the spans they belong to.
//!
//! Run with `cargo run -p trace-log --example json_logs`. It serves one pretend
//! request: a SERVER span, a CLIENT query under it, an `#[instrument]` function and a
//! spawned task, each logging a line. The JSON lines come first, then the console tree
//! of the trace (whose first line shows the trace id), then the span id of each span,
//! so every line's `trace_id` and `span_id` can be matched by eye.

use std::process::ExitCode;
use std::sync::Mutex;

use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use trace_core::config::ExporterKind;
use trace_core::{Config, ScopedTracer, SpanStart};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

static TRACER: ScopedTracer = ScopedTracer::new("json-logs-example", env!("CARGO_PKG_VERSION"));

/// `(span name, span id)` of every span the example starts, printed at the end.
static SPAN_IDS: Mutex<Vec<(&str, String)>> = Mutex::new(Vec::new());

fn remember_current_span(name: &'static str) {
    let span_id = Context::map_current(|cx| cx.span().span_context().span_id().to_string());
    SPAN_IDS.lock().unwrap().push((name, span_id));
}

#[tracing::instrument]
fn quote_price(order_id: u64) -> u64 {
    remember_current_span("quote_price");
    tracing::info!(currency = "EUR", "price quoted");
    4_200
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("json_logs: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let guard = trace_core::init(&Config {
        service_name: Some("orders".into()),
        exporters: vec![ExporterKind::Console],
        ..Config::default()
    })?;
    tracing_subscriber::registry()
        .with(trace_core::tracing_bridge::layer())
        .with(trace_log::json_layer())
        .init();
    trace_log::LogTracer::init()?;

    println!("--- log lines ---");
    tracing::info!("service started (outside any trace: no ids)");

    let server = TRACER.start(SpanKind::Server, || SpanStart::new("GET /orders/{id}"));
    trace_core::in_context(server.context().clone(), async {
        remember_current_span("GET /orders/{id}");
        tracing::info!(order.id = 42, "request received");

        let query = TRACER.start(SpanKind::Client, || SpanStart::new("SELECT orders"));
        {
            let _active = query.context().clone().attach();
            remember_current_span("SELECT orders");
            log::debug!(target: "orders::db", "row \"42\" loaded via the log crate");
            log::warn!(target: "orders::db", "slow query: 120 ms");
        }
        query.end();

        quote_price(42);

        trace_core::spawn_in_current_context(async {
            tracing::info!("audit record queued from a spawned task");
        })
        .await
        .expect("audit task");
        tracing::info!(http.response.status_code = 200, "request answered");
    })
    .await;
    // The console exporter prints the tree when its root span ends.
    println!("--- console tree ---");
    server.end();
    guard.shutdown()?;

    println!("--- span ids ---");
    for (name, span_id) in SPAN_IDS.lock().unwrap().iter() {
        println!("{span_id}  {name}");
    }
    Ok(())
}
