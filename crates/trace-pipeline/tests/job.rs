//! Background-job spans, and jobs stored with a trace handle and picked up elsewhere.

use std::time::{Duration, SystemTime};

use opentelemetry::Value;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::trace::{SpanId, SpanKind};
use trace_core::config::SamplerKind;
use trace_core::propagation::TraceContextPropagator;
use trace_core::testing::{CapturedSpan, SpanCapture};
use trace_core::{Sampling, ScopedTracer, SpanStart};
use trace_pipeline::{Continuation, Event, Job, Outcome, PipelineRun, TraceHandle};

static REQUEST: ScopedTracer = ScopedTracer::new("request", "0.0.0");

fn event_attr(span: &CapturedSpan, event: &str, key: &str) -> Vec<Value> {
    span.events
        .iter()
        .filter(|e| e.name == event)
        .filter_map(|e| e.attributes.iter().find(|kv| kv.key.as_str() == key))
        .map(|kv| kv.value.clone())
        .collect()
}

fn int(span: &CapturedSpan, key: &str) -> i64 {
    match span.attribute(key) {
        Some(Value::I64(value)) => *value,
        other => panic!("{key} is not an integer: {other:?}"),
    }
}

#[tokio::test]
async fn a_job_records_its_fields_progress_result_and_times() {
    let capture = SpanCapture::install();
    let scheduled = SystemTime::now() - Duration::from_millis(1500);
    let job = Job::new("send-email")
        .id("job-42")
        .namespace("notifications")
        .priority(5)
        .scheduled_at(scheduled)
        .worker("worker-7f3a", "worker-1")
        .user_id("user-9")
        .start();
    job.progress(25, "Email queued");
    tokio::time::sleep(Duration::from_millis(30)).await;
    job.progress(50, "Email sent");
    job.progress(250, "Completed");
    job.finish(Outcome::Success);

    let span = capture.find("job.send-email");
    assert_eq!(span.kind(), SpanKind::Consumer);
    assert_eq!(span.attr("trace_rs.job.name"), "send-email");
    assert_eq!(span.attr("trace_rs.job.id"), "job-42");
    assert_eq!(span.attr("trace_rs.job.namespace"), "notifications");
    assert_eq!(int(&span, "trace_rs.job.priority"), 5);
    assert_eq!(span.attr("trace_rs.job.worker.id"), "worker-7f3a");
    assert_eq!(span.attr("trace_rs.job.worker.name"), "worker-1");
    assert_eq!(span.attr("enduser.id"), "user-9");
    let scheduled_at = span.attr("trace_rs.job.scheduled_at");
    assert_eq!(scheduled_at.len(), "2026-11-21T05:33:19.042Z".len());
    assert!(scheduled_at.ends_with('Z') && scheduled_at.contains('T'));
    let waited = int(&span, "trace_rs.job.queue_wait_ms");
    assert!((1500..60_000).contains(&waited), "queue wait {waited} ms");

    assert_eq!(span.event_names(), vec!["trace_rs.job.progress"; 3]);
    assert_eq!(
        event_attr(
            &span,
            "trace_rs.job.progress",
            "trace_rs.job.progress.percent"
        ),
        vec![Value::I64(25), Value::I64(50), Value::I64(100)]
    );
    assert_eq!(
        event_attr(
            &span,
            "trace_rs.job.progress",
            "trace_rs.job.progress.message"
        ),
        ["Email queued", "Email sent", "Completed"].map(Value::from)
    );
    assert_eq!(span.attr("trace_rs.job.result"), "completed");
    let duration = int(&span, "trace_rs.job.duration_ms");
    assert!(duration >= 30, "job.duration_ms {duration}");
    assert!(!span.is_error());
}

#[tokio::test]
async fn a_failed_job_is_an_error_and_optional_fields_stay_unset() {
    let capture = SpanCapture::install();
    let job = Job::new("resize-image").in_process().start();
    let result = job
        .run(async { Err::<(), _>(std::io::Error::other("disk full")) })
        .await;
    assert!(result.is_err());

    let span = capture.find("job.resize-image");
    assert_eq!(span.kind(), SpanKind::Internal);
    assert!(span.is_error());
    assert_eq!(span.attr("trace_rs.job.result"), "failed");
    assert_eq!(span.attr("error.type"), "std::io::error::Error");
    assert!(span.has_attribute("trace_rs.job.duration_ms"));
    for unset in [
        "trace_rs.job.id",
        "trace_rs.job.priority",
        "trace_rs.job.scheduled_at",
        "trace_rs.job.queue_wait_ms",
        "enduser.id",
    ] {
        assert!(!span.has_attribute(unset), "{unset} is not set");
    }
}

/// Enqueues a job from inside a request span: stores the handle as JSON, as a jobs
/// table or a queue message would.
fn enqueue_in_request() -> (CapturedSpanIds, String) {
    let request = REQUEST.start(SpanKind::Server, || SpanStart::new("POST /emails"));
    let handle = TraceHandle::from_context(request.context()).expect("a recording span has one");
    let ids = CapturedSpanIds {
        trace: request.span_context().trace_id().to_string(),
        span: request.span_context().span_id(),
    };
    request.end();
    (ids, serde_json::to_string(&handle).unwrap())
}

struct CapturedSpanIds {
    trace: String,
    span: SpanId,
}

