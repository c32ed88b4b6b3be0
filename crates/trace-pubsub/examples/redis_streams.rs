//! Publish from an HTTP-like request span to a Redis stream and consume it in a
//! consumer group: one trace, printed as a tree.
//!
//! ```text
//! cargo run -p trace-pubsub --features redis-streams --example redis_streams
//! ```
//!
//! Needs a Redis server: `REDIS_URL` (default `redis://127.0.0.1:6379`).

use std::process::ExitCode;
use std::time::Duration;

use fred::prelude::{Builder, ClientLike, Config as RedisConfig, KeysInterface};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use tower_layer::Layer;
use trace_core::config::{ConfigLoader, ExporterKind};
use trace_core::{Config, ScopedTracer, SpanStart};
use trace_pubsub::redis_streams::{RedisStreamConsumer, RedisStreamPublisher};
use trace_pubsub::{ConsumeLayer, Delivery, Message, Publisher, Settlement, TracedPublisher};

static TRACER: ScopedTracer = ScopedTracer::new("redis-streams-example", env!("CARGO_PKG_VERSION"));

#[tokio::main]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("redis_streams: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = ConfigLoader::new()
        .defaults(Config {
            service_name: Some("redis-streams-example".into()),
            exporters: vec![ExporterKind::Console],
            ..Config::default()
        })
        .load()?;
    let guard = trace_core::init(&config)?;

    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = Builder::from_config(RedisConfig::from_url(&url)?).build()?;
    match tokio::time::timeout(Duration::from_secs(5), client.init()).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            eprintln!("cannot connect to Redis at {url}: {error}\nstart one, or set REDIS_URL");
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!("cannot connect to Redis at {url}: timed out\nstart one, or set REDIS_URL");
            std::process::exit(1);
        }
    }

    let stream = format!("trace-pubsub-example:{}", std::process::id());
    // A connection of its own, with `client`'s configuration: a blocking `XREADGROUP`
    // would stall every other command on `client`. Empty polls start no span.
    let mut consumer = RedisStreamConsumer::new(&client, &stream, "workers", "worker-1")
        .block(Duration::from_millis(200));
    consumer.create_group().await?;
    let publisher = TracedPublisher::new(RedisStreamPublisher::new(client.clone()));

    // The request that publishes the event.
    let request = TRACER.start(SpanKind::Server, || {
        SpanStart::new("POST /orders").with_attributes([
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.route", "/orders"),
        ])
    });
    trace_core::in_context(
        request.context().clone(),
        publisher.publish(&stream, Message::new(r#"{"order":42}"#)),
    )
    .await?;
    request.end();

    // The handler, wrapped in the consumer middleware.
    let mut handler =
        ConsumeLayer::new().layer(tower::service_fn(|delivery: Delivery| async move {
            let work = TRACER.start(SpanKind::Internal, || SpanStart::new("reserve stock"));
            tokio::time::sleep(Duration::from_millis(2)).await;
            work.end();
            println!(
                "handled {} from {}",
                String::from_utf8_lossy(delivery.message().payload()),
                delivery.destination()
            );
            Ok::<_, std::io::Error>(Settlement::Ack)
        }));
    while consumer.handle_next(&mut handler).await?.acked == 0 {}

    client.del::<i64, _>(&stream).await?;
    client.quit().await?;
    guard.shutdown()?;
    Ok(())
}
