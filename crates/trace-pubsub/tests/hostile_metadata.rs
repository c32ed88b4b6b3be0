//! Messages with missing, malformed or hostile metadata start a new trace: never a
//! panic, never an unbounded read.

use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind, TraceContextExt};
use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;
use trace_core::testing::SpanCapture;
use trace_pubsub::{
    ConsumeLayer, Delivery, ExtractLimits, Message, Metadata, SYSTEM_IN_PROCESS, Settlement,
};

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const OTHER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Handles a message carrying `metadata` and returns whether its span continued
/// `PARENT`'s trace (checked both in the handler and on the exported span).
async fn continues_parent(metadata: Metadata, limits: ExtractLimits) -> bool {
    let capture = SpanCapture::install();
    let mut message = Message::new("m").with_id("1");
    *message.metadata_mut() = metadata;
    let delivery = Delivery::new(message, "hostile".into(), SYSTEM_IN_PROCESS);
    let mut service =
        ConsumeLayer::new()
            .extract_limits(limits)
            .layer(service_fn(|_: Delivery| async {
                let cx = opentelemetry::Context::current();
                assert!(
                    cx.span().span_context().is_valid(),
                    "the handler runs in a span"
                );
                Ok::<_, std::io::Error>(Settlement::Ack)
            }));
    let outcome = service.ready().await.unwrap().call(delivery).await.unwrap();
    assert_eq!(outcome, Settlement::Ack);
    let spans = capture.wait_for_spans(1, Duration::from_secs(5)).await;
    let span = &spans[0];
    assert_eq!(span.kind(), SpanKind::Consumer);
    let continues = span.trace_id().to_string() == "4bf92f3577b34da6a3ce929d0e0e4736";
    if continues {
        assert_eq!(span.parent_span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(span.links.len(), 1);
    } else {
        assert_eq!(
            span.parent_span_id(),
            SpanId::INVALID,
            "a new trace is a root"
        );
        assert!(span.links.is_empty(), "no link to an invalid context");
    }
    continues
}

fn metadata(pairs: &[(&str, &str)]) -> Metadata {
    pairs.iter().map(|(k, v)| (*k, *v)).collect()
}

#[tokio::test]
async fn a_valid_context_is_continued_whatever_the_key_case() {
    let limits = ExtractLimits::DEFAULT;
    assert!(continues_parent(metadata(&[("traceparent", PARENT)]), limits).await);
    assert!(continues_parent(metadata(&[("TraceParent", PARENT)]), limits).await);
}

#[tokio::test]
async fn missing_malformed_and_duplicate_contexts_start_new_traces() {
    let limits = ExtractLimits::DEFAULT;
    assert!(!continues_parent(Metadata::new(), limits).await);
    for bad in [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "\u{0}\u{ffff}\u{10ffff}",
    ] {
        assert!(
            !continues_parent(metadata(&[("traceparent", bad)]), limits).await,
            "{bad:?} must not be trusted"
        );
    }
    // Two values are ambiguous, whatever their case.
    let duplicate = metadata(&[("traceparent", PARENT), ("TRACEPARENT", OTHER)]);
    assert!(!continues_parent(duplicate, limits).await);
    let same_twice = metadata(&[("traceparent", PARENT), ("traceparent", PARENT)]);
    assert!(!continues_parent(same_twice, limits).await);
}

#[tokio::test]
async fn oversized_values_and_floods_of_entries_are_not_read() {
    let limits = ExtractLimits::DEFAULT;
    let huge_baggage = format!("k={}", "v".repeat(1 << 20));
    let oversized = metadata(&[("traceparent", PARENT), ("baggage", &huge_baggage)]);
    assert!(!continues_parent(oversized, limits).await);

    let huge_tracestate = vec!["a=b"; 100_000].join(",");
    let oversized = metadata(&[("traceparent", PARENT), ("tracestate", &huge_tracestate)]);
    assert!(!continues_parent(oversized, limits).await);

    // Large values under other keys are the application's business.
    let big_other = "x".repeat(1 << 20);
    let fine = metadata(&[("traceparent", PARENT), ("body-hash", &big_other)]);
    assert!(continues_parent(fine, limits).await);

    // A context after `max_entries` entries is not looked at.
    let mut flood: Metadata = (0..100_000).map(|i| (format!("k{i}"), "v")).collect();
    flood.append("traceparent", PARENT);
    assert!(!continues_parent(flood, limits).await);

    // ...and neither are further duplicates beyond it: the first one counts alone.
    let mut hidden = metadata(&[("traceparent", PARENT)]);
    hidden.append("traceparent", OTHER);
    assert!(
        continues_parent(
            hidden,
            ExtractLimits {
                max_entries: 1,
                ..limits
            }
        )
        .await
    );
}
