//! The capabilities: each runs inside an
//! `ability.{capability}.{operation}` span from trace-pipeline, so the HTTP calls,
//! statements and publishes it makes nest under it.

use std::fmt;

use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;
use trace_pipeline::CapabilityCall;

use crate::bus::{Bus, DATA_EVENTS};
use crate::db::Db;
use crate::redis::SessionCache;

/// Everything the routes, consumers and pipelines use.
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) db: Db,
    pub(crate) sessions: SessionCache,
    pub(crate) bus: Bus,
    /// A reqwest client with trace-http's middleware: a CLIENT span per call.
    pub(crate) http: ClientWithMiddleware,
    /// Base URL of the in-process "external API".
    pub(crate) external: String,
    /// Told when a consumer finished a message, with the trace it ran in.
    pub(crate) handled: UnboundedSender<Handled>,
}

/// A message a consumer finished.
#[derive(Debug)]
pub(crate) struct Handled {
    pub(crate) topic: &'static str,
    pub(crate) trace_id: String,
}

impl Services {
    /// Reports that `topic`'s consumer finished, from inside its trace.
    pub(crate) fn report_handled(&self, topic: &'static str) {
        let trace_id = trace_core::current_trace_id()
            .map(|id| id.to_string())
            .unwrap_or_default();
        // Nobody listens in `--serve` mode: that is fine.
        let _ = self.handled.send(Handled { topic, trace_id });
    }

    /// `ability.weather.forecast`: asks the external API, then reads the module's note.
    pub(crate) async fn forecast(&self, city: &str) -> Result<String, CapabilityError> {
        CapabilityCall::start("weather", "forecast")
            .run(async {
                let url = format!("{}/forecast/{city}", self.external);
                let forecast: Value = self.http.get(url).send().await?.json().await?;
                let note = self.db.module_note("weather").await?.unwrap_or_default();
                Ok(format!("{city}: {} ({note})", forecast["sky"]))
            })
            .await
    }

    /// `ability.feed.fetch`: the headlines from the external API.
    pub(crate) async fn fetch_feed(
        &self,
        call: CapabilityCall,
    ) -> Result<Vec<String>, CapabilityError> {
        call.run(async {
            let url = format!("{}/feed", self.external);
            let feed: Value = self.http.get(url).send().await?.json().await?;
            let items = feed["items"].as_array().cloned().unwrap_or_default();
            Ok(items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect())
        })
        .await
    }

    /// `ability.digest.save`: stores the digest of a run.
    pub(crate) async fn save_digest(
        &self,
        call: CapabilityCall,
        run_id: i64,
        items: &[String],
    ) -> Result<(), CapabilityError> {
        call.run(async {
            self.db.save_digest(run_id, &items.join("; ")).await?;
            Ok(())
        })
        .await
    }

    /// `ability.webhook.emit`: turns a webhook call into a data event for `pipeline`.
    pub(crate) async fn emit_data_event(&self, pipeline: &str) -> Result<String, CapabilityError> {
        CapabilityCall::start("webhook", "emit")
            .run(async {
                let event_id = new_event_id();
                let event = json!({ "id": event_id, "pipeline": pipeline });
                self.bus
                    .publish(DATA_EVENTS, &event)
                    .await
                    .map_err(CapabilityError)?;
                Ok(event_id)
            })
            .await
    }
}

/// A unique enough event id for one tour run.
pub(crate) fn new_event_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("evt-{nanos:x}")
}

/// Why a capability failed; its spans record `error.type` = `CapabilityError`.
#[derive(Debug)]
pub(crate) struct CapabilityError(pub(crate) String);

impl fmt::Display for CapabilityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CapabilityError {}

impl From<sea_orm::DbErr> for CapabilityError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self(format!("database: {error}"))
    }
}

impl From<reqwest_middleware::Error> for CapabilityError {
    fn from(error: reqwest_middleware::Error) -> Self {
        Self(format!("external API: {error}"))
    }
}

impl From<reqwest::Error> for CapabilityError {
    fn from(error: reqwest::Error) -> Self {
        Self(format!("external API: {error}"))
    }
}
