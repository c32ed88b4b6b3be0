//! Commands from several fred interfaces, a pipeline, a transaction and a WRONGTYPE
//! error, printed as a span tree by the console exporter.
//!
//! ```text
//! cargo run -p trace-redis --example commands
//! REDIS_URL=redis://127.0.0.1:6380/2 cargo run -p trace-redis --example commands
//! ```

use std::process::ExitCode;
use std::time::Duration;

use fred::prelude::*;
use opentelemetry::trace::SpanKind;
use trace_core::config::ExporterKind;
use trace_core::{ScopedTracer, SpanStart};
use trace_redis::RedisFutureExt;
use tracing_subscriber::layer::SubscriberExt;

static TRACER: ScopedTracer = ScopedTracer::new("commands-example", env!("CARGO_PKG_VERSION"));

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("commands: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let guard = trace_core::init(&trace_core::Config {
        service_name: Some("commands-example".into()),
        exporters: vec![ExporterKind::Console],
        ..trace_core::Config::default()
    })?;
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(trace_redis::RedisSubscriberLayer::new()),
    )?;

    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut config = Config::from_url(&url)?;
    trace_redis::enable_command_spans(&mut config);
    let client = Builder::from_config(config)
        .with_connection_config(|c| c.connection_timeout = Duration::from_secs(2))
        .build()?;
    trace_redis::register(&client);
    let _events = trace_redis::log_connection_events(&client);
    if let Err(error) = client.init().await {
        eprintln!(
            "cannot connect to Redis at {url}: {error}\n\
             start one (`redis-server --port 6379`) or set REDIS_URL=redis://host:port/db"
        );
        std::process::exit(2);
    }

    let request = TRACER.start(SpanKind::Server, || SpanStart::new("GET /users/{id}"));
    trace_core::in_context(request.context().clone(), async {
        let _: () = client
            .set("example:greeting", "hello", None, None, false)
            .await?;
        let _: Option<String> = client.get("example:greeting").await?;
        let _: i64 = client
            .hset("example:user:1", ("name", "Ada"))
            .traced()
            .with_args(|| ["example:user:1", "name", "Ada"]) // HSET example:user:1 name ?
            .await?;
        let _: Option<String> = client.get("example:missing").traced().await?; // nil: no error
        let wrong: Result<i64, Error> = client.lpush("example:greeting", "x").traced().await;
        println!("LPUSH on a string: {}", wrong.unwrap_err().details());

        let (visits, _): (i64, Option<String>) = trace_redis::pipeline(async {
            let pipe = client.pipeline();
            let _: () = pipe.incr("example:visits").await?;
            let _: () = pipe.get("example:greeting").await?;
            pipe.all().await
        })
        .await?;
        println!("visits: {visits}");

        let _: (i64,) = trace_redis::transaction(async {
            let trx = client.multi();
            let _: () = trx.incr("example:visits").await?;
            trx.exec(true).await
        })
        .await?;
        let _: i64 = client
            .del(vec!["example:greeting", "example:user:1", "example:visits"])
            .await?;
        Ok::<_, Error>(())
    })
    .await?;
    request.end();

    client.quit().await?;
    guard.shutdown()?;
    Ok(())
}
