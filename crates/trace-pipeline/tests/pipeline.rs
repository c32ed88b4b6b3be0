//! Pipeline, step and capability spans: the seed's "Trace 2" tree, failures, skips,
//! retries, cancellation, sampling, and concurrent runs that must not mix contexts.

use std::collections::HashSet;
use std::time::Duration;

use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
use trace_core::carrier::MapExtractor;
use trace_core::config::SamplerKind;
use trace_core::propagation::extract_context_with;
use trace_core::testing::{CapturedSpan, SpanCapture};
use trace_core::{Sampling, ScopedTracer, SpanStart};
use trace_pipeline::{CapabilityCall, Event, Outcome, PipelineRun, TraceHandle};

/// Stands in for trace-pubsub's consumer span, which a real service has around the run.
static CONSUMER: ScopedTracer = ScopedTracer::new("consumer", "0.0.0");

const PUBLISHER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PUBLISHER_SPAN: &str = "00f067aa0ba902b7";

#[derive(Debug)]
struct FeedError;

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("feed answered 503")
    }
}

impl std::error::Error for FeedError {}

/// `ability.Invoke` as services call it: from wherever, under the current span.
async fn invoke(capability: &str, operation: &str) -> Result<(), FeedError> {
    CapabilityCall::start(capability, operation)
        .run(async {
            tokio::task::yield_now().await;
            Ok(())
        })
        .await
}

fn event_attr(span: &CapturedSpan, event: &str, key: &str) -> Vec<Value> {
    span.events
        .iter()
        .filter(|e| e.name == event)
        .filter_map(|e| e.attributes.iter().find(|kv| kv.key.as_str() == key))
        .map(|kv| kv.value.clone())
        .collect()
}

/// The consumer span of a durable event whose metadata carries the publisher's context.
fn consume_durable_event() -> trace_core::TracedSpan {
    let metadata = vec![(
        "traceparent".to_string(),
        format!("00-{PUBLISHER_TRACE}-{PUBLISHER_SPAN}-01"),
    )];
    let publisher = extract_context_with(&Context::new(), &MapExtractor(&metadata));
    CONSUMER.start_with_parent(&publisher, SpanKind::Consumer, || {
        SpanStart::new("process pipeline:data_event")
    })
}

#[tokio::test]
async fn trace_2_pipeline_execution_from_durable_event() {
    let capture = SpanCapture::install();
    let consumer = consume_durable_event();
    let result = trace_core::in_context(consumer.context().clone(), async {
        let run = PipelineRun::start("digest", Event::new("evt-17", "pipeline:data_event"));
        let handle = run.trace_handle().expect("the run records");
        assert_eq!(run.in_scope(TraceHandle::current), Some(handle));
        let fetch = run.step("fetch", "rss", "fetch");
        fetch.run(invoke("rss", "fetch")).await?;
        let summarize = run.step("summarize", "llm", "summarize");
        // The capability runs on another task, as engines with worker pools do.
        summarize
            .run(async {
                trace_core::spawn_in_current_context(invoke("llm", "summarize"))
                    .await
                    .expect("the task does not panic")
            })
            .await?;
        run.finish(Outcome::Success);
        Ok::<(), FeedError>(())
    })
    .await;
    consumer.end();
    result.unwrap();

    assert_eq!(
        capture.outline(),
        "Consumer process pipeline:data_event
  Internal pipeline.digest.execute
    Internal pipeline.digest.step.fetch
      Internal ability.rss.fetch
    Internal pipeline.digest.step.summarize
      Internal ability.llm.summarize
"
    );
    let consumer = capture.find("process pipeline:data_event");
    assert_eq!(consumer.trace_id().to_string(), PUBLISHER_TRACE);
    assert_eq!(consumer.parent_span_id().to_string(), PUBLISHER_SPAN);

    let run = capture.find("pipeline.digest.execute");
    run.assert_child_of(&consumer);
    assert_eq!(run.attr("trace_rs.pipeline.name"), "digest");
    assert_eq!(run.attr("trace_rs.pipeline.event.id"), "evt-17");
    assert_eq!(
        run.attr("trace_rs.pipeline.event.type"),
        "pipeline:data_event"
    );
    assert_eq!(run.attr("trace_rs.pipeline.outcome"), "success");
    assert!(!run.is_error());

    let step = capture.find("pipeline.digest.step.summarize");
    step.assert_child_of(&run);
    assert_eq!(step.attr("trace_rs.pipeline.step.name"), "summarize");
    assert_eq!(step.attr("trace_rs.pipeline.step.capability"), "llm");
    assert_eq!(step.attr("trace_rs.pipeline.step.operation"), "summarize");
    assert_eq!(step.attr("trace_rs.pipeline.step.outcome"), "success");

    let call = capture.find("ability.llm.summarize");
    call.assert_child_of(&step);
    assert_eq!(call.attr("trace_rs.capability.name"), "llm");
    assert_eq!(call.attr("trace_rs.capability.operation"), "summarize");
    assert_eq!(call.attr("trace_rs.capability.outcome"), "success");
    for span in capture.spans() {
        assert!(
            span.end_time >= span.start_time,
            "{} has a duration",
            span.name()
        );
    }
}

