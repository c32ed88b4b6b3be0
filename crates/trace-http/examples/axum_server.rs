//! An axum 0.8 router traced by `HttpServerLayer`, calling itself, then exiting.
//!
//! ```text
//! cargo run -p trace-http --example axum_server --features axum
//! ```
//!
//! Prints each trace as a tree on the console (no collector needed).

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use opentelemetry::trace::SpanKind;
use trace_core::config::ExporterKind;
use trace_core::{Config, ScopedTracer, SpanStart};
use trace_http::axum::ServerSpan;
use trace_http::server::{HttpServerLayer, TraceIdHeader};

static TRACER: ScopedTracer = ScopedTracer::new("axum-server-example", "0.1.0");

async fn user(Path(id): Path<u64>, span: ServerSpan) -> Result<String, StatusCode> {
    // A child of the server span, found through `Context::current()`.
    let lookup = TRACER.start(SpanKind::Internal, || SpanStart::new("load user"));
    lookup.end();
    let trace_id = span.trace_id().map(|id| id.to_string()).unwrap_or_default();
    match id {
        1 => Ok(format!("ada (trace {trace_id})")),
        _ => Err(StatusCode::NOT_FOUND),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum_server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let guard = trace_core::init(&Config {
        service_name: Some("axum-server-example".into()),
        exporters: vec![ExporterKind::Console],
        ..Config::default()
    })?;

    let app = Router::new()
        .route("/users/{id}", get(user))
        .route("/healthz", get(|| async { "ok" }))
        .route("/boom", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .layer(HttpServerLayer::new().trace_id_header(TraceIdHeader::TraceResponse));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        // `into_make_service_with_connect_info` hands each request the connection's
        // address (axum's `ConnectInfo`): without it the server spans have no
        // `client.address` (unless `X-Forwarded-For` is sent) and no `network.peer.*`.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    // reqwest needs a TLS provider installed even for plain http (trace-core builds it
    // with `rustls-no-provider`).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    for path in ["/users/1", "/users/2", "/healthz", "/boom"] {
        let response = client.get(format!("http://{addr}{path}")).send().await?;
        let traceresponse = response
            .headers()
            .get("traceresponse")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        println!(
            "GET {path} -> {} (traceresponse {traceresponse})",
            response.status()
        );
    }

    guard.shutdown()?;
    Ok(())
}
