//! A redis-server that goes away and comes back on the same port: the client
//! reconnects, the events are logged, and commands keep getting spans.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use fred::prelude::*;
use opentelemetry::trace::SpanKind;
use tokio::process::{Child, Command};
use trace_core::testing::SpanCapture;
use trace_core::{ScopedTracer, SpanStart};
use trace_redis::RedisFutureExt;

static TRACER: ScopedTracer = ScopedTracer::new("trace-redis-tests", "0.0.0");

/// A redis-server of our own on `port`, stopped when dropped.
struct OwnServer(Child);

impl OwnServer {
    async fn start(binary: &str, port: u16, dir: &std::path::Path) -> Self {
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self(child)
    }

    async fn stop(mut self) {
        self.0.kill().await.expect("redis-server stops");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn count_lines(port: u16, message: &str) -> usize {
    let port = format!("server.port={port}");
    support::connection_log()
        .iter()
        .filter(|line| line.starts_with(message) && line.contains(&port))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_keep_their_spans_across_a_server_restart() {
    let Some(binary) = support::redis_server_binary() else {
        return;
    };
    support::install_subscriber();
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("trace-redis-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = OwnServer::start(&binary, port, &dir).await;

    let mut config = Config::from_url(&format!("redis://127.0.0.1:{port}/0")).unwrap();
    trace_redis::enable_command_spans(&mut config);
    let client = Builder::from_config(config)
        .set_policy(ReconnectPolicy::new_constant(0, 50))
        .build()
        .unwrap();
    trace_redis::register(&client);
    let events = trace_redis::log_connection_events(&client);
    client.init().await.unwrap();
    wait_until("the first connect line", || {
        count_lines(port, "redis connected") >= 1
    })
    .await;

    let capture = SpanCapture::install();
    let _: () = client.set("restart", "1", None, None, false).await.unwrap();

    server.stop().await;
    wait_until("a connection error line", || {
        count_lines(port, "redis connection error") >= 1
    })
    .await;
    // The line's `error.type` is what a command span would record: fred's error kind
    // in lowercase snake case (a server error would give its prefix).
    let server_port = format!("server.port={port}");
    let error_line = support::connection_log()
        .into_iter()
        .find(|line| line.starts_with("redis connection error") && line.contains(&server_port))
        .expect("a connection error line");
    let error_type = error_line
        .split(" error.type=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    assert!(
        !error_type.is_empty()
            && error_type
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'),
        "{error_line}"
    );

    // Issued while the server is down: fred holds it until the reconnect.
    let root = TRACER.start(SpanKind::Server, || SpanStart::new("during outage"));
    let pending = trace_core::spawn_in_context(root.context().clone(), {
        let client = client.clone();
        async move { client.incr::<i64, _>("restart").traced().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let server = OwnServer::start(&binary, port, &dir).await;
    wait_until("the reconnect line", || {
        count_lines(port, "redis connected") >= 2
    })
    .await;
    // The restarted server is empty, so INCR starts again from nothing.
    let incr = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("the command held during the outage completes after the reconnect");
    assert_eq!(incr.unwrap().unwrap(), 1);
    root.end();
    let after: Option<String> = client.get("restart").traced().await.unwrap();
    assert_eq!(after.as_deref(), Some("1"));

    capture.wait_for_spans(4, Duration::from_secs(5)).await;
    assert_eq!(
        capture.outline(),
        "Client SET\nServer during outage\n  Client INCR\nClient GET\n"
    );
    let incr = capture.find("INCR");
    assert!(!incr.is_error());
    assert_eq!(incr.attr("server.port"), port.to_string());
    let waited = incr.end_time.duration_since(incr.start_time).unwrap();
    assert!(
        waited >= Duration::from_millis(200),
        "INCR span covers the outage: {waited:?}"
    );

    events.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), client.quit()).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
