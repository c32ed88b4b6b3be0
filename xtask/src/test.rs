//! `cargo xtask test`: provision the real components the test suites declare, run all tests.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;

use crate::browser;
use crate::services::{self, Service};
use crate::util::{self, Result};
use crate::w3c;

const HELP: &str = "\
cargo xtask test [--strict] [ARGS...]

Provisions the components that workspace members list in
`[package.metadata.trace-rs] test-services` (otlp-sink, redis, postgres, mariadb, w3c-suite,
chromium),
runs `cargo nextest run --workspace --all-features --no-fail-fast` (or `cargo test` without
cargo-nextest) and `cargo test --workspace --all-features --doc`, then the official W3C
Trace Context suite, then stops the servers.

The tests find the components through TRACE_RS_OTLP_SINK_PYTHON, TRACE_RS_REDIS_URL,
TRACE_RS_REDIS_SERVER, TRACE_RS_POSTGRES_URL and TRACE_RS_MYSQL_URL. Server data lives under
$TMPDIR/trace-rs-services (TRACE_RS_SERVICES_DIR); the Python venvs of the OTLP receiver and
of the W3C suite are cached next to the target dir (TRACE_RS_OTLP_VENV, TRACE_RS_W3C_VENV).

The W3C suite (examples/w3c-test-service/w3c-suite, w3c/trace-context's `test/`) runs when
w3c-test-service is selected (it is, without -p): `cargo build -p w3c-test-service`, the
service on a free loopback port, then `STRICT_LEVEL=2 SPEC_LEVEL=2 python test.py
http://127.0.0.1:PORT/test` in the venv with aiohttp. It prints
`w3c-trace-context: PASSED/RAN passed (...)` and the failing tests' names; the task fails
unless every test passed. `cargo xtask test -p w3c-test-service` runs only that package's
tests and the suite.

The browser check runs when the tour is selected (it is, without -p): the tour writes its
HTML page, Debian's chromium (installed when missing) loads it headless once per trace,
and the rendered DOM must draw every span of every chain with a bar wider than 0 px, in
tree order; it prints how long chromium took, and saves a screenshot of chain 1. Without
a browser that can be installed or found on PATH the check fails, in CI or not.

Options:
  --strict           a component that cannot be provisioned is an error (the default under
                     CI=true); otherwise it is a warning and the tests that need it skip (the
                     W3C suite says why; the browser check fails)
  --save-screenshot  copy the browser check's screenshot to docs/images/tour-page.png
  ARGS               passed to both test runners, e.g. a test name filter or `-p trace-core`";

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    let strict =
        args.iter().any(|a| a == "--strict") || std::env::var("CI").is_ok_and(|v| v == "true");
    let save_screenshot = args.iter().any(|a| a == "--save-screenshot");
    let ours = ["--strict", "--save-screenshot"];
    let (packages, extra) = split_packages(args.iter().filter(|a| !ours.contains(&a.as_str())));
    let meta = util::metadata(true)?;
    let wanted = wanted_services(&meta, &packages)?;
    let names: Vec<&str> = wanted.iter().map(|s| s.name()).collect();
    let names = if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    };
    println!("test: components needed: {names}");
    let target_dir = PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"));
    let services = services::provision(&wanted, strict, &target_dir)?;

    // Cargo takes `-p` or `--workspace`; doc tests only exist for library targets.
    let with_lib = |p: &&String| has_lib(&meta, p);
    let (scope, doc_scope) = if packages.is_empty() {
        (
            vec!["--workspace".to_owned()],
            Some(vec!["--workspace".to_owned()]),
        )
    } else {
        let doc: Vec<&String> = packages.iter().filter(with_lib).collect();
        let flags = |ps: &[&String]| {
            ps.iter()
                .flat_map(|p| ["-p".to_owned(), p.to_string()])
                .collect()
        };
        let all: Vec<&String> = packages.iter().collect();
        (flags(&all), (!doc.is_empty()).then(|| flags(&doc)))
    };
    let mut counts = Counts::default();
    let mut failures = Vec::new();

    let mut runner = util::cargo();
    if nextest_available() {
        runner.args(["nextest", "run"]);
    } else {
        runner.arg("test");
    }
    runner
        .args(&scope)
        .args(["--all-features", "--no-fail-fast"]);
    let mut commands = vec![runner];
    match doc_scope {
        Some(doc_scope) => {
            let mut doc = util::cargo();
            doc.arg("test")
                .args(doc_scope)
                .args(["--all-features", "--doc"]);
            commands.push(doc);
        }
        None => println!("test: no library among the selected packages: no doc tests to run"),
    }
    for mut cmd in commands {
        cmd.args(&extra)
            .envs(services.env.iter().map(|(k, v)| (k, v)));
        if let Err(e) = run_counting(&mut cmd, &mut counts) {
            failures.push(e);
        }
    }
    let w3c_suite = wanted.contains(&Service::W3cSuite).then(|| {
        let python = services.var(services::W3C_SUITE_PYTHON_ENV);
        python.map(|python| w3c::run(python.as_ref(), services.run_dir()))
    });
    let browser_check = wanted.contains(&Service::Chromium).then(|| {
        let screenshot =
            save_screenshot.then(|| util::project_root().join(browser::DOCS_SCREENSHOT));
        let chromium = services.var(services::CHROMIUM_ENV);
        chromium.map(|chromium| {
            browser::run(chromium.as_ref(), services.run_dir(), screenshot.as_deref())
        })
    });
    drop(services);

    println!(
        "xtask: {} passed, {} failed, {} skipped",
        counts.passed, counts.failed, counts.skipped
    );
    match w3c_suite {
        Some(Some(Ok(()))) | None => {}
        Some(Some(Err(e))) => failures.push(e),
        Some(None) => println!(
            "w3c-trace-context: SKIPPED: the official W3C suite did not run, because its Python \
             venv with aiohttp could not be provisioned (see the warning above); CI=true or \
             --strict make that an error"
        ),
    }
    match browser_check {
        Some(Some(Ok(()))) | None => {}
        Some(Some(Err(e))) => failures.push(e),
        // A page nobody looked at is not a pass, in CI or not.
        Some(None) => failures.push(
            "browser: the tour's HTML page was not checked in a browser, because no chromium \
             is installed and Debian's could not be (see the warning above): install it with \
             `apt-get install chromium`, or put `chromium`, `chromium-browser` or \
             `google-chrome` on PATH"
                .to_owned(),
        ),
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// The union of `[package.metadata.trace-rs] test-services` over the selected packages
/// (all workspace members when none is selected).
fn wanted_services(meta: &serde_json::Value, selected: &[String]) -> Result<BTreeSet<Service>> {
    let mut wanted = BTreeSet::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        if !selected.is_empty() && !selected.iter().any(|s| s == name) {
            continue;
        }
        let list = &package["metadata"]["trace-rs"]["test-services"];
        for value in list.as_array().into_iter().flatten() {
            let service = value.as_str().and_then(Service::parse).ok_or_else(|| {
                format!(
                    "{name}: unknown test-services entry {value} \
                     (known: otlp-sink, redis, postgres, mariadb, w3c-suite, chromium)"
                )
            })?;
            wanted.insert(service);
        }
    }
    Ok(wanted)
}

