//! Span exporters: OTLP to a collector through trace-core's batch export pipeline
//! ([`OtlpBatchProcessor`]), and local ones that need no collector; and (feature
//! `otlp-logs`) the OTLP log exporter with the span exporter's settings.

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
mod batch;
mod console;
mod counting;
mod json_lines;
mod otlp;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(crate) mod otlp_encode;

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub use batch::{ExportStatus, OtlpBatchProcessor};
pub use console::{ConsoleTarget, ConsoleTreeExporter};
pub use counting::ExportReport;
pub(crate) use counting::{Counters, CountingExporter, CountingProcessor, Losses};
pub use json_lines::JsonLinesExporter;
pub(crate) use otlp::build_otlp_exporter;
#[cfg(feature = "otlp-logs")]
pub use otlp::{OtlpLogExporter, otlp_log_exporter};
