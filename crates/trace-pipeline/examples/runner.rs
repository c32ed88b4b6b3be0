//! A declared pipeline executed by the optional runner, printed as a trace tree.
//!
//! ```text
//! cargo run -p trace-pipeline --features runner --example runner
//! ```

use std::process::ExitCode;
use std::time::Duration;

use trace_core::Config;
use trace_core::config::{ConfigLoader, ExporterKind};
use trace_pipeline::Event;
use trace_pipeline::runner::{Pipeline, Step, StepError};

#[derive(Clone, Debug, Default)]
struct Digest {
    items: Vec<String>,
    summary: Option<String>,
}

async fn fetch(mut digest: Digest) -> Result<Digest, StepError> {
    tokio::time::sleep(Duration::from_millis(4)).await;
    digest.items = vec!["release 1.2".into(), "security advisory".into()];
    Ok(digest)
}

async fn summarize(mut digest: Digest) -> Result<Digest, StepError> {
    tokio::time::sleep(Duration::from_millis(6)).await;
    digest.summary = Some(digest.items.join("; "));
    Ok(digest)
}

async fn post(digest: Digest) -> Result<Digest, StepError> {
    Err(StepError::new(
        "http.503",
        format!("chat service unavailable for {:?}", digest.summary),
    ))
}

#[tokio::main]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("runner: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = ConfigLoader::new()
        .defaults(Config {
            service_name: Some("runner-example".into()),
            exporters: vec![ExporterKind::Console],
            ..Config::default()
        })
        .load()?;
    let guard = trace_core::init(&config)?;

    let pipeline = Pipeline::new("digest")
        .step(Step::new("fetch", "rss", "fetch", fetch))
        .step(
            Step::new("summarize", "llm", "summarize", summarize)
                .when(|d: &Digest| !d.items.is_empty()),
        )
        .step(Step::new("notify", "chat", "post", post).retries(1));
    let result = pipeline
        .execute(
            Event::new("evt-2002", "pipeline:data_event"),
            Digest::default(),
        )
        .await;
    if let Err(error) = result {
        eprintln!("run failed as the example intends: {error}");
    }

    guard.shutdown()?;
    Ok(())
}