/// Splits `-p NAME` / `--package NAME` (and the `=`/joined forms) from the other arguments.
fn split_packages<'a>(args: impl Iterator<Item = &'a String>) -> (Vec<String>, Vec<&'a String>) {
    let (mut packages, mut rest) = (Vec::new(), Vec::new());
    let mut args = args;
    while let Some(arg) = args.next() {
        if arg == "--" {
            rest.push(arg);
            rest.extend(args.by_ref());
        } else if arg == "-p" || arg == "--package" {
            packages.extend(args.next().cloned());
        } else if let Some(name) = arg
            .strip_prefix("--package=")
            .or_else(|| arg.strip_prefix("-p"))
        {
            packages.push(name.to_owned());
        } else {
            rest.push(arg);
        }
    }
    (packages, rest)
}

/// Whether the workspace member `name` has a library target.
fn has_lib(meta: &serde_json::Value, name: &str) -> bool {
    let packages = meta["packages"].as_array().into_iter().flatten();
    let targets = packages
        .filter(|p| p["name"] == name)
        .flat_map(|p| p["targets"].as_array().into_iter().flatten());
    targets
        .flat_map(|t| t["kind"].as_array().into_iter().flatten())
        .any(|k| k == "lib" || k == "rlib")
}

fn nextest_available() -> bool {
    util::succeeds(util::cargo().args(["nextest", "--version"]))
}

/// Test counts read from the runners' summary lines.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    passed: u64,
    failed: u64,
    skipped: u64,
}

impl Counts {
    /// Adds the counts of a libtest `test result:` line or a nextest `Summary` line.
    fn add_summary(&mut self, line: &str) {
        let line = line.trim();
        let counts = if let Some(rest) = line.strip_prefix("test result: ") {
            rest.split_once(". ").map(|(_, c)| c).unwrap_or_default()
        } else if line.starts_with("Summary [") {
            line.split_once(" run: ")
                .map(|(_, c)| c)
                .unwrap_or_default()
        } else {
            return;
        };
        for part in counts.split([',', ';']) {
            let mut words = part.split_whitespace();
            let (Some(Ok(n)), Some(word)) = (words.next().map(str::parse::<u64>), words.next())
            else {
                continue;
            };
            match word {
                "passed" => self.passed += n,
                "failed" | "timed" => self.failed += n,
                "skipped" | "ignored" => self.skipped += n,
                _ => {}
            }
        }
    }
}

