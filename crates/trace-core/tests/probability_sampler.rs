//! `ProbabilitySampler` in a real SDK pipeline: what reaches the exporter, what crosses
//! a process boundary in `tracestate`, and consistent decisions between two services.

use std::collections::{HashMap, HashSet};

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Span, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, ParentBasedSampler, SdkTracer, SdkTracerProvider, ShouldSample, SpanData,
};
use trace_core::ProbabilitySampler;
use trace_core::propagation::TraceContextPropagator;

/// A provider that exports every sampled span to memory, with `sampler`.
fn provider(sampler: impl ShouldSample + 'static) -> (SdkTracer, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_simple_exporter(exporter.clone())
        .build();
    (provider.tracer("probability-sampler-test"), exporter)
}

fn exported(exporter: &InMemorySpanExporter) -> Vec<SpanData> {
    exporter.get_finished_spans().expect("in-memory exporter")
}

/// A remote parent in the trace `trace_id`, sampled, with `tracestate`.
fn remote_parent(trace_id: u128, tracestate: &str) -> Context {
    let state: TraceState = tracestate.parse().expect("valid tracestate");
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        true,
        state,
    ))
}

/// Whether `fraction` of `count` trials is within five standard deviations of `p`.
fn within_bounds(fraction: f64, p: f64, count: usize) -> bool {
    (fraction - p).abs() < 5.0 * (p * (1.0 - p) / count as f64).sqrt()
}

#[test]
fn spans_sampled_by_probability_are_exported_with_the_threshold_in_tracestate() {
    const ROOTS: usize = 4000;
    let (tracer, exporter) = provider(ParentBasedSampler::new(ProbabilitySampler::new(0.5)));
    for _ in 0..ROOTS {
        let root = tracer.start_with_context("root", &Context::new());
        let cx = Context::new().with_span(root);
        tracer.start_with_context("child", &cx).end();
        cx.span().end();
    }

    let spans = exported(&exporter);
    let roots = spans.iter().filter(|span| span.name == "root").count();
    let children = spans.iter().filter(|span| span.name == "child").count();
    // The parent-based children follow their roots, with the roots' tracestate.
    assert_eq!(children, roots);
    for span in &spans {
        assert!(span.span_context.is_sampled());
        assert_eq!(span.span_context.trace_state().header(), "ot=th:8");
    }
    let fraction = roots as f64 / ROOTS as f64;
    assert!(
        within_bounds(fraction, 0.5, ROOTS),
        "kept {fraction} of roots at 0.5"
    );
}

#[test]
fn probability_decisions_take_rv_from_the_parent_over_the_trace_id() {
    let (tracer, exporter) = provider(ProbabilitySampler::new(0.5));
    // The trace id's randomness is all ones, and `rv` is below 0x80000000000000.
    let low_rv = remote_parent(u128::MAX, "ot=rv:7fffffffffffff");
    tracer.start_with_context("low rv", &low_rv).end();
    // The trace id's randomness is all zeros, and `rv` is exactly the threshold.
    let high_rv = remote_parent(1 << 64, "ot=rv:80000000000000");
    tracer.start_with_context("high rv", &high_rv).end();

    let spans = exported(&exporter);
    let names: Vec<_> = spans.iter().map(|span| span.name.as_ref()).collect();
    assert_eq!(names, ["high rv"]);
    assert_eq!(
        spans[0].span_context.trace_state().header(),
        "ot=th:8;rv:80000000000000"
    );
}

#[test]
fn probability_sampling_keeps_other_vendors_members_beside_ot() {
    let (tracer, exporter) = provider(ProbabilitySampler::new(0.25));
    let parent = remote_parent(
        1 << 64,
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,ot=rv:f0000000000000;foo:bar",
    );
    tracer.start_with_context("child", &parent).end();

    let spans = exported(&exporter);
    assert_eq!(spans.len(), 1);
    assert_eq!(
        spans[0].span_context.trace_state().header(),
        "ot=th:c;rv:f0000000000000;foo:bar,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );
}

#[test]
fn a_downstream_service_at_a_lower_probability_keeps_a_subset_of_the_upstream_traces() {
    const TRACES: usize = 10_000;
    let (upstream, upstream_spans) =
        provider(ParentBasedSampler::new(ProbabilitySampler::new(0.5)));
    // Not parent-based: the downstream service decides again, consistently.
    let (downstream, downstream_spans) = provider(ProbabilitySampler::new(0.1));
    let propagator = TraceContextPropagator::new();

    for _ in 0..TRACES {
        let client = upstream.start_with_context("client", &Context::new());
        let client_cx = Context::new().with_span(client);
        let mut headers = HashMap::new();
        propagator.inject_context(&client_cx, &mut headers);

        let server_cx = propagator.extract_with_context(&Context::new(), &headers);
        downstream.start_with_context("server", &server_cx).end();
        client_cx.span().end();
    }

    let trace_ids = |spans: &[SpanData]| -> HashSet<TraceId> {
        spans
            .iter()
            .map(|span| span.span_context.trace_id())
            .collect()
    };
    let (up, down) = (exported(&upstream_spans), exported(&downstream_spans));
    let (up_traces, down_traces) = (trace_ids(&up), trace_ids(&down));
    assert!(down_traces.is_subset(&up_traces));
    assert!(
        down.iter()
            .all(|span| span.span_context.trace_state().header() == "ot=th:e666")
    );

    let up_fraction = up_traces.len() as f64 / TRACES as f64;
    let down_fraction = down_traces.len() as f64 / TRACES as f64;
    assert!(
        within_bounds(up_fraction, 0.5, TRACES),
        "upstream kept {up_fraction}"
    );
    // 0.1 is written as `e666`, a probability of 0.100006.
    assert!(
        within_bounds(down_fraction, 0.1, TRACES),
        "downstream kept {down_fraction}"
    );
    println!("kept: upstream {up_fraction}, downstream {down_fraction} of {TRACES} traces");
}
