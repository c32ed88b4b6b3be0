//! The optional runner: a declared pipeline produces the same spans as hand
//! instrumentation, with skips, retries and failures.
#![cfg(feature = "runner")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use trace_core::testing::SpanCapture;
use trace_pipeline::runner::{Pipeline, Step, StepError};
use trace_pipeline::{Continuation, Event, TraceHandle};

#[derive(Clone, Debug, Default)]
struct Digest {
    items: Vec<String>,
    posted: bool,
}

async fn fetch(mut digest: Digest) -> Result<Digest, StepError> {
    digest.items.push("item".into());
    Ok(digest)
}

async fn post(mut digest: Digest) -> Result<Digest, StepError> {
    digest.posted = true;
    Ok(digest)
}

#[tokio::test]
async fn a_declared_pipeline_runs_its_steps_with_all_spans() {
    let capture = SpanCapture::install();
    let pipeline = Pipeline::new("digest")
        .step(Step::new("fetch", "rss", "fetch", fetch))
        .step(Step::new("archive", "s3", "put", post).when(|d: &Digest| d.items.is_empty()))
        .step(Step::new("notify", "slack", "post", post));
    let digest = pipeline
        .execute(
            Event::new("evt-1", "pipeline:data_event"),
            Digest::default(),
        )
        .await
        .unwrap();
    assert!(digest.posted);
    assert_eq!(
        capture.outline(),
        "Internal pipeline.digest.execute
  Internal pipeline.digest.step.fetch
    Internal ability.rss.fetch
  Internal pipeline.digest.step.archive
  Internal pipeline.digest.step.notify
    Internal ability.slack.post
"
    );
    let archive = capture.find("pipeline.digest.step.archive");
    assert_eq!(archive.attr("trace_rs.pipeline.step.outcome"), "skipped");
    assert_eq!(
        archive.attr("trace_rs.pipeline.step.skip_reason"),
        "condition not met"
    );
    let run = capture.find("pipeline.digest.execute");
    assert_eq!(run.attr("trace_rs.pipeline.event.id"), "evt-1");
    assert_eq!(run.attr("trace_rs.pipeline.outcome"), "success");
}

#[tokio::test]
async fn retries_are_events_and_a_final_failure_stops_the_run() {
    let capture = SpanCapture::install();
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&attempts);
    let flaky = move |digest: Digest| {
        let attempt = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if attempt < 3 {
                Err(StepError::new("timeout", "feed did not answer"))
            } else {
                Ok(digest)
            }
        }
    };
    let broken = |_: Digest| async { Err(std::io::Error::other("disk full").into()) };
    let pipeline = Pipeline::new("digest")
        .step(Step::new("fetch", "rss", "fetch", flaky).retries(3))
        .step(Step::new("store", "disk", "write", broken).retries(1))
        .step(Step::new("notify", "slack", "post", post));
    let error = pipeline
        .execute(
            Event::new("evt-2", "pipeline:data_event"),
            Digest::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.step(), "store");
    assert_eq!(error.error_type(), "std::io::error::Error");
    assert_eq!(
        error.to_string(),
        "pipeline digest failed at step store: disk full"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3);

    let fetch = capture.find("pipeline.digest.step.fetch");
    assert!(!fetch.is_error());
    assert_eq!(
        fetch.event_names(),
        vec!["trace_rs.retry", "trace_rs.retry"]
    );
    assert_eq!(capture.find_all("ability.rss.fetch").len(), 3);

    let store = capture.find("pipeline.digest.step.store");
    assert!(store.is_error());
    assert_eq!(store.event_names(), vec!["trace_rs.retry"]);
    let calls = capture.find_all("ability.disk.write");
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.is_error()));
    let run = capture.find("pipeline.digest.execute");
    assert!(run.is_error());
    assert_eq!(run.attr("error.type"), "std::io::error::Error");
    assert!(capture.find_all("pipeline.digest.step.notify").is_empty());
}

#[tokio::test]
async fn a_run_picked_up_with_a_handle_continues_its_trace() {
    let capture = SpanCapture::install();
    let handle = TraceHandle {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        tracestate: None,
    };
    let pipeline = Pipeline::new("digest").step(Step::new("fetch", "rss", "fetch", fetch));
    pipeline
        .execute_from(
            Some(&handle),
            Continuation::Parent,
            Event::new("evt-3", "pipeline:data_event"),
            Digest::default(),
        )
        .await
        .unwrap();
    let run = capture.find("pipeline.digest.execute");
    assert_eq!(
        run.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(run.parent_span_id().to_string(), "00f067aa0ba902b7");
}
