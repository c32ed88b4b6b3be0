//! A span exporter that prints each finished trace once, as a waterfall.

mod render;
mod style;

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::waterfall::{
    BufferCounters, BufferedExporter, Released, TraceSink, TraceTree, ViewSpan, lock,
};
pub(crate) use render::render_trace;
pub use style::WaterfallStyle;

/// Trace ids remembered as already printed, to mark a later piece of the same trace.
const REMEMBERED_TRACES: usize = 1_024;

/// Where [`ConsoleTreeExporter`] writes its waterfalls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConsoleTarget {
    /// The process's standard output (the default).
    #[default]
    Stdout,
    /// The process's standard error.
    Stderr,
}

/// A [`SpanExporter`] that prints each finished trace once, as a waterfall: the spans
/// as a tree with their kind and duration, and a bar on a time axis shared by the
/// whole trace, so where the time went shows at a glance.
///
/// ```text
/// trace 8fe41fdeb3e3d986542bd4fcdfe6c1db · quickstart · 3 spans · 10.85 ms · ✗ 1 error
///                                                  0                5.43 ms         10.85 ms
/// GET /orders/{id}            SERVER     10.85 ms  █████████████████████████████████████████
/// │  http.request.method=GET http.route=/orders/{id} http.response.status_code=200
/// ├─ SELECT orders            CLIENT      4.38 ms  █████████████████
/// │     db.system.name=sqlite db.query.text=SELECT * FROM orders WHERE id = ?
/// └─ ✗ ability.pricing.quote  INTERNAL    3.97 ms                           ████████████████
///       ✗ error: pricing service did not answer in time  error.type=timeout  capability.nam…
/// ```
///
/// **Stitched.** Spans of one trace are buffered and drawn as one tree across every
/// span this process saw: a client span, the server span it called (its remote child),
/// that server's children, and consumers under their producers (or under a span they
/// link to); children in start order. A trace prints when its local roots have ended
/// (every span's parent is here, remote, or absent) and no span of it has arrived for
/// a quiet period (default 200 ms, [`with_quiet_period`](Self::with_quiet_period));
/// `force_flush` and `shutdown` print whatever is left. A trace that arrives in pieces
/// (its parent in another process, or a piece that ends after the rest was printed)
/// prints what is here, with one line for each missing parent.
///
/// **Readable.** Failed spans are marked `✗` with their status message and
/// `error.type`. Attributes are condensed on one line per span (the first 6), or all of
/// them, with events, links and ids, in verbose mode. Colour only on a terminal and
/// never with `NO_COLOR`; the width follows `COLUMNS`; see [`WaterfallStyle`].
///
/// **Bounded.** At most 10 000 spans, 1 000 traces and about 64 MiB wait at once; past
/// a limit the oldest trace is printed early, as it is, marked `shown early`, and
/// counted in [`counters`](Self::counters). Names and values are cut at 1024
/// characters, and control characters escaped.
///
/// Through [`init`](crate::init) the provider's and the guard's flush reach the exporter;
/// the SDK's `SimpleSpanProcessor` (`with_simple_exporter`) passes on only shutdown, so
/// there what is left prints after the quiet period or at shutdown.
///
/// A background thread prints traces once their quiet period has passed. Each trace
/// is written with one `write_all`, so concurrent output does not interleave; write
/// errors become [`OTelSdkError::InternalFailure`].
///
/// # Example
///
/// ```
/// use std::time::Duration;
///
/// use opentelemetry::trace::{Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use trace_core::export::{ConsoleTarget, ConsoleTreeExporter, WaterfallStyle};
///
/// let exporter = ConsoleTreeExporter::new()
///     .with_target(ConsoleTarget::Stderr)
///     .with_quiet_period(Duration::from_millis(50))
///     .with_style(WaterfallStyle::for_target(ConsoleTarget::Stderr).with_verbose(true));
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(exporter)
///     .build();
/// provider.tracer("example").in_span("work", |_cx| {});
/// provider.shutdown().expect("shutdown");
/// ```
pub struct ConsoleTreeExporter {
    inner: BufferedExporter<ConsoleSink>,
}

/// Where and how the console exporter writes.
struct ConsoleSink {
    writer: Mutex<Box<dyn Write + Send>>,
    target_label: &'static str,
    style: WaterfallStyle,
    /// The style was set with `with_style`, so `with_target` keeps it.
    style_chosen: bool,
    shown: Mutex<RecentTraces>,
}

impl ConsoleTreeExporter {
    /// Creates an exporter that writes to standard output, styled for it
    /// ([`WaterfallStyle::for_target`]).
    pub fn new() -> Self {
        let style = WaterfallStyle::for_target(ConsoleTarget::Stdout);
        Self::from_parts(Box::new(std::io::stdout()), "stdout", style)
    }

