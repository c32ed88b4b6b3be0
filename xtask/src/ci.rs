//! `cargo xtask ci`: everything CI checks, in one command.

use std::time::{Duration, Instant};

use crate::util::{self, Result};
use crate::{deps, test, tidy};

const HELP: &str = "\
cargo xtask ci [--install-tools] [--strict]

Runs, in order, and reports each step's result:
  cargo fmt --all --check
  cargo clippy --workspace --all-targets --all-features -- -D warnings
  cargo clippy -p trace-core --no-default-features -- -D warnings   (the slimmest build)
  RUSTDOCFLAGS='-D warnings' cargo doc --workspace --no-deps --all-features
  cargo xtask deps
  cargo xtask tidy
  cargo xtask test [--strict]
  cargo deny check

Options:
  --install-tools   install cargo-deny when it is missing (`cargo install --locked cargo-deny`)
  --strict          passed to `test` (the default under CI=true)";

const DENY_INSTALL: &str = "cargo install --locked cargo-deny";

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    let mut test_args = Vec::new();
    let mut install_tools = false;
    for arg in args {
        match arg.as_str() {
            "--install-tools" => install_tools = true,
            "--strict" => test_args.push(arg.clone()),
            other => return Err(format!("unknown ci option `{other}`\n\n{HELP}")),
        }
    }
    // Fail before the long steps when a tool is missing.
    if !util::succeeds(util::cargo().args(["deny", "--version"])) {
        if !install_tools {
            return Err(format!(
                "cargo-deny is not installed: run `{DENY_INSTALL}` \
                 (or `cargo xtask ci --install-tools`)"
            ));
        }
        util::run(util::cargo().args(["install", "--locked", "cargo-deny"]))?;
    }

    let steps: [(&str, &dyn Fn() -> Result); 8] = [
        ("fmt", &|| {
            util::run(util::cargo().args(["fmt", "--all", "--check"]))
        }),
        ("clippy", &|| {
            util::run(
                util::cargo()
                    .args(["clippy", "--workspace", "--all-targets", "--all-features"])
                    .args(["--", "-D", "warnings"]),
            )
        }),
        ("clippy (trace-core, no default features)", &|| {
            util::run(
                util::cargo()
                    .args(["clippy", "-p", "trace-core", "--no-default-features"])
                    .args(["--", "-D", "warnings"]),
            )
        }),
        ("doc", &|| {
            util::run(util::cargo().env("RUSTDOCFLAGS", "-D warnings").args([
                "doc",
                "--workspace",
                "--no-deps",
                "--all-features",
            ]))
        }),
        ("deps", &|| deps::run(&[])),
        ("tidy", &|| tidy::run(&[])),
        ("test", &|| test::run(&test_args)),
        ("deny", &|| util::run(util::cargo().args(["deny", "check"]))),
    ];
    let mut results: Vec<(&str, Duration, Result)> = Vec::new();
    for (name, step) in steps {
        println!("\n=== ci: {name} ===");
        let started = Instant::now();
        let result = step();
        if let Err(e) = &result {
            eprintln!("ci: {name} failed: {e}");
        }
        results.push((name, started.elapsed(), result));
    }

    println!("\n=== ci: summary ===");
    for (name, elapsed, result) in &results {
        let verdict = if result.is_ok() { "ok" } else { "FAILED" };
        println!("{name:>8}  {verdict:<6}  {:>7.1} s", elapsed.as_secs_f64());
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, _, r)| r.is_err())
        .map(|(n, _, _)| *n)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("ci: failed steps: {}", failed.join(", ")))
    }
}
