//! The W3C Trace Context test service, built only from trace-http's server layer and
//! reqwest middleware.
//!
//! It implements the contract of the official harness (`w3c/trace-context`,
//! `test/test.py`): it listens on `127.0.0.1:$PORT` (default 5000); `POST /test` takes a
//! JSON array of `{"url": ..., "arguments": [...]}` and POSTs each `arguments` as JSON to
//! its `url`, in order, each call in its own CLIENT span under the request's SERVER
//! span, and answers 200 once every call has finished.
//!
//! ```text
//! PORT=5000 cargo run -p w3c-test-service
//! python test.py http://127.0.0.1:5000/test
//! ```
//!
//! Spans are exported nowhere by default; the usual `OTEL_*` and `APP_TRACING_*`
//! variables configure export. Nothing is printed unless something fails.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::Value;
use trace_core::config::ExporterKind;
use trace_core::{Config, ConfigLoader};
use trace_http::client::reqwest::HttpClientMiddleware;
use trace_http::server::HttpServerLayer;

const DEFAULT_PORT: u16 = 5000;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("w3c-test-service: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let port = match std::env::var("PORT") {
        Ok(port) => port
            .parse::<u16>()
            .map_err(|_| format!("PORT must be a port number (0-65535), got {port:?}"))?,
        Err(_) => DEFAULT_PORT,
    };
    let config = ConfigLoader::new()
        .defaults(Config {
            service_name: Some("w3c-test-service".into()),
            exporters: vec![ExporterKind::None],
            ..Config::default()
        })
        .load()
        .map_err(|error| error.to_string())?;
    let guard = trace_core::init(&config).map_err(|error| error.to_string())?;
    // Plain-http calls only, but reqwest needs a TLS provider to build a client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(HttpClientMiddleware::new())
        .build();
    let app = Router::new()
        .route("/test", post(test))
        .layer(HttpServerLayer::new())
        .with_state(client);
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}"))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|error| error.to_string())?;
    guard
        .shutdown()
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// Runs the harness's instructions in order; failed calls are skipped (the harness
/// reports the missing callback), the answer is always 200 once all are done.
async fn test(
    State(client): State<ClientWithMiddleware>,
    Json(cases): Json<Vec<Value>>,
) -> StatusCode {
    for case in cases {
        let Some(url) = case.get("url").and_then(Value::as_str) else {
            continue;
        };
        let arguments = case
            .get("arguments")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        let Ok(body) = serde_json::to_vec(&arguments) else {
            continue;
        };
        let _ = client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
    }
    StatusCode::OK
}