    /// Creates an exporter that writes to `writer`, for tests or log files, in the
    /// [`plain`](WaterfallStyle::plain) style.
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        let style = WaterfallStyle::plain();
        Self::from_parts(Box::new(writer), "the configured writer", style)
    }

    fn from_parts(
        writer: Box<dyn Write + Send>,
        target_label: &'static str,
        style: WaterfallStyle,
    ) -> Self {
        let sink = ConsoleSink {
            writer: Mutex::new(writer),
            target_label,
            style,
            style_chosen: false,
            shown: Mutex::new(RecentTraces::default()),
        };
        Self {
            inner: BufferedExporter::new(sink, "trace-core-console"),
        }
    }

    /// Writes to standard output or standard error instead of the current target,
    /// styled for it unless [`with_style`](Self::with_style) chose a style.
    pub fn with_target(self, target: ConsoleTarget) -> Self {
        let inner = self.inner.configure(|sink, _| {
            let (writer, label): (Box<dyn Write + Send>, _) = match target {
                ConsoleTarget::Stdout => (Box::new(std::io::stdout()), "stdout"),
                ConsoleTarget::Stderr => (Box::new(std::io::stderr()), "stderr"),
            };
            sink.writer = Mutex::new(writer);
            sink.target_label = label;
            if !sink.style_chosen {
                sink.style = WaterfallStyle::for_target(target);
            }
        });
        Self { inner }
    }

    /// Draws with `style`: width, colour, verbose details.
    pub fn with_style(self, style: WaterfallStyle) -> Self {
        let inner = self.inner.configure(|sink, _| {
            sink.style = style;
            sink.style_chosen = true;
        });
        Self { inner }
    }

    /// How long a trace must have received no span before it prints (default 200 ms):
    /// long enough for a consumer or a called server to end after the request that
    /// caused it. Zero prints a trace as soon as its local roots have ended.
    pub fn with_quiet_period(self, quiet: Duration) -> Self {
        let inner = (self.inner).configure(|_, limits| limits.quiet_period = quiet);
        Self { inner }
    }

    /// Caps the spans waiting for their trace to finish (default 10 000). Past it the
    /// oldest trace prints early, as it is; `0` prints every span at once.
    pub fn with_max_buffered_spans(self, max: usize) -> Self {
        let inner = (self.inner).configure(|_, limits| limits.max_spans = max);
        Self { inner }
    }

    /// Caps the traces waiting to finish (default 1 000). Past it the oldest trace
    /// prints early, as it is.
    pub fn with_max_buffered_traces(self, max: usize) -> Self {
        let inner = (self.inner).configure(|_, limits| limits.max_traces = max);
        Self { inner }
    }

    /// How often the limits were reached; the handle stays readable after the exporter
    /// moved into a provider.
    pub fn counters(&self) -> BufferCounters {
        self.inner.counters()
    }

    /// Renders `spans` as waterfalls, one per trace id, as the exporter prints them
    /// (without waiting or marking pieces); `service_name` is shown in each header.
    ///
    /// Never panics, whatever the span data (cycles, duplicate ids, end before start,
    /// control characters).
    pub fn render_waterfall(
        spans: &[SpanData],
        service_name: Option<&str>,
        style: &WaterfallStyle,
    ) -> String {
        let service: Option<Arc<str>> = service_name.map(Arc::from);
        let spans: Vec<ViewSpan> = (spans.iter().cloned())
            .map(|span| ViewSpan::from_sdk(span, service.as_ref()))
            .collect();
        let mut out = String::new();
        for tree in TraceTree::stitch_all(&spans) {
            render_trace(&mut out, &tree, style, None);
        }
        out
    }
}

impl TraceSink for ConsoleSink {
    /// Renders and writes released traces, each with one `write_all`.
    fn show(
        &self,
        released: Vec<Released>,
        _service: Option<&Arc<str>>,
        counters: &BufferCounters,
    ) -> OTelSdkResult {
        let texts: Vec<String> = {
            let mut shown = lock(&self.shown);
            (released.iter())
                .map(|trace| {
                    let Some(first) = trace.spans.first() else {
                        return String::new();
                    };
                    let continued = !shown.insert(first.trace_id);
                    let note = match (trace.early, continued) {
                        (true, _) => Some("shown early: buffer full"),
                        (false, true) => Some("more of a trace shown above"),
                        (false, false) => None,
                    };
                    if trace.early {
                        counters.count_shown_early("console");
                    }
                    let mut text = String::new();
                    for tree in TraceTree::stitch_all(&trace.spans) {
                        render_trace(&mut text, &tree, &self.style, note);
                    }
                    text
                })
                .collect()
        };
        let mut writer = lock(&self.writer);
        let mut result = Ok(());
        for text in texts {
            if let Err(err) = writer.write_all(text.as_bytes()) {
                result = result.and(Err(self.io_error("write a trace to", &err)));
            }
        }
        if let Err(err) = writer.flush() {
            result = result.and(Err(self.io_error("flush", &err)));
        }
        result
    }
}

impl ConsoleSink {
    fn io_error(&self, action: &str, err: &std::io::Error) -> OTelSdkError {
        OTelSdkError::InternalFailure(format!(
            "console exporter: failed to {action} {}: {err}",
            self.target_label
        ))
    }
}

/// The most recently printed trace ids, bounded.
#[derive(Default)]
struct RecentTraces {
    order: VecDeque<TraceId>,
    ids: HashSet<TraceId>,
}

impl RecentTraces {
    /// Remembers `id`; false when it was already remembered.
    fn insert(&mut self, id: TraceId) -> bool {
        if self.ids.contains(&id) {
            return false;
        }
        if self.order.len() == REMEMBERED_TRACES
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.order.push_back(id);
        self.ids.insert(id);
        true
    }
}

impl Default for ConsoleTreeExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConsoleTreeExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sink = self.inner.sink();
        f.debug_struct("ConsoleTreeExporter")
            .field("target", &sink.target_label)
            .field("style", &sink.style)
            .field("limits", &self.inner.limits())
            .finish_non_exhaustive()
    }
}

impl SpanExporter for ConsoleTreeExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.inner.export(batch)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
