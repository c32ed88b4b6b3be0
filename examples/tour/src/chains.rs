//! The tour drives its three call chains (a module command, a pipeline run from a
//! durable event, a webhook) through a traced reqwest client and waits for their
//! consumers, then shows each chain's waterfall before the next chain starts.

use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::app::TRACE_ID_HEADER;
use crate::bus::{DATA_EVENTS, MESSAGES};
use crate::capabilities::{Handled, Services, new_event_id};
use crate::telemetry::Telemetry;

/// One chain the tour ran.
pub(crate) struct Chain {
    pub(crate) title: &'static str,
    pub(crate) trace_id: String,
}

/// Runs the three chains in order against the service at `base`.
pub(crate) async fn run_all(
    services: &Services,
    base: &str,
    handled: &mut UnboundedReceiver<Handled>,
    telemetry: &Telemetry,
) -> Result<Vec<Chain>, String> {
    let mut chains = Vec::new();

    let title = "POST /service/{module}/command";
    banner(1, title);
    let body = json!({ "user_id": 1, "city": "Lisbon" });
    let trace_id = post(services, &format!("{base}/service/weather/command"), &body).await?;
    wait_for(handled, MESSAGES).await?;
    telemetry.show_finished()?;
    chains.push(Chain { title, trace_id });

    let title = "pipeline run from a durable event";
    banner(2, title);
    let event = json!({ "id": new_event_id(), "pipeline": "digest" });
    services.bus.publish_untraced(DATA_EVENTS, &event).await?;
    let trace_id = wait_for(handled, DATA_EVENTS).await?;
    telemetry.show_finished()?;
    chains.push(Chain { title, trace_id });

    let title = "POST /webhook/{id}";
    banner(3, title);
    let trace_id = post(services, &format!("{base}/webhook/gh-42"), &json!({})).await?;
    wait_for(handled, DATA_EVENTS).await?;
    telemetry.show_finished()?;
    chains.push(Chain { title, trace_id });

    Ok(chains)
}

fn banner(number: u8, title: &str) {
    println!("\n── chain {number}: {title} ──");
}

/// POSTs `body` to `url` and returns the trace id the service reported.
async fn post(services: &Services, url: &str, body: &serde_json::Value) -> Result<String, String> {
    let response = services
        .http
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|error| format!("POST {url}: {error}"))?;
    let status = response.status();
    let trace_id = response
        .headers()
        .get(TRACE_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("POST {url}: {status} {text}"));
    }
    Ok(trace_id)
}

/// Waits until `topic`'s consumer finished a message; returns that message's trace id.
async fn wait_for(handled: &mut UnboundedReceiver<Handled>, topic: &str) -> Result<String, String> {
    let wait = async {
        while let Some(done) = handled.recv().await {
            if done.topic == topic {
                return Ok(done.trace_id);
            }
        }
        Err("the consumers stopped".to_owned())
    };
    let trace_id = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .map_err(|_| format!("no consumer handled {topic} within 10 s"))??;
    // The consumer's span ends just after it reported: let it end first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(trace_id)
}
