//! A span exporter that appends OTLP/JSON lines to a file or writer.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// A [`SpanExporter`] that writes each exported batch as one line of
/// OTLP/JSON: a complete `ExportTraceServiceRequest`
/// (`resourceSpans` → `scopeSpans` → `spans`).
///
/// The encoding follows the OTLP JSON rules: lowerCamelCase field names,
/// trace and span ids as lowercase hex strings, enums (span kind, status
/// code) as integers and 64-bit timestamps as decimal strings. This is the
/// format read by the collector's `otlpjsonfile` receiver and written by its
/// `file` exporter, so the output can be replayed into any OTLP pipeline.
///
/// Memory is bounded: each batch is encoded and written before `export`
/// returns and nothing is buffered beyond the writer's own buffer. Lines are
/// written with a single `write_all`; the file is opened in append mode.
/// Empty batches write nothing.
///
/// # Example
///
/// ```
/// use opentelemetry::trace::{Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use trace_core::export::JsonLinesExporter;
///
/// let dir = std::env::temp_dir().join(format!("json-lines-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("spans.jsonl");
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(JsonLinesExporter::create(&path).unwrap())
///     .build();
/// provider.tracer("example").in_span("work", |_cx| {});
/// provider.shutdown().unwrap();
///
/// let text = std::fs::read_to_string(&path).unwrap();
/// assert!(text.lines().next().unwrap().starts_with(r#"{"resourceSpans":"#));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct JsonLinesExporter {
    writer: Mutex<Box<dyn Write + Send>>,
    destination: String,
    resource: ResourceAttributesWithSchema,
    is_shutdown: AtomicBool,
}

impl JsonLinesExporter {
    /// Opens `path` for appending, creating the file if needed (its parent
    /// directory must exist).
    ///
    /// # Errors
    ///
    /// Returns the I/O error, with a message naming `path`, if the file
    /// cannot be opened.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("cannot open OTLP JSON lines file {}: {err}", path.display()),
                )
            })?;
        Ok(Self::new(Box::new(file), path.display().to_string()))
    }

    /// Writes lines to `writer`, for tests or custom sinks. The writer is
    /// flushed on [`SpanExporter::force_flush`] and
    /// [`SpanExporter::shutdown`].
    pub fn from_writer(writer: impl Write + Send + 'static) -> Self {
        Self::new(Box::new(writer), "the configured writer".to_owned())
    }

    fn new(writer: Box<dyn Write + Send>, destination: String) -> Self {
        Self {
            writer: Mutex::new(writer),
            destination,
            resource: ResourceAttributesWithSchema::default(),
            is_shutdown: AtomicBool::new(false),
        }
    }

    fn lock_writer(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        // A poisoned lock only means a previous writer call panicked; later
        // lines are still whole lines, so keep writing.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn failure(&self, action: &str, err: impl fmt::Display) -> OTelSdkError {
        OTelSdkError::InternalFailure(format!(
            "JSON lines exporter: failed to {action} {}: {err}",
            self.destination
        ))
    }

    fn flush(&self) -> OTelSdkResult {
        self.lock_writer()
            .flush()
            .map_err(|err| self.failure("flush", err))
    }
}

/// Encodes one batch as a single OTLP/JSON line, newline included.
fn encode_line(
    batch: Vec<SpanData>,
    resource: &ResourceAttributesWithSchema,
) -> serde_json::Result<Vec<u8>> {
    let request = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(batch, resource),
    };
    // serde_json escapes control characters, so the encoded request never
    // contains a raw newline and one line is always one request.
    let mut line = serde_json::to_vec(&request)?;
    line.push(b'\n');
    Ok(line)
}

impl fmt::Debug for JsonLinesExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesExporter")
            .field("destination", &self.destination)
            .field("is_shutdown", &self.is_shutdown.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SpanExporter for JsonLinesExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.is_shutdown.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if batch.is_empty() {
            return Ok(());
        }
        let line = encode_line(batch, &self.resource)
            .map_err(|err| self.failure("encode a batch for", err))?;
        self.lock_writer()
            .write_all(&line)
            .map_err(|err| self.failure("write a batch to", err))
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.flush()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource);
    }
}
