//! trace-core's spans against the plain SDK: the same calls through a `ScopedTracer`
//! and through the SDK's own tracer, on two providers set up alike (a sampler, an ID
//! generator and a processor that log every call), give the same sampler calls, ids,
//! flags, trace states, `on_start` calls and exported data. With a provider `init`
//! built from configuration, trace-core decides before the SDK where the configured
//! sampler allows it (a dropped span made without the SDK's span machinery, the ids of
//! a sampled root drawn first): the same ids, flags, trace states and processor calls.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Link, Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags,
    TraceId, TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    IdGenerator, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample, Span, SpanData,
    SpanProcessor,
};
use trace_core::{ScopedTracer, SpanStart, TracedSpan};

static TRACER: ScopedTracer = ScopedTracer::new("contract", "1.0.0");

/// The tests hand trace-core a provider each: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, entry: String) {
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(entry);
}

/// Counts up from 1: both providers hand out the same ids if asked in the same order.
#[derive(Debug)]
struct CountingIds(AtomicU64);

impl IdGenerator for CountingIds {
    fn new_trace_id(&self) -> TraceId {
        TraceId::from(u128::from(self.0.fetch_add(1, Ordering::Relaxed)) << 64 | 0xabc)
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

/// Logs every call; drops spans named `drop*` and children of unsampled parents;
/// writes `me=<name>` into the trace state of what it samples.
#[derive(Debug, Clone)]
struct LoggingSampler(Log);

impl ShouldSample for LoggingSampler {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let parent = parent.map(|cx| cx.span().span_context().clone());
        push(
            &self.0,
            format!("sample {parent:?} {trace_id} {name} {kind:?} {attributes:?} {links:?}"),
        );
        let parent_dropped = parent
            .as_ref()
            .is_some_and(|p| p.is_valid() && !p.is_sampled());
        let state = parent.map(|p| p.trace_state().clone()).unwrap_or_default();
        if name.starts_with("drop") || parent_dropped {
            return SamplingResult {
                decision: SamplingDecision::Drop,
                attributes: Vec::new(),
                trace_state: state,
            };
        }
        SamplingResult {
            decision: SamplingDecision::RecordAndSample,
            attributes: vec![KeyValue::new("sampler.added", true)],
            trace_state: state.insert("me", name.replace(' ', "_")).unwrap(),
        }
    }
}

/// Logs `on_start` (with the data the span starts with) and `on_end`.
#[derive(Debug)]
struct LoggingProcessor(Log);

impl SpanProcessor for LoggingProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        let data = span.exported_data().map(without_times);
        let parent = cx.span().span_context().span_id();
        push(&self.0, format!("start {parent} {data:?}"));
    }

    fn on_end(&self, span: SpanData) {
        push(&self.0, format!("end {:?}", without_times(span)));
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn without_times(mut span: SpanData) -> SpanData {
    span.start_time = SystemTime::UNIX_EPOCH;
    span.end_time = SystemTime::UNIX_EPOCH;
    for event in &mut span.events.events {
        event.timestamp = SystemTime::UNIX_EPOCH;
    }
    span
}

fn provider(log: &Log) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_id_generator(CountingIds(AtomicU64::new(1)))
        .with_sampler(LoggingSampler(Arc::clone(log)))
        .with_span_processor(LoggingProcessor(Arc::clone(log)))
        .with_max_attributes_per_span(4)
        .build()
}

/// One span to start: name, kind, attributes, links, and which earlier span (by index)
/// is its parent (`None`: the remote caller).
struct Step {
    name: &'static str,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    links: Vec<Link>,
    parent: Option<usize>,
}

fn steps() -> Vec<Step> {
    let attributes = |n: i64| (0..n).map(|i| KeyValue::new(format!("k{i}"), i)).collect();
    let linked = SpanContext::new(
        TraceId::from(77u128),
        SpanId::from(78u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    vec![
        Step {
            name: "GET /orders/{id}",
            kind: SpanKind::Server,
            attributes: attributes(2),
            links: Vec::new(),
            parent: None,
        },
        Step {
            name: "SELECT orders",
            kind: SpanKind::Client,
            attributes: attributes(6),
            links: vec![Link::with_context(linked)],
            parent: Some(0),
        },
        Step {
            name: "drop cache lookup",
            kind: SpanKind::Internal,
            attributes: attributes(1),
            links: Vec::new(),
            parent: Some(0),
        },
        Step {
            name: "under the dropped span",
            kind: SpanKind::Client,
            attributes: Vec::new(),
            links: Vec::new(),
            parent: Some(2),
        },
        Step {
            name: "publish",
            kind: SpanKind::Producer,
            attributes: attributes(3),
            links: Vec::new(),
            parent: Some(1),
        },
    ]
}

/// The remote caller: sampled, with a trace state of its own.
fn caller() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("congo", "t61rcWkgMzE")]).unwrap(),
    ))
}

