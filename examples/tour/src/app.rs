//! The service's routes, behind trace-http's server layer: each request is a SERVER
//! span named after its route template, and its handler runs inside it.

use std::net::{Ipv4Addr, SocketAddr};

use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use trace_http::server::{HttpServerLayer, TraceIdHeader};

use crate::bus::MESSAGES;
use crate::capabilities::Services;

/// The response header that tells the caller its trace id.
pub(crate) const TRACE_ID_HEADER: &str = "x-trace-id";

type Reply = Result<Json<Value>, (StatusCode, String)>;

/// Serves the routes on `127.0.0.1:port` (0 for any free port); returns the base URL.
pub(crate) async fn start(services: Services, port: u16) -> std::io::Result<String> {
    let app = Router::new()
        .route("/service/{module}/command", post(command))
        .route("/webhook/{id}", post(webhook))
        .route("/healthz", get(|| async { "ok" }))
        .layer(
            HttpServerLayer::new().trace_id_header(TraceIdHeader::TraceId(
                HeaderName::from_static(TRACE_ID_HEADER),
            )),
        )
        .with_state(services);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

/// Chain 1: look the user up, read the chat session, invoke the module's capability,
/// publish the reply for the chat platform's consumer.
async fn command(
    State(services): State<Services>,
    Path(module): Path<String>,
    Json(request): Json<Value>,
) -> Reply {
    if module != "weather" {
        return Err((StatusCode::NOT_FOUND, format!("no module {module:?}")));
    }
    let user_id = request["user_id"].as_i64().unwrap_or_default();
    let city = request["city"].as_str().unwrap_or("Lisbon");
    let (user, session) = load_user(&services, user_id).await?;
    tracing::info!(
        user,
        session = session.as_deref().unwrap_or("new"),
        "command received"
    );
    let reply = services.forecast(city).await.map_err(internal)?;
    let message = json!({ "platform": "chat", "user": user, "text": reply });
    services
        .bus
        .publish(MESSAGES, &message)
        .await
        .map_err(internal)?;
    Ok(Json(json!({ "reply": reply })))
}

/// The user and their chat session. An `#[instrument]` function: trace-core's `tracing`
/// bridge makes it a span (`load_user`) under the request's SERVER span, with the query
/// and the session read under it.
#[tracing::instrument(skip(services))]
async fn load_user(
    services: &Services,
    user_id: i64,
) -> Result<(String, Option<String>), (StatusCode, String)> {
    let user = services
        .db
        .user_name(user_id)
        .await
        .map_err(internal)?
        .ok_or((StatusCode::NOT_FOUND, format!("no user {user_id}")))?;
    let session = services
        .sessions
        .get(&format!("session:{user_id}"))
        .await
        .map_err(internal)?;
    Ok((user, session))
}

/// Chain 3: look the webhook up and emit a data event for its pipeline.
async fn webhook(State(services): State<Services>, Path(id): Path<String>) -> Reply {
    let pipeline = services
        .db
        .webhook_pipeline(&id)
        .await
        .map_err(internal)?
        .ok_or((StatusCode::NOT_FOUND, format!("no webhook {id:?}")))?;
    let event_id = services
        .emit_data_event(&pipeline)
        .await
        .map_err(internal)?;
    tracing::info!(webhook = id, event_id, "webhook accepted");
    Ok(Json(json!({ "event_id": event_id })))
}

fn internal(error: impl std::fmt::Display) -> (StatusCode, String) {
    tracing::error!("request failed: {error}");
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}