#[tokio::test]
async fn a_failing_step_marks_call_step_and_run_as_errors() {
    let capture = SpanCapture::install();
    let run = PipelineRun::start("digest", Event::new("evt-18", "pipeline:data_event"));
    let step = run.step("fetch", "rss", "fetch");
    let call = step.capability("rss", "fetch");
    let result = step.run(call.run(async { Err::<(), _>(FeedError) })).await;
    let error = result.unwrap_err();
    run.finish(Outcome::error(
        "step_failed",
        format!("step fetch failed: {error}"),
    ));

    for name in [
        "ability.rss.fetch",
        "pipeline.digest.step.fetch",
        "pipeline.digest.execute",
    ] {
        assert!(capture.find(name).is_error(), "{name} is an error");
    }
    let step = capture.find("pipeline.digest.step.fetch");
    assert!(step.attr("error.type").ends_with("FeedError"));
    assert_eq!(step.attr("trace_rs.pipeline.step.outcome"), "error");
    assert_eq!(
        step.status,
        opentelemetry::trace::Status::error("feed answered 503")
    );
    let run = capture.find("pipeline.digest.execute");
    assert_eq!(run.attr("error.type"), "step_failed");
    assert_eq!(run.attr("trace_rs.pipeline.outcome"), "error");
}

#[tokio::test]
async fn skipped_steps_are_not_errors_and_retries_are_events() {
    let capture = SpanCapture::install();
    let run = PipelineRun::start("digest", Event::new("evt-19", "pipeline:data_event"));
    let notify = run.step("notify", "slack", "post");
    notify.finish(Outcome::skipped("nothing new"));

    let fetch = run.step("fetch", "rss", "fetch");
    for attempt in 1..=3 {
        let call = fetch.capability("rss", "fetch");
        if attempt < 3 {
            call.finish(Outcome::error("timeout", "no answer within 2s"));
            fetch.retry(attempt + 1, "timeout");
        } else {
            call.finish(Outcome::Success);
        }
    }
    fetch.finish(Outcome::Success);
    run.finish(Outcome::Success);

    let notify = capture.find("pipeline.digest.step.notify");
    assert!(!notify.is_error());
    assert!(!notify.has_attribute("error.type"));
    assert_eq!(notify.attr("trace_rs.pipeline.step.outcome"), "skipped");
    assert_eq!(
        notify.attr("trace_rs.pipeline.step.skip_reason"),
        "nothing new"
    );

    let fetch = capture.find("pipeline.digest.step.fetch");
    assert!(!fetch.is_error());
    assert_eq!(
        fetch.event_names(),
        vec!["trace_rs.retry", "trace_rs.retry"]
    );
    assert_eq!(
        event_attr(&fetch, "trace_rs.retry", "trace_rs.retry.attempt"),
        vec![Value::I64(2), Value::I64(3)]
    );
    assert_eq!(
        event_attr(&fetch, "trace_rs.retry", "trace_rs.retry.reason"),
        vec![Value::from("timeout"), Value::from("timeout")]
    );
    let calls = capture.find_all("ability.rss.fetch");
    assert_eq!(calls.iter().filter(|c| c.is_error()).count(), 2);
}

#[test]
fn oversized_event_ids_are_cut() {
    let capture = SpanCapture::install();
    let huge = "x".repeat(1 << 20);
    PipelineRun::start("digest", Event::new(&huge, &huge)).finish(Outcome::Success);
    let run = capture.find("pipeline.digest.execute");
    assert_eq!(run.attr("trace_rs.pipeline.event.id").len(), 1024);
    assert_eq!(run.attr("trace_rs.pipeline.event.type").len(), 1024);
}

#[tokio::test]
async fn a_step_dropped_by_a_timeout_ends_as_cancelled_not_failed() {
    let capture = SpanCapture::install();
    let run = PipelineRun::start("digest", Event::new("evt-20", "pipeline:data_event"));
    let step = run.step("fetch", "rss", "fetch");
    let timed_out = tokio::time::timeout(
        Duration::from_millis(20),
        step.run(std::future::pending::<Result<(), FeedError>>()),
    )
    .await;
    assert!(timed_out.is_err());
    run.finish(Outcome::Cancelled);

    let step = capture.find("pipeline.digest.step.fetch");
    assert_eq!(step.attr("trace_rs.pipeline.step.outcome"), "cancelled");
    assert!(!step.is_error());
    step.assert_child_of(&capture.find("pipeline.digest.execute"));
}

#[tokio::test]
async fn unsampled_runs_record_nothing_and_still_run_the_work() {
    let capture =
        SpanCapture::install_with(Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.0));
    let run = PipelineRun::start("digest", Event::new("evt-21", "pipeline:data_event"));
    assert!(!run.is_recording());
    // Not recorded, yet a trace of its own that work handed on follows.
    let handle = run
        .trace_handle()
        .expect("an unsampled run has a span context");
    assert!(handle.traceparent.ends_with("-00"), "{handle:?}");
    let step = run.step("fetch", "rss", "fetch");
    assert!(!step.is_recording());
    let value = step.run(async { Ok::<_, FeedError>(42) }).await.unwrap();
    run.retry(2, "timeout");
    run.finish(Outcome::Success);
    assert_eq!(value, 42);
    assert_eq!(TraceHandle::current(), None);
    assert!(capture.spans().is_empty());
}

