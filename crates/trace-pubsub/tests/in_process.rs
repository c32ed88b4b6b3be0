//! In-process transport: one trace from a server span through publish and consume.

use std::time::Duration;

use std::collections::HashSet;

use opentelemetry::KeyValue;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;
use trace_core::config::SamplerKind;
use trace_core::testing::SpanCapture;
use trace_core::{Sampling, ScopedTracer, SpanStart};
use trace_pubsub::{
    Batch, ConsumeBatchLayer, ConsumeLayer, Delivery, InProcessBus, Message, Publisher, Settlement,
    TracedPublisher,
};

static TRACER: ScopedTracer = ScopedTracer::new("pubsub-test", "0.0.0");

#[derive(Debug)]
struct HandlerFailed;

impl std::fmt::Display for HandlerFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("handler failed")
    }
}

impl std::error::Error for HandlerFailed {}

#[tokio::test]
async fn publish_in_a_request_and_consume_continue_one_trace() {
    let capture = SpanCapture::install();
    let bus = InProcessBus::new();
    let mut subscription = bus.subscribe("orders");
    let publisher = TracedPublisher::new(bus.clone());

    let request = TRACER.start(SpanKind::Server, || SpanStart::new("POST /orders"));
    let id = trace_core::in_context(
        request.context().clone(),
        publisher.publish(
            "orders",
            Message::new("order #1").with_metadata("Content-Type", "text/plain"),
        ),
    )
    .await
    .unwrap();
    request.end();

    let mut handler = ConsumeLayer::new().layer(service_fn(|delivery: Delivery| async move {
        // The handler's own work nests under the consumer span.
        TRACER
            .start(SpanKind::Internal, || SpanStart::new("store order"))
            .end();
        assert_eq!(
            delivery.message().metadata().get("content-type"),
            Some("text/plain")
        );
        assert!(delivery.message().metadata().get("traceparent").is_some());
        Ok::<_, HandlerFailed>(Settlement::Ack)
    }));
    let outcome = subscription
        .handle_next(&mut handler)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome, Settlement::Ack);

    capture.wait_for_spans(4, Duration::from_secs(5)).await;
    assert_eq!(
        capture.outline(),
        "Server POST /orders\n  Producer send orders\n    Consumer process orders\n      Internal store order\n"
    );
    let send = capture.find("send orders");
    let process = capture.find("process orders");
    process.assert_child_of(&send);
    assert_eq!(process.links.len(), 1, "the consumer links to the producer");
    assert_eq!(process.links[0].span_context.span_id(), send.span_id());

    for span in [&send, &process] {
        assert_eq!(span.attr("messaging.system"), "in_process");
        assert_eq!(span.attr("messaging.destination.name"), "orders");
        assert_eq!(span.attr("messaging.message.id"), id);
        assert_eq!(span.attr("messaging.message.body.size"), "8");
    }
    assert_eq!(send.kind(), SpanKind::Producer);
    assert_eq!(send.attr("messaging.operation.type"), "send");
    assert_eq!(send.attr("messaging.operation.name"), "send");
    assert_eq!(process.kind(), SpanKind::Consumer);
    assert_eq!(process.attr("messaging.operation.type"), "process");
    assert_eq!(process.attr("trace_rs.messaging.outcome"), "ack");
    assert!(!process.is_error());
}