/// Runs the steps through trace-core; returns each span's span context.
fn through_trace_core(provider: &SdkTracerProvider) -> Vec<SpanContext> {
    trace_core::set_provider(provider.clone());
    let caller = caller();
    let mut spans: Vec<TracedSpan> = Vec::new();
    for step in steps() {
        let parent = step.parent.map_or(&caller, |i| spans[i].context());
        let span = TRACER.start_with_parent(parent, step.kind, || {
            SpanStart::new(step.name)
                .with_attributes(step.attributes)
                .with_links(step.links)
        });
        span.set_attribute(KeyValue::new("later", "set"));
        span.add_event("event", || vec![KeyValue::new("e", 1)]);
        spans.push(span);
    }
    let contexts = spans.iter().map(TracedSpan::span_context).collect();
    for span in spans.into_iter().rev() {
        span.end();
    }
    contexts
}

/// Runs the same steps through the SDK's own tracer.
fn through_the_sdk(provider: &SdkTracerProvider) -> Vec<SpanContext> {
    let tracer = provider.tracer_with_scope(
        InstrumentationScope::builder("contract")
            .with_version("1.0.0")
            .build(),
    );
    let caller = caller();
    let mut contexts: Vec<Context> = Vec::new();
    for step in steps() {
        let parent = step.parent.map_or(&caller, |i| &contexts[i]);
        let builder = SpanBuilder::from_name(Cow::Borrowed(step.name))
            .with_kind(step.kind)
            .with_attributes(step.attributes)
            .with_links(step.links);
        let mut span = tracer.build_with_context(builder, parent);
        span.set_attribute(KeyValue::new("later", "set"));
        span.add_event("event", vec![KeyValue::new("e", 1)]);
        contexts.push(parent.with_span(span));
    }
    let span_contexts = contexts
        .iter()
        .map(|cx| cx.span().span_context().clone())
        .collect();
    for cx in contexts.iter().rev() {
        cx.span().end();
    }
    span_contexts
}

#[test]
fn trace_cores_spans_are_the_sdks_spans() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let (ours, theirs): (Log, Log) = (Log::default(), Log::default());
    let our_contexts = through_trace_core(&provider(&ours));
    let their_contexts = through_the_sdk(&provider(&theirs));

    assert_eq!(our_contexts, their_contexts, "ids, flags and trace states");
    let ours = ours.lock().unwrap().clone();
    let theirs = theirs.lock().unwrap().clone();
    assert_eq!(
        ours.len(),
        theirs.len(),
        "ours:\n{ours:#?}\ntheirs:\n{theirs:#?}"
    );
    for (ours, theirs) in ours.iter().zip(&theirs) {
        assert_eq!(ours, theirs);
    }
    // The scenario covers what it claims: two dropped spans, a trace state written by
    // the sampler, limits applied.
    assert_eq!(
        our_contexts.iter().filter(|c| !c.is_sampled()).count(),
        2,
        "{our_contexts:?}"
    );
    assert!(our_contexts.iter().all(SpanContext::is_valid));
    assert_eq!(
        our_contexts[1].trace_state().header(),
        "me=SELECT_orders,congo=t61rcWkgMzE"
    );
    assert!(
        ours.iter()
            .any(|entry| entry.contains("dropped_attributes_count: 3"))
    );
}

#[test]
fn the_only_difference_a_dropped_span_keeps_its_parents_random_flag() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let log = Log::default();
    trace_core::set_provider(provider(&log));
    let caller = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::new(0x02),
        true,
        TraceState::NONE,
    ));
    let span = TRACER.start_with_parent(&caller, SpanKind::Server, || SpanStart::new("s"));
    // The SDK clears every flag of a dropped span; W3C Level 2 asks a non-recording span
    // to forward the random flag, which describes the trace id it shares.
    assert!(!span.is_recording());
    assert_eq!(span.span_context().trace_flags(), TraceFlags::new(0x02));
    assert_eq!(
        span.context().span().span_context().trace_flags(),
        TraceFlags::new(0x02)
    );
    span.end();
}

/// Where a span of the configured-sampler scenarios starts.
#[derive(Clone, Copy)]
enum Parent {
    Root,
    Remote { sampled: bool },
    Span(usize),
}

/// Roots, remote parents sampled or not, and children of each.
const SHAPES: [Parent; 10] = [
    Parent::Root,
    Parent::Span(0),
    Parent::Remote { sampled: false },
    Parent::Span(2),
    Parent::Remote { sampled: true },
    Parent::Span(4),
    Parent::Root,
    Parent::Span(6),
    Parent::Span(7),
    Parent::Remote { sampled: false },
];

