//! Starting spans cheaply: decide "enabled?" and "sampled?" first, build attributes only
//! for spans that record.

use std::borrow::Cow;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, SpanRef, Status, TraceContextExt,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;

use crate::active;
use crate::recording_span::{RecordingSpan, Scope};
use crate::sampling::{self, FastDecision};

/// What a recording span starts with; built only once the span is known to record.
#[derive(Debug, Clone)]
pub struct SpanStart {
    pub(crate) name: Cow<'static, str>,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) links: Vec<Link>,
    pub(crate) start_time: Option<SystemTime>,
}

impl SpanStart {
    /// A span named `name` with no attributes yet.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            attributes: Vec::new(),
            links: Vec::new(),
            start_time: None,
        }
    }

    /// Adds one attribute.
    pub fn with_attribute(mut self, attribute: KeyValue) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Adds attributes.
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        if self.attributes.is_empty() {
            // Collecting sizes the vector once; extending an empty one grows it.
            self.attributes = attributes.into_iter().collect();
        } else {
            self.attributes.extend(attributes);
        }
        self
    }

    /// Adds links to other spans (batch consumers, public endpoints).
    pub fn with_links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        self.links.extend(links);
        self
    }

    /// Sets an explicit start time (for example when a message was received earlier).
    pub fn with_start_time(mut self, start_time: SystemTime) -> Self {
        self.start_time = Some(start_time);
        self
    }
}

/// A tracer for one instrumentation scope that follows trace-core's lifecycle.
///
/// Declare one per crate or module as a `static`; it picks up the provider installed by
/// [`init`](crate::init) (or the test capture) whenever that changes.
///
/// ```
/// use opentelemetry::trace::SpanKind;
/// use opentelemetry::KeyValue;
/// use trace_core::{ScopedTracer, SpanStart};
///
/// static TRACER: ScopedTracer = ScopedTracer::new("my-crate", env!("CARGO_PKG_VERSION"));
///
/// let span = TRACER.start(SpanKind::Internal, || {
///     SpanStart::new("load profile").with_attribute(KeyValue::new("user.id", 42))
/// });
/// // ... do the work ...
/// span.end();
/// ```
#[derive(Debug)]
pub struct ScopedTracer {
    scope: Scope,
}

impl ScopedTracer {
    /// A tracer for the scope `name` (usually the crate name) at `version`.
    pub const fn new(name: &'static str, version: &'static str) -> Self {
        Self {
            scope: Scope { name, version },
        }
    }

    /// Starts a span whose parent is [`Context::current`].
    ///
    /// `build` runs only when the span will record; when tracing is disabled or the
    /// span is not sampled nothing is allocated.
    #[inline]
    pub fn start(&self, kind: SpanKind, build: impl FnOnce() -> SpanStart) -> TracedSpan {
        if !active::is_enabled() {
            return TracedSpan::disabled();
        }
        self.start_in(&Context::current(), kind, build)
    }

    /// Starts a span as a child of `parent` (for example a context extracted from
    /// incoming headers).
    #[inline]
    pub fn start_with_parent(
        &self,
        parent: &Context,
        kind: SpanKind,
        build: impl FnOnce() -> SpanStart,
    ) -> TracedSpan {
        if !active::is_enabled() {
            return TracedSpan::disabled();
        }
        self.start_in(parent, kind, build)
    }

    /// Starts a span as a child of `parent` and returns the context to run the work
    /// in, which owns the span: end it with `cx.span().end()`, or it ends when the last
    /// clone of the context is dropped. `None` when the span does not record (not
    /// sampled, or tracing disabled): run the work in `parent` then.
    ///
    /// For middleware that only ever needs the context (a server layer running its
    /// handler): `start_with_parent(..)` and [`TracedSpan::into_context`] without the
    /// [`TracedSpan`] in between.
    pub fn start_context(
        &self,
        parent: &Context,
        kind: SpanKind,
        build: impl FnOnce() -> SpanStart,
    ) -> Option<Context> {
        if !active::is_enabled() {
            return None;
        }
        self.record(parent, kind, build)
            .map(|span| parent.with_span(span))
    }