/// Runs a test runner, echoing its output as it comes, and adds up its summary lines.
fn run_counting(cmd: &mut Command, counts: &mut Counts) -> Result {
    let line = util::display(cmd);
    println!("$ {line}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run `{line}`: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let echo_err = thread::spawn(move || echo(stderr, true));
    let mut summaries = echo(stdout, false);
    summaries.extend(echo_err.join().unwrap_or_default());
    summaries.iter().for_each(|s| counts.add_summary(s));
    let status = child.wait().map_err(|e| e.to_string())?;
    match (status.success(), summaries.is_empty()) {
        (true, _) => Ok(()),
        (false, false) => Err(format!("`{line}` failed ({status})")),
        (false, true) => Err(format!("`{line}` failed ({status}) before running tests")),
    }
}

/// Copies `from` line by line to our stdout or stderr; returns the summary lines.
fn echo(from: impl std::io::Read, to_stderr: bool) -> Vec<String> {
    let mut summaries = Vec::new();
    let mut reader = BufReader::new(from);
    let mut buf = Vec::new();
    while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
        let _ = if to_stderr {
            std::io::stderr().write_all(&buf)
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(&buf).and_then(|()| out.flush())
        };
        let text = String::from_utf8_lossy(&buf);
        // libtest prints its result at column 0 (nextest indents the output of the tests it
        // shows, which may hold such lines); nextest prints `Summary` indented.
        if text.starts_with("test result: ") || text.trim_start().starts_with("Summary [") {
            summaries.push(text.trim().to_owned());
        }
        buf.clear();
    }
    summaries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines_are_counted() {
        let mut counts = Counts::default();
        counts.add_summary("test result: ok. 12 passed; 1 failed; 2 ignored; 0 measured; 3 filtered out; finished in 0.01s");
        counts.add_summary(
            "     Summary [   1.234s] 20 tests run: 17 passed, 2 failed, 1 timed out, 4 skipped",
        );
        counts.add_summary("running 3 tests");
        assert_eq!(
            counts,
            Counts {
                passed: 29,
                failed: 4,
                skipped: 6
            }
        );
    }

    #[test]
    fn the_w3c_suite_runs_with_the_whole_workspace_or_its_package() {
        let meta = util::metadata(true).unwrap();
        let runs = |selected: &[&str]| {
            let selected: Vec<String> = selected.iter().map(|s| s.to_string()).collect();
            wanted_services(&meta, &selected)
                .unwrap()
                .contains(&Service::W3cSuite)
        };
        assert!(runs(&[]));
        assert!(runs(&["w3c-test-service"]));
        assert!(!runs(&["trace-core"]));
    }

    #[test]
    fn package_selection_is_split_off() {
        let args: Vec<String> = [
            "-p",
            "a",
            "filter",
            "--package=b",
            "-pc",
            "--package",
            "d",
            "--",
            "x",
        ]
        .map(String::from)
        .to_vec();
        let (packages, rest) = split_packages(args.iter());
        assert_eq!(packages, ["a", "b", "c", "d"]);
        assert_eq!(rest, ["filter", "--", "x"]);
    }

    #[test]
    fn test_services_are_read_from_metadata() {
        let meta = serde_json::json!({"packages": [
            {"name": "a", "metadata": {"trace-rs": {"test-services": ["otlp-sink", "redis"]}}},
            {"name": "b", "metadata": {"trace-rs": {"test-services": ["redis", "postgres"]}}},
            {"name": "c", "metadata": null},
        ]});
        let wanted = wanted_services(&meta, &[]).unwrap();
        assert_eq!(
            wanted.into_iter().collect::<Vec<_>>(),
            [Service::OtlpSink, Service::Redis, Service::Postgres]
        );
        let only_b = wanted_services(&meta, &["b".to_owned()]).unwrap();
        assert_eq!(
            only_b.into_iter().collect::<Vec<_>>(),
            [Service::Redis, Service::Postgres]
        );
        let bad = serde_json::json!({"packages": [{"name": "a", "metadata": {"trace-rs": {"test-services": ["kafka"]}}}]});
        assert!(
            wanted_services(&bad, &[])
                .unwrap_err()
                .contains("unknown test-services entry \"kafka\"")
        );
    }
}
