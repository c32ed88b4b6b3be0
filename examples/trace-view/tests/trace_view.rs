//! Runs trace-view on the tour's OTLP-JSON lines (the capture trace-core's snapshot
//! tests use) and on the same data as one pretty-printed request.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn tour_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crates/trace-core/tests/data/tour.jsonl")
}

fn trace_view(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trace-view"))
        .args(args)
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .output()
        .expect("trace-view runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "trace-view failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn draws_the_tours_file_as_the_console_does() {
    let output = trace_view(&[tour_file().to_str().unwrap()]);
    let text = stdout(&output);
    let snapshots =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crates/trace-core/tests/snapshots");
    let expected: String = (1..=3)
        .map(|n| std::fs::read_to_string(snapshots.join(format!("tour_chain{n}.txt"))).unwrap())
        .collect();
    assert_eq!(text, expected);
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn writes_the_html_page() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tour.html");
    let output = trace_view(&[
        "--html",
        out.to_str().unwrap(),
        tour_file().to_str().unwrap(),
    ]);
    assert_eq!(
        stdout(&output),
        format!("wrote {} (3 traces, 41 spans)\n", out.display())
    );
    let page = std::fs::read_to_string(&out).unwrap();
    let data = page
        .split("<script type=\"application/json\" id=\"trace-data\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .unwrap();
    let data: Value = serde_json::from_str(data).unwrap();
    assert_eq!(data["title"], "Traces · tour.jsonl");
    assert_eq!(data["traces"].as_array().unwrap().len(), 3);
}

#[test]
fn reads_one_pretty_printed_request_from_stdin_and_reports_bad_lines() {
    let first = std::fs::read_to_string(tour_file()).unwrap();
    let request: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pretty = dir.path().join("pretty.json");
    std::fs::write(&pretty, serde_json::to_string_pretty(&request).unwrap()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_trace-view"))
        .args(["--verbose", "-"])
        .stdin(std::fs::File::open(&pretty).unwrap())
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(
        text.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4701 · tour · "),
        "{text}"
    );
    assert!(
        text.contains("\n│  span 00f067aa0ba9000b  scope trace-http\n"),
        "{text}"
    );

    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        format!("garbage\n{}", first.lines().next().unwrap()),
    )
    .unwrap();
    let output = trace_view(&[mixed.to_str().unwrap()]);
    assert!(stdout(&output).starts_with("trace "));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.starts_with(&format!("trace-view: {}: line 1: ", mixed.display())),
        "{errors}"
    );

    let output = trace_view(&["no-such-file.jsonl"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot read no-such-file.jsonl"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
