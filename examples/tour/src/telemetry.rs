//! Tracing and logging: trace-core's exporters, trace-log's log lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use trace_core::config::ExporterKind;
use trace_core::{Config, ConfigLoader, TracingGuard};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, fmt};

/// Log lines from the tour and our crates; dependencies only when they warn.
fn log_filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target("tour", LevelFilter::INFO)
        .with_target("trace_core", LevelFilter::INFO)
        .with_target("trace_redis", LevelFilter::INFO)
}

/// Installs the `tracing` subscriber: short text log lines that carry the trace ids
/// (trace-log), trace-redis's layer that turns fred's command spans into OpenTelemetry
/// spans, and trace-core's bridge for `#[instrument]` spans.
///
/// It runs before `trace_core::init` (so the setup's log lines are printed too): the
/// bridge starts each span with the provider in use at that moment. Its default filter
/// leaves out the `tracing` spans and events of sea-orm, sqlx and fred, which trace-db
/// and trace-redis already trace.
pub(crate) fn install_log_lines() {
    let lines = fmt::layer()
        .event_format(trace_log::WithTraceIds::new(
            fmt::format().without_time().with_target(false).compact(),
        ))
        .with_filter(log_filter());
    tracing_subscriber::registry()
        .with(crate::redis::tracing_layer())
        .with(trace_core::tracing_bridge::layer())
        .with(lines)
        .init();
}

/// Started tracing: the guard, where the OTLP-JSON lines go and where the page is.
pub(crate) struct Telemetry {
    guard: TracingGuard,
    traces_file: PathBuf,
    page: PathBuf,
}

impl Telemetry {
    /// Starts trace-core with the console waterfall, the OTLP-JSON-lines file, the HTML
    /// page beside it and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP to that
    /// collector.
    pub(crate) fn start(traces_file: PathBuf) -> Result<Self, String> {
        let page = traces_file.with_extension("html");
        let mut exporters = vec![
            ExporterKind::Console,
            ExporterKind::JsonFile,
            ExporterKind::Html,
        ];
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
            exporters.push(ExporterKind::Otlp);
        }
        let config = ConfigLoader::new()
            .defaults(Config {
                service_name: Some("tour".into()),
                exporters,
                json_file_path: Some(traces_file.display().to_string()),
                html_file_path: Some(page.display().to_string()),
                ..Config::default()
            })
            .load()
            .map_err(|error| error.to_string())?;
        let guard = trace_core::init(&config).map_err(|error| error.to_string())?;
        Ok(Self {
            guard,
            traces_file,
            page,
        })
    }

    pub(crate) fn traces_file(&self) -> &Path {
        &self.traces_file
    }

    /// The HTML page of the traces.
    pub(crate) fn page(&self) -> &Path {
        &self.page
    }

    /// Shows every trace that has ended so far: the console prints its waterfall now
    /// rather than after its quiet period, so it comes before the next chain's output.
    pub(crate) fn show_finished(&self) -> Result<(), String> {
        self.guard.force_flush().map_err(|error| error.to_string())
    }

    /// Flushes every exporter, then counts the spans per trace id in the file.
    pub(crate) fn span_counts(&self) -> Result<HashMap<String, usize>, String> {
        self.guard
            .force_flush()
            .map_err(|error| error.to_string())?;
        let text = std::fs::read_to_string(&self.traces_file)
            .map_err(|error| format!("cannot read {}: {error}", self.traces_file.display()))?;
        let mut counts = HashMap::new();
        for span in text.lines().flat_map(spans_of_line) {
            if let Some(trace_id) = span.get("traceId").and_then(Value::as_str) {
                *counts.entry(trace_id.to_owned()).or_default() += 1;
            }
        }
        Ok(counts)
    }

    /// Flushes and stops the exporters.
    pub(crate) fn shutdown(self) -> Result<(), String> {
        self.guard
            .shutdown()
            .map(|_| ())
            .map_err(|error| error.to_string())
    }
}

/// The spans of one OTLP/JSON `ExportTraceServiceRequest` line.
fn spans_of_line(line: &str) -> Vec<Value> {
    let Ok(request) = serde_json::from_str::<Value>(line) else {
        return Vec::new();
    };
    let spans_in = |key: &str, value: &Value| -> Vec<Value> {
        value
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    spans_in("resourceSpans", &request)
        .iter()
        .flat_map(|resource| spans_in("scopeSpans", resource))
        .flat_map(|scope| spans_in("spans", &scope))
        .collect()
}
