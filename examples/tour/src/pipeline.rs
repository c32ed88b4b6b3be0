//! The `digest` pipeline, run for each data event: a `pipeline.digest.execute` span
//! with a span per step and per capability call, from trace-pipeline, around the
//! tour's own steps.

use serde_json::Value;
use trace_pipeline::{Event, Outcome, PipelineRun};

use crate::bus::DATA_EVENTS;
use crate::capabilities::{CapabilityError, Services};

/// Runs the pipeline a data event names, inside `pipeline.{name}.execute`.
pub(crate) async fn run(services: &Services, event: &Value) -> Result<(), String> {
    let (Some(id), Some(name)) = (event["id"].as_str(), event["pipeline"].as_str()) else {
        return Err(format!("not a data event: {event}"));
    };
    let run = PipelineRun::start(name, Event::new(id, DATA_EVENTS));
    let result = run.instrument(steps(services, &run, id, name)).await;
    run.finish(match &result {
        Ok(Some(skip)) => Outcome::skipped(*skip),
        Ok(None) => Outcome::Success,
        Err(error) => Outcome::from_error(error),
    });
    result.map(|_| ()).map_err(|error| error.to_string())
}

/// The steps; `Some(reason)` when the run was skipped.
async fn steps(
    services: &Services,
    run: &PipelineRun,
    event_id: &str,
    name: &str,
) -> Result<Option<&'static str>, CapabilityError> {
    // Durable events can arrive twice: the consumption check makes the run idempotent.
    if services.db.event_consumed(event_id).await? {
        return Ok(Some("event already consumed"));
    }
    let run_id = services.db.create_run(event_id, name).await?;

    let fetch = run.step("fetch", "feed", "fetch");
    let call = fetch.capability("feed", "fetch");
    let items = fetch.run(services.fetch_feed(call)).await;

    let result = match items {
        Ok(items) => {
            let save = run.step("save", "digest", "save");
            let call = save.capability("digest", "save");
            save.run(services.save_digest(call, run_id, &items)).await
        }
        Err(error) => Err(error),
    };
    let status = if result.is_ok() { "done" } else { "failed" };
    services.db.finish_run(run_id, status).await?;
    tracing::info!(
        pipeline = name,
        run = run_id,
        status,
        "pipeline run finished"
    );
    result.map(|()| None)
}