/// A worker on another task with no context of its own picks the stored job up.
async fn pick_up(stored: String, continuation: Continuation) {
    tokio::spawn(async move {
        let handle: Option<TraceHandle> = serde_json::from_str(&stored).ok();
        let job = Job::new("send-email")
            .id("job-43")
            .picked_up(handle.as_ref(), continuation)
            .start();
        let run =
            PipelineRun::start_with_parent(job.context(), "render", Event::new("job-43", "job"));
        run.finish(Outcome::Success);
        job.finish(Outcome::Success);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_job_picked_up_elsewhere_continues_the_trace() {
    // Picked up on a worker thread from a stored handle (a remote parent): process-wide.
    let capture = SpanCapture::install_process_wide();
    let (request, stored) = enqueue_in_request();
    assert!(stored.starts_with(r#"{"traceparent":"00-"#), "{stored}");
    pick_up(stored, Continuation::Parent).await;

    assert_eq!(
        capture.outline(),
        "Server POST /emails\n  Consumer job.send-email\n    Internal pipeline.render.execute\n"
    );
    let job = capture.find("job.send-email");
    assert_eq!(job.trace_id().to_string(), request.trace);
    assert_eq!(job.parent_span_id(), request.span);
    assert!(job.links.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_job_picked_up_elsewhere_can_start_a_linked_trace() {
    // Picked up on a worker thread from a stored handle (a remote parent): process-wide.
    let capture = SpanCapture::install_process_wide();
    let (request, stored) = enqueue_in_request();
    pick_up(stored, Continuation::Link).await;

    let job = capture.find("job.send-email");
    assert_ne!(job.trace_id().to_string(), request.trace);
    assert_eq!(job.parent_span_id(), SpanId::INVALID);
    assert_eq!(job.links.len(), 1);
    let link = &job.links[0].span_context;
    assert_eq!(link.trace_id().to_string(), request.trace);
    assert_eq!(link.span_id(), request.span);
    capture
        .find("pipeline.render.execute")
        .assert_child_of(&job);
}

#[tokio::test]
async fn missing_or_invalid_handles_start_a_new_trace() {
    let capture = SpanCapture::install();
    let invalid = [
        r#"{"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}"#,
        r#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"}"#,
        r#"{"traceparent":"garbage","tracestate":"a=1"}"#,
        r#"{"traceparent":""}"#,
    ];
    for (i, stored) in invalid.iter().enumerate() {
        let handle: TraceHandle = serde_json::from_str(stored).unwrap();
        assert_eq!(handle.span_context(), None, "{stored} is rejected");
        for continuation in [Continuation::Parent, Continuation::Link] {
            let name = format!("job-{i}-{continuation:?}");
            Job::new(&name)
                .picked_up(Some(&handle), continuation)
                .start()
                .finish(Outcome::Success);
        }
    }
    Job::new("no-handle")
        .picked_up(None, Continuation::Parent)
        .start()
        .finish(Outcome::Success);
    let spans = capture.spans();
    assert_eq!(spans.len(), invalid.len() * 2 + 1);
    for span in spans {
        assert_eq!(
            span.parent_span_id(),
            SpanId::INVALID,
            "{} is a root",
            span.name()
        );
        assert!(span.links.is_empty(), "{} links nothing", span.name());
    }
}

#[tokio::test]
async fn an_unsampled_enqueuer_is_followed_when_continuing_and_not_when_linking() {
    // The usual production sampler: parent-based, roots always sampled.
    let capture = SpanCapture::install_with(Sampling::new(SamplerKind::ParentBasedAlwaysOn, 1.0));
    let unsampled = TraceHandle {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".into(),
        tracestate: None,
    };
    let continued = Job::new("continued")
        .picked_up(Some(&unsampled), Continuation::Parent)
        .start();
    assert!(!continued.is_recording());
    // Work it hands on keeps the unsampled decision, under the job's own span id.
    let handed_on = continued.trace_handle().unwrap();
    assert!(
        handed_on
            .traceparent
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
            && handed_on.traceparent.ends_with("-00")
            && !handed_on.traceparent.contains("00f067aa0ba902b7"),
        "{handed_on:?}"
    );
    continued.finish(Outcome::Success);

    let linked = Job::new("linked")
        .picked_up(Some(&unsampled), Continuation::Link)
        .start();
    assert!(linked.is_recording());
    linked.finish(Outcome::Success);

    assert_eq!(capture.outline(), "Consumer job.linked\n");
    let linked = capture.find("job.linked");
    assert_eq!(
        linked.links[0].span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[test]
fn a_bad_tracestate_is_dropped_but_the_traceparent_kept() {
    let handle = TraceHandle {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        tracestate: Some("not a valid=member,=".into()),
    };
    let span_context = handle.span_context().expect("the traceparent is valid");
    assert_eq!(span_context.trace_state().header(), "");
    assert!(span_context.is_remote() && span_context.is_sampled());

    let with_state = TraceHandle {
        tracestate: Some("vendor=value".into()),
        ..handle
    };
    // The handle is a carrier any propagator reads.
    let extracted = TraceContextPropagator::new()
        .extract_with_context(&opentelemetry::Context::new(), &with_state);
    assert_eq!(
        extracted.span().span_context(),
        &with_state.span_context().unwrap()
    );
    let round_trip = serde_json::to_string(&with_state).unwrap();
    let back: TraceHandle = serde_json::from_str(&round_trip).unwrap();
    assert_eq!(back, with_state);
    assert_eq!(
        back.span_context().unwrap().trace_state().header(),
        "vendor=value"
    );
}
