//! `cargo xtask ci`: everything CI checks, in one command.

use std::time::{Duration, Instant};

use crate::msrv::{self, Msrv};
use crate::util::{self, Result};
use crate::{deps, features, package, test, tidy};

const HELP: &str = "\
cargo xtask ci [--install-tools] [--strict] [--skip STEP]...

Runs, in order, and reports each step's result:
  cargo fmt --all --check
  cargo clippy --workspace --all-targets --all-features -- -D warnings
  RUSTDOCFLAGS='-D warnings' cargo doc --workspace --no-deps --all-features
  cargo xtask deps
  cargo xtask tidy
  cargo xtask package    (each library crate packaged and built from its .crate)
  cargo xtask features   (each library crate: no default features, each feature alone,
                          all features)
  cargo xtask msrv       (the declared rust-version's toolchain; NOT RUN when it is
                          not installed, and the summary says so)
  cargo xtask test [--strict]
  cargo deny check

Options:
  --install-tools   install cargo-deny when it is missing (`cargo install --locked cargo-deny`)
  --strict          passed to `test` (the default under CI=true)
  --skip STEP       leave out a step (fmt, clippy, doc, deps, tidy, package, features,
                    msrv, test, deny); the summary lists it as skipped. The workflow runs
                    `features` and `msrv` as jobs of their own, in parallel";

/// The steps, in order.
const STEPS: &[&str] = &[
    "fmt", "clippy", "doc", "deps", "tidy", "package", "features", "msrv", "test", "deny",
];

const DENY_INSTALL: &str = "cargo install --locked cargo-deny";

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    let mut test_args = Vec::new();
    let mut install_tools = false;
    let mut skip: Vec<&str> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--install-tools" => install_tools = true,
            "--strict" => test_args.push(arg.clone()),
            "--skip" => {
                let step = args.next().ok_or("--skip needs a step name")?;
                if !STEPS.contains(&step.as_str()) {
                    return Err(format!(
                        "unknown step `{step}` (steps: {})",
                        STEPS.join(", ")
                    ));
                }
                skip.push(step);
            }
            other => return Err(format!("unknown ci option `{other}`\n\n{HELP}")),
        }
    }
    // Fail before the long steps when a tool is missing.
    if !skip.contains(&"deny") && !util::succeeds(util::cargo().args(["deny", "--version"])) {
        if !install_tools {
            return Err(format!(
                "cargo-deny is not installed: run `{DENY_INSTALL}` \
                 (or `cargo xtask ci --install-tools`)"
            ));
        }
        util::run(util::cargo().args(["install", "--locked", "cargo-deny"]))?;
    }

    let steps: [(&str, &dyn Fn() -> Outcome); 10] = [
        ("fmt", &|| {
            util::run(util::cargo().args(["fmt", "--all", "--check"])).into()
        }),
        ("clippy", &|| {
            util::run(
                util::cargo()
                    .args(["clippy", "--workspace", "--all-targets", "--all-features"])
                    .args(["--", "-D", "warnings"]),
            )
            .into()
        }),
        ("doc", &|| {
            util::run(util::cargo().env("RUSTDOCFLAGS", "-D warnings").args([
                "doc",
                "--workspace",
                "--no-deps",
                "--all-features",
            ]))
            .into()
        }),
        ("deps", &|| deps::run(&[]).into()),
        ("tidy", &|| tidy::run(&[]).into()),
        ("package", &|| package::run(&[]).into()),
        ("features", &|| features::run(&[]).into()),
        ("msrv", &|| match msrv::check(&[]) {
            Ok(Msrv::Built) => Outcome::Ok,
            Ok(Msrv::NotRun(why)) => Outcome::NotRun(why),
            Err(e) => Outcome::Failed(e),
        }),
        ("test", &|| test::run(&test_args).into()),
        ("deny", &|| {
            util::run(util::cargo().args(["deny", "check"])).into()
        }),
    ];
    let mut results: Vec<(&str, Duration, Outcome)> = Vec::new();
    debug_assert!(
        steps
            .iter()
            .map(|(name, _)| *name)
            .eq(STEPS.iter().copied())
    );
    for (name, step) in steps {
        if skip.contains(&name) {
            results.push((name, Duration::ZERO, Outcome::Skipped));
            continue;
        }
        println!("\n=== ci: {name} ===");
        let started = Instant::now();
        let outcome = step();
        match &outcome {
            Outcome::Ok | Outcome::Skipped => {}
            Outcome::NotRun(why) => println!("ci: {name} NOT RUN: {why}"),
            Outcome::Failed(e) => eprintln!("ci: {name} failed: {e}"),
        }
        results.push((name, started.elapsed(), outcome));
    }

    println!("\n=== ci: summary ===");
    for (name, elapsed, outcome) in &results {
        let verdict = match outcome {
            Outcome::Ok => "ok",
            Outcome::NotRun(_) => "NOT RUN",
            Outcome::Skipped => "skipped",
            Outcome::Failed(_) => "FAILED",
        };
        println!("{name:>8}  {verdict:<7}  {:>7.1} s", elapsed.as_secs_f64());
    }
    for (name, _, outcome) in &results {
        if let Outcome::NotRun(why) = outcome {
            println!("{name}: not run: {why}");
        }
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, _, outcome)| matches!(outcome, Outcome::Failed(_)))
        .map(|(n, _, _)| *n)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("ci: failed steps: {}", failed.join(", ")))
    }
}

/// How a step ended: a step that could not run says why instead of passing.
enum Outcome {
    Ok,
    /// Could not run here (a toolchain is missing): never a pass.
    NotRun(String),
    /// Left out with `--skip`.
    Skipped,
    Failed(String),
}

impl From<Result> for Outcome {
    fn from(result: Result) -> Self {
        match result {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(e),
        }
    }
}