    fn start_in(
        &self,
        parent: &Context,
        kind: SpanKind,
        build: impl FnOnce() -> SpanStart,
    ) -> TracedSpan {
        match self.record(parent, kind, build) {
            Some(span) => TracedSpan::recording(parent, span),
            None => TracedSpan::not_recording(parent),
        }
    }

    /// The recording span, when the span is sampled.
    #[inline]
    fn record(
        &self,
        parent: &Context,
        kind: SpanKind,
        build: impl FnOnce() -> SpanStart,
    ) -> Option<RecordingSpan> {
        if parent.is_telemetry_suppressed() {
            // An exporter's own work: tracing it would loop.
            return None;
        }
        let parent_span = parent.span();
        let parent_span_context = parent_span.span_context();
        let policy = sampling::load();
        let root_trace_id = match policy.fast_decision(parent_span_context) {
            FastDecision::Drop => return None,
            FastDecision::Sample => None,
            FastDecision::Defer => {
                let trace_id = RandomIdGenerator::default().new_trace_id();
                if !policy.samples_root(trace_id) {
                    return None;
                }
                Some(trace_id)
            }
        };
        let pipeline = active::pipeline()?;
        Some(RecordingSpan::start(
            parent_span_context,
            root_trace_id,
            kind,
            build(),
            self.scope,
            pipeline,
        ))
    }
}

/// A span started by a [`ScopedTracer`], or a stand-in when it does not record.
///
/// [`context`](Self::context) is what to propagate and to run child work in: the new
/// span's context when it records, otherwise the parent's unchanged. Every recording
/// method is a no-op on a stand-in, so callers never branch on sampling.
///
/// A recording span stays a plain value until [`context`](Self::context) is first
/// called: only then is it moved into a [`Context`] (one `Box` and one `Arc`), so a span
/// that is started and ended without handing out its context allocates nothing beyond
/// its attributes.
#[derive(Debug)]
#[must_use = "a span records nothing unless it is ended (or dropped)"]
pub struct TracedSpan {
    state: State,
}

#[derive(Debug)]
// Boxing the recording state would add the very allocation this layout avoids.
#[allow(clippy::large_enum_variant)]
enum State {
    /// Tracing is off: no parent is kept.
    Disabled,
    /// Not sampled: the parent's context, unchanged.
    NotRecording(Context),
    Recording(Recording),
}

#[derive(Debug)]
struct Recording {
    parent: Context,
    /// The span until [`TracedSpan::context`] moves it into `cx`.
    bare: Mutex<Option<RecordingSpan>>,
    cx: OnceLock<Context>,
}

/// The span an operation applies to: still bare, or already inside the context.
enum Target<'a> {
    Bare(&'a mut RecordingSpan),
    Shared(SpanRef<'a>),
}

impl Target<'_> {
    fn span_context(&self) -> SpanContext {
        match self {
            Target::Bare(span) => span.span_context().clone(),
            Target::Shared(span) => span.span_context().clone(),
        }
    }

    fn set_attribute(self, attribute: KeyValue) {
        match self {
            Target::Bare(span) => span.set_attribute(attribute),
            Target::Shared(span) => span.set_attribute(attribute),
        }
    }

    fn set_attributes(self, attributes: impl IntoIterator<Item = KeyValue>) {
        match self {
            Target::Bare(span) => span.set_attributes(attributes),
            Target::Shared(span) => span.set_attributes(attributes),
        }
    }

    fn add_event(self, name: Cow<'static, str>, attributes: Vec<KeyValue>) {
        match self {
            Target::Bare(span) => span.add_event(name, attributes),
            Target::Shared(span) => span.add_event(name, attributes),
        }
    }

    fn add_link(self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        match self {
            Target::Bare(span) => span.add_link(span_context, attributes),
            Target::Shared(span) => span.add_link(span_context, attributes),
        }
    }

    fn set_status(self, status: Status) {
        match self {
            Target::Bare(span) => span.set_status(status),
            Target::Shared(span) => span.set_status(status),
        }
    }

    fn record_error(self, error_type: KeyValue, status: Status) {
        match self {
            Target::Bare(span) => {
                span.set_attribute(error_type);
                span.set_status(status);
            }
            Target::Shared(span) => {
                span.set_attribute(error_type);
                span.set_status(status);
            }
        }
    }

    fn update_name(self, name: Cow<'static, str>) {
        match self {
            Target::Bare(span) => span.update_name(name),
            Target::Shared(span) => span.update_name(name),
        }
    }
}

