//! A span exporter that prints each finished trace as an indented tree.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use opentelemetry::Key;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

const DEFAULT_MAX_BUFFERED_SPANS: usize = 10_000;
const DEFAULT_ATTRIBUTE_LIMIT: usize = 6;
const MAX_VALUE_CHARS: usize = 80;
const MAX_NAME_CHARS: usize = 120;
// Deeper levels stop indenting so a pathological chain cannot produce
// quadratic output.
const MAX_INDENT_DEPTH: usize = 32;

/// Where [`ConsoleTreeExporter`] writes its trees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConsoleTarget {
    /// The process's standard output (the default).
    #[default]
    Stdout,
    /// The process's standard error.
    Stderr,
}

/// A [`SpanExporter`] that prints every finished trace as an indented tree
/// with durations, span kinds, error status and key attributes.
///
/// It makes examples and local runs useful without a collector:
///
/// ```text
/// trace 4bf92f3577b34da6a3ce929d0e0e4736  (service: checkout, 3 spans, 12.41 ms)
/// └─ POST /orders  SERVER  12.41 ms  http.response.status_code=200
///    ├─ SELECT orders  CLIENT  1.20 ms  db.system.name=sqlite
///    └─ charge  INTERNAL  5.02 ms  ✗ error: timeout  +1 event
/// ```
///
/// Spans end before their parents and may arrive in different batches, so
/// they are buffered per trace id. A tree is printed when its *local root*
/// ends: a span whose parent id is invalid or whose parent is remote, so a
/// trace with several local roots (say, a consumer task continuing it) prints
/// one tree per root. `force_flush` and `shutdown` print everything still
/// buffered; spans whose parent is not in the printed tree appear at the top
/// level marked `(parent … not in this tree)`.
///
/// Memory is bounded: at most `max_buffered_spans` spans (default 10 000) are
/// kept, which also bounds the number of traces since each holds at least one
/// span. Past the cap the oldest trace is printed as it is instead.
///
/// Each tree is written with one `write_all`, so concurrent output does not
/// interleave; write errors become [`OTelSdkError::InternalFailure`].
///
/// # Example
///
/// ```
/// use opentelemetry::trace::{Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use trace_core::export::{ConsoleTarget, ConsoleTreeExporter};
///
/// let exporter = ConsoleTreeExporter::new()
///     .with_target(ConsoleTarget::Stderr)
///     .with_attribute_limit(4);
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(exporter)
///     .build();
/// provider.tracer("example").in_span("work", |_cx| {});
/// provider.shutdown().expect("shutdown");
/// ```
pub struct ConsoleTreeExporter {
    writer: Mutex<Box<dyn Write + Send>>,
    target_label: &'static str,
    buffer: Mutex<TraceBuffer>,
    max_buffered_spans: usize,
    attribute_limit: usize,
    service_name: Option<String>,
    is_shutdown: AtomicBool,
}

impl ConsoleTreeExporter {
    /// Creates an exporter that writes to standard output.
    pub fn new() -> Self {
        Self::from_parts(Box::new(std::io::stdout()), "stdout")
    }

