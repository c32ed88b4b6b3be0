//! Span helpers: lazy attributes, error recording, context across tasks, and the
//! `tracing` bridge nesting both ways.

use std::time::Duration;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use trace_core::config::SamplerKind;
use trace_core::testing::SpanCapture;
use trace_core::{Sampling, ScopedTracer, SpanStart};
use tracing::instrument::WithSubscriber;
use tracing_subscriber::layer::SubscriberExt;

static TRACER: ScopedTracer = ScopedTracer::new("spans-test", "0.0.0");

#[test]
fn unsampled_spans_have_a_span_context_of_their_own_and_build_no_more_attributes() {
    let capture =
        SpanCapture::install_with(Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.0));
    let span = TRACER.start(SpanKind::Internal, || SpanStart::new("dropped"));
    assert!(!span.is_recording());
    let own = span.span_context();
    assert!(own.is_valid());
    assert!(!own.is_sampled());
    span.set_attributes(|| -> Vec<KeyValue> { panic!("not built for an unsampled span") });
    span.add_event("not built", || panic!("not built for an unsampled span"));

    // Children follow the decision and share the trace: no new root.
    let child =
        TRACER.start_with_parent(span.context(), SpanKind::Client, || SpanStart::new("child"));
    assert!(!child.is_recording());
    assert_eq!(child.span_context().trace_id(), own.trace_id());
    assert_ne!(child.span_context().span_id(), own.span_id());
    assert_eq!(
        injected_traceparent(child.context()),
        format!(
            "00-{}-{}-00",
            own.trace_id(),
            child.span_context().span_id()
        )
    );
    child.end();
    span.end();
    assert!(capture.spans().is_empty(), "{}", capture.outline());
}

#[test]
fn recorded_errors_set_status_and_error_type() {
    let capture = SpanCapture::install();
    let span = TRACER.start(SpanKind::Client, || SpanStart::new("call"));
    span.add_event("retry", || vec![KeyValue::new("attempt", 1)]);
    span.record_error("timeout", "no answer within 2s");
    span.end();
    let call = capture.find("call");
    assert!(call.is_error());
    assert_eq!(call.attr("error.type"), "timeout");
    assert_eq!(call.event_names(), vec!["retry"]);
}

#[test]
fn updates_before_and_after_handing_out_the_context_reach_the_same_span() {
    let capture = SpanCapture::install();
    let span = TRACER.start(SpanKind::Server, || SpanStart::new("GET"));
    span.set_attribute(KeyValue::new("before", true));
    let id_before = span.span_context().span_id();

    // Handing out the context moves the span into it; later updates go there.
    let cx = span.context().clone();
    assert_eq!(cx.span().span_context().span_id(), id_before);
    cx.span().set_attribute(KeyValue::new("through.context", 1));
    span.update_name("GET /orders/{id}");
    span.add_event("routed", Vec::new);
    span.record_error("timeout", "upstream did not answer");
    assert_eq!(span.span_context().span_id(), id_before);
    let child = TRACER.start_with_parent(&cx, SpanKind::Client, || SpanStart::new("child"));
    child.end();
    drop(cx);
    span.end();

    let server = capture.find("GET /orders/{id}");
    assert_eq!(server.attr("before"), "true");
    assert_eq!(server.attr("through.context"), "1");
    assert_eq!(server.event_names(), vec!["routed"]);
    assert_eq!(server.attr("error.type"), "timeout");
    assert!(server.is_error());
    capture.find("child").assert_child_of(&server);
    assert_eq!(capture.spans().len(), 2, "{}", capture.outline());
}

#[test]
fn a_child_context_parents_children_while_the_span_stays_with_its_owner() {
    let capture = SpanCapture::install();
    let subscriber = tracing_subscriber::registry().with(trace_core::tracing_bridge::layer());
    let parent = Context::new().with_baggage([KeyValue::new("tenant", "acme")]);
    let span = TRACER.start_with_parent(&parent, SpanKind::Client, || SpanStart::new("call"));
    let child_cx = span.child_context();
    assert_eq!(child_cx.span().span_context(), &span.span_context());
    assert!(
        !child_cx.span().is_recording(),
        "the span is not moved into it"
    );
    assert_eq!(child_cx.baggage().get("tenant"), Some(&"acme".into()));
    tracing::subscriber::with_default(subscriber, || {
        let _attached = child_cx.clone().attach();
        TRACER
            .start(SpanKind::Internal, || SpanStart::new("native child"))
            .end();
        tracing::info_span!("tracing child").in_scope(|| {});
    });
    span.set_attribute(KeyValue::new("after", true));
    drop(child_cx);
    span.end();

    let call = capture.find("call");
    assert_eq!(call.attr("after"), "true");
    capture.find("native child").assert_child_of(&call);
    capture.find("tracing child").assert_child_of(&call);
    assert_eq!(capture.spans().len(), 3, "{}", capture.outline());
}

