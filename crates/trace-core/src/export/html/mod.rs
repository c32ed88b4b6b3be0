//! A span exporter that keeps the finished traces in one self-contained HTML page.

mod page;

use std::collections::VecDeque;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::waterfall::{
    BufferCounters, BufferedExporter, Released, TraceSink, TraceTree, ViewSpan, lock,
};
pub(crate) use page::render_page;

const DEFAULT_MAX_PAGE_TRACES: usize = 100;
const MAX_PAGE_SPANS: usize = 20_000;
const MAX_PAGE_BYTES: usize = 32 << 20;

/// A [`SpanExporter`] that writes the finished traces to one self-contained HTML file,
/// rewritten as traces complete: open it in a browser, no collector and no network
/// needed (scripts and styles are inline).
///
/// The page lists the traces (root span, service, duration, span count, errors),
/// newest first; choosing one draws its waterfall: the stitched tree of spans (as the
/// [console](super::ConsoleTreeExporter) stitches it) with collapsible subtrees, a time
/// axis, and a bar per span. Clicking a span shows its attributes, events, links,
/// status and ids. `#trace=ID&span=ID` in the address selects a trace and a span.
///
/// Spans wait for their trace as in the console exporter (local roots ended and a
/// 200 ms quiet period, or a flush); a piece of a trace that finishes later joins the
/// trace already on the page. The page is written to a temporary file beside `path`
/// and renamed over it, so a reader never sees half a page.
///
/// **Bounded.** The page keeps the newest 100 traces (and at most 20 000 spans and
/// about 32 MiB); older traces are taken off and counted
/// ([`BufferCounters::traces_evicted`]). Span data is hostile input: it reaches the
/// page only as JSON inside a `<script type="application/json">` block, with `<`, `>`
/// and `&` escaped, and the script puts it in the page as text.
///
/// # Example
///
/// ```
/// use opentelemetry::trace::{Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use trace_core::export::HtmlExporter;
///
/// let dir = std::env::temp_dir().join(format!("html-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("traces.html");
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(HtmlExporter::create(&path).unwrap())
///     .build();
/// provider.tracer("example").in_span("work", |_cx| {});
/// provider.shutdown().unwrap();
///
/// let page = std::fs::read_to_string(&path).unwrap();
/// assert!(page.contains(r#""root":"work""#));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct HtmlExporter {
    inner: BufferedExporter<HtmlPage>,
}

/// The page's file and the traces on it.
struct HtmlPage {
    path: PathBuf,
    traces: Mutex<PageTraces>,
}

impl HtmlExporter {
    /// Writes an empty page to `path` now (its directory must exist), and the traces
    /// to it as they finish.
    ///
    /// # Errors
    ///
    /// The I/O error, with a message naming `path`, when the page cannot be written.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let page = HtmlPage {
            path: path.as_ref().to_path_buf(),
            traces: Mutex::new(PageTraces::new(DEFAULT_MAX_PAGE_TRACES)),
        };
        page.write(None, 0)?;
        Ok(Self {
            inner: BufferedExporter::new(page, "trace-core-html"),
        })
    }

    /// How long a trace must have received no span before it goes on the page
    /// (default 200 ms); zero adds it as soon as its local roots have ended.
    pub fn with_quiet_period(self, quiet: Duration) -> Self {
        let inner = (self.inner).configure(|_, limits| limits.quiet_period = quiet);
        Self { inner }
    }

    /// How many traces the page keeps (default 100, at least 1); older ones are taken
    /// off and counted.
    pub fn with_max_traces(self, max: usize) -> Self {
        let inner = self.inner.configure(|page, _| {
            page.traces = Mutex::new(PageTraces::new(max.max(1)));
        });
        Self { inner }
    }

    /// The page's path.
    pub fn path(&self) -> &Path {
        &self.inner.sink().path
    }

    /// How often the limits were reached; the handle stays readable after the exporter
    /// moved into a provider.
    pub fn counters(&self) -> BufferCounters {
        self.inner.counters()
    }
}

impl TraceSink for HtmlPage {
    /// Puts released traces on the page and rewrites it.
    fn show(
        &self,
        released: Vec<Released>,
        service: Option<&Arc<str>>,
        counters: &BufferCounters,
    ) -> OTelSdkResult {
        {
            let mut traces = lock(&self.traces);
            for trace in released {
                if trace.early {
                    counters.count_shown_early("html");
                }
                traces.add(trace.spans, counters);
            }
        }
        self.write(service, counters.traces_evicted())
            .map_err(|error| OTelSdkError::InternalFailure(format!("HTML exporter: {error}")))
    }
}

impl HtmlPage {
    /// Renders the page and replaces the file with it.
    fn write(&self, service: Option<&Arc<str>>, evicted: u64) -> io::Result<()> {
        let title = match service {
            Some(service) => format!("Traces · {service}"),
            None => "Traces".to_owned(),
        };
        // Holding the page lock while writing keeps two writers from sharing the
        // temporary file.
        let traces = lock(&self.traces);
        let text = traces.render(&title, evicted);
        let name = (self.path.file_name())
            .map_or_else(|| "traces.html".into(), |name| name.to_string_lossy());
        let temporary = self.path.with_file_name(format!(".{name}.tmp"));
        let failed = |error: io::Error| {
            io::Error::new(
                error.kind(),
                format!(
                    "cannot write the HTML page {}: {error}",
                    self.path.display()
                ),
            )
        };
        fs::write(&temporary, text).map_err(failed)?;
        fs::rename(&temporary, &self.path).map_err(failed)
    }
}

/// The traces on the page, oldest first, within its limits.
struct PageTraces {
    traces: VecDeque<Vec<ViewSpan>>,
    span_count: usize,
    bytes: usize,
    max_traces: usize,
}

impl PageTraces {
    fn new(max_traces: usize) -> Self {
        Self {
            traces: VecDeque::new(),
            span_count: 0,
            bytes: 0,
            max_traces,
        }
    }

    /// Adds a finished trace, or a later piece of one already here; takes the oldest
    /// traces off while over the limits.
    fn add(&mut self, spans: Vec<ViewSpan>, counters: &BufferCounters) {
        let Some(trace_id) = spans.first().map(|span| span.trace_id) else {
            return;
        };
        self.span_count += spans.len();
        self.bytes += spans.iter().map(ViewSpan::approx_bytes).sum::<usize>();
        let known = (self.traces.iter())
            .position(|trace| trace.first().is_some_and(|span| span.trace_id == trace_id));
        let mut trace = known
            .and_then(|at| self.traces.remove(at))
            .unwrap_or_default();
        trace.extend(spans);
        self.traces.push_back(trace);
        while self.traces.len() > 1
            && (self.traces.len() > self.max_traces
                || self.span_count > MAX_PAGE_SPANS
                || self.bytes > MAX_PAGE_BYTES)
        {
            if let Some(oldest) = self.traces.pop_front() {
                self.span_count -= oldest.len();
                self.bytes -= oldest.iter().map(ViewSpan::approx_bytes).sum::<usize>();
                counters.count_evicted();
            }
        }
    }

    /// The page, newest trace first.
    fn render(&self, title: &str, evicted: u64) -> String {
        let trees: Vec<TraceTree<'_>> = (self.traces.iter().rev())
            .flat_map(|spans| TraceTree::stitch_all(spans))
            .collect();
        render_page(title, &trees, evicted)
    }
}

impl fmt::Debug for HtmlExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HtmlExporter")
            .field("path", &self.inner.sink().path)
            .field("limits", &self.inner.limits())
            .finish_non_exhaustive()
    }
}

impl SpanExporter for HtmlExporter {
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