    /// Creates an exporter that writes to `writer`, for tests or log files.
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        Self::from_parts(Box::new(writer), "the configured writer")
    }

    fn from_parts(writer: Box<dyn Write + Send>, target_label: &'static str) -> Self {
        Self {
            writer: Mutex::new(writer),
            target_label,
            buffer: Mutex::new(TraceBuffer::default()),
            max_buffered_spans: DEFAULT_MAX_BUFFERED_SPANS,
            attribute_limit: DEFAULT_ATTRIBUTE_LIMIT,
            service_name: None,
            is_shutdown: AtomicBool::new(false),
        }
    }

    /// Writes to standard output or standard error instead of the current
    /// target.
    pub fn with_target(mut self, target: ConsoleTarget) -> Self {
        let (writer, label): (Box<dyn Write + Send>, _) = match target {
            ConsoleTarget::Stdout => (Box::new(std::io::stdout()), "stdout"),
            ConsoleTarget::Stderr => (Box::new(std::io::stderr()), "stderr"),
        };
        self.writer = Mutex::new(writer);
        self.target_label = label;
        self
    }

    /// Caps the number of spans buffered while waiting for local roots
    /// (default 10 000). When exceeded, the oldest trace is printed early;
    /// `0` prints every batch immediately.
    pub fn with_max_buffered_spans(mut self, max: usize) -> Self {
        self.max_buffered_spans = max;
        self
    }

    /// Sets how many attributes are shown per span (default 6); the rest are
    /// summarised as `+N attrs`.
    pub fn with_attribute_limit(mut self, limit: usize) -> Self {
        self.attribute_limit = limit;
        self
    }

    /// Renders spans as trees, one block per trace id, exactly as the
    /// exporter prints them (with the default attribute limit).
    ///
    /// Spans whose parent is not in `spans` become top-level nodes with a
    /// marker. Never panics, whatever the span data (cycles, duplicate ids,
    /// end before start).
    pub fn render_tree(spans: &[SpanData], service_name: Option<&str>) -> String {
        render_trees(spans, service_name, DEFAULT_ATTRIBUTE_LIMIT)
    }

    fn lock_buffer(&self) -> MutexGuard<'_, TraceBuffer> {
        // A poisoned lock only means another thread panicked mid-export; the
        // buffer is still structurally valid, so keep printing.
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write_trees(&self, trees: &[Vec<SpanData>]) -> OTelSdkResult {
        if trees.is_empty() {
            return Ok(());
        }
        let service = self.service_name.as_deref();
        // Render before taking the writer lock so other writers wait only for
        // the I/O.
        let texts: Vec<String> = trees
            .iter()
            .map(|tree| render_trees(tree, service, self.attribute_limit))
            .collect();
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut result = Ok(());
        for text in texts {
            if let Err(err) = writer.write_all(text.as_bytes()) {
                result = result.and(Err(self.io_error("write a trace tree to", &err)));
            }
        }
        if let Err(err) = writer.flush() {
            result = result.and(Err(self.io_error("flush", &err)));
        }
        result
    }

    fn io_error(&self, action: &str, err: &std::io::Error) -> OTelSdkError {
        OTelSdkError::InternalFailure(format!(
            "console tree exporter: failed to {action} {}: {err}",
            self.target_label
        ))
    }

    fn flush_all(&self) -> OTelSdkResult {
        let trees = self.lock_buffer().drain_all();
        self.write_trees(&trees)
    }
}

impl Default for ConsoleTreeExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConsoleTreeExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleTreeExporter")
            .field("target", &self.target_label)
            .field("max_buffered_spans", &self.max_buffered_spans)
            .field("attribute_limit", &self.attribute_limit)
            .field("service_name", &self.service_name)
            .finish_non_exhaustive()
    }
}

impl SpanExporter for ConsoleTreeExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.is_shutdown.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let trees = {
            let mut buffer = self.lock_buffer();
            // Insert the whole batch before cutting trees so that the order of
            // spans inside one batch does not matter.
            let roots: Vec<(TraceId, SpanId)> = batch
                .iter()
                .filter(|span| is_local_root(span))
                .map(|span| (span.span_context.trace_id(), span.span_context.span_id()))
                .collect();
            for span in batch {
                buffer.push(span);
            }
            let mut trees: Vec<_> = (roots.into_iter())
                .map(|(trace_id, span_id)| buffer.take_subtree(trace_id, span_id))
                .filter(|tree| !tree.is_empty())
                .collect();
            while buffer.span_count > self.max_buffered_spans {
                let Some(tree) = buffer.pop_oldest() else {
                    break;
                };
                trees.push(tree);
            }
            trees
        };
        self.write_trees(&trees)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.flush_all()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush_all()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service_name = resource
            .get(&Key::from_static_str("service.name"))
            .map(|value| value.as_str().into_owned());
    }
}

fn is_local_root(span: &SpanData) -> bool {
    span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote
}

/// Spans waiting for their local root, grouped by trace in arrival order.
#[derive(Default)]
struct TraceBuffer {
    traces: HashMap<TraceId, (u64, Vec<SpanData>)>,
    age: BTreeMap<u64, TraceId>,
    next_seq: u64,
    span_count: usize,
}

impl TraceBuffer {
    fn push(&mut self, span: SpanData) {
        let trace_id = span.span_context.trace_id();
        let entry = self.traces.entry(trace_id).or_insert_with(|| {
            let seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            self.age.insert(seq, trace_id);
            (seq, Vec::new())
        });
        entry.1.push(span);
        self.span_count += 1;
    }

