//! The consumer tasks: each message is handled inside `process {topic}`, which
//! continues the trace of the request that published it.

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::bus::{DATA_EVENTS, MESSAGES};
use crate::capabilities::Services;

/// Starts the chat platform's consumer and the pipeline runner; returns their tasks.
pub(crate) async fn start(services: &Services) -> Result<Vec<JoinHandle<()>>, String> {
    let chat = services.clone();
    let messages = services
        .bus
        .consume(MESSAGES, move |message| deliver(chat.clone(), message))
        .await?;
    let runner = services.clone();
    let events = services
        .bus
        .consume(DATA_EVENTS, move |event| {
            run_pipeline(runner.clone(), event)
        })
        .await?;
    Ok(vec![messages, events])
}

/// Chain 1's consumer: finds the platform's channel and "delivers" the reply.
async fn deliver(services: Services, message: Value) -> Result<(), String> {
    let platform = message["platform"].as_str().unwrap_or("chat");
    let channel = services
        .db
        .platform_channel(platform)
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| format!("no platform {platform:?}"))?;
    tracing::info!(channel, text = %message["text"], "reply delivered");
    services.report_handled(MESSAGES);
    Ok(())
}

/// Chains 2 and 3: the data event's pipeline run.
async fn run_pipeline(services: Services, event: Value) -> Result<(), String> {
    let result = crate::pipeline::run(&services, &event).await;
    services.report_handled(DATA_EVENTS);
    result
}