/// Trace ids spread over the 56 bits a ratio sampler reads; span ids count up.
#[derive(Debug)]
struct SpreadIds(AtomicU64);

impl IdGenerator for SpreadIds {
    fn new_trace_id(&self) -> TraceId {
        let n = u128::from(self.0.fetch_add(1, Ordering::Relaxed));
        TraceId::from(n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

fn remote(index: usize, sampled: bool) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(
            0x5eed_0000_0000_0000_0000_0000_0000_0000 + index as u128 * 0x1234_5678_9abc_def1,
        ),
        SpanId::from(0xfeed + index as u64),
        flags,
        true,
        TraceState::from_key_value([("congo", "t61rcWkgMzE")]).unwrap(),
    ))
}

/// The shapes through trace-core, on the provider `init` built.
fn shapes_through_trace_core() -> Vec<SpanContext> {
    let mut spans: Vec<TracedSpan> = Vec::new();
    for (index, shape) in SHAPES.into_iter().enumerate() {
        let remote_parent;
        let parent = match shape {
            Parent::Root => &Context::new(),
            Parent::Remote { sampled } => {
                remote_parent = remote(index, sampled);
                &remote_parent
            }
            Parent::Span(i) => spans[i].context(),
        };
        let span = TRACER.start_with_parent(parent, SpanKind::Internal, || {
            SpanStart::new(format!("span {index}"))
        });
        spans.push(span);
    }
    let contexts = spans.iter().map(TracedSpan::span_context).collect();
    for span in spans.into_iter().rev() {
        span.end();
    }
    contexts
}

/// The shapes through the SDK's own tracer.
fn shapes_through_the_sdk(provider: &SdkTracerProvider) -> Vec<SpanContext> {
    let tracer = provider.tracer_with_scope(
        InstrumentationScope::builder("contract")
            .with_version("1.0.0")
            .build(),
    );
    let mut contexts: Vec<Context> = Vec::new();
    for (index, shape) in SHAPES.into_iter().enumerate() {
        let parent = match shape {
            Parent::Root => Context::new(),
            Parent::Remote { sampled } => remote(index, sampled),
            Parent::Span(i) => contexts[i].clone(),
        };
        let builder = SpanBuilder::from_name(format!("span {index}")).with_kind(SpanKind::Internal);
        let span = tracer.build_with_context(builder, &parent);
        contexts.push(parent.with_span(span));
    }
    let span_contexts = contexts
        .iter()
        .map(|cx| cx.span().span_context().clone())
        .collect();
    for cx in contexts.iter().rev() {
        cx.span().end();
    }
    span_contexts
}

#[test]
fn spans_under_the_configured_sampler_are_the_sdks_spans() {
    use trace_core::config::{ExporterKind, SamplerKind};
    use trace_core::{Config, Sampling, TracingBuilder};

    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    for (sampler, rate) in [
        (SamplerKind::ParentBasedAlwaysOn, 1.0),
        (SamplerKind::ParentBasedTraceIdRatio, 0.5),
        (SamplerKind::TraceIdRatio, 0.5),
        (SamplerKind::AlwaysOff, 1.0),
        (SamplerKind::ParentBasedAlwaysOff, 1.0),
        (SamplerKind::AlwaysOn, 1.0),
    ] {
        let (ours, theirs): (Log, Log) = (Log::default(), Log::default());
        let config = Config {
            exporters: vec![ExporterKind::None],
            sampler,
            sample_rate: rate,
            ..Config::default()
        };
        let guard = TracingBuilder::new(&config)
            .with_id_generator(SpreadIds(AtomicU64::new(1)))
            .with_span_processor(LoggingProcessor(Arc::clone(&ours)))
            .init()
            .unwrap();
        let our_contexts = shapes_through_trace_core();
        guard.shutdown().unwrap();
        let plain = SdkTracerProvider::builder()
            .with_id_generator(SpreadIds(AtomicU64::new(1)))
            .with_sampler(Sampling::new(sampler, rate))
            .with_span_processor(LoggingProcessor(Arc::clone(&theirs)))
            .build();
        let their_contexts = shapes_through_the_sdk(&plain);

        assert_eq!(our_contexts, their_contexts, "{sampler:?} {rate}");
        assert_eq!(
            *ours.lock().unwrap(),
            *theirs.lock().unwrap(),
            "processor calls under {sampler:?} {rate}"
        );
        // Each scenario has dropped spans, and some under a ratio are sampled.
        if sampler != SamplerKind::AlwaysOn {
            assert!(
                our_contexts.iter().any(|c| c.is_valid() && !c.is_sampled()),
                "{sampler:?}: {our_contexts:?}"
            );
        }
    }
}