/// Samples every span but the pipeline runs, whatever their parent.
#[derive(Debug, Clone)]
struct AllButRuns;

impl ShouldSample for AllButRuns {
    fn should_sample(
        &self,
        _parent: Option<&opentelemetry::Context>,
        _trace_id: opentelemetry::trace::TraceId,
        name: &str,
        _kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[opentelemetry::trace::Link],
    ) -> SamplingResult {
        let decision = if name.ends_with(".execute") {
            SamplingDecision::Drop
        } else {
            SamplingDecision::RecordAndSample
        };
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }
}

#[tokio::test]
async fn step_names_name_the_pipeline_whatever_the_runs_sampling_decision() {
    let capture = SpanCapture::install_with(AllButRuns);
    let run = PipelineRun::start("digest", Event::new("evt-22", "pipeline:data_event"));
    assert!(!run.is_recording());
    let run_handle = run.trace_handle().unwrap();
    let step = run.step("fetch", "rss", "fetch");
    assert!(step.is_recording());
    step.finish(Outcome::Success);
    run.finish(Outcome::Success);
    assert_eq!(capture.outline(), "Internal pipeline.digest.step.fetch\n");
    // Its parent is the run's own (unexported) span, in the run's trace.
    let step = capture.find("pipeline.digest.step.fetch");
    assert_eq!(
        run_handle.traceparent,
        format!("00-{}-{}-00", step.trace_id(), step.parent_span_id())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pipelines_keep_their_own_trees() {
    const RUNS: usize = 50;
    // Runs start in plain `tokio::spawn`s on the workers: process-wide.
    let capture = SpanCapture::install_process_wide();
    let mut tasks = Vec::new();
    for i in 0..RUNS {
        tasks.push(tokio::spawn(async move {
            let name = format!("p{i}");
            let run = PipelineRun::start(&name, Event::new(&name, "pipeline:data_event"));
            for step in ["a", "b"] {
                let step_run = run.step(step, "cap", step);
                step_run
                    .run(async {
                        tokio::time::sleep(Duration::from_millis((i % 5) as u64)).await;
                        trace_core::spawn_in_current_context(invoke("cap", step))
                            .await
                            .expect("the task does not panic")
                    })
                    .await
                    .unwrap();
            }
            run.finish(Outcome::Success);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let spans = capture
        .wait_for_spans(RUNS * 5, Duration::from_secs(10))
        .await;
    assert_eq!(spans.len(), RUNS * 5);
    let mut traces = HashSet::new();
    for i in 0..RUNS {
        let run = capture.find(&format!("pipeline.p{i}.execute"));
        assert_eq!(run.parent_span_id(), opentelemetry::trace::SpanId::INVALID);
        assert!(traces.insert(run.trace_id()), "run {i} has its own trace");
        for step in ["a", "b"] {
            let step_span = capture.find(&format!("pipeline.p{i}.step.{step}"));
            step_span.assert_child_of(&run);
            let calls: Vec<_> = spans
                .iter()
                .filter(|s| s.parent_span_id() == step_span.span_id())
                .collect();
            assert_eq!(calls.len(), 1, "one capability call under p{i}.{step}");
            assert_eq!(calls[0].name(), format!("ability.cap.{step}"));
            assert_eq!(calls[0].trace_id(), run.trace_id());
        }
    }
    // Nothing leaked into the test's own context.
    assert!(!Context::current().span().span_context().is_valid());
}

#[tokio::test]
async fn with_tracing_disabled_the_work_keeps_the_callers_baggage() {
    use opentelemetry::baggage::BaggageExt as _;

    // Disables tracing process-wide: not under a process-wide capture of another test.
    let _state = trace_core::testing::ProcessWide::lock();
    let guard = trace_core::init(&trace_core::Config {
        enabled: false,
        ..Default::default()
    })
    .unwrap();
    let caller = Context::current_with_baggage([opentelemetry::KeyValue::new("tenant", "acme")]);
    let seen = opentelemetry::context::FutureExt::with_context(
        async {
            let run = PipelineRun::start("digest", Event::new("evt-1", "data_event"));
            let step = run.step("fetch", "feed", "fetch");
            let in_future = step
                .instrument(async {
                    Context::current()
                        .baggage()
                        .get("tenant")
                        .map(|v| v.to_string())
                })
                .await;
            let in_scope = step.in_scope(|| {
                Context::current()
                    .baggage()
                    .get("tenant")
                    .map(|v| v.to_string())
            });
            step.finish(Outcome::Success);
            run.finish(Outcome::Success);
            (in_future, in_scope)
        },
        caller,
    )
    .await;
    assert_eq!(seen, (Some("acme".to_owned()), Some("acme".to_owned())));
    guard.shutdown().unwrap();
}
