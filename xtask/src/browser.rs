//! The tour's HTML page, checked in a real browser as part of `cargo xtask test`.
//!
//! Runs the tour (its page beside its OTLP-JSON lines), loads the page in Debian's
//! chromium headless once per trace (`#trace=ID`), and reads the rendered DOM back
//! (`--dump-dom`): every span of the trace must be drawn, with a bar the browser laid out
//! wider than zero pixels (the page records each bar's drawn width), parents before
//! their children, siblings in start order. The spans to expect come from the OTLP-JSON
//! lines, not from the page. Then a screenshot of chain 1 with its server span selected,
//! and trace-view on the same lines must print one waterfall per trace.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{self, Result};

/// Where `--save-screenshot` puts the page's screenshot, for docs/getting-started.md.
pub(crate) const DOCS_SCREENSHOT: &str = "docs/images/tour-page.png";
/// Wide enough for the waterfall and the detail pane side by side; as high as chain 1.
const WINDOW_SIZE: &str = "--window-size=1400,640";
/// A page of three traces loads in about a second; this only guards against a hang.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// A span as the OTLP-JSON lines have it.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    id: String,
    parent: String,
    name: String,
    start: u64,
}

/// A row of the waterfall as the browser drew it.
#[derive(Debug, Clone, PartialEq)]
struct Drawn {
    span_id: String,
    depth: usize,
    bar_width: f64,
    name: String,
}

