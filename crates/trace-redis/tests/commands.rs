//! Every fred interface, batches, errors, secrets and parenting against a real
//! redis-server.

mod support;

use std::time::Duration;

use fred::cmd;
use fred::prelude::*;
use opentelemetry::trace::SpanKind;
use trace_core::config::SamplerKind;
use trace_core::testing::{CapturedSpan, SpanCapture};
use trace_core::{Sampling, ScopedTracer, SpanStart};
use trace_redis::RedisFutureExt;

static TRACER: ScopedTracer = ScopedTracer::new("trace-redis-tests", "0.0.0");

const WAIT: Duration = Duration::from_secs(5);

fn assert_redis_client_span(span: &CapturedSpan, operation: &str) {
    assert_eq!(span.kind(), SpanKind::Client, "{} kind", span.name());
    assert_eq!(span.attr("db.system.name"), "redis");
    assert_eq!(span.attr("db.operation.name"), operation);
    assert_eq!(span.attr("server.address"), "127.0.0.1");
    assert!(span.has_attribute("server.port"));
    assert_eq!(span.attr("db.namespace"), "0");
    assert!(!span.is_error(), "{} must not be an error", span.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_from_each_interface_is_a_client_span_under_the_caller() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let client = support::connect(&url).await;
    let capture = SpanCapture::install();
    let (hash, list, set, zset, stream) = (
        support::key("hash"),
        support::key("list"),
        support::key("set"),
        support::key("zset"),
        support::key("stream"),
    );

    let handler = TRACER.start(SpanKind::Server, || SpanStart::new("GET /profile"));
    trace_core::in_context(handler.context().clone(), async {
        let _: () = client
            .set(support::key("string"), "v", None, None, false)
            .await
            .unwrap();
        let _: i64 = client.hset(&hash, ("name", "Ada")).await.unwrap();
        let _: i64 = client.lpush(&list, "a").await.unwrap();
        let _: i64 = client.sadd(&set, "m").await.unwrap();
        let _: i64 = client
            .zadd(&zset, None, None, false, false, (1.0, "m"))
            .await
            .unwrap();
        let _: String = client
            .xadd(&stream, false, None, "*", ("f", "v"))
            .await
            .unwrap();
        let _: i64 = client
            .publish(support::key("channel"), "hello")
            .await
            .unwrap();
        let _: i64 = client
            .eval("return 7", Vec::<String>::new(), Vec::<String>::new())
            .await
            .unwrap();
        let _: String = client.custom(cmd!("ECHO"), vec!["hi"]).await.unwrap();
    })
    .await;
    handler.end();

    capture.wait_for_spans(10, WAIT).await;
    let parent = capture.find("GET /profile");
    for operation in [
        "SET", "HSET", "LPUSH", "SADD", "ZADD", "XADD", "PUBLISH", "EVAL", "ECHO",
    ] {
        let span = capture.find(operation);
        assert_redis_client_span(&span, operation);
        span.assert_child_of(&parent);
    }
    assert_eq!(
        capture.outline(),
        "Server GET /profile\n  Client SET\n  Client HSET\n  Client LPUSH\n  Client SADD\n  \
         Client ZADD\n  Client XADD\n  Client PUBLISH\n  Client EVAL\n  Client ECHO\n"
    );
    let _: i64 = client
        .del(vec![hash, list, set, zset, stream])
        .await
        .unwrap();
}

#[tokio::test]
async fn commands_outside_any_span_start_their_own_trace() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let client = support::connect(&url).await;
    let capture = SpanCapture::install();
    let _: Option<String> = client.get(support::key("absent")).await.unwrap();
    let spans = capture.wait_for_spans(1, WAIT).await;
    assert_eq!(capture.outline(), "Client GET\n");
    assert!(!spans[0].parent_span_id().to_string().is_empty());
    assert_eq!(
        spans[0].parent_span_id(),
        opentelemetry::trace::SpanId::INVALID
    );
}

#[tokio::test]
async fn wrongtype_is_an_error_with_the_server_prefix() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let client = support::connect(&url).await;
    let key = support::key("wrongtype");
    let _: () = client.set(&key, "text", None, None, false).await.unwrap();
    let capture = SpanCapture::install();

    let result: Result<i64, Error> = client.lpush(&key, "x").traced().await;
    let error = result.expect_err("LPUSH on a string fails");
    assert!(error.details().starts_with("WRONGTYPE"), "{error:?}");

    capture.wait_for_spans(1, WAIT).await;
    let span = capture.find("LPUSH");
    assert!(span.is_error());
    assert_eq!(span.attr("db.response.status_code"), "WRONGTYPE");
    assert_eq!(span.attr("error.type"), "WRONGTYPE");
    assert_redis_attributes_only_once(&span);
    // The error message is not recorded (Redis echoes arguments in some).
    assert!(!format!("{:?}", span.status).contains("Operation against"));
    let _: i64 = client.del(&key).await.unwrap();
}

