//! The trace-rs tour: a small service that runs three call chains (a module command, a
//! pipeline run from a durable event, a webhook), each one trace from the first HTTP
//! request to the last database statement of its consumer, printed as waterfalls,
//! written as OTLP-JSON lines and drawn on an HTML page beside them.
//!
//! ```text
//! cargo run -p tour                 # run the three chains, print a summary, exit
//! cargo run -p tour -- --serve      # keep serving until Ctrl-C
//! cargo run -p tour -- --no-redis   # ignore REDIS_URL and redis-server
//! cargo run -p tour -- --traces-file PATH
//! ```

mod app;
mod bus;
mod capabilities;
mod chains;
mod consumers;
mod db;
mod external;
mod options;
mod pipeline;
mod redis;
mod telemetry;

use std::process::ExitCode;

use reqwest_middleware::ClientBuilder;
use trace_core::ScopedTracer;
use trace_http::client::reqwest::HttpClientMiddleware;

use crate::bus::Bus;
use crate::capabilities::Services;
use crate::options::Options;
use crate::redis::Redis;
use crate::telemetry::Telemetry;

/// The tracer for the tour's own spans (the in-memory session cache).
static TRACER: ScopedTracer = ScopedTracer::new("tour", env!("CARGO_PKG_VERSION"));

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tour: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let options = Options::from_args_and_env()?;
    telemetry::install_log_lines();

    // The backing services first, so setup statements stay out of the traces.
    let redis = if options.no_redis {
        Redis::none("skipped (--no-redis)")
    } else {
        Redis::find().await
    };
    println!("{}", redis.description);
    let db = db::Db::open()
        .await
        .map_err(|error| format!("SQLite: {error}"))?;
    println!("database: SQLite in memory (tables created, rows seeded)");
    let sessions = redis.session_cache();
    sessions.set("session:1", "chat-7f3a").await?;

    let telemetry = Telemetry::start(options.traces_file.clone())?;
    println!(
        "traces: a waterfall per chain below, OTLP-JSON lines in {}, HTML page {}",
        telemetry.traces_file().display(),
        telemetry.page().display()
    );

    let bus = match (&redis.client, &redis.url) {
        (Some(client), Some(url)) => Bus::redis_streams(client.clone(), url).await?,
        _ => Bus::in_process(),
    };
    let (handled, mut handled_rx) = tokio::sync::mpsc::unbounded_channel();
    let services = Services {
        db,
        sessions,
        bus,
        http: ClientBuilder::new(reqwest::Client::new())
            .with(HttpClientMiddleware::new())
            .build(),
        external: external::start()
            .await
            .map_err(|error| format!("external API: {error}"))?,
        handled,
    };
    let consumers = consumers::start(&services).await?;
    let port = if options.serve { options.port } else { 0 };
    let base = app::start(services.clone(), port)
        .await
        .map_err(|error| format!("cannot listen on port {port}: {error}"))?;

    if options.serve {
        drop(handled_rx);
        print_try_it(&base);
        let _ = tokio::signal::ctrl_c().await;
    } else {
        let chains = chains::run_all(&services, &base, &mut handled_rx, &telemetry).await?;
        let counts = telemetry.span_counts()?;
        println!("\n── summary ({}) ──", path_taken(&redis));
        for (number, chain) in chains.iter().enumerate() {
            let spans = counts.get(&chain.trace_id).copied().unwrap_or_default();
            println!(
                "chain {}  trace {}  {spans:>2} spans  {}",
                number + 1,
                chain.trace_id,
                chain.title
            );
        }
        println!("OTLP-JSON lines: {}", telemetry.traces_file().display());
        println!("HTML page: {}", telemetry.page().display());
    }
    consumers.iter().for_each(tokio::task::JoinHandle::abort);
    redis.stop().await;
    telemetry.shutdown()
}

/// The backing services in one phrase, for the summary.
fn path_taken(redis: &Redis) -> &'static str {
    if redis.client.is_some() {
        "SQLite, Redis session cache, Redis Streams"
    } else {
        "SQLite, in-memory session cache, in-process pub/sub"
    }
}

fn print_try_it(base: &str) {
    println!("\nserving on {base} until Ctrl-C; try:");
    println!(
        "  curl -s -X POST {base}/service/weather/command -H 'content-type: application/json' -d '{{\"user_id\":1,\"city\":\"Oslo\"}}'"
    );
    println!(
        "  curl -s -X POST {base}/webhook/gh-42 -H 'content-type: application/json' -d '{{}}'"
    );
}
