//! A traced reqwest client calling a traced axum service in the same process: one
//! trace from the caller's span through the CLIENT spans to the SERVER spans.
//!
//! ```text
//! cargo run -p trace-http --example reqwest_client --features reqwest,axum
//! ```
//!
//! Prints the trace as a tree on the console (no collector needed).

use std::process::ExitCode;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use opentelemetry::trace::SpanKind;
use reqwest_middleware::ClientBuilder;
use trace_core::config::ExporterKind;
use trace_core::{Config, ScopedTracer, SpanStart};
use trace_http::client::UrlTemplate;
use trace_http::client::reqwest::HttpClientMiddleware;
use trace_http::server::HttpServerLayer;

static TRACER: ScopedTracer = ScopedTracer::new("reqwest-client-example", "0.1.0");

#[tokio::main]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("reqwest_client: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let guard = trace_core::init(&Config {
        service_name: Some("reqwest-client-example".into()),
        exporters: vec![ExporterKind::Console],
        ..Config::default()
    })?;

    let inventory = Router::new()
        .route("/items/{id}", get(|| async { "in stock" }))
        .route("/reserve", get(|| async { StatusCode::CONFLICT }))
        .layer(HttpServerLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, inventory).await });

    // reqwest needs a TLS provider installed even for plain http (trace-core builds it
    // with `rustls-no-provider`).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(HttpClientMiddleware::new())
        .build();

    let checkout = TRACER.start(SpanKind::Internal, || SpanStart::new("checkout"));
    trace_core::in_context(checkout.context().clone(), async {
        let stock = client
            .get(format!("http://{addr}/items/42?token=not-in-the-span"))
            .with_extension(UrlTemplate("/items/{id}"))
            .send()
            .await?;
        println!("stock: {} {}", stock.status(), stock.text().await?);
        let reserve = client.get(format!("http://{addr}/reserve")).send().await?;
        println!(
            "reserve: {} (a client error on the CLIENT span)",
            reserve.status()
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
    .await?;
    checkout.end();

    guard.shutdown()?;
    Ok(())
}
