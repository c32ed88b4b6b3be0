//! [`TracedSpan`]: a span started by a [`ScopedTracer`](crate::ScopedTracer), recording
//! or not, and the context to run child work in.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Display;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};
use std::thread::LocalKey;
use std::time::SystemTime;

use opentelemetry::global::BoxedSpan;
use opentelemetry::trace::{Span as _, SpanContext, SpanRef, Status, TraceContextExt, TraceFlags};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;

use crate::failure::{ErrorType, status_message};
use crate::propagation::TRACE_FLAG_RANDOM;
use crate::reused::{Reused, Spare, Stock};

/// A span started by a [`ScopedTracer`](crate::ScopedTracer).
///
/// It is the span its provider built: recording when the provider's sampler said so
/// (its processors saw `on_start` and see `on_end` when it ends), otherwise a
/// non-recording span that still has a valid span context of its own. Either way
/// [`context`](Self::context) is what to run child work in and to inject into
/// outgoing requests, so children and downstream services follow the decision.
/// Recording methods are no-ops on a span that does not record, so callers never
/// branch on sampling.
///
/// A recording span stays a plain value until [`context`](Self::context) is first
/// called: only then is it moved into a [`Context`], so a span that is started and
/// ended without handing out its context costs no more than the SDK's own. A span's
/// state lives in a box its thread reuses, so a `TracedSpan` is a few words: moving
/// one (returning it, ending it, keeping it in a future) copies no SDK span, and in a
/// steady state starting one allocates nothing of its own.
#[derive(Debug)]
#[must_use = "a span records nothing unless it is ended (or dropped)"]
pub struct TracedSpan {
    state: State,
}

#[derive(Debug)]
enum State {
    /// Tracing is off: no parent is kept.
    Disabled,
    /// No span was made (telemetry suppressed, or the provider shut down): the
    /// parent's context, unchanged.
    Parent(Context),
    /// Not recording: a span context of its own under the parent.
    NotRecording(Reused<NotRecording>),
    Recording(Reused<Recording>),
}

#[derive(Debug)]
struct NotRecording {
    parent: Context,
    span_context: SpanContext,
    cx: OnceLock<Context>,
}

thread_local! {
    static SPARE_NOT_RECORDING: Stock<NotRecording> = const { RefCell::new(Vec::new()) };
    static SPARE_RECORDING: Stock<Recording> = const { RefCell::new(Vec::new()) };
}

impl Spare for NotRecording {
    fn stock() -> &'static LocalKey<Stock<Self>> {
        &SPARE_NOT_RECORDING
    }

    fn empty() -> Self {
        Self {
            parent: Context::new(),
            span_context: SpanContext::empty_context(),
            cx: OnceLock::new(),
        }
    }

    fn clear(&mut self) {
        self.cx.take();
        self.parent = Context::new();
        self.span_context = SpanContext::empty_context();
    }
}

impl NotRecording {
    /// The state of a span its sampler dropped, in a spare box when there is one.
    #[inline]
    fn boxed(parent: &Context, span_context: SpanContext) -> Reused<Self> {
        let boxed = match Reused::<Self>::spare() {
            // Spare boxes are empty: only the parent and the span context are set.
            Some(mut boxed) => {
                boxed.parent = parent.clone();
                boxed.span_context = span_context;
                boxed
            }
            None => Box::new(Self {
                parent: parent.clone(),
                span_context,
                cx: OnceLock::new(),
            }),
        };
        Reused::from_box(boxed)
    }

    fn context(&self) -> &Context {
        self.cx.get_or_init(|| {
            self.parent
                .with_remote_span_context(self.span_context.clone())
        })
    }

    fn into_context(self) -> Context {
        match self.cx.into_inner() {
            Some(cx) => cx,
            None => self.parent.with_remote_span_context(self.span_context),
        }
    }
}

/// A span as its provider built it: the SDK's own, or a boxed one from the global
/// provider's tracer.
#[derive(Debug)]
// Boxing the SDK's span would add an allocation to every span.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ProviderSpan {
    Sdk(opentelemetry_sdk::trace::Span),
    Boxed(BoxedSpan),
}

/// Runs one `opentelemetry::trace::Span` method on either kind of span.
macro_rules! on_span {
    ($span:expr, $s:ident => $call:expr) => {
        match $span {
            ProviderSpan::Sdk($s) => $call,
            ProviderSpan::Boxed($s) => $call,
        }
    };
}

impl ProviderSpan {
    #[inline]
    fn span_context(&self) -> &SpanContext {
        on_span!(self, s => s.span_context())
    }

