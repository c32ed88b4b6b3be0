//! Runs the tour binary and checks the three traces it writes as OTLP-JSON lines:
//! one trace per chain, every seed span present, parent links intact, and the
//! consumers and pipelines in the trace of the request that triggered them.

use std::collections::HashMap;
use std::process::Command;

use serde_json::Value;

#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    attributes: HashMap<String, String>,
}

/// Runs the tour; `None` forces the path without Redis.
fn run_tour(redis_url: Option<&str>) -> (String, Vec<Span>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("traces.jsonl");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tour"));
    command
        .arg("--traces-file")
        .arg(&file)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("REDIS_URL");
    match redis_url {
        Some(url) => command.env("REDIS_URL", url),
        None => command.arg("--no-redis"),
    };
    let output = command.output().expect("the tour binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "tour failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&file).expect("the traces file exists");
    (stdout, text.lines().flat_map(parse_line).collect())
}

fn parse_line(line: &str) -> Vec<Span> {
    let request: Value = serde_json::from_str(line).expect("each line is JSON");
    let list = |value: &Value, key: &str| value[key].as_array().cloned().unwrap_or_default();
    let mut spans = Vec::new();
    for resource in list(&request, "resourceSpans") {
        for scope in list(&resource, "scopeSpans") {
            for span in list(&scope, "spans") {
                let text = |key: &str| span[key].as_str().unwrap_or_default().to_owned();
                let attributes = list(&span, "attributes")
                    .iter()
                    .map(|kv| {
                        let value = &kv["value"];
                        let value = value["stringValue"]
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| value.to_string());
                        (kv["key"].as_str().unwrap_or_default().to_owned(), value)
                    })
                    .collect();
                spans.push(Span {
                    trace_id: text("traceId"),
                    span_id: text("spanId"),
                    parent: text("parentSpanId"),
                    name: text("name"),
                    attributes,
                });
            }
        }
    }
    spans
}

/// The one trace holding a span named `name` (and none named `without`).
fn trace_with<'a>(spans: &'a [Span], name: &str, without: Option<&str>) -> Vec<&'a Span> {
    let mut traces: HashMap<&str, Vec<&Span>> = HashMap::new();
    for span in spans {
        traces.entry(&span.trace_id).or_default().push(span);
    }
    let matching: Vec<Vec<&Span>> = traces
        .into_values()
        .filter(|trace| trace.iter().any(|span| span.name == name))
        .filter(|trace| without.is_none_or(|w| trace.iter().all(|span| span.name != w)))
        .collect();
    assert_eq!(matching.len(), 1, "exactly one trace with {name:?}");
    matching.into_iter().next().unwrap_or_default()
}

/// One root, every other parent in the trace, and `names` all present.
fn check_trace(trace: &[&Span], names: &[&str]) {
    let roots: Vec<_> = trace.iter().filter(|span| span.parent.is_empty()).collect();
    assert_eq!(roots.len(), 1, "one root in {:?}", names_of(trace));
    for span in trace {
        assert!(
            span.parent.is_empty() || trace.iter().any(|p| p.span_id == span.parent),
            "{}'s parent is in the trace",
            span.name
        );
    }
    for name in names {
        assert!(
            trace.iter().any(|span| span.name == *name),
            "{name:?} in {:?}",
            names_of(trace)
        );
    }
}

fn names_of<'a>(trace: &[&'a Span]) -> Vec<&'a str> {
    trace.iter().map(|span| span.name.as_str()).collect()
}

/// Asserts the span named `child` has `parent` as its direct parent.
fn assert_parent(trace: &[&Span], child: &str, parent: &str) {
    for span in trace.iter().filter(|span| span.name == child) {
        let actual = trace.iter().find(|p| p.span_id == span.parent);
        assert_eq!(
            actual.map(|p| p.name.as_str()),
            Some(parent),
            "parent of {child}"
        );
    }
}

const PIPELINE: &[&str] = &[
    "pipeline.digest.execute",
    "SELECT pipeline_runs",
    "INSERT pipeline_runs",
    "pipeline.digest.step.fetch",
    "ability.feed.fetch",
    "GET",
    "GET /feed",
    "pipeline.digest.step.save",
    "ability.digest.save",
    "INSERT digests",
    "UPDATE pipeline_runs",
];

fn check_pipeline(trace: &[&Span]) {
    check_trace(trace, PIPELINE);
    assert_parent(
        trace,
        "pipeline.digest.execute",
        "process pipeline:data_event",
    );
    assert_parent(trace, "SELECT pipeline_runs", "pipeline.digest.execute");
    assert_parent(
        trace,
        "pipeline.digest.step.fetch",
        "pipeline.digest.execute",
    );
    assert_parent(trace, "ability.feed.fetch", "pipeline.digest.step.fetch");
    assert_parent(trace, "GET /feed", "GET");
    assert_parent(trace, "ability.digest.save", "pipeline.digest.step.save");
    assert_parent(trace, "INSERT digests", "ability.digest.save");
    assert_parent(trace, "UPDATE pipeline_runs", "pipeline.digest.execute");
}

