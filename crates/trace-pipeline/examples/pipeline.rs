//! A pipeline run from a durable event, and a background job picked up from a stored
//! trace handle, printed as trace trees; no collector needed.
//!
//! ```text
//! cargo run -p trace-pipeline --example pipeline
//! ```
//!
//! Set `OTEL_EXPORTER_OTLP_ENDPOINT` (and `OTEL_TRACES_EXPORTER=otlp,console`) to send
//! the same traces to a collector as well.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use trace_core::carrier::{MapExtractor, MapInjector};
use trace_core::config::{ConfigLoader, ExporterKind};
use trace_core::propagation::{extract_context_with, inject_context};
use trace_core::{Config, ScopedTracer, SpanStart};
use trace_pipeline::{CapabilityCall, Continuation, Event, Job, Outcome, PipelineRun, TraceHandle};

/// Stands in for the message bus instrumentation (trace-pubsub in a real service).
static BUS: ScopedTracer = ScopedTracer::new("example-bus", env!("CARGO_PKG_VERSION"));

#[derive(Debug)]
struct CapabilityError(&'static str);

impl std::fmt::Display for CapabilityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for CapabilityError {}

#[tokio::main]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pipeline: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    let config = ConfigLoader::new()
        .defaults(Config {
            service_name: Some("pipeline-example".into()),
            exporters: vec![ExporterKind::Console],
            ..Config::default()
        })
        .load()?;
    let guard = trace_core::init(&config)?;

    // A webhook publishes a durable event; its metadata carries the trace.
    let metadata = publish_event();

    // The consumer picks the event up and runs the pipeline (the seed's "Trace 2").
    let parent = extract_context_with(&Context::new(), &MapExtractor(&metadata));
    let consumer = BUS.start_with_parent(&parent, SpanKind::Consumer, || {
        SpanStart::new("process pipeline:data_event").with_attribute(KeyValue::new(
            "messaging.destination.name",
            "pipeline:data_event",
        ))
    });
    let job_row = trace_core::in_context(consumer.context().clone(), run_digest()).await?;
    consumer.end();

    // Later a worker takes the job row from the table: a new trace linked to the run.
    worker(job_row).await?;

    let report = guard.shutdown()?;
    tracing::info!(spans = report.exported, "done");
    Ok(())
}

fn publish_event() -> HashMap<String, String> {
    let publish = BUS.start(SpanKind::Producer, || {
        SpanStart::new("send pipeline:data_event")
    });
    let mut metadata = HashMap::new();
    inject_context(publish.context(), &mut MapInjector(&mut metadata));
    publish.end();
    metadata
}

/// The user's own engine, instrumented by hand; returns the stored job row.
async fn run_digest() -> Result<String, Box<dyn std::error::Error>> {
    let run = PipelineRun::start("digest", Event::new("evt-1001", "pipeline:data_event"));

    // The first attempt times out; the retry is an event on the step.
    let fetch = run.step("fetch", "rss", "fetch");
    let mut attempt = 1;
    let items = loop {
        match fetch.instrument(fetch_call(attempt)).await {
            Ok(items) => break items,
            Err(error) if attempt < 3 => {
                attempt += 1;
                fetch.retry(attempt, error.0);
            }
            Err(error) => {
                fetch.finish(Outcome::from_error(&error));
                run.finish(Outcome::error("step_failed", "step fetch failed"));
                return Err(error.into());
            }
        }
    };
    fetch.finish(Outcome::Success);

    let summarize = run.step("summarize", "llm", "summarize");
    let call = summarize.capability("llm", "summarize");
    let summary = summarize
        .run(call.run(async move {
            tokio::time::sleep(Duration::from_millis(8)).await;
            Ok::<_, CapabilityError>(format!("{items} items summarized"))
        }))
        .await?;

    let notify = run.step("notify", "slack", "post");
    notify.finish(Outcome::skipped("quiet hours"));

    // Hand the e-mail to a background job; the row keeps the trace.
    let handle = run.trace_handle();
    run.finish(Outcome::Success);
    let row = serde_json::json!({ "job": "send-email", "body": summary, "trace": handle });
    Ok(row.to_string())
}

async fn fetch_call(attempt: u32) -> Result<usize, CapabilityError> {
    let call = CapabilityCall::start("rss", "fetch");
    tokio::time::sleep(Duration::from_millis(3)).await;
    if attempt == 1 {
        call.finish(Outcome::error("timeout", "feed did not answer within 3ms"));
        return Err(CapabilityError("timeout"));
    }
    call.finish(Outcome::Success);
    Ok(12)
}

async fn worker(row: String) -> Result<(), Box<dyn std::error::Error>> {
    let row: serde_json::Value = serde_json::from_str(&row)?;
    let handle: Option<TraceHandle> = serde_json::from_value(row["trace"].clone()).ok();
    let job = Job::new("send-email")
        .id("job-42")
        .namespace("notifications")
        .priority(5)
        .scheduled_at(SystemTime::now() - Duration::from_millis(250))
        .worker("worker-7f3a", "worker-1")
        .picked_up(handle.as_ref(), Continuation::Link)
        .start();
    job.progress(25, "Email queued");
    job.instrument(async {
        let smtp = CapabilityCall::start("smtp", "send");
        smtp.retry(2, "connection reset");
        tokio::time::sleep(Duration::from_millis(5)).await;
        smtp.finish(Outcome::Success);
    })
    .await;
    job.progress(100, "Completed");
    job.finish(Outcome::Success);
    Ok(())
}
