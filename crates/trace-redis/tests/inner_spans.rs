//! fred's spans nested in `fred.command` are switched off for the whole subscriber unless
//! kept, and every other span still reaches the subscriber's other layers.

mod support;

use std::sync::{Arc, Mutex};

use fred::prelude::*;
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Another layer of the same subscriber: the names of the spans it is told about.
#[derive(Clone, Default)]
struct SpanNames(Arc<Mutex<Vec<&'static str>>>);

impl SpanNames {
    fn seen(&self, name: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&name)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanNames {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(attrs.metadata().name());
    }
}

/// Runs a `GET` inside an application span with `layer` and a [`SpanNames`] as the
/// thread's subscriber, and returns what the other layer saw.
async fn spans_seen_with(url: &str, layer: trace_redis::RedisSubscriberLayer) -> SpanNames {
    let names = SpanNames::default();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(names.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let mut config = Config::from_url(url).expect("valid redis url");
    trace_redis::enable_command_spans(&mut config);
    let client = Builder::from_config(config).build().expect("client builds");
    client.init().await.expect("connects to redis-server");
    {
        let _app = tracing::info_span!("app.request").entered();
        let _: Option<String> = client.get(support::key("inner-spans")).await.unwrap();
    }
    client.quit().await.unwrap();
    names
}

#[tokio::test]
async fn fred_inner_spans_are_off_and_other_spans_stay_visible() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let names = spans_seen_with(&url, trace_redis::RedisSubscriberLayer::new()).await;
    assert!(names.seen("app.request"));
    assert!(names.seen("fred.command"));
    assert!(!names.seen("fred.rtt"), "fred.rtt is switched off");
}

#[tokio::test]
async fn kept_inner_spans_reach_the_other_layers() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let layer = trace_redis::RedisSubscriberLayer::new().keep_inner_spans(true);
    let names = spans_seen_with(&url, layer).await;
    assert!(names.seen("app.request"));
    assert!(names.seen("fred.command"));
    assert!(names.seen("fred.rtt"), "kept on request");
}
