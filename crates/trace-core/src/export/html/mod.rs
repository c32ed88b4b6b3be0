//! A span exporter that keeps the finished traces in one self-contained HTML page.

mod page;

use std::collections::VecDeque;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::Key;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::waterfall::{
    BufferCounters, Limits, PendingTraces, Released, TraceTree, ViewSpan, Worker, tick_for,
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
    shared: Arc<Shared>,
    worker: OnceLock<Option<Mutex<Worker>>>,
}

/// What the exporter and its worker thread share.
struct Shared {
    path: PathBuf,
    pending: Mutex<PendingTraces>,
    page: Mutex<PageTraces>,
    service: Mutex<Option<Arc<str>>>,
    counters: BufferCounters,
    /// A write error of the worker thread, returned by the next export or flush.
    worker_error: Mutex<Option<OTelSdkError>>,
    is_shutdown: AtomicBool,
}

impl HtmlExporter {
    /// Writes an empty page to `path` now (its directory must exist), and the traces
    /// to it as they finish.
    ///
    /// # Errors
    ///
    /// The I/O error, with a message naming `path`, when the page cannot be written.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let exporter = Self {
            shared: Arc::new(Shared {
                path: path.as_ref().to_path_buf(),
                pending: Mutex::new(PendingTraces::new(Limits::default())),
                page: Mutex::new(PageTraces::new(DEFAULT_MAX_PAGE_TRACES)),
                service: Mutex::new(None),
                counters: BufferCounters::default(),
                worker_error: Mutex::new(None),
                is_shutdown: AtomicBool::new(false),
            }),
            worker: OnceLock::new(),
        };
        exporter.shared.write_page()?;
        Ok(exporter)
    }

    /// Changes the settings; only before the first export, which is when the worker
    /// thread starts sharing them (the builder methods take `self`, so that holds).
    fn configure(mut self, change: impl FnOnce(&mut Shared)) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            change(shared);
        }
        self
    }

    /// How long a trace must have received no span before it goes on the page
    /// (default 200 ms); zero adds it as soon as its local roots have ended.
    pub fn with_quiet_period(self, quiet: Duration) -> Self {
        self.configure(|shared| {
            let pending = shared.pending.get_mut().unwrap_or_else(|e| e.into_inner());
            *pending = PendingTraces::new(Limits {
                quiet_period: quiet,
                ..pending.limits()
            });
        })
    }

    /// How many traces the page keeps (default 100, at least 1); older ones are taken
    /// off and counted.
    pub fn with_max_traces(self, max: usize) -> Self {
        self.configure(|shared| {
            let page = shared.page.get_mut().unwrap_or_else(|e| e.into_inner());
            *page = PageTraces::new(max.max(1));
        })
    }

    /// The page's path.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// How often the limits were reached; the handle stays readable after the exporter
    /// moved into a provider.
    pub fn counters(&self) -> BufferCounters {
        self.shared.counters.clone()
    }

    fn start_worker(&self) -> bool {
        let worker = self.worker.get_or_init(|| {
            let shared = Arc::clone(&self.shared);
            let every = tick_for(lock(&shared.pending).limits().quiet_period);
            let tick = move |last: bool| {
                let released = if last {
                    lock(&shared.pending).take_all()
                } else {
                    lock(&shared.pending).take_ready(Instant::now())
                };
                if let Err(error) = shared.add(released) {
                    *lock(&shared.worker_error) = Some(error);
                }
            };
            Worker::start("trace-core-html", every, tick).map(Mutex::new)
        });
        worker.is_some()
    }

    fn flush_all(&self) -> OTelSdkResult {
        let released = lock(&self.shared.pending).take_all();
        let result = self.shared.add(released);
        let worker_error = lock(&self.shared.worker_error).take();
        worker_error.map_or(result, Err)
    }
}

impl Shared {
    /// Puts released traces on the page and rewrites it.
    fn add(&self, released: Vec<Released>) -> OTelSdkResult {
        if released.is_empty() {
            return Ok(());
        }
        {
            let mut page = lock(&self.page);
            for trace in released {
                if trace.early {
                    self.counters.count_shown_early("html");
                }
                page.add(trace.spans, &self.counters);
            }
        }
        self.write_page()
            .map_err(|error| OTelSdkError::InternalFailure(format!("HTML exporter: {error}")))
    }

    /// Renders the page and replaces the file with it.
    fn write_page(&self) -> io::Result<()> {
        let title = match lock(&self.service).as_deref() {
            Some(service) => format!("Traces · {service}"),
            None => "Traces".to_owned(),
        };
        // Holding the page lock while writing keeps two writers from sharing the
        // temporary file.
        let page = lock(&self.page);
        let text = page.render(&title, self.counters.traces_evicted());
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

/// Locks `mutex`; a poisoned lock only means another thread panicked mid-export, and
/// the data is still whole, so keep going.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            .field("path", &self.shared.path)
            .field("limits", &lock(&self.shared.pending).limits())
            .finish_non_exhaustive()
    }
}

impl SpanExporter for HtmlExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shared.is_shutdown.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let has_worker = self.start_worker();
        let service = lock(&self.shared.service).clone();
        let released = lock(&self.shared.pending).push_batch(
            batch,
            service.as_ref(),
            Instant::now(),
            has_worker,
        );
        let result = self.shared.add(released);
        let worker_error = lock(&self.shared.worker_error).take();
        worker_error.map_or(result, Err)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.shared.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if let Some(Some(worker)) = self.worker.get() {
            lock(worker).stop();
        }
        self.flush_all()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush_all()
    }

    fn set_resource(&mut self, resource: &Resource) {
        let service = resource
            .get(&Key::from_static_str("service.name"))
            .map(|value| Arc::from(value.as_str().as_ref()));
        *lock(&self.shared.service) = service;
    }
}
