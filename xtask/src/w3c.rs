//! The official W3C Trace Context test suite against `examples/w3c-test-service`, as part
//! of `cargo xtask test`.
//!
//! The suite is w3c/trace-context's `test/` folder, copied unchanged into
//! `examples/w3c-test-service/w3c-suite`. It needs Python with aiohttp: the `w3c-suite`
//! component of `crate::services`.

use std::fs;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{self, Result, wait_until};

/// The package that holds the service and the suite.
const PACKAGE: &str = "w3c-test-service";
const SUITE_DIR: &str = "examples/w3c-test-service/w3c-suite";
/// Every test of the suite, Level 2 and the tracestate size checks included.
const LEVELS: [(&str, &str); 2] = [("STRICT_LEVEL", "2"), ("SPEC_LEVEL", "2")];
/// Each test waits at most 5 s for the service; this only guards against a hung run.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// Builds and starts the service, runs the suite with `python`, and prints its score.
/// Fails unless every test passed. Logs go to `run_dir`.
pub(crate) fn run(python: &Path, run_dir: &Path) -> Result {
    let started = Instant::now();
    let binary = build()?;
    let built = started.elapsed();
    let (port, harness_port) = two_free_ports()?;
    let service = Service::start(&binary, port, &run_dir.join("w3c-test-service.log"))?;
    let log = run_dir.join("w3c-suite.log");
    let levels = LEVELS.map(|(k, v)| format!("{k}={v}")).join(" ");
    let suite_started = Instant::now();
    let outcome = run_suite(python, port, harness_port, &log);
    drop(service);
    let output = fs::read_to_string(&log).unwrap_or_default();
    let status = outcome?;
    let report = Report::parse(&output);
    let skipped = match report.skipped {
        0 => String::new(),
        n => format!(", {n} skipped"),
    };
    println!(
        "w3c-trace-context: {}/{} passed ({levels}{skipped}) in {:.1} s (service build {:.1} s)",
        report.passed(),
        report.ran,
        suite_started.elapsed().as_secs_f64(),
        built.as_secs_f64()
    );
    for name in &report.failed {
        println!("w3c-trace-context: failed: {name}");
    }
    if report.all_passed() && status {
        return Ok(());
    }
    // The suite's own report says what each failing test expected.
    println!("--- the suite's output ---\n{output}--- end of the suite's output ---");
    let (passed, ran) = (report.passed(), report.ran);
    Err(if report.all_passed() {
        format!("w3c-trace-context: the suite exited non-zero after {passed} of {ran} passed")
    } else {
        format!("w3c-trace-context: only {passed} of {ran} tests passed")
    })
}

/// `cargo build -p w3c-test-service`; returns the binary's path.
fn build() -> Result<PathBuf> {
    let mut cmd = util::cargo();
    cmd.args(["build", "-p", PACKAGE, "--bin", PACKAGE])
        .args(["--message-format", "json-render-diagnostics"]);
    let line = util::display(&cmd);
    println!("$ {line}");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run `{line}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{line}` failed ({})", out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == PACKAGE)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("`{line}` named no {PACKAGE} executable"))
}

/// Two distinct free loopback ports: the service's and the harness's callback server's.
fn two_free_ports() -> Result<(u16, u16)> {
    let bind = || TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string());
    // Both stay bound until both are chosen, so they differ.
    let (a, b) = (bind()?, bind()?);
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string());
    Ok((port(&a)?, port(&b)?))
}

/// The running service; killed on drop.
struct Service(Child);

impl Service {
    fn start(binary: &Path, port: u16, log: &Path) -> Result<Self> {
        let log_file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(binary)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
        let mut service = Self(child);
        let up = wait_until(Duration::from_secs(10), || {
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
                || service.0.try_wait().is_ok_and(|s| s.is_some())
        });
        if up && service.0.try_wait().is_ok_and(|s| s.is_none()) {
            return Ok(service);
        }
        let log = fs::read_to_string(log).unwrap_or_default();
        Err(format!(
            "{PACKAGE} did not listen on 127.0.0.1:{port} within 10 s:\n{log}"
        ))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `test.py` with its output in `log`; returns whether it exited 0.
fn run_suite(python: &Path, port: u16, harness_port: u16, log: &Path) -> Result<bool> {
    let out = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(python);
    cmd.current_dir(util::project_root().join(SUITE_DIR))
        .envs(LEVELS)
        .env("HARNESS_PORT", harness_port.to_string())
        // Keeps the output in order, and no __pycache__ in the source tree.
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(["test.py", &format!("http://127.0.0.1:{port}/test")]);
    println!("$ (cd {SUITE_DIR} && {})", util::display(&cmd));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("could not run {}: {e}", python.display()))?;
    let finished = wait_until(SUITE_TIMEOUT, || {
        child.try_wait().is_ok_and(|s| s.is_some())
    });
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "the W3C suite did not finish within {} s (log: {})",
            SUITE_TIMEOUT.as_secs(),
            log.display()
        ));
    }
    child
        .wait()
        .map(|status| status.success())
        .map_err(|e| e.to_string())
}