fn assert_redis_attributes_only_once(span: &CapturedSpan) {
    let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    let mut unique = keys.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(keys.len(), unique.len(), "duplicate attributes: {keys:?}");
}

#[tokio::test]
async fn a_nil_reply_is_not_an_error() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let client = support::connect(&url).await;
    let capture = SpanCapture::install();
    let value: Option<String> = client
        .get(support::key("never-set"))
        .traced()
        .await
        .unwrap();
    assert_eq!(value, None);
    capture.wait_for_spans(1, WAIT).await;
    let span = capture.find("GET");
    assert!(!span.is_error());
    assert!(!span.has_attribute("error.type"));
    assert!(!span.has_attribute("db.response.status_code"));
}

#[tokio::test]
async fn a_pipeline_is_one_span_listing_its_commands() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let client = support::connect(&url).await;
    let key = support::key("pipeline");
    let capture = SpanCapture::install();
    let handler = TRACER.start(SpanKind::Server, || SpanStart::new("handler"));

    let (count, value): (i64, Option<String>) = trace_core::in_context(
        handler.context().clone(),
        trace_redis::pipeline(async {
            let pipe = client.pipeline();
            let _: () = pipe.incr(&key).await?;
            let _: () = pipe.get(support::key("pipeline-absent")).await?;
            pipe.all().await
        }),
    )
    .await
    .unwrap();
    handler.end();
    assert_eq!((count, value), (1, None));

    capture.wait_for_spans(2, WAIT).await;
    assert_eq!(capture.outline(), "Server handler\n  Client PIPELINE\n");
    let span = capture.find("PIPELINE");
    span.assert_child_of(&capture.find("handler"));
    assert_eq!(span.attr("db.operation.name"), "PIPELINE");
    assert_eq!(span.attr("db.operation.batch.size"), "2");
    assert_eq!(span.attr(trace_redis::REDIS_COMMANDS), r#"["INCR","GET"]"#);
    assert_eq!(span.attr("server.address"), "127.0.0.1");
    assert!(!span.is_error());
    let _: i64 = client.del(&key).await.unwrap();
}

