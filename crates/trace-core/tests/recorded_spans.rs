//! What trace-core's spans carry to the exporters: the SDK's `SpanData`, with the
//! SDK's limits and status rules, parents and flags, ended once.

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use trace_core::config::SamplerKind;
use trace_core::testing::SpanCapture;
use trace_core::{Sampling, ScopedTracer, SpanStart};

static TRACER: ScopedTracer = ScopedTracer::new("recorded-spans-test", "1.2.3");

#[test]
fn attributes_events_and_links_keep_the_sdk_limits_and_count_what_was_dropped() {
    let capture = SpanCapture::install();
    let span = TRACER.start(SpanKind::Internal, || {
        SpanStart::new("busy").with_attributes((0..130).map(|i| KeyValue::new(format!("k{i}"), i)))
    });
    span.set_attribute(KeyValue::new("one.more", true));
    for i in 0..130 {
        span.add_event(format!("event {i}"), Vec::new);
        span.add_link(SpanContext::empty_context(), vec![KeyValue::new("i", i)]);
    }
    span.end();

    let recorded = capture.find("busy");
    assert_eq!(recorded.attributes.len(), 128);
    assert_eq!(recorded.dropped_attributes_count, 3);
    assert_eq!(recorded.events.len(), 128);
    assert_eq!(recorded.events.dropped_count, 2);
    assert_eq!(recorded.links.len(), 128);
    assert_eq!(recorded.links.dropped_count, 2);
    assert_eq!(recorded.instrumentation_scope.name(), "recorded-spans-test");
    assert_eq!(recorded.instrumentation_scope.version(), Some("1.2.3"));
}

#[test]
fn status_only_moves_up_and_the_last_name_wins() {
    let capture = SpanCapture::install();
    let span = TRACER.start(SpanKind::Internal, || SpanStart::new("first name"));
    span.record_error("timeout", "took too long");
    span.set_status(Status::Unset);
    span.update_name("final name");
    span.end();
    let ok_then_error = TRACER.start(SpanKind::Internal, || SpanStart::new("ok"));
    ok_then_error.set_status(Status::Ok);
    ok_then_error.record_error("late", "ignored");
    ok_then_error.end();

    let recorded = capture.find("final name");
    assert_eq!(recorded.status, Status::error("took too long"));
    assert_eq!(recorded.attr("error.type"), "timeout");
    assert_eq!(capture.find("ok").status, Status::Ok);
}

#[test]
fn roots_children_and_remote_parents_get_the_right_ids_and_flags() {
    let capture = SpanCapture::install();
    let root = TRACER.start(SpanKind::Server, || SpanStart::new("root"));
    let child =
        TRACER.start_with_parent(root.context(), SpanKind::Client, || SpanStart::new("child"));
    let remote = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("vendor", "v1")]).unwrap(),
    );
    let remote_parent = Context::new().with_remote_span_context(remote.clone());
    let server = TRACER.start_with_parent(&remote_parent, SpanKind::Server, || {
        SpanStart::new("server")
    });
    child.end();
    root.end();
    server.end();

    let (root, child, server) = (
        capture.find("root"),
        capture.find("child"),
        capture.find("server"),
    );
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    assert!(!root.parent_span_is_remote);
    // The SDK's flags for a root it sampled.
    assert_eq!(root.span_context.trace_flags(), TraceFlags::SAMPLED);
    child.assert_child_of(&root);
    assert!(!child.parent_span_is_remote);
    assert_eq!(child.span_context.trace_flags(), TraceFlags::SAMPLED);

    assert_eq!(server.trace_id(), remote.trace_id());
    assert_eq!(server.parent_span_id, remote.span_id());
    assert!(server.parent_span_is_remote);
    assert_eq!(server.span_context.trace_flags(), TraceFlags::SAMPLED);
    assert_eq!(server.span_context.trace_state().get("vendor"), Some("v1"));
    assert_ne!(server.span_id(), remote.span_id());
}

#[test]
fn sampled_roots_under_a_ratio_follow_the_consistent_probability_rule() {
    let capture = SpanCapture::install_with(Sampling::new(SamplerKind::TraceIdRatio, 0.5));
    let started = 400;
    for _ in 0..started {
        TRACER
            .start(SpanKind::Internal, || SpanStart::new("maybe"))
            .end();
    }
    let spans = capture.spans();
    // The specification's rule: the trace id's low 56 bits at least the rejection
    // threshold (2^55 for one half), which the span's tracestate records as `th:8`.
    for span in &spans {
        let low = u128::from_be_bytes(span.trace_id().to_bytes()) as u64 & ((1 << 56) - 1);
        assert!(
            low >= 1 << 55,
            "{} should not have been sampled",
            span.trace_id()
        );
        assert_eq!(span.span_context.trace_state().get("ot"), Some("th:8"));
    }
    // 400 fair coin flips: outside 120..=280 has a probability below 1e-15.
    assert!(
        (120..=280).contains(&spans.len()),
        "{} of {started} sampled",
        spans.len()
    );
}

#[test]
fn a_span_moved_into_its_context_ends_there_once() {
    let capture = SpanCapture::install();
    let span = TRACER.start(SpanKind::Server, || SpanStart::new("owned by the context"));
    let cx = span.into_context();
    assert!(cx.span().is_recording());
    let clone = cx.clone();
    cx.span()
        .set_attribute(KeyValue::new("set.through", "context"));
    cx.span().end();
    assert!(!clone.span().is_recording());
    drop(cx);
    drop(clone);
    let dropped = TRACER
        .start(SpanKind::Internal, || {
            SpanStart::new("dropped with its context")
        })
        .into_context();
    drop(dropped);

    let spans = capture.spans();
    assert_eq!(spans.len(), 2, "{}", capture.outline());
    assert_eq!(
        capture.find("owned by the context").attr("set.through"),
        "context"
    );
    capture.find("dropped with its context");
}