/// What unittest's text report says.
#[derive(Debug, Default, PartialEq)]
struct Report {
    ran: usize,
    skipped: usize,
    /// `Class.test` for each FAIL or ERROR, in report order.
    failed: Vec<String>,
}

impl Report {
    fn parse(output: &str) -> Self {
        let mut report = Report::default();
        for line in output.lines() {
            if let Some(rest) = line.strip_prefix("Ran ") {
                report.ran = rest
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
            } else if let Some(rest) = line
                .strip_prefix("FAIL: ")
                .or_else(|| line.strip_prefix("ERROR: "))
            {
                let name = test_name(rest);
                if !report.failed.contains(&name) {
                    report.failed.push(name);
                }
            } else if line.starts_with("OK") || line.starts_with("FAILED") {
                report.skipped = line
                    .split(['(', ')', ',', ' '])
                    .find_map(|part| part.strip_prefix("skipped="))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
            }
        }
        report
    }

    fn passed(&self) -> usize {
        self.ran.saturating_sub(self.skipped + self.failed.len())
    }

    /// At least one test ran, and each one passed.
    fn all_passed(&self) -> bool {
        self.ran > 0 && self.passed() == self.ran
    }
}

/// `Class.test` from `test (__main__.Class.test)` (Python 3.11+) or
/// `test (__main__.Class)` (older Pythons); the text as is otherwise.
fn test_name(text: &str) -> String {
    let text = text.trim();
    let Some((test, rest)) = text.split_once(" (") else {
        return text.to_owned();
    };
    let path = rest.trim_end_matches(')');
    let path = path.strip_suffix(&format!(".{test}")).unwrap_or(path);
    let class = path.rsplit('.').next().unwrap_or(path);
    format!("{class}.{test}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILING: &str = "\
STRICT_LEVEL: 2
SPEC_LEVEL:   2
harness listening on http://127.0.0.1:7777
test_multiple_requests_with_valid_traceparent (__main__.AdvancedTest.test_multiple_requests_with_valid_traceparent) ... ok
test_propagates_random_flag (__main__.TraceContext2Test.test_propagates_random_flag) ... FAIL
test_tracestate_ows_handling (__main__.TraceContextTest) ... ERROR

======================================================================
ERROR: test_tracestate_ows_handling (__main__.TraceContextTest)
----------------------------------------------------------------------
Traceback (most recent call last):
ValueError: illegal key-value format

======================================================================
FAIL: test_propagates_random_flag (__main__.TraceContext2Test.test_propagates_random_flag)
----------------------------------------------------------------------
AssertionError: 0 != 2 : expected value 0x00 to have #2th bit set but it did not : random flag not set

----------------------------------------------------------------------
Ran 41 tests in 1.508s

FAILED (failures=1, errors=1, skipped=2)
";

    #[test]
    fn failures_errors_and_skips_are_read() {
        let report = Report::parse(FAILING);
        assert_eq!(
            report,
            Report {
                ran: 41,
                skipped: 2,
                failed: vec![
                    "TraceContextTest.test_tracestate_ows_handling".into(),
                    "TraceContext2Test.test_propagates_random_flag".into(),
                ],
            }
        );
        assert_eq!(report.passed(), 37);
        assert!(!report.all_passed());
    }

    #[test]
    fn a_clean_run_passes_and_an_empty_one_does_not() {
        let report = Report::parse("Ran 41 tests in 1.2s\n\nOK\n");
        assert_eq!((report.passed(), report.all_passed()), (41, true));
        let setup = Report::parse("ERROR: setUpModule (__main__)\nRan 0 tests in 0.0s\n");
        assert_eq!(setup.failed, ["__main__.setUpModule"]);
        assert!(!setup.all_passed());
    }
}