fn check_chains(stdout: &str, spans: &[Span], session_span: &str) {
    let chain1 = trace_with(spans, "POST /service/{module}/command", None);
    check_trace(
        &chain1,
        &[
            "POST",
            "POST /service/{module}/command",
            "load_user",
            "SELECT users",
            session_span,
            "ability.weather.forecast",
            "GET /forecast/{city}",
            "SELECT notes",
            "send message:send",
            "process message:send",
            "SELECT platforms",
        ],
    );
    // An `#[instrument]` span through trace-core's bridge, nested both ways.
    assert_parent(&chain1, "load_user", "POST /service/{module}/command");
    assert_parent(&chain1, "SELECT users", "load_user");
    assert_parent(
        &chain1,
        "ability.weather.forecast",
        "POST /service/{module}/command",
    );
    assert_parent(&chain1, "SELECT notes", "ability.weather.forecast");
    assert_parent(
        &chain1,
        "send message:send",
        "POST /service/{module}/command",
    );
    assert_parent(&chain1, "process message:send", "send message:send");
    assert_parent(&chain1, "SELECT platforms", "process message:send");

    let chain2 = trace_with(spans, "pipeline.digest.execute", Some("POST /webhook/{id}"));
    check_pipeline(&chain2);
    let root = chain2.iter().find(|span| span.parent.is_empty());
    assert_eq!(
        root.map(|span| span.name.as_str()),
        Some("process pipeline:data_event")
    );

    let chain3 = trace_with(spans, "POST /webhook/{id}", None);
    check_pipeline(&chain3);
    check_trace(
        &chain3,
        &[
            "POST /webhook/{id}",
            "SELECT webhooks",
            "ability.webhook.emit",
            "send pipeline:data_event",
        ],
    );
    assert_parent(&chain3, "SELECT webhooks", "POST /webhook/{id}");
    assert_parent(&chain3, "send pipeline:data_event", "ability.webhook.emit");
    assert_parent(
        &chain3,
        "process pipeline:data_event",
        "send pipeline:data_event",
    );

    // Each chain's waterfall comes right after the chain, before the next one starts.
    let mut sections: Vec<usize> = (1..=3)
        .map(|n| {
            stdout
                .find(&format!("── chain {n}:"))
                .expect("a banner per chain")
        })
        .collect();
    sections.push(stdout.find("── summary").expect("the summary"));
    for (n, trace) in [&chain1, &chain2, &chain3].iter().enumerate() {
        let header = format!("trace {} · ", trace[0].trace_id);
        let at = stdout.find(&header).expect("a waterfall per chain");
        assert!(
            sections[n] < at && at < sections[n + 1],
            "chain {}'s waterfall between its banner and the next:\n{stdout}",
            n + 1
        );
    }
    for trace in [&chain1, &chain2, &chain3] {
        let id = &trace[0].trace_id;
        assert!(
            stdout.contains(id.as_str()),
            "summary names trace {id}:\n{stdout}"
        );
        // The console prints each chain's trace once, stitched: one waterfall with a
        // line for every span.
        let header = format!("trace {id} · tour · {} spans · ", trace.len());
        let waterfalls = stdout
            .lines()
            .filter(|line| line.starts_with("trace "))
            .filter(|line| line.contains(id.as_str()));
        assert_eq!(
            waterfalls.collect::<Vec<_>>(),
            [stdout
                .lines()
                .find(|line| line.starts_with(&header))
                .unwrap_or("(none)")],
            "one waterfall of {} spans for trace {id}:\n{stdout}",
            trace.len()
        );
    }
}

/// The bridge's default filter: sea-orm's, sqlx's and fred's own `tracing` spans stay
/// out (trace-db and trace-redis trace those operations), the tour's own are in.
fn check_bridged_spans(spans: &[Span]) {
    let target = |span: &Span| span.attributes.get("target").cloned().unwrap_or_default();
    let bridged: Vec<(String, String)> = spans
        .iter()
        .filter(|span| span.attributes.contains_key("target"))
        .map(|span| (span.name.clone(), target(span)))
        .collect();
    assert!(
        bridged
            .iter()
            .any(|(name, target)| name == "load_user" && target == "tour::app"),
        "{bridged:?}"
    );
    for (name, target) in &bridged {
        assert!(
            ["sea_orm", "sqlx", "fred"]
                .iter()
                .all(|library| target != library && !target.starts_with(&format!("{library}::"))),
            "{name} from {target} is bridged"
        );
    }
}

#[test]
fn three_chains_without_redis() {
    let (stdout, spans) = run_tour(None);
    assert!(stdout.contains("redis: skipped"), "{stdout}");
    check_chains(&stdout, &spans, "session.get");
    check_bridged_spans(&spans);
}

#[test]
fn three_chains_with_redis() {
    let Ok(url) = std::env::var("TRACE_RS_REDIS_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "TRACE_RS_REDIS_URL is required under CI (run through `cargo xtask test -p tour`)"
        );
        eprintln!("skipped: TRACE_RS_REDIS_URL is not set (run `cargo xtask test -p tour`)");
        return;
    };
    let (stdout, spans) = run_tour(Some(&url));
    assert!(stdout.contains("redis: using REDIS_URL"), "{stdout}");
    check_chains(&stdout, &spans, "GET");
    let redis_get = spans.iter().find(|span| {
        span.name == "GET"
            && span.attributes.get("db.system.name").map(String::as_str) == Some("redis")
    });
    let session = redis_get.expect("a Redis GET span for the session read");
    let parent = spans.iter().find(|span| span.span_id == session.parent);
    assert_eq!(parent.map(|span| span.name.as_str()), Some("load_user"));
    assert!(
        spans.iter().any(|span| span.name == "XADD"),
        "XADD spans for Redis Streams"
    );
    check_bridged_spans(&spans);
}