    #[inline]
    fn is_recording(&self) -> bool {
        on_span!(self, s => s.is_recording())
    }

    fn into_context(self, parent: &Context) -> Context {
        on_span!(self, s => parent.with_span(s))
    }
}

#[derive(Debug)]
struct Recording {
    parent: Context,
    /// The span until [`TracedSpan::context`] moves it into `cx`.
    bare: Mutex<Option<ProviderSpan>>,
    cx: OnceLock<Context>,
}

/// The span an operation applies to: still bare, or already inside the context.
enum Target<'a> {
    Bare(&'a mut ProviderSpan),
    Shared(SpanRef<'a>),
}

/// Runs one span method on a [`Target`], whichever it is.
macro_rules! on_target {
    ($target:expr, $s:ident => $call:expr) => {
        match $target {
            Target::Bare(ProviderSpan::Sdk($s)) => $call,
            Target::Bare(ProviderSpan::Boxed($s)) => $call,
            Target::Shared($s) => $call,
        }
    };
}

impl Spare for Recording {
    fn stock() -> &'static LocalKey<Stock<Self>> {
        &SPARE_RECORDING
    }

    fn empty() -> Self {
        Self {
            parent: Context::new(),
            bare: Mutex::new(None),
            cx: OnceLock::new(),
        }
    }

    fn clear(&mut self) {
        // The span first: ending it is what a processor may start spans during.
        self.bare
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.cx.take();
        self.parent = Context::new();
    }
}

impl Recording {
    /// The state of a span that records, in a spare box when there is one.
    #[inline]
    fn boxed(parent: &Context, span: ProviderSpan) -> Reused<Self> {
        let boxed = match Reused::<Self>::spare() {
            // Spare boxes are empty: only the parent and the span are set.
            Some(mut boxed) => {
                boxed.parent = parent.clone();
                *boxed.bare.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(span);
                boxed
            }
            None => Box::new(Self {
                parent: parent.clone(),
                bare: Mutex::new(Some(span)),
                cx: OnceLock::new(),
            }),
        };
        Reused::from_box(boxed)
    }

