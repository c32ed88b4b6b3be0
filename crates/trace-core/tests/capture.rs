//! `SpanCapture`: per-thread captures run side by side without seeing each other's
//! spans, follow their traces to other threads and tasks, ignore the process-wide state,
//! and give back what was there when dropped; process-wide captures see the rest.

use std::sync::{Arc, Barrier};
use std::thread;

use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use trace_core::testing::{ProcessWide, SpanCapture};
use trace_core::{Config, ScopedTracer, SpanStart};
use tracing_subscriber::layer::SubscriberExt as _;

static TRACER: ScopedTracer = ScopedTracer::new("capture-test", "0.0.0");

fn span(name: &'static str) {
    TRACER
        .start(SpanKind::Internal, || SpanStart::new(name))
        .end();
}

fn names(capture: &SpanCapture) -> Vec<String> {
    let mut names: Vec<String> = capture
        .spans()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn per_thread_captures_side_by_side_see_only_their_own_spans() {
    const THREADS: usize = 8;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let capture = SpanCapture::install();
                // All installed before any span starts: they overlap.
                barrier.wait();
                for _ in 0..50 {
                    let parent =
                        TRACER.start(SpanKind::Server, || SpanStart::new(format!("parent {i}")));
                    TRACER
                        .start_with_parent(parent.context(), SpanKind::Client, || {
                            SpanStart::new(format!("child {i}"))
                        })
                        .end();
                    parent.end();
                }
                barrier.wait();
                let spans = capture.spans();
                assert_eq!(spans.len(), 100, "{}", capture.outline());
                for span in spans {
                    assert!(span.name().ends_with(&format!(" {i}")), "{}", span.name());
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("no capture saw another's spans");
    }
}

#[test]
fn a_trace_is_followed_to_other_threads_through_its_context() {
    let capture = SpanCapture::install();
    let root = TRACER.start(SpanKind::Server, || SpanStart::new("root"));
    let cx = root.context().clone();
    thread::spawn(move || {
        // A child of a captured span, on a thread with no capture of its own.
        TRACER
            .start_with_parent(&cx, SpanKind::Internal, || {
                SpanStart::new("explicit parent")
            })
            .end();
        let _attached = cx.attach();
        span("current context");
        let grandchild = TRACER.start(SpanKind::Internal, || SpanStart::new("grandchild"));
        let _attached = grandchild.context().clone().attach();
        span("great-grandchild");
        drop(_attached);
        grandchild.end();
        // A new root there is not this test's.
        TRACER
            .start_with_parent(&Context::new(), SpanKind::Internal, || {
                SpanStart::new("unrelated root")
            })
            .end();
    })
    .join()
    .unwrap();
    root.end();
    assert_eq!(
        capture.outline(),
        "Server root\n  Internal explicit parent\n  Internal current context\n  \
         Internal grandchild\n    Internal great-grandchild\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_tasks_that_carry_the_context_are_captured() {
    let capture = SpanCapture::install();
    let root = TRACER.start(SpanKind::Server, || SpanStart::new("request"));
    let cx = root.context().clone();
    let carried = trace_core::in_context(cx.clone(), async {
        trace_core::spawn_in_current_context(async {
            span("spawned with the context");
        })
        .await
    })
    .await;
    carried.unwrap();
    tokio::spawn(async {
        // No captured parent, on a worker: not this capture's.
        span("spawned without it");
    })
    .await
    .unwrap();
    tokio::task::spawn_blocking(move || {
        let _attached = cx.attach();
        span("blocking with the context");
    })
    .await
    .unwrap();
    root.end();
    assert_eq!(
        names(&capture),
        [
            "blocking with the context",
            "request",
            "spawned with the context"
        ]
    );
}

#[test]
fn tracing_bridge_spans_are_captured_on_the_thread_and_under_captured_contexts() {
    let capture = SpanCapture::install();
    let subscriber = tracing_subscriber::registry().with(trace_core::tracing_bridge::layer());
    let _default = tracing::subscriber::set_default(subscriber);
    let root = TRACER.start(SpanKind::Server, || SpanStart::new("native"));
    let cx = root.context().clone();
    tracing::info_span!("bridged here").in_scope(|| span("native under bridged"));
    thread::spawn(move || {
        let subscriber = tracing_subscriber::registry().with(trace_core::tracing_bridge::layer());
        let _default = tracing::subscriber::set_default(subscriber);
        let _attached = cx.attach();
        tracing::info_span!("bridged elsewhere").in_scope(|| {});
    })
    .join()
    .unwrap();
    root.end();
    assert_eq!(
        names(&capture),
        [
            "bridged elsewhere",
            "bridged here",
            "native",
            "native under bridged"
        ]
    );
    capture
        .find("bridged elsewhere")
        .assert_child_of(&capture.find("native"));
}

#[test]
fn per_thread_captures_record_whatever_the_process_wide_state() {
    let _state = ProcessWide::lock();
    let guard = trace_core::init(&Config {
        enabled: false,
        ..Config::default()
    })
    .expect("valid config");
    assert!(!trace_core::is_enabled());
    let capture = SpanCapture::install();
    assert!(trace_core::is_enabled(), "this thread's spans are captured");
    thread::spawn(|| assert!(!trace_core::is_enabled()))
        .join()
        .unwrap();
    span("recorded");
    drop(guard);
    span("after the guard shut tracing down");
    assert_eq!(
        names(&capture),
        ["after the guard shut tracing down", "recorded"]
    );
    drop(capture);
    assert!(!trace_core::is_enabled());
}

#[test]
fn a_nested_capture_takes_over_until_dropped_and_traces_stay_with_their_capture() {
    let outer = SpanCapture::install();
    let begun = TRACER.start(SpanKind::Server, || SpanStart::new("begun outside"));
    let inner = SpanCapture::install();
    span("inner root");
    TRACER
        .start_with_parent(begun.context(), SpanKind::Internal, || {
            SpanStart::new("outer child")
        })
        .end();
    drop(inner);
    span("outer again");
    begun.end();
    assert_eq!(
        names(&outer),
        ["begun outside", "outer again", "outer child"]
    );
    // Spans under a dropped capture's context go where the thread's spans go.
    let inner = SpanCapture::install();
    let cx = inner_context();
    drop(inner);
    TRACER
        .start_with_parent(&cx, SpanKind::Internal, || SpanStart::new("orphan"))
        .end();
    assert_eq!(outer.find_all("orphan").len(), 1);
}

fn inner_context() -> Context {
    TRACER
        .start(SpanKind::Internal, || SpanStart::new("inner"))
        .into_context()
}

#[test]
fn a_process_wide_capture_sees_the_spans_no_per_thread_capture_takes() {
    let process = SpanCapture::install_process_wide();
    let local = SpanCapture::install();
    let root = TRACER.start(SpanKind::Server, || SpanStart::new("here"));
    let cx = root.context().clone();
    thread::spawn(move || {
        span("elsewhere");
        TRACER
            .start_with_parent(&cx, SpanKind::Internal, || {
                SpanStart::new("child elsewhere")
            })
            .end();
    })
    .join()
    .unwrap();
    root.end();
    assert_eq!(names(&local), ["child elsewhere", "here"]);
    drop(local);
    span("here, after the per-thread capture");
    // By name: spans other tests start without a capture of their own reach it too.
    for (name, count) in [
        ("elsewhere", 1),
        ("here, after the per-thread capture", 1),
        ("here", 0),
        ("child elsewhere", 0),
    ] {
        assert_eq!(process.find_all(name).len(), count, "{name}");
    }
}

#[test]
fn dropping_a_process_wide_capture_gives_back_the_provider_that_was_there() {
    let _state = ProcessWide::lock();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    trace_core::set_provider(provider.clone());
    {
        let capture = SpanCapture::install_process_wide();
        span("captured");
        capture.find("captured");
    }
    span("the provider's again");
    let names: Vec<String> = exporter
        .get_finished_spans()
        .unwrap()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    // By name: spans other tests start without a capture of their own reach it too.
    assert!(
        names.iter().any(|n| n == "the provider's again"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n == "captured"), "{names:?}");
    assert!(
        !Context::current().span().span_context().is_valid(),
        "nothing left attached"
    );
    provider.shutdown().unwrap();
}
