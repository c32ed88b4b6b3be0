//! Shared test setup: the real redis-server from `cargo xtask test`, a global subscriber
//! with the layer, and a log of connection events.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Mutex, Once};

use fred::prelude::*;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::SubscriberExt;

/// The URL of the redis-server provisioned by `cargo xtask test`. Missing: a panic under
/// `CI=true`, otherwise `None` (the test prints why and skips).
pub fn redis_url() -> Option<String> {
    env_or_skip("TRACE_RS_REDIS_URL")
}

/// The redis-server binary, for tests that start and stop their own server.
pub fn redis_server_binary() -> Option<String> {
    env_or_skip("TRACE_RS_REDIS_SERVER")
}

fn env_or_skip(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(
                !std::env::var("CI").is_ok_and(|ci| ci == "true"),
                "{name} is not set; run the tests through `cargo xtask test -p trace-redis`"
            );
            eprintln!(
                "skipping: {name} is not set (run through `cargo xtask test -p trace-redis`)"
            );
            None
        }
    }
}

/// Installs the process-wide subscriber once: the Redis layer plus a recorder of the
/// connection log lines.
pub fn install_subscriber() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry()
            .with(trace_redis::RedisSubscriberLayer::new())
            .with(EventRecorder);
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    });
}

/// A client for `url`, set up through trace-redis and connected.
pub async fn connect(url: &str) -> Client {
    install_subscriber();
    let mut config = Config::from_url(url).expect("valid redis url");
    trace_redis::enable_command_spans(&mut config);
    let client = Builder::from_config(config).build().expect("client builds");
    trace_redis::register(&client);
    client.init().await.expect("connects to redis-server");
    client
}

/// A key unique to this test process, so parallel tests never share keys.
pub fn key(name: &str) -> String {
    format!("trace-redis-test:{}:{name}", std::process::id())
}

/// Every connection log line seen so far, as `message field=value ...`.
pub fn connection_log() -> Vec<String> {
    LOG.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct EventRecorder;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EventRecorder {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != trace_redis::EVENTS_TARGET {
            return;
        }
        let mut line = LineVisitor(String::new());
        event.record(&mut line);
        LOG.lock().unwrap_or_else(|p| p.into_inner()).push(line.0);
    }
}

struct LineVisitor(String);

impl Visit for LineVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}