impl Recording {
    /// Runs `op` on the span, bare or inside the context.
    fn apply<R>(&self, op: impl FnOnce(Target<'_>) -> R) -> R {
        let mut bare = self.bare.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(span) = bare.as_mut() {
            return op(Target::Bare(span));
        }
        drop(bare);
        // `context()` took the span under the lock; it may still be storing `cx`.
        op(Target::Shared(self.cx.wait().span()))
    }

    fn context(&self) -> &Context {
        self.cx.get_or_init(|| {
            let mut bare = self.bare.lock().unwrap_or_else(PoisonError::into_inner);
            match bare.take() {
                Some(span) => self.parent.with_span(span),
                // Unreachable: only this initialiser takes the span, and it runs once.
                None => self.parent.clone(),
            }
        })
    }

    fn child_context(&self) -> Context {
        match self.cx.get() {
            Some(cx) => cx.clone(),
            None => self
                .parent
                .with_remote_span_context(self.apply(|span| span.span_context())),
        }
    }

    fn into_context(self) -> Context {
        let bare = self
            .bare
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        match (bare, self.cx.into_inner()) {
            (Some(span), _) => self.parent.with_span(span),
            (None, Some(cx)) => cx,
            (None, None) => self.parent,
        }
    }

    /// Ends the span where it lies: moving a bare span (a few hundred bytes) out
    /// first would cost more than the rest of `end`.
    fn end(&mut self, timestamp: Option<SystemTime>) {
        let bare = self.bare.get_mut().unwrap_or_else(PoisonError::into_inner);
        match (bare.as_mut(), self.cx.get()) {
            (Some(span), _) => match timestamp {
                Some(timestamp) => span.end_with_timestamp(timestamp),
                None => span.end(),
            },
            (None, Some(cx)) => match timestamp {
                Some(timestamp) => cx.span().end_with_timestamp(timestamp),
                None => cx.span().end(),
            },
            (None, None) => {}
        }
    }
}

static EMPTY_CONTEXT: LazyLock<Context> = LazyLock::new(Context::new);

impl TracedSpan {
    #[inline]
    fn disabled() -> Self {
        Self {
            state: State::Disabled,
        }
    }

    fn not_recording(parent: &Context) -> Self {
        Self {
            state: State::NotRecording(parent.clone()),
        }
    }

    fn recording(parent: &Context, span: RecordingSpan) -> Self {
        Self {
            state: State::Recording(Recording {
                parent: parent.clone(),
                bare: Mutex::new(Some(span)),
                cx: OnceLock::new(),
            }),
        }
    }

    #[inline]
    fn recording_state(&self) -> Option<&Recording> {
        match &self.state {
            State::Recording(recording) => Some(recording),
            State::Disabled | State::NotRecording(_) => None,
        }
    }

    /// Whether this span records (it was sampled and tracing is on).
    #[inline]
    pub fn is_recording(&self) -> bool {
        matches!(self.state, State::Recording(_))
    }

    /// The context to run child work in and to inject into outgoing requests.
    ///
    /// Empty when tracing is disabled; the parent's context when the span is not sampled.
    pub fn context(&self) -> &Context {
        match &self.state {
            State::Disabled => &EMPTY_CONTEXT,
            State::NotRecording(parent) => parent,
            State::Recording(recording) => recording.context(),
        }
    }

    /// A context that makes this span the parent of spans, `tracing` spans and log
    /// lines under it, for running a child call in (attached around each poll, say)
    /// while the span itself stays here.
    ///
    /// Cheaper than [`context`](Self::context): one allocation, and the span is not
    /// moved into it, so later calls on it take no detour through the context. The
    /// context's span carries this span's ids, flags and trace state, and does not
    /// record: code under it can start children of this span but cannot add to it
    /// through `Context::current().span()`. Empty when tracing is disabled; the
    /// parent's context when the span is not sampled.
    pub fn child_context(&self) -> Context {
        match &self.state {
            State::Disabled => EMPTY_CONTEXT.clone(),
            State::NotRecording(parent) => parent.clone(),
            State::Recording(recording) => recording.child_context(),
        }
    }