    /// Removes and returns the local root `root` and all its buffered
    /// descendants, leaving other spans of the trace buffered.
    fn take_subtree(&mut self, trace_id: TraceId, root: SpanId) -> Vec<SpanData> {
        let Some((seq, spans)) = self.traces.get_mut(&trace_id) else {
            return Vec::new();
        };
        let Some(root_idx) = spans
            .iter()
            .position(|s| s.span_context.span_id() == root && is_local_root(s))
        else {
            return Vec::new();
        };
        let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
        for (idx, span) in spans.iter().enumerate() {
            children.entry(span.parent_span_id).or_default().push(idx);
        }
        let mut included = vec![false; spans.len()];
        included[root_idx] = true;
        let mut queue = vec![root_idx];
        while let Some(idx) = queue.pop() {
            let id = spans[idx].span_context.span_id();
            for &child in children.get(&id).map(Vec::as_slice).unwrap_or_default() {
                if !included[child] {
                    included[child] = true;
                    queue.push(child);
                }
            }
        }
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(spans)
            .into_iter()
            .zip(included)
            .partition(|(_, inc)| *inc);
        *spans = kept.into_iter().map(|(s, _)| s).collect();
        let (seq, emptied) = (*seq, spans.is_empty());
        self.span_count -= taken.len();
        if emptied {
            self.traces.remove(&trace_id);
            self.age.remove(&seq);
        }
        taken.into_iter().map(|(s, _)| s).collect()
    }

    fn pop_oldest(&mut self) -> Option<Vec<SpanData>> {
        let (_, trace_id) = self.age.pop_first()?;
        let (_, spans) = self.traces.remove(&trace_id)?;
        self.span_count -= spans.len();
        Some(spans)
    }

    fn drain_all(&mut self) -> Vec<Vec<SpanData>> {
        std::iter::from_fn(|| self.pop_oldest()).collect()
    }
}

