//! Handing a context to a child process through `TRACEPARENT`, `TRACESTATE` and `BAGGAGE`.
//!
//! The parent tests re-run this test binary, filtered to [`child_reports_process_env_context`]
//! with [`CHILD_MARKER`] set, and compare what the child extracted with what they sent.

use std::process::Command;

use opentelemetry::{
    Context, KeyValue,
    baggage::BaggageExt,
    global,
    propagation::{Extractor, Injector},
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
};
use trace_core::carrier::{
    EnvExtractor, EnvInjector, context_from_process_env, env_var_name, inject_into_command,
    inject_into_tokio_command,
};
use trace_core::propagation::{PropagatorKind, build_propagator};

const CHILD_MARKER: &str = "TRACE_CORE_ENV_CHILD";
const CHILD_TEST: &str = "child_reports_process_env_context";
const RESULT_PREFIX: &str = "CHILD-RESULT";

fn install_propagator() {
    global::set_text_map_propagator(build_propagator(&[
        PropagatorKind::TraceContext,
        PropagatorKind::Baggage,
    ]));
}

fn sent_context() -> Context {
    let span_context = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("trace id"),
        SpanId::from_hex("00f067aa0ba902b7").expect("span id"),
        TraceFlags::new(0x03),
        false,
        TraceState::from_key_value([("vendor", "abc")]).expect("tracestate"),
    );
    Context::new()
        .with_remote_span_context(span_context)
        .with_baggage([KeyValue::new("user", "Ada Lovelace")])
}

/// The child side: a no-op unless the parent set the marker.
#[test]
fn child_reports_process_env_context() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        return;
    }
    install_propagator();
    let cx = context_from_process_env();
    let span = cx.span();
    let sc = span.span_context();
    let user = cx
        .baggage()
        .get("user")
        .map(|v| v.as_str().replace(' ', "+"));
    println!(
        "{RESULT_PREFIX} valid={} trace_id={} span_id={} flags={:02x} remote={} tracestate={} user={}",
        sc.is_valid(),
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8(),
        sc.is_remote(),
        sc.trace_state().header(),
        user.unwrap_or_default(),
    );
}

/// A command that re-runs this binary as the child.
fn child_command() -> Command {
    let exe = std::env::current_exe().expect("current test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"]);
    cmd.env(CHILD_MARKER, "1");
    cmd
}

/// Parses the child's result into `key=value` fields; libtest may print
/// `test <name> ... ` in front of it on the same line.
fn child_result(stdout: &[u8]) -> Vec<(String, String)> {
    let stdout = String::from_utf8_lossy(stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.split_once(RESULT_PREFIX).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("child printed no result:\n{stdout}"));
    line.split_whitespace()
        .filter_map(|field| field.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn field<'a>(result: &'a [(String, String)], key: &str) -> &'a str {
    result
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no field {key} in {result:?}"))
}

fn assert_received_sent_context(result: &[(String, String)]) {
    assert_eq!(field(result, "valid"), "true");
    assert_eq!(
        field(result, "trace_id"),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(field(result, "span_id"), "00f067aa0ba902b7");
    assert_eq!(field(result, "flags"), "03");
    assert_eq!(field(result, "remote"), "true");
    assert_eq!(field(result, "tracestate"), "vendor=abc");
    assert_eq!(field(result, "user"), "Ada+Lovelace");
}

fn run(cmd: &mut Command) -> Vec<(String, String)> {
    let output = cmd.output().expect("child runs");
    assert!(output.status.success(), "child failed: {output:?}");
    child_result(&output.stdout)
}

fn env_of(cmd: &Command, name: &str) -> Option<Option<String>> {
    cmd.get_envs()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
}

#[test]
fn std_command_hands_off_span_context() {
    install_propagator();
    let mut cmd = child_command();
    inject_into_command(&sent_context(), &mut cmd);
    assert_eq!(
        env_of(&cmd, "TRACEPARENT"),
        Some(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned()
        ))
    );
    assert_received_sent_context(&run(&mut cmd));
}

#[tokio::test]
async fn tokio_command_hands_off_span_context() {
    install_propagator();
    let exe = std::env::current_exe().expect("current test binary");
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"]);
    cmd.env(CHILD_MARKER, "1");
    inject_into_tokio_command(&sent_context(), &mut cmd);
    let output = cmd.output().await.expect("child runs");
    assert!(output.status.success(), "child failed: {output:?}");
    assert_received_sent_context(&child_result(&output.stdout));
}

#[test]
fn stale_env_is_removed_when_context_is_empty() {
    install_propagator();
    let mut cmd = child_command();
    cmd.env(
        "TRACEPARENT",
        "00-11111111111111111111111111111111-2222222222222222-01",
    );
    cmd.env("TRACESTATE", "stale=1");
    cmd.env("BAGGAGE", "user=stale");
    inject_into_command(&Context::new(), &mut cmd);
    for name in ["TRACEPARENT", "TRACESTATE", "BAGGAGE"] {
        assert_eq!(env_of(&cmd, name), Some(None), "{name} is removed");
    }
    let result = run(&mut cmd);
    assert_eq!(field(&result, "valid"), "false");
    assert_eq!(field(&result, "user"), "");
}

#[test]
fn stale_tracestate_is_removed_when_context_has_none() {
    install_propagator();
    let mut cmd = child_command();
    cmd.env("TRACESTATE", "stale=1");
    let span_context = SpanContext::new(
        TraceId::from(7u128),
        SpanId::from(9u64),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    inject_into_command(
        &Context::new().with_remote_span_context(span_context),
        &mut cmd,
    );
    assert_eq!(env_of(&cmd, "TRACESTATE"), Some(None));
    let result = run(&mut cmd);
    assert_eq!(field(&result, "valid"), "true");
    assert_eq!(field(&result, "trace_id"), format!("{:032x}", 7));
    assert_eq!(field(&result, "span_id"), format!("{:016x}", 9));
    assert_eq!(field(&result, "flags"), "01");
    assert_eq!(field(&result, "tracestate"), "");
}

#[test]
fn env_extractor_maps_field_names_to_variables() {
    let env = EnvExtractor::from_pairs([("TRACEPARENT", "tp"), ("BAGGAGE", "b=1")]);
    assert_eq!(env.get("traceparent"), Some("tp"));
    assert_eq!(env.get("TraceParent"), Some("tp"));
    assert_eq!(env.get("baggage"), Some("b=1"));
    assert_eq!(env.get("tracestate"), None);
    assert_eq!(env.get_all("traceparent"), Some(vec!["tp"]));
    assert_eq!(env.keys(), ["TRACEPARENT", "BAGGAGE"]);
}

#[test]
fn env_injector_uses_variable_names() {
    let mut env = EnvInjector::new();
    env.set("traceparent", "a".to_owned());
    env.set("x-b3-traceid", "b".to_owned());
    env.set("traceparent", "c".to_owned());
    env.set("baggage", "nul\0inside".to_owned());
    assert_eq!(
        env.into_vars(),
        [
            ("TRACEPARENT".to_owned(), "c".to_owned()),
            ("X_B3_TRACEID".to_owned(), "b".to_owned()),
        ]
    );
    assert_eq!(env_var_name("tracestate"), "TRACESTATE");
}
