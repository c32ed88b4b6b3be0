//! Publish from a request span on the in-process bus and consume in a handler; the
//! trace is printed as a tree. No external service needed.
//!
//! ```text
//! cargo run -p trace-pubsub --example in_process
//! ```

use std::process::ExitCode;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use tower_layer::Layer;
use trace_core::config::{ConfigLoader, ExporterKind};
use trace_core::{Config, ScopedTracer, SpanStart};
use trace_pubsub::{
    ConsumeLayer, Delivery, InProcessBus, Message, Publisher, Settlement, TracedPublisher,
};

static TRACER: ScopedTracer = ScopedTracer::new("in-process-example", env!("CARGO_PKG_VERSION"));

#[derive(Debug)]
struct OutOfStock;

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out of stock, try again")
    }
}

impl std::error::Error for OutOfStock {}

#[tokio::main]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("in_process: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = ConfigLoader::new()
        .defaults(Config {
            service_name: Some("in-process-example".into()),
            exporters: vec![ExporterKind::Console],
            ..Config::default()
        })
        .load()?;
    let guard = trace_core::init(&config)?;

    let bus = InProcessBus::new();
    let subscription = bus.subscribe("orders");
    let publisher = TracedPublisher::new(bus.clone());

    // The handler fails on its first attempt: the span records the error and the bus
    // redelivers the message.
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let handler = ConsumeLayer::new().layer(tower::service_fn(move |delivery: Delivery| {
        let attempt = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async move {
            let work = TRACER.start(SpanKind::Internal, || SpanStart::new("reserve stock"));
            tokio::time::sleep(Duration::from_millis(2)).await;
            work.end();
            if attempt == 0 {
                return Err(OutOfStock);
            }
            println!(
                "handled {}",
                String::from_utf8_lossy(delivery.message().payload())
            );
            Ok(Settlement::Ack)
        }
    }));
    let consumer = tokio::spawn(subscription.serve(handler));

    let request = TRACER.start(SpanKind::Server, || {
        SpanStart::new("POST /orders").with_attributes([
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.route", "/orders"),
        ])
    });
    trace_core::in_context(
        request.context().clone(),
        publisher.publish("orders", Message::new(r#"{"order":42}"#)),
    )
    .await?;
    request.end();

    // Dropping every handle of the bus ends the subscription once it is drained.
    drop(publisher);
    drop(bus);
    consumer.await?;
    guard.shutdown()?;
    Ok(())
}