/// Runs the check with the `chromium` at that path; logs and the page go to `run_dir`;
/// the screenshot is copied to `save_screenshot` when given.
pub(crate) fn run(chromium: &Path, run_dir: &Path, save_screenshot: Option<&Path>) -> Result {
    let started = Instant::now();
    let binaries = build(&["tour", "trace-view"])?;
    let lines = run_dir.join("tour.jsonl");
    let page = run_dir.join("tour.html");
    let tour = command_output(
        Command::new(&binaries["tour"])
            .args(["--no-redis", "--traces-file"])
            .arg(&lines),
    )?;
    let traces = read_traces(&fs::read_to_string(&lines).map_err(|e| format!("{e}"))?)?;
    let profile = run_dir.join("chromium-profile");
    let browser_started = Instant::now();
    let (mut spans, mut loads) = (0, 1);
    for (trace_id, expected) in &traces {
        let url = format!("{}#trace={trace_id}", file_url(&page));
        let dom = chromium_output(chromium, &profile, &["--dump-dom", &url])?;
        check_drawn(trace_id, expected, &drawn_rows(&dom))?;
        spans += expected.len();
        loads += 1;
    }
    let shot = run_dir.join("tour-page.png");
    screenshot(chromium, &profile, &page, &traces, &shot)?;
    let browser_time = browser_started.elapsed();
    if let Some(docs) = save_screenshot {
        fs::copy(&shot, docs)
            .map_err(|e| format!("copy the screenshot to {}: {e}", docs.display()))?;
        println!("browser: screenshot saved to {}", docs.display());
    }
    let view = command_output(
        Command::new(&binaries["trace-view"])
            .args(["--no-color", "--width", "100"])
            .arg(&lines),
    )?;
    check_one_waterfall_each("tour", &tour, &traces)?;
    check_one_waterfall_each("trace-view", &view, &traces)?;
    println!(
        "browser: chromium drew all {spans} spans of the tour's {} traces with bars wider \
         than 0 px, in tree order, in {:.1} s ({loads} page loads; {:.1} s with building \
         and running the tour)",
        traces.len(),
        browser_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo build -p NAME...`; the executables by name.
fn build(packages: &[&str]) -> Result<HashMap<String, PathBuf>> {
    let mut cmd = util::cargo();
    cmd.arg("build");
    for package in packages {
        cmd.args(["-p", package, "--bin", package]);
    }
    cmd.args(["--message-format", "json-render-diagnostics"]);
    let line = util::display(&cmd);
    println!("$ {line}");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run `{line}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{line}` failed ({})", out.status));
    }
    let found: HashMap<String, PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_owned();
            Some((name, PathBuf::from(m["executable"].as_str()?)))
        })
        .collect();
    match packages.iter().find(|p| !found.contains_key(**p)) {
        Some(missing) => Err(format!("`{line}` named no {missing} executable")),
        None => Ok(found),
    }
}

/// Runs `cmd` to the end and returns its stdout; fails with its output otherwise.
fn command_output(cmd: &mut Command) -> Result<String> {
    let line = util::display(cmd);
    println!("$ {line}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run `{line}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "`{line}` failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Headless chromium with `args`, killed after [`BROWSER_TIMEOUT`]; its stdout.
fn chromium_output(chromium: &Path, profile: &Path, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(chromium);
    // Root in a container: no sandbox, no GPU, no small /dev/shm.
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(["--hide-scrollbars", WINDOW_SIZE])
    .args(args)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let line = util::display(&cmd);
    println!("$ {line}");
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not run `{line}`: {e}"))?;
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "`{line}` did not finish within {BROWSER_TIMEOUT:?}"
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
    let out: Output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "`{line}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Chain 1 (the trace with the module command's server span), that span selected.
fn screenshot(
    chromium: &Path,
    profile: &Path,
    page: &Path,
    traces: &[(String, Vec<Expected>)],
    to: &Path,
) -> Result {
    let server = traces.iter().find_map(|(trace, spans)| {
        let span = spans
            .iter()
            .find(|s| s.name == "POST /service/{module}/command")?;
        Some(format!("trace={trace}&span={}", span.id))
    });
    let server = server.ok_or("no trace holds `POST /service/{module}/command`")?;
    let url = format!("{}#{server}", file_url(page));
    let shot = format!("--screenshot={}", to.display());
    chromium_output(chromium, profile, &[&shot, &url])?;
    match fs::metadata(to) {
        Ok(meta) if meta.len() > 0 => Ok(()),
        _ => Err(format!("chromium wrote no screenshot to {}", to.display())),
    }
}

/// The spans of each trace in the OTLP-JSON lines, traces in order of appearance.
fn read_traces(text: &str) -> Result<Vec<(String, Vec<Expected>)>> {
    let mut traces: Vec<(String, Vec<Expected>)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let request: Value = serde_json::from_str(line).map_err(|e| format!("tour.jsonl: {e}"))?;
        let list = |v: &Value, key: &str| v[key].as_array().cloned().unwrap_or_default();
        for resource in list(&request, "resourceSpans") {
            for scope in list(&resource, "scopeSpans") {
                for span in list(&scope, "spans") {
                    let text = |key: &str| span[key].as_str().unwrap_or_default().to_owned();
                    let start = text("startTimeUnixNano").parse().unwrap_or(0);
                    let expected = Expected {
                        id: text("spanId"),
                        parent: text("parentSpanId"),
                        name: text("name"),
                        start,
                    };
                    let trace_id = text("traceId");
                    match traces.iter_mut().find(|(id, _)| *id == trace_id) {
                        Some((_, spans)) => spans.push(expected),
                        None => traces.push((trace_id, vec![expected])),
                    }
                }
            }
        }
    }
    if traces.is_empty() {
        return Err("the tour wrote no spans".to_owned());
    }
    Ok(traces)
}

/// The waterfall rows of a dumped DOM that draw a span, in document order.
fn drawn_rows(dom: &str) -> Vec<Drawn> {
    let mut rows = Vec::new();
    for (at, _) in dom.match_indices("<div class=\"row") {
        let tag = &dom[at..dom[at..].find('>').map_or(dom.len(), |end| at + end)];
        let attribute = |name: &str| {
            let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
            let end = tag[start..].find('"')? + start;
            Some(tag[start..end].to_owned())
        };
        let Some(span_id) = attribute("data-span-id") else {
            continue;
        };
        let name = dom[at..]
            .split("<span class=\"name\">")
            .nth(1)
            .and_then(|rest| rest.split("</span>").next())
            .map(unescape)
            .unwrap_or_default();
        rows.push(Drawn {
            span_id,
            depth: attribute("data-depth")
                .and_then(|d| d.parse().ok())
                .unwrap_or(0),
            bar_width: (attribute("data-bar-width").and_then(|w| w.parse().ok())).unwrap_or(0.0),
            name,
        });
    }
    rows
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Every expected span drawn once, by name, with a bar wider than 0 px, under its parent
/// one level deeper, after it, and after its earlier-starting siblings.
fn check_drawn(trace_id: &str, expected: &[Expected], drawn: &[Drawn]) -> Result {
    let fail = |what: String| Err(format!("browser: trace {trace_id}: {what}"));
    let position: HashMap<&str, usize> = (drawn.iter().enumerate())
        .map(|(at, row)| (row.span_id.as_str(), at))
        .collect();
    if drawn.len() != expected.len() || position.len() != drawn.len() {
        return fail(format!(
            "{} spans in the OTLP-JSON lines, {} rows drawn ({} distinct)",
            expected.len(),
            drawn.len(),
            position.len()
        ));
    }
    for span in expected {
        let Some(&at) = position.get(span.id.as_str()) else {
            return fail(format!("span {} ({}) is not drawn", span.id, span.name));
        };
        let row = &drawn[at];
        if row.name != span.name {
            return fail(format!(
                "span {} is drawn as {:?}, not {:?}",
                span.id, row.name, span.name
            ));
        }
        if row.bar_width <= 0.0 || !row.bar_width.is_finite() {
            return fail(format!("{} has a bar {} px wide", span.name, row.bar_width));
        }
        let Some(&parent_at) = position.get(span.parent.as_str()) else {
            continue;
        };
        if parent_at >= at || drawn[parent_at].depth + 1 != row.depth {
            return fail(format!(
                "{} (row {at}, depth {}) is not right under its parent {} (row {parent_at}, depth {})",
                span.name, row.depth, drawn[parent_at].name, drawn[parent_at].depth
            ));
        }
        let later_sibling_before = expected.iter().any(|other| {
            other.parent == span.parent
                && other.start > span.start
                && position.get(other.id.as_str()).is_some_and(|&o| o < at)
        });
        if later_sibling_before {
            return fail(format!(
                "{} is drawn after a sibling that started later",
                span.name
            ));
        }
    }
    Ok(())
}

/// `output` (the tour's or trace-view's) prints exactly one waterfall per trace, with all
/// of its spans.
fn check_one_waterfall_each(who: &str, output: &str, traces: &[(String, Vec<Expected>)]) -> Result {
    for (trace_id, spans) in traces {
        let headers: Vec<&str> = (output.lines())
            .filter(|line| line.starts_with(&format!("trace {trace_id} ")))
            .collect();
        let whole = format!(" · {} spans · ", spans.len());
        if headers.len() != 1 || !headers[0].contains(&whole) {
            return Err(format!(
                "{who}: expected one waterfall of {} spans for trace {trace_id}, got {headers:?}",
                spans.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: &str, name: &str, start: u64) -> Expected {
        Expected {
            id: id.into(),
            parent: parent.into(),
            name: name.into(),
            start,
        }
    }

    const DOM: &str = r#"<div class="row axis-row"><div class="label">0</div></div>
<div class="row" data-row="0" data-depth="0" data-span-id="a1" data-bar-width="640.0"><div class="label"><span class="name">POST</span></div></div>
<div class="row" data-row="1" data-depth="1" data-span-id="b2" data-bar-width="3.5"><div class="label"><span class="name">GET /x?a=1&amp;b=&lt;2&gt;</span></div></div>
<div class="row" data-row="2" data-depth="1" data-span-id="c3" data-bar-width="2.0"><div class="label"><span class="name">SELECT</span></div></div>"#;

    fn expected() -> Vec<Expected> {
        vec![
            span("c3", "a1", "SELECT", 30),
            span("a1", "", "POST", 0),
            span("b2", "a1", "GET /x?a=1&b=<2>", 10),
        ]
    }

    #[test]
    fn rows_are_read_back_from_the_dom() {
        let rows = drawn_rows(DOM);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].name, "GET /x?a=1&b=<2>");
        assert_eq!((rows[1].depth, rows[1].bar_width), (1, 3.5));
        assert!(check_drawn("t", &expected(), &rows).is_ok());
    }

    #[test]
    fn a_missing_span_a_flat_bar_or_a_wrong_order_fails() {
        let rows = drawn_rows(DOM);
        let error = check_drawn("t", &expected()[..2], &rows).unwrap_err();
        assert!(
            error.contains("2 spans in the OTLP-JSON lines, 3 rows drawn"),
            "{error}"
        );

        let mut flat = rows.clone();
        flat[2].bar_width = 0.0;
        let error = check_drawn("t", &expected(), &flat).unwrap_err();
        assert!(error.contains("SELECT has a bar 0 px wide"), "{error}");

        let mut swapped = rows.clone();
        swapped.swap(1, 2);
        let error = check_drawn("t", &expected(), &swapped).unwrap_err();
        assert!(
            error.contains("after a sibling that started later"),
            "{error}"
        );

        let mut child_first = rows;
        child_first.swap(0, 1);
        let error = check_drawn("t", &expected(), &child_first).unwrap_err();
        assert!(error.contains("is not right under its parent"), "{error}");
    }

    #[test]
    fn each_trace_needs_exactly_one_whole_waterfall() {
        let traces = vec![("t1".to_owned(), expected())];
        let once = "trace t1 · tour · 3 spans · 1 ms\nrows\n";
        assert!(check_one_waterfall_each("x", once, &traces).is_ok());
        let twice = format!("{once}trace t1 · tour · 1 span · 1 ms\n");
        assert!(check_one_waterfall_each("x", &twice, &traces).is_err());
        assert!(check_one_waterfall_each("x", "trace t1 · tour · 2 spans · \n", &traces).is_err());
    }
}
