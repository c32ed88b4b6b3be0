//! Span exporters: OTLP to a collector, and local ones that need no collector; and
//! (feature `otlp-logs`) the OTLP log exporter with the span exporter's settings.

mod console;
mod counting;
mod json_lines;
mod otlp;
// Tests and benchmarks reach it through `testing` until the batch pipeline uses it.
#[cfg(all(feature = "testing", any(feature = "otlp-http", feature = "otlp-grpc")))]
pub(crate) mod otlp_encode;

pub use console::{ConsoleTarget, ConsoleTreeExporter};
pub use counting::ExportReport;
pub(crate) use counting::{Counters, CountingExporter, CountingProcessor};
pub use json_lines::JsonLinesExporter;
pub(crate) use otlp::build_otlp_exporter;
#[cfg(feature = "otlp-logs")]
pub use otlp::{OtlpLogExporter, otlp_log_exporter};
