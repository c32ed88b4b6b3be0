//! A service that sets OpenTelemetry up itself, the way init-tracing-opentelemetry or
//! hand-written setup code does, and never calls `trace_core::init`: its own
//! `SdkTracerProvider` (here with trace-core's console exporter and a span processor
//! of its own), installed with `opentelemetry::global::set_tracer_provider`.
//!
//! trace-http's server layer and reqwest middleware and trace-db's connection record
//! into that provider through the OpenTelemetry API: the provider's sampler decides,
//! its processors see every span start and end.
//!
//! ```text
//! cargo run -p any-provider
//! ```
//!
//! Calling `trace_core::set_provider(provider.clone())` as well hands trace-core the
//! concrete SDK tracer, which saves the API's boxing on every span.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    SdkTracerProvider, SimpleSpanProcessor, Span, SpanData, SpanProcessor,
};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use sea_orm::{ConnectOptions, ConnectionTrait as _, DbBackend, Statement};
use trace_core::export::ConsoleTreeExporter;
use trace_db::{TraceOptions, TracedConnection};
use trace_http::client::reqwest::HttpClientMiddleware;
use trace_http::server::HttpServerLayer;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("any-provider: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    // The service's own OpenTelemetry setup: no trace_core::init anywhere.
    let started = Arc::new(AtomicUsize::new(0));
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name("any-provider")
                .build(),
        )
        .with_span_processor(CountStarts(Arc::clone(&started)))
        .with_span_processor(SimpleSpanProcessor::new(ConsoleTreeExporter::new()))
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    // reqwest is built without a TLS provider of its own; plain http needs one anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut options = ConnectOptions::new("sqlite::memory:");
    options.max_connections(1).sqlx_logging(false);
    let db = TracedConnection::connect(options, TraceOptions::new())
        .await
        .map_err(|error| format!("SQLite: {error}"))?;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(HttpClientMiddleware::new())
        .build();

    let downstream = serve(
        Router::new()
            .route("/stock/{id}", get(|| async { "12 in stock" }))
            .layer(HttpServerLayer::new()),
    )
    .await?;
    let front = serve(
        Router::new()
            .route("/orders/{id}", get(order))
            .layer(HttpServerLayer::new())
            .with_state(Front {
                db,
                client: client.clone(),
                downstream,
            }),
    )
    .await?;

    // One request without a caller: a new trace, printed when its spans end.
    let answer = client
        .get(format!("http://{front}/orders/7"))
        .send()
        .await
        .map_err(|error| error.to_string())?
        .text()
        .await
        .map_err(|error| error.to_string())?;
    println!("GET /orders/7 answered {answer:?}");

    provider
        .shutdown()
        .map_err(|error| format!("shutting the provider down: {error}"))?;
    println!(
        "the service's own processor saw {} spans start",
        started.load(Ordering::Relaxed)
    );
    Ok(())
}

#[derive(Clone)]
struct Front {
    db: TracedConnection,
    client: ClientWithMiddleware,
    downstream: SocketAddr,
}

/// A database query and a downstream call, each a child of the request's span.
async fn order(State(front): State<Front>, Path(id): Path<i64>) -> String {
    let statement = Statement::from_sql_and_values(DbBackend::Sqlite, "SELECT ? + 1", [id.into()]);
    let next = match front.db.query_one_raw(statement).await {
        Ok(Some(row)) => row.try_get_by_index::<i64>(0).unwrap_or_default(),
        _ => 0,
    };
    let stock = match front
        .client
        .get(format!("http://{}/stock/{id}", front.downstream))
        .send()
        .await
    {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => error.to_string(),
    };
    format!("order {id} (next {next}): {stock}")
}

async fn serve(app: Router) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .map_err(|error| format!("cannot listen on loopback: {error}"))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

/// A processor of the service's own: counts the spans that start.
#[derive(Debug)]
struct CountStarts(Arc<AtomicUsize>);

impl SpanProcessor for CountStarts {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}