    /// Consumes the span and returns its [`context`](Self::context), which then owns the
    /// span: end it with `cx.span().end()`, or it ends when the last clone of the context
    /// is dropped. For callers that keep only the context: a context is a few words, a
    /// span a few hundred bytes, copied whenever a future holding it is moved.
    pub fn into_context(self) -> Context {
        match self.state {
            State::Disabled => EMPTY_CONTEXT.clone(),
            State::NotRecording(parent) => parent,
            State::Recording(recording) => recording.into_context(),
        }
    }

    /// The span's own context; invalid when the span does not record.
    pub fn span_context(&self) -> SpanContext {
        match self.recording_state() {
            Some(recording) => recording.apply(|span| span.span_context()),
            None => SpanContext::empty_context(),
        }
    }

    /// Sets one attribute.
    pub fn set_attribute(&self, attribute: KeyValue) {
        if let Some(recording) = self.recording_state() {
            recording.apply(|span| span.set_attribute(attribute));
        }
    }

    /// Sets attributes built by `build`, which runs only when the span records.
    pub fn set_attributes<I>(&self, build: impl FnOnce() -> I)
    where
        I: IntoIterator<Item = KeyValue>,
    {
        if let Some(recording) = self.recording_state() {
            let attributes = build();
            recording.apply(|span| span.set_attributes(attributes));
        }
    }

    /// Adds an event with attributes built only when the span records.
    pub fn add_event(
        &self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) {
        if let Some(recording) = self.recording_state() {
            let (name, attributes) = (name.into(), attributes());
            recording.apply(|span| span.add_event(name, attributes));
        }
    }

    /// Adds a link to another span.
    pub fn add_link(&self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let Some(recording) = self.recording_state() {
            recording.apply(|span| span.add_link(span_context, attributes));
        }
    }

    /// Marks the span failed: status `Error` with `message` and `error.type`.
    pub fn record_error(
        &self,
        error_type: impl Into<Value>,
        message: impl Into<Cow<'static, str>>,
    ) {
        if let Some(recording) = self.recording_state() {
            let error_type = KeyValue::new(ERROR_TYPE, error_type.into());
            let status = Status::error(message);
            recording.apply(|span| span.record_error(error_type, status));
        }
    }

    /// Sets the status explicitly.
    pub fn set_status(&self, status: Status) {
        if let Some(recording) = self.recording_state() {
            recording.apply(|span| span.set_status(status));
        }
    }

    /// Renames the span (for example once the route is known).
    pub fn update_name(&self, name: impl Into<Cow<'static, str>>) {
        if let Some(recording) = self.recording_state() {
            let name = name.into();
            recording.apply(|span| span.update_name(name));
        }
    }

    /// Ends the span now.
    #[inline]
    pub fn end(mut self) {
        match &mut self.state {
            State::Recording(recording) => recording.end(None),
            // Holds nothing: skipping the drop glue keeps the disabled path to a branch.
            State::Disabled => std::mem::forget(self),
            State::NotRecording(_) => {}
        }
    }

    /// Ends the span at `timestamp`.
    #[inline]
    pub fn end_at(mut self, timestamp: SystemTime) {
        if let State::Recording(recording) = &mut self.state {
            recording.end(Some(timestamp));
        }
    }
}

/// Marks the active span of `cx` failed: status `Error` with `message`, and
/// `error.type` set to `error_type` (a short, low-cardinality class such as `timeout`
/// or an error's type name).
pub fn record_error_on(
    cx: &Context,
    error_type: impl Into<Value>,
    message: impl Into<Cow<'static, str>>,
) {
    let span = cx.span();
    if span.is_recording() {
        span.set_attribute(KeyValue::new(ERROR_TYPE, error_type.into()));
        span.set_status(Status::error(message));
    }
}
