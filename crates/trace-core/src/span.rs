//! Starting spans cheaply: decide "enabled?" and "sampled?" first, build attributes only
//! for spans that record.

use std::borrow::Cow;
use std::sync::RwLock;
use std::time::SystemTime;

use opentelemetry::trace::{
    Link, Span as _, SpanBuilder, SpanContext, SpanKind, Status, TraceContextExt, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;

use crate::active;
use crate::sampling::{self, FastDecision};

/// What a recording span starts with; built only once the span is known to record.
#[derive(Debug, Clone)]
pub struct SpanStart {
    name: Cow<'static, str>,
    attributes: Vec<KeyValue>,
    links: Vec<Link>,
    start_time: Option<SystemTime>,
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
        self.attributes.extend(attributes);
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
    name: &'static str,
    version: &'static str,
    cached: RwLock<Option<(u64, SdkTracer)>>,
}

impl ScopedTracer {
    /// A tracer for the scope `name` (usually the crate name) at `version`.
    pub const fn new(name: &'static str, version: &'static str) -> Self {
        Self {
            name,
            version,
            cached: RwLock::new(None),
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

    fn start_in(
        &self,
        parent: &Context,
        kind: SpanKind,
        build: impl FnOnce() -> SpanStart,
    ) -> TracedSpan {
        let span = parent.span();
        let decision = sampling::load().fast_decision(span.span_context());
        match decision {
            FastDecision::Drop => TracedSpan::not_recording(parent),
            FastDecision::Sample => {
                let start = build();
                let builder = builder_for(kind, start);
                self.with_tracer(|tracer| tracer.build_with_context(builder, parent))
                    .map_or_else(
                        || TracedSpan::not_recording(parent),
                        |span| TracedSpan::recording(parent, span),
                    )
            }
            FastDecision::Defer => {
                let probe = SpanBuilder::from_name("").with_kind(kind.clone());
                let Some(mut span) =
                    self.with_tracer(|tracer| tracer.build_with_context(probe, parent))
                else {
                    return TracedSpan::not_recording(parent);
                };
                if !span.is_recording() {
                    return TracedSpan::not_recording(parent);
                }
                let start = build();
                span.update_name(start.name);
                span.set_attributes(start.attributes);
                for link in start.links {
                    span.add_link(link.span_context, link.attributes);
                }
                TracedSpan::recording(parent, span)
            }
        }
    }

    fn with_tracer<R>(&self, use_tracer: impl FnOnce(&SdkTracer) -> R) -> Option<R> {
        let generation = active::generation();
        {
            let cached = self.cached.read().unwrap_or_else(|p| p.into_inner());
            if let Some((cached_generation, tracer)) = cached.as_ref()
                && *cached_generation == generation
            {
                return Some(use_tracer(tracer));
            }
        }
        let provider = active::provider()?;
        let scope = InstrumentationScope::builder(self.name)
            .with_version(self.version)
            .build();
        let tracer = provider.tracer_with_scope(scope);
        let result = use_tracer(&tracer);
        *self.cached.write().unwrap_or_else(|p| p.into_inner()) = Some((generation, tracer));
        Some(result)
    }
}

fn builder_for(kind: SpanKind, start: SpanStart) -> SpanBuilder {
    let mut builder = SpanBuilder::from_name(start.name)
        .with_kind(kind)
        .with_attributes(start.attributes);
    if !start.links.is_empty() {
        builder = builder.with_links(start.links);
    }
    if let Some(start_time) = start.start_time {
        builder = builder.with_start_time(start_time);
    }
    builder
}

/// A span started by a [`ScopedTracer`], or a stand-in when it does not record.
///
/// [`context`](Self::context) is what to propagate and to run child work in: the new
/// span's context when it records, otherwise the parent's unchanged. Every recording
/// method is a no-op on a stand-in, so callers never branch on sampling.
#[derive(Debug)]
#[must_use = "a span records nothing unless it is ended (or dropped)"]
pub struct TracedSpan {
    cx: Context,
    recording: bool,
}

impl TracedSpan {
    fn disabled() -> Self {
        Self {
            cx: Context::new(),
            recording: false,
        }
    }

    fn not_recording(parent: &Context) -> Self {
        Self {
            cx: parent.clone(),
            recording: false,
        }
    }

    fn recording(parent: &Context, span: opentelemetry_sdk::trace::Span) -> Self {
        let recording = span.is_recording();
        Self {
            cx: parent.with_span(span),
            recording,
        }
    }

    /// Whether this span records (it was sampled and tracing is on).
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// The context to run child work in and to inject into outgoing requests.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The span's own context; invalid when the span does not record.
    pub fn span_context(&self) -> SpanContext {
        if self.recording {
            self.cx.span().span_context().clone()
        } else {
            SpanContext::empty_context()
        }
    }

    /// Sets one attribute.
    pub fn set_attribute(&self, attribute: KeyValue) {
        if self.recording {
            self.cx.span().set_attribute(attribute);
        }
    }

    /// Sets attributes built by `build`, which runs only when the span records.
    pub fn set_attributes<I>(&self, build: impl FnOnce() -> I)
    where
        I: IntoIterator<Item = KeyValue>,
    {
        if self.recording {
            self.cx.span().set_attributes(build());
        }
    }

    /// Adds an event with attributes built only when the span records.
    pub fn add_event(
        &self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) {
        if self.recording {
            self.cx.span().add_event(name, attributes());
        }
    }

    /// Adds a link to another span.
    pub fn add_link(&self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if self.recording {
            self.cx.span().add_link(span_context, attributes);
        }
    }

    /// Marks the span failed: status `Error` with `message` and `error.type`.
    pub fn record_error(
        &self,
        error_type: impl Into<Value>,
        message: impl Into<Cow<'static, str>>,
    ) {
        if self.recording {
            record_error_on(&self.cx, error_type, message);
        }
    }

    /// Sets the status explicitly.
    pub fn set_status(&self, status: Status) {
        if self.recording {
            self.cx.span().set_status(status);
        }
    }

    /// Renames the span (for example once the route is known).
    pub fn update_name(&self, name: impl Into<Cow<'static, str>>) {
        if self.recording {
            self.cx.span().update_name(name);
        }
    }

    /// Ends the span now.
    pub fn end(self) {
        if self.recording {
            self.cx.span().end();
        }
    }

    /// Ends the span at `timestamp`.
    pub fn end_at(self, timestamp: SystemTime) {
        if self.recording {
            self.cx.span().end_with_timestamp(timestamp);
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
