//! A consumer in its own process: handles `COUNT` messages of a Redis stream's consumer
//! group, each in a `process {stream}` span that continues the publisher's trace.
//!
//! ```text
//! cargo run -p trace-pubsub --features redis-streams --example redis_consumer
//! ```
//!
//! Environment: `REDIS_URL` (default `redis://127.0.0.1:6379`), `STREAM` (`events`),
//! `GROUP` (`workers`), `CONSUMER` (`consumer-<pid>`), `COUNT` (1), `TIMEOUT_SECS` (30).
//! Spans go to the console tree unless the `OTEL_*` / `APP_TRACING_*` variables say
//! otherwise (the tests use `OTEL_TRACES_EXPORTER=json-file` and
//! `APP_TRACING_JSON_FILE_PATH`). Run `--example redis_streams` to publish.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use fred::prelude::{Builder, ClientLike, Config as RedisConfig};
use opentelemetry::trace::SpanKind;
use tower_layer::Layer;
use trace_core::config::{ConfigLoader, ExporterKind};
use trace_core::{Config, ScopedTracer, SpanStart};
use trace_pubsub::redis_streams::RedisStreamConsumer;
use trace_pubsub::{ConsumeLayer, Delivery, Settlement};

static TRACER: ScopedTracer =
    ScopedTracer::new("redis-consumer-example", env!("CARGO_PKG_VERSION"));

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("redis_consumer: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = ConfigLoader::new()
        .defaults(Config {
            service_name: Some("redis-consumer".into()),
            exporters: vec![ExporterKind::Console],
            ..Config::default()
        })
        .load()?;
    let guard = trace_core::init(&config)?;

    let url = var("REDIS_URL", "redis://127.0.0.1:6379");
    let stream = var("STREAM", "events");
    let group = var("GROUP", "workers");
    let consumer_name = var("CONSUMER", &format!("consumer-{}", std::process::id()));
    let count: usize = var("COUNT", "1").parse()?;
    let timeout = Duration::from_secs(var("TIMEOUT_SECS", "30").parse()?);

    let client = Builder::from_config(RedisConfig::from_url(&url)?).build()?;
    match tokio::time::timeout(Duration::from_secs(5), client.init()).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => return Err(format!("cannot connect to Redis at {url}: {error}").into()),
        Err(_) => return Err(format!("cannot connect to Redis at {url}: timed out").into()),
    }

    // A connection of its own, with `client`'s configuration: a blocking `XREADGROUP`
    // would stall every other command on `client`. Empty polls start no span.
    let mut consumer = RedisStreamConsumer::new(&client, &stream, &group, &consumer_name)
        .block(Duration::from_millis(500));
    consumer.create_group().await?;
    let mut handler =
        ConsumeLayer::new().layer(tower::service_fn(|delivery: Delivery| async move {
            // Work done by the handler joins the publisher's trace.
            let store = TRACER.start(SpanKind::Internal, || SpanStart::new("store event"));
            println!(
                "handled {} ({} bytes) in trace {}",
                delivery.message().id().unwrap_or("?"),
                delivery.message().payload().len(),
                trace_core::correlation_id().unwrap_or_default()
            );
            store.end();
            Ok::<_, std::io::Error>(Settlement::Ack)
        }));

    let deadline = Instant::now() + timeout;
    let mut handled = 0;
    while handled < count {
        if Instant::now() > deadline {
            return Err(format!("handled {handled} of {count} messages before the timeout").into());
        }
        handled += consumer.handle_next(&mut handler).await?.acked;
    }

    client.quit().await?;
    guard.shutdown()?;
    Ok(())
}