#[tokio::test]
async fn a_transaction_is_one_multi_span_and_failures_mark_it() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let client = support::connect(&url).await;
    let key = support::key("transaction");
    let text = support::key("transaction-text");
    let _: () = client.set(&text, "text", None, None, false).await.unwrap();
    let capture = SpanCapture::install();

    let (count,): (i64,) = trace_redis::transaction(async {
        let trx = client.multi();
        let _: () = trx.incr(&key).await?;
        trx.exec(true).await
    })
    .await
    .unwrap();
    assert_eq!(count, 1);

    let failed: Result<Value, Error> = trace_redis::transaction(async {
        let trx = client.multi();
        let _: () = trx.incr(&key).await?;
        let _: () = trx.lpush(&text, "x").await?;
        trx.exec(true).await
    })
    .await;
    assert!(failed.is_err());

    let spans = capture.wait_for_spans(2, WAIT).await;
    assert_eq!(capture.outline(), "Client MULTI\nClient MULTI\n");
    let (ok, err) = (&spans[0], &spans[1]);
    assert_eq!(ok.attr("db.operation.batch.size"), "1");
    assert_eq!(ok.attr(trace_redis::REDIS_COMMANDS), r#"["INCR"]"#);
    assert!(!ok.is_error());
    assert_eq!(err.attr(trace_redis::REDIS_COMMANDS), r#"["INCR","LPUSH"]"#);
    assert!(err.is_error());
    assert_eq!(err.attr("db.response.status_code"), "WRONGTYPE");
    let _: i64 = client.del(vec![key, text]).await.unwrap();
}

#[tokio::test]
async fn a_planted_secret_reaches_no_span() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let client = support::connect(&url).await;
    let secret = "s3cr3t-planted-value-4711";
    let key = support::key("secret");
    let capture = SpanCapture::install();

    let _: () = client.set(&key, secret, None, None, false).await.unwrap();
    let _: i64 = client
        .hset(&key.replace("secret", "secret-hash"), ("password", secret))
        .traced()
        .with_args(|| {
            [
                key.replace("secret", "secret-hash").as_str(),
                "password",
                secret,
            ]
            .map(str::to_owned)
        })
        .await
        .unwrap();
    let _: Option<String> = client
        .get(&key)
        .traced()
        .with_args(|| [key.clone()])
        .await
        .unwrap();
    // A wrong password: AUTH must never show its arguments.
    let auth: Result<(), Error> = client
        .custom(cmd!("AUTH"), vec!["nobody", secret])
        .traced()
        .with_args(|| ["nobody", secret])
        .await;
    assert!(auth.is_err());
    // An error whose message echoes the arguments.
    let unknown: Result<(), Error> = client
        .custom(cmd!("NOSUCHCMD"), vec![secret])
        .traced()
        .await;
    assert!(
        unknown.unwrap_err().details().contains(secret),
        "Redis echoes the argument"
    );

    let spans = capture.wait_for_spans(5, WAIT).await;
    for span in &spans {
        let everything = format!("{:?}", **span);
        assert!(
            !everything.contains(secret),
            "secret in span {}: {everything}",
            span.name()
        );
    }
    let hset = capture.find("HSET");
    assert_eq!(
        hset.attr("db.query.text"),
        format!("HSET {} password ?", key.replace("secret", "secret-hash"))
    );
    assert_eq!(
        capture.find("GET").attr("db.query.text"),
        format!("GET {key}")
    );
    let auth = capture.find("AUTH");
    assert!(!auth.has_attribute("db.query.text"));
    assert!(auth.is_error());
    let unknown = capture.find("NOSUCHCMD");
    assert_eq!(unknown.attr("db.response.status_code"), "ERR");
    let _: i64 = client
        .del(vec![key.clone(), key.replace("secret", "secret-hash")])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_from_many_tasks_each_have_their_own_parent() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let client = support::connect(&url).await;
    let capture = SpanCapture::install();
    const TASKS: usize = 40;

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let client = client.clone();
        let root = TRACER.start(SpanKind::Server, move || {
            SpanStart::new(format!("task-{task}"))
        });
        let cx = root.context().clone();
        handles.push(trace_core::spawn_in_context(cx, async move {
            let key = support::key(&format!("concurrent-{task}"));
            for _ in 0..3 {
                let _: i64 = client.incr(&key).await.unwrap();
                tokio::task::yield_now().await;
            }
            let _: i64 = client.del(&key).await.unwrap();
            root.end();
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }

    let spans = capture.wait_for_spans(TASKS * 5, WAIT).await;
    for task in 0..TASKS {
        let root = capture.find(&format!("task-{task}"));
        let children: Vec<&CapturedSpan> = spans
            .iter()
            .filter(|span| span.parent_span_id() == root.span_id())
            .collect();
        let names: Vec<&str> = children.iter().map(|span| span.name()).collect();
        assert_eq!(
            names,
            ["INCR", "INCR", "INCR", "DEL"],
            "children of task-{task}"
        );
        for child in children {
            child.assert_child_of(&root);
        }
    }
}

#[tokio::test]
async fn unsampled_commands_record_nothing_and_still_work() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let client = support::connect(&url).await;
    let capture =
        SpanCapture::install_with(Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.0));
    let key = support::key("unsampled");
    let _: () = client.set(&key, "v", None, None, false).await.unwrap();
    let value: Option<String> = client
        .get(&key)
        .traced()
        .with_args(|| -> [&str; 0] { panic!("arguments are not rendered for unsampled spans") })
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("v"));
    let _: (i64,) = trace_redis::pipeline(async {
        let pipe = client.pipeline();
        let _: () = pipe.del(&key).await?;
        pipe.all().await
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(capture.outline(), "");
}

#[tokio::test]
async fn pool_clients_are_covered_once_registered() {
    let Some(url) = support::redis_url() else {
        return;
    };
    support::install_subscriber();
    let mut config = Config::from_url(&url).unwrap();
    trace_redis::enable_command_spans(&mut config);
    let pool = Builder::from_config(config).build_pool(2).unwrap();
    trace_redis::register_pool(&pool);
    pool.init().await.unwrap();
    let capture = SpanCapture::install();

    for _ in 0..4 {
        let _: Option<String> = pool.get(support::key("pool")).await.unwrap();
    }
    let spans = capture.wait_for_spans(4, WAIT).await;
    for span in &spans {
        assert_redis_client_span(span, "GET");
    }
    pool.quit().await.unwrap();
}