#[test]
fn a_span_ends_once_whether_ended_or_dropped() {
    let capture = SpanCapture::install();
    let ended = TRACER.start(SpanKind::Internal, || SpanStart::new("ended"));
    let _ = ended.context();
    ended.end();
    let dropped = TRACER.start(SpanKind::Internal, || SpanStart::new("dropped"));
    drop(dropped);
    let names: Vec<String> = capture
        .spans()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(names, ["ended", "dropped"]);
}

#[tokio::test]
async fn spawned_tasks_keep_the_trace_and_correlation_ids_match() {
    let capture = SpanCapture::install();
    let root = TRACER.start(SpanKind::Server, || SpanStart::new("handle"));
    let expected_id = root.span_context().trace_id();
    let seen = trace_core::in_context(root.context().clone(), async {
        let correlation = trace_core::correlation_id();
        trace_core::spawn_in_current_context(async {
            TRACER
                .start(SpanKind::Internal, || SpanStart::new("background"))
                .end();
        })
        .await
        .unwrap();
        correlation
    })
    .await;
    root.end();
    assert_eq!(seen, Some(expected_id.to_string()));
    capture.wait_for_spans(2, Duration::from_secs(5)).await;
    assert_eq!(capture.outline(), "Server handle\n  Internal background\n");
    // Outside any span there is no correlation id (and no zero id).
    assert_eq!(trace_core::correlation_id(), None);
}

#[test]
fn tracing_spans_nest_under_native_spans_and_native_under_tracing() {
    let capture = SpanCapture::install();
    let subscriber = tracing_subscriber::registry().with(trace_core::tracing_bridge::layer());
    tracing::subscriber::with_default(subscriber, || {
        // Native parent, `tracing` child.
        let native = TRACER.start(SpanKind::Server, || SpanStart::new("native parent"));
        {
            let _attached = native.context().clone().attach();
            tracing::info_span!("tracing child").in_scope(|| {});
        }
        native.end();

        // `tracing` parent, native child.
        tracing::info_span!("tracing parent").in_scope(|| {
            assert!(Context::current().span().span_context().is_valid());
            TRACER
                .start(SpanKind::Internal, || SpanStart::new("native child"))
                .end();
        });
    });
    capture
        .find("tracing child")
        .assert_child_of(&capture.find("native parent"));
    capture
        .find("native child")
        .assert_child_of(&capture.find("tracing parent"));
}

#[tokio::test]
async fn instrumented_futures_nest_across_await_points() {
    let capture = SpanCapture::install();
    let subscriber = tracing_subscriber::registry().with(trace_core::tracing_bridge::layer());
    async {
        use tracing::Instrument as _;
        async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            TRACER
                .start(SpanKind::Client, || SpanStart::new("after await"))
                .end();
        }
        .instrument(tracing::info_span!("instrumented"))
        .await;
    }
    .with_subscriber(subscriber)
    .await;
    capture
        .find("after await")
        .assert_child_of(&capture.find("instrumented"));
}

#[test]
fn a_new_provider_is_picked_up_by_tracers_that_already_started_spans() {
    // Process-wide: trace-core's own provider, cached per thread, is what changes.
    let first = SpanCapture::install_process_wide();
    TRACER
        .start(SpanKind::Internal, || SpanStart::new("first"))
        .end();
    assert_eq!(first.find_all("first").len(), 1);
    drop(first);

    let second = SpanCapture::install_process_wide();
    TRACER
        .start(SpanKind::Internal, || SpanStart::new("second"))
        .end();
    let names: Vec<String> = second.spans().iter().map(|s| s.name().to_owned()).collect();
    assert_eq!(names, ["second"]);
}

/// The traceparent `propagation::inject_context` writes for `cx`.
fn injected_traceparent(cx: &Context) -> String {
    let mut headers = std::collections::HashMap::new();
    let propagator = trace_core::propagation::TraceContextPropagator::new();
    opentelemetry::propagation::TextMapPropagator::inject_context(&propagator, cx, &mut headers);
    headers.remove("traceparent").unwrap_or_default()
}

#[test]
fn a_remote_parents_level_2_random_flag_is_passed_on_sampled_or_not() {
    let _capture = SpanCapture::install_with(Sampling::new(SamplerKind::ParentBasedAlwaysOn, 1.0));
    // A remote parent's flags are passed on under a new parent id: the random flag
    // describes the trace id, which children share, and is never invented.
    for (incoming, expected) in [("01", "-01"), ("03", "-03"), ("00", "-00"), ("02", "-02")] {
        let remote = trace_core::propagation::parse_traceparent(&format!(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-{incoming}"
        ))
        .unwrap();
        let remote = opentelemetry::trace::SpanContext::new(
            remote.trace_id(),
            remote.span_id(),
            remote.trace_flags(),
            true,
            Default::default(),
        );
        let parent = Context::new().with_remote_span_context(remote);
        let server = TRACER.start_with_parent(&parent, SpanKind::Server, || SpanStart::new("s"));
        let sent = injected_traceparent(server.context());
        assert!(sent.ends_with(expected), "{incoming} -> {sent}");
        assert!(sent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"));
        assert!(
            !sent.contains("-b7ad6b7169203331-"),
            "a new parent id: {sent}"
        );
    }
}
