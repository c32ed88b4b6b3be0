//! Span exporters: OTLP to a collector through trace-core's batch export pipeline
//! ([`OtlpBatchProcessor`]), and local ones that need no collector (the console
//! waterfall, OTLP-JSON lines, and with feature `html` a self-contained HTML page), plus
//! [`OtlpJsonTraces`] to draw files captured elsewhere the same way; and (feature
//! `otlp-logs`) the OTLP log exporter with the span exporter's settings.

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
mod batch;
mod console;
mod counting;
#[cfg(feature = "html")]
mod html;
mod json_lines;
mod otlp;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(crate) mod otlp_encode;
mod waterfall;

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub use batch::{ExportStatus, OtlpBatchProcessor};
pub use console::{ConsoleTarget, ConsoleTreeExporter, WaterfallStyle};
pub use counting::ExportReport;
pub(crate) use counting::{Counters, CountingExporter, CountingProcessor, Losses};
#[cfg(feature = "html")]
#[cfg_attr(docsrs, doc(cfg(feature = "html")))]
pub use html::HtmlExporter;
pub use json_lines::JsonLinesExporter;
pub(crate) use otlp::build_otlp_exporter;
#[cfg(feature = "otlp-logs")]
pub use otlp::{OtlpLogExporter, otlp_log_exporter};
pub(crate) use waterfall::ImmediateProcessor;
pub use waterfall::{BufferCounters, OtlpJsonTraces};