fn render_trees(spans: &[SpanData], service: Option<&str>, attr_limit: usize) -> String {
    // Group by trace id in order of first appearance.
    let mut groups: Vec<(TraceId, Vec<&SpanData>)> = Vec::new();
    let mut slots: HashMap<TraceId, usize> = HashMap::new();
    for span in spans {
        let trace_id = span.span_context.trace_id();
        let slot = *slots.entry(trace_id).or_insert_with(|| {
            groups.push((trace_id, Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(span);
    }
    let mut out = String::new();
    for (trace_id, group) in &groups {
        render_trace(&mut out, *trace_id, group, service, attr_limit);
    }
    out
}

fn render_trace(
    out: &mut String,
    trace_id: TraceId,
    spans: &[&SpanData],
    service: Option<&str>,
    attr_limit: usize,
) {
    let mut index: HashMap<SpanId, usize> = HashMap::new();
    for (idx, span) in spans.iter().enumerate() {
        index.entry(span.span_context.span_id()).or_insert(idx);
    }
    let parent_of: Vec<Option<usize>> = (0..spans.len())
        .map(|idx| {
            let parent = spans[idx].parent_span_id;
            let found = index.get(&parent).copied();
            found.filter(|&p| p != idx && parent != SpanId::INVALID)
        })
        .collect();
    let mut by_start: Vec<usize> = (0..spans.len()).collect();
    by_start.sort_by_key(|&idx| spans[idx].start_time);
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut tops = Vec::new();
    for &idx in &by_start {
        match parent_of[idx] {
            Some(parent) => children[parent].push(idx),
            None => tops.push(idx),
        }
    }
    // Spans caught in a parent-id cycle are reachable from no top-level
    // node; they are promoted to the top level so nothing is dropped.
    let mut reached = vec![false; spans.len()];
    let mut pending = tops.clone();
    for &idx in &by_start {
        while let Some(next) = pending.pop() {
            if !std::mem::replace(&mut reached[next], true) {
                pending.extend(children[next].iter().copied());
            }
        }
        if !reached[idx] {
            tops.push(idx);
            pending.push(idx);
        }
    }

    let start = spans.iter().map(|s| s.start_time).min();
    let end = spans.iter().map(|s| s.end_time).max();
    let total = start
        .zip(end)
        .map_or(Duration::ZERO, |(s, e)| duration(s, e));
    let service = service.map(|name| format!("service: {}, ", sanitize(name, MAX_NAME_CHARS)));
    let _ = writeln!(
        out,
        "trace {trace_id}  ({}{}, {})",
        service.unwrap_or_default(),
        plural(spans.len(), "span"),
        format_duration(total)
    );

    // An explicit stack keeps very deep traces from overflowing the thread
    // stack.
    let mut visited = vec![false; spans.len()];
    let mut stack: Vec<(usize, String, bool, usize)> = (tops.iter().enumerate().rev())
        .map(|(pos, &top)| (top, String::new(), pos + 1 == tops.len(), 0))
        .collect();
    while let Some((idx, prefix, is_last, depth)) = stack.pop() {
        if std::mem::replace(&mut visited[idx], true) {
            continue;
        }
        let marker = if depth == 0 {
            top_marker(spans[idx], parent_of[idx].is_some())
        } else {
            None
        };
        out.push_str(&prefix);
        out.push_str(if is_last { "└─ " } else { "├─ " });
        span_line(out, spans[idx], attr_limit, marker.as_deref());
        let child_prefix = if depth >= MAX_INDENT_DEPTH {
            prefix
        } else {
            format!("{prefix}{}", if is_last { "   " } else { "│  " })
        };
        let kids: Vec<usize> = (children[idx].iter().copied())
            .filter(|&c| !visited[c])
            .collect();
        for (pos, &child) in kids.iter().enumerate().rev() {
            stack.push((
                child,
                child_prefix.clone(),
                pos + 1 == kids.len(),
                depth + 1,
            ));
        }
    }
}

fn top_marker(span: &SpanData, cyclic: bool) -> Option<String> {
    let parent = span.parent_span_id;
    if parent == SpanId::INVALID {
        None
    } else if cyclic {
        Some(format!("(parent {parent} is part of a cycle)"))
    } else if span.parent_span_is_remote {
        Some(format!("(remote parent {parent})"))
    } else {
        Some(format!("(parent {parent} not in this tree)"))
    }
}

fn span_line(out: &mut String, span: &SpanData, attr_limit: usize, marker: Option<&str>) {
    let name = match span.name.as_ref() {
        "" => "<unnamed>".to_owned(),
        name => sanitize(name, MAX_NAME_CHARS),
    };
    let dur = format_duration(duration(span.start_time, span.end_time));
    let _ = write!(out, "{name}  {}  {dur}", kind_label(&span.span_kind));
    match &span.status {
        Status::Error { description } if description.is_empty() => out.push_str("  ✗ error"),
        Status::Error { description } => {
            let _ = write!(out, "  ✗ error: {}", sanitize(description, MAX_VALUE_CHARS));
        }
        _ => {}
    }
    for (pos, kv) in span.attributes.iter().take(attr_limit).enumerate() {
        let key = sanitize(kv.key.as_str(), MAX_NAME_CHARS);
        let value = sanitize(&kv.value.to_string(), MAX_VALUE_CHARS);
        let _ = write!(out, "{}{key}={value}", if pos == 0 { "  " } else { " " });
    }
    let hidden = span.attributes.len().saturating_sub(attr_limit);
    if hidden > 0 {
        let sep = if attr_limit == 0 { "  " } else { " " };
        let _ = write!(out, "{sep}+{hidden} attrs");
    }
    for (count, noun) in [(span.events.len(), "event"), (span.links.len(), "link")] {
        if count > 0 {
            let _ = write!(out, "  +{}", plural(count, noun));
        }
    }
    if let Some(marker) = marker {
        let _ = write!(out, "  {marker}");
    }
    out.push('\n');
}

fn plural(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

fn kind_label(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "CLIENT",
        SpanKind::Server => "SERVER",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Internal => "INTERNAL",
    }
}

fn duration(start: SystemTime, end: SystemTime) -> Duration {
    end.duration_since(start).unwrap_or_default()
}

/// Formats a duration as `812 ns`, `812 µs`, `12.41 ms` or `1.203 s`.
fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos < 1_000 {
        format!("{nanos} ns")
    } else if nanos < 1_000_000 {
        format!("{} µs", nanos / 1_000)
    } else if nanos < 1_000_000_000 {
        format!("{:.2} ms", d.as_secs_f64() * 1_000.0)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

/// Escapes control characters (so a value cannot break the tree layout) and
/// truncates to `max_chars`.
fn sanitize(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 2));
    for (count, ch) in text.chars().enumerate() {
        if count == max_chars {
            out.push('…');
            break;
        }
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}