#[tokio::test]
async fn baggage_and_tracestate_travel_with_the_message() {
    let _capture = SpanCapture::install();
    let bus = InProcessBus::new();
    let mut subscription = bus.subscribe("events");
    let publisher = TracedPublisher::new(bus.clone());

    // The request continues a caller's trace that carries vendor state.
    let caller: std::collections::HashMap<String, String> = [
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "vendor=opaque"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let caller_cx = trace_core::propagation::extract_context_with(
        &opentelemetry::Context::new(),
        &trace_core::carrier::MapExtractor(&caller),
    );
    let request =
        TRACER.start_with_parent(&caller_cx, SpanKind::Server, || SpanStart::new("request"));
    let cx = request
        .context()
        .with_baggage([KeyValue::new("tenant", "acme")]);
    trace_core::in_context(cx, publisher.publish("events", Message::new("e")))
        .await
        .unwrap();
    request.end();

    let mut handler = ConsumeLayer::new().layer(service_fn(|_: Delivery| async {
        let cx = opentelemetry::Context::current();
        let tenant = cx.baggage().get("tenant").map(|v| v.to_string());
        let span = cx.span();
        let span_context = span.span_context();
        assert_eq!(
            span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let state = span_context.trace_state().header();
        Ok::<_, HandlerFailed>(
            if tenant.as_deref() == Some("acme") && state == "vendor=opaque" {
                Settlement::Ack
            } else {
                Settlement::Nack
            },
        )
    }));
    let outcome = subscription
        .handle_next(&mut handler)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome,
        Settlement::Ack,
        "the handler sees the publisher's baggage"
    );
}

#[tokio::test]
async fn handler_errors_are_recorded_and_the_message_is_redelivered() {
    let capture = SpanCapture::install();
    let bus = InProcessBus::new();
    let mut subscription = bus.subscribe("jobs").max_redeliveries(1);
    TracedPublisher::new(bus.clone())
        .publish("jobs", Message::new("job"))
        .await
        .unwrap();

    let mut calls = 0;
    let mut handler = ConsumeLayer::new().layer(service_fn(|delivery: Delivery| {
        calls += 1;
        let first = calls == 1;
        async move {
            assert_eq!(delivery.message().payload(), "job");
            if first {
                Err(HandlerFailed)
            } else {
                Ok(Settlement::Nack)
            }
        }
    }));
    assert!(
        subscription
            .handle_next(&mut handler)
            .await
            .unwrap()
            .is_err()
    );
    assert_eq!(
        subscription
            .handle_next(&mut handler)
            .await
            .unwrap()
            .unwrap(),
        Settlement::Nack,
        "the failed message comes back"
    );
    drop(bus);
    assert!(
        subscription.handle_next(&mut handler).await.is_none(),
        "after max_redeliveries the message is dropped"
    );

    capture.wait_for_spans(3, Duration::from_secs(5)).await;
    let attempts = capture.find_all("process jobs");
    assert_eq!(attempts.len(), 2);
    let send = capture.find("send jobs");
    for attempt in &attempts {
        attempt.assert_child_of(&send);
    }
    let failed = &attempts[0];
    assert!(failed.is_error());
    // The error's fully-qualified type name (this test crate is `in_process`).
    assert_eq!(failed.attr("error.type"), "in_process::HandlerFailed");
    assert_eq!(failed.attr("trace_rs.messaging.outcome"), "error");
    assert!(!attempts[1].is_error(), "a nack is not an error");
    assert_eq!(attempts[1].attr("trace_rs.messaging.outcome"), "nack");
}

#[tokio::test]
async fn a_batch_links_every_message_it_processes() {
    let capture = SpanCapture::install();
    let bus = InProcessBus::new();
    let mut subscription = bus.subscribe("clicks");
    let publisher = TracedPublisher::new(bus.clone());
    for i in 0..3 {
        let request = TRACER.start(SpanKind::Server, || SpanStart::new(format!("request {i}")));
        trace_core::in_context(
            request.context().clone(),
            publisher.publish("clicks", Message::new("c")),
        )
        .await
        .unwrap();
        request.end();
    }
    // One message without any context: counted, not linked.
    bus.publish("clicks", Message::new("plain")).await.unwrap();

    let mut messages = Vec::new();
    for _ in 0..4 {
        messages.push(subscription.next().await.unwrap().into_message());
    }
    let batch = Batch::new(messages, "clicks".into(), trace_pubsub::SYSTEM_IN_PROCESS);
    let mut handler = ConsumeBatchLayer::new().layer(service_fn(|batch: Batch| async move {
        assert_eq!(batch.messages().len(), 4);
        Ok::<_, HandlerFailed>(Settlement::Ack)
    }));
    handler.ready().await.unwrap().call(batch).await.unwrap();

    capture.wait_for_spans(7, Duration::from_secs(5)).await;
    let process = capture.find("process clicks");
    assert_eq!(process.kind(), SpanKind::Consumer);
    assert_eq!(process.attr("messaging.batch.message_count"), "4");
    let sends = capture.find_all("send clicks");
    assert_eq!(sends.len(), 3);
    let linked: HashSet<_> = process
        .links
        .iter()
        .map(|l| l.span_context.span_id())
        .collect();
    let expected: HashSet<_> = sends.iter().map(|s| s.span_id()).collect();
    assert_eq!(process.links.len(), 3);
    assert_eq!(linked, expected);
    assert!(
        sends.iter().all(|s| s.trace_id() != process.trace_id()),
        "a batch span starts its own trace"
    );
}

#[tokio::test]
async fn unsampled_publishes_propagate_their_decision_and_record_nothing() {
    let capture =
        SpanCapture::install_with(Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.0));
    let bus = InProcessBus::new();
    let mut subscription = bus.subscribe("t");
    TracedPublisher::new(bus.clone())
        .publish("t", Message::new("x"))
        .await
        .unwrap();
    let delivery = subscription.next().await.unwrap();
    // The send span does not record, but its span context travels: the consumer
    // follows the decision instead of making one of its own.
    let sent = delivery
        .message()
        .metadata()
        .get("traceparent")
        .map(str::to_owned);
    let sent = sent.expect("the unsampled decision is propagated");
    assert!(sent.ends_with("-00"), "{sent}");
    let mut handler = ConsumeLayer::new().layer(service_fn(|_: Delivery| async {
        let seen = opentelemetry::Context::current()
            .span()
            .span_context()
            .clone();
        assert!(seen.is_valid() && !seen.is_sampled());
        Ok::<_, HandlerFailed>(Settlement::Ack)
    }));
    handler.ready().await.unwrap().call(delivery).await.unwrap();
    assert!(capture.spans().is_empty());
}

#[tokio::test]
async fn a_forwarded_message_joins_the_forwarders_trace() {
    let capture = SpanCapture::install();
    let bus = InProcessBus::new();
    let mut subscription = bus.subscribe("out");
    let stale = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let received = Message::new("m")
        .with_metadata("TraceParent", stale)
        .with_metadata("baggage", "from=elsewhere");

    let request = TRACER.start(SpanKind::Server, || SpanStart::new("forward"));
    trace_core::in_context(
        request.context().clone(),
        TracedPublisher::new(bus.clone()).publish("out", received),
    )
    .await
    .unwrap();
    request.end();

    let delivery = subscription.next().await.unwrap();
    let metadata = delivery.message().metadata();
    let traceparent = metadata.get("traceparent").unwrap();
    let send = capture.find("send out");
    assert!(
        traceparent.contains(&send.span_id().to_string()),
        "{traceparent}"
    );
    assert_eq!(
        metadata.get("baggage"),
        None,
        "stale baggage is not forwarded"
    );
    assert_eq!(metadata.len(), 1);
}
