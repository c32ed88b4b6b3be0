//! The "external API" the capabilities call: a second axum server on loopback with
//! trace-http's server layer, so its SERVER spans join the caller's trace.

use std::net::{Ipv4Addr, SocketAddr};

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use trace_http::server::HttpServerLayer;

/// Serves the external API on `127.0.0.1:0` and returns its base URL.
pub(crate) async fn start() -> std::io::Result<String> {
    let app = Router::new()
        .route("/forecast/{city}", get(forecast))
        .route("/feed", get(feed))
        .layer(HttpServerLayer::new());
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

async fn forecast(Path(city): Path<String>) -> Json<Value> {
    Json(json!({ "city": city, "sky": "rain", "celsius": 14 }))
}

async fn feed() -> Json<Value> {
    Json(json!({ "items": ["trace-rs 0.1 released", "sea-orm 2.0 is out"] }))
}