    /// Runs `operation` on the span, bare or inside the context.
    fn apply<R>(&self, operation: impl FnOnce(Target<'_>) -> R) -> R {
        let mut bare = self.bare.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(span) = bare.as_mut() {
            return operation(Target::Bare(span));
        }
        drop(bare);
        // `context()` took the span under the lock; it may still be storing `cx`.
        operation(Target::Shared(self.cx.wait().span()))
    }

    fn span_context(&self) -> SpanContext {
        self.apply(|span| on_target!(span, s => s.span_context().clone()))
    }

    fn set_attributes(&self, attributes: impl IntoIterator<Item = KeyValue>) {
        self.apply(|span| on_target!(span, s => s.set_attributes(attributes)));
    }

    fn context(&self) -> &Context {
        self.cx.get_or_init(|| {
            let mut bare = self.bare.lock().unwrap_or_else(PoisonError::into_inner);
            match bare.take() {
                Some(span) => span.into_context(&self.parent),
                // Unreachable: only this initialiser takes the span, and it runs once.
                None => self.parent.clone(),
            }
        })
    }

    fn child_context(&self) -> Context {
        match self.cx.get() {
            Some(cx) => cx.clone(),
            None => self.parent.with_remote_span_context(self.span_context()),
        }
    }

    fn into_context(self) -> Context {
        let bare = self
            .bare
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        match (bare, self.cx.into_inner()) {
            (Some(span), _) => span.into_context(&self.parent),
            (None, Some(cx)) => cx,
            (None, None) => self.parent,
        }
    }

    /// Ends the span where it lies: moving a bare span (a few hundred bytes) out first
    /// would cost more than the rest of `end`.
    fn end(&mut self, timestamp: Option<SystemTime>) {
        let bare = self.bare.get_mut().unwrap_or_else(PoisonError::into_inner);
        match (bare.as_mut(), self.cx.get()) {
            (Some(span), _) => on_span!(span, s => match timestamp {
                Some(timestamp) => s.end_with_timestamp(timestamp),
                None => s.end(),
            }),
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
    pub(crate) fn disabled() -> Self {
        Self {
            state: State::Disabled,
        }
    }

    /// A span its sampler dropped, with the span context the SDK gave it.
    #[inline]
    pub(crate) fn not_recording(parent: &Context, span_context: &SpanContext) -> Self {
        Self {
            state: State::NotRecording(NotRecording::boxed(
                parent,
                not_recording_span_context(parent, span_context),
            )),
        }
    }

    /// The span `build` makes under `parent`, built straight into its box: a bare SDK
    /// span is a few hundred bytes, and every move of it is a copy.
    #[inline]
    pub(crate) fn build(parent: &Context, build: impl FnOnce() -> ProviderSpan) -> Self {
        let mut boxed =
            Reused::<Recording>::spare().unwrap_or_else(|| Box::new(Recording::empty()));
        let bare = boxed.bare.get_mut().unwrap_or_else(PoisonError::into_inner);
        let span = bare.insert(build());
        if span.is_recording() {
            boxed.parent = parent.clone();
            return Self {
                state: State::Recording(Reused::from_box(boxed)),
            };
        }
        let span_context = span.span_context().clone();
        // Gives the box back, and lets the span go.
        drop(Reused::from_box(boxed));
        if span_context.is_valid() {
            Self::not_recording(parent, &span_context)
        } else {
            Self {
                state: State::Parent(parent.clone()),
            }
        }
    }

    /// Wraps the span the provider built under `parent`.
    #[inline]
    pub(crate) fn new(parent: &Context, span: ProviderSpan) -> Self {
        let state = if span.is_recording() {
            State::Recording(Recording::boxed(parent, span))
        } else if span.span_context().is_valid() {
            return Self::not_recording(parent, span.span_context());
        } else {
            State::Parent(parent.clone())
        };
        Self { state }
    }

    #[inline]
    fn recording(&self) -> Option<&Recording> {
        match &self.state {
            State::Recording(recording) => Some(recording),
            State::Disabled | State::Parent(_) | State::NotRecording(_) => None,
        }
    }

    /// Whether this span records (its provider's sampler said so, and tracing is on).
    #[inline]
    pub fn is_recording(&self) -> bool {
        matches!(self.state, State::Recording(_))
    }

    /// Whether this is a span with a valid span context of its own, recording or not:
    /// false when tracing is disabled or the provider made no span (telemetry
    /// suppressed, provider shut down). Child work belongs in its
    /// [`context`](Self::context) exactly when this is true, so that children and
    /// outgoing calls follow its sampling decision.
    #[inline]
    pub fn is_valid(&self) -> bool {
        matches!(self.state, State::Recording(_) | State::NotRecording(_))
    }

    /// The context to run child work in and to inject into outgoing requests: the
    /// parent's with this span as its active span, recording or not.
    ///
    /// Empty when tracing is disabled; the parent's context, unchanged, when the
    /// provider made no span (telemetry suppressed, provider shut down).
    pub fn context(&self) -> &Context {
        match &self.state {
            State::Disabled => &EMPTY_CONTEXT,
            State::Parent(parent) => parent,
            State::NotRecording(span) => span.context(),
            State::Recording(recording) => recording.context(),
        }
    }

    /// A context that makes this span the parent of spans, `tracing` spans and log
    /// lines under it, for running a child call in (attached around each poll, say)
    /// while the span itself stays here.
    ///
    /// Cheaper than [`context`](Self::context) for a recording span: one allocation,
    /// and the span is not moved into it, so later calls on it take no detour through
    /// the context. The context's span carries this span's ids, flags and trace
    /// state, and does not record: code under it can start children of this span but
    /// cannot add to it through `Context::current().span()`.
    pub fn child_context(&self) -> Context {
        match &self.state {
            State::Disabled => EMPTY_CONTEXT.clone(),
            State::Parent(parent) => parent.clone(),
            State::NotRecording(span) => span.context().clone(),
            State::Recording(recording) => recording.child_context(),
        }
    }

    /// Consumes the span and returns its [`context`](Self::context), which then owns the
    /// span: end it with `cx.span().end()`, or it ends when the last clone of the context
    /// is dropped. For callers that keep only the context.
    pub fn into_context(self) -> Context {
        match self.state {
            State::Disabled => EMPTY_CONTEXT.clone(),
            State::Parent(parent) => parent,
            State::NotRecording(span) => span.into_inner().into_context(),
            State::Recording(recording) => recording.into_inner().into_context(),
        }
    }

    /// The span's own span context: valid for a recording or a non-recording span,
    /// invalid when tracing is disabled or no span was made.
    pub fn span_context(&self) -> SpanContext {
        match &self.state {
            State::Disabled | State::Parent(_) => SpanContext::empty_context(),
            State::NotRecording(span) => span.span_context.clone(),
            State::Recording(recording) => recording.span_context(),
        }
    }

    /// Sets one attribute.
    pub fn set_attribute(&self, attribute: KeyValue) {
        if let Some(recording) = self.recording() {
            recording.apply(|span| on_target!(span, s => s.set_attribute(attribute)));
        }
    }

    /// Sets attributes built by `build`, which runs only when the span records.
    #[inline]
    pub fn set_attributes<I>(&self, build: impl FnOnce() -> I)
    where
        I: IntoIterator<Item = KeyValue>,
    {
        if let Some(recording) = self.recording() {
            recording.set_attributes(build());
        }
    }

    /// Adds an event with attributes built only when the span records.
    pub fn add_event(
        &self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) {
        if let Some(recording) = self.recording() {
            let (name, attributes) = (name.into(), attributes());
            recording.apply(|span| on_target!(span, s => s.add_event(name, attributes)));
        }
    }

    /// Adds a link to another span.
    pub fn add_link(&self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let Some(recording) = self.recording() {
            recording.apply(|span| on_target!(span, s => s.add_link(span_context, attributes)));
        }
    }

    /// Marks the span failed: `error.type` = `error_type`, status `Error` with
    /// `message`'s `Display` text as the message, cut to
    /// [`MAX_STATUS_MESSAGE_LEN`](crate::MAX_STATUS_MESSAGE_LEN) bytes. Both are built
    /// only when the span records.
    ///
    /// `error_type` follows [`ErrorType`]'s rule: a low-cardinality code where the
    /// failure has one, else the error's type name. A string is taken as a code.
    ///
    /// ```
    /// # let span = trace_core::ScopedTracer::new("doc", "0").start(
    /// #     opentelemetry::trace::SpanKind::Internal, || trace_core::SpanStart::new("op"));
    /// use trace_core::ErrorType;
    ///
    /// let error = std::io::Error::other("disk full");
    /// span.record_error(ErrorType::of_val(&error), &error);
    /// span.end();
    /// ```
    pub fn record_error(&self, error_type: impl Into<ErrorType>, message: impl Display) {
        if let Some(recording) = self.recording() {
            let error_type = KeyValue::new(ERROR_TYPE, Value::from(error_type.into()));
            let status = Status::error(status_message(message));
            recording.apply(|span| {
                on_target!(span, s => {
                    s.set_attribute(error_type);
                    s.set_status(status);
                })
            });
        }
    }

    /// Sets the status explicitly.
    pub fn set_status(&self, status: Status) {
        if let Some(recording) = self.recording() {
            recording.apply(|span| on_target!(span, s => s.set_status(status)));
        }
    }

    /// Renames the span (for example once the route is known).
    pub fn update_name(&self, name: impl Into<Cow<'static, str>>) {
        if let Some(recording) = self.recording() {
            let name = name.into();
            recording.apply(|span| on_target!(span, s => s.update_name(name)));
        }
    }

    /// Ends the span now.
    #[inline(always)]
    pub fn end(mut self) {
        match &mut self.state {
            State::Recording(recording) => recording.end(None),
            // Holds nothing: skipping the drop glue keeps the disabled path to a branch.
            State::Disabled => std::mem::forget(self),
            State::Parent(_) | State::NotRecording(_) => {}
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

/// The span context of a span its sampler dropped: the SDK's, with the parent's W3C
/// Level 2 random flag kept. The flag describes the trace id, which the span shares
/// with its parent, and a non-recording span must forward it (W3C Trace Context
/// Level 2); the SDK clears every flag of a dropped span. The `tracing` bridge uses it
/// too.
pub(crate) fn not_recording_span_context(
    parent: &Context,
    span_context: &SpanContext,
) -> SpanContext {
    let parent_span = parent.span();
    let parent_span_context = parent_span.span_context();
    let random = parent_span_context.trace_flags() & TRACE_FLAG_RANDOM;
    if random == TraceFlags::default()
        || parent_span_context.trace_id() != span_context.trace_id()
        || span_context.trace_flags() & TRACE_FLAG_RANDOM == TRACE_FLAG_RANDOM
    {
        return span_context.clone();
    }
    SpanContext::new(
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags() | random,
        span_context.is_remote(),
        span_context.trace_state().clone(),
    )
}

/// Marks the active span of `cx` failed, as [`TracedSpan::record_error`] does:
/// `error.type` = `error_type` ([`ErrorType`]'s rule), status `Error` with `message`'s
/// `Display` text cut to [`MAX_STATUS_MESSAGE_LEN`](crate::MAX_STATUS_MESSAGE_LEN)
/// bytes. Nothing is built when the span does not record.
pub fn record_error_on(cx: &Context, error_type: impl Into<ErrorType>, message: impl Display) {
    let span = cx.span();
    if span.is_recording() {
        span.set_attribute(KeyValue::new(ERROR_TYPE, Value::from(error_type.into())));
        span.set_status(Status::error(status_message(message)));
    }
}
