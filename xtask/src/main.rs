//! Maintenance tasks for the trace-rs workspace, run as `cargo xtask <task>`.
//!
//! A plain binary with one module per task (the rust-analyzer xtask style): no build scripts,
//! no task runner, only `std` and `serde_json`.

mod bench;
mod browser;
mod ci;
mod compat;
mod deps;
mod doctor;
mod features;
mod msrv;
mod package;
mod services;
mod test;
mod tidy;
mod util;
mod w3c;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <task> [options]

Tasks:
  deps    check the layering rule, that one opentelemetry version is resolved and that
          no aws-lc is (TLS is rustls with ring only)
  tidy    check crate READMEs (incl. the target library's version), CHANGELOGs, crate
          docs, forbidden macros, final newlines
  test    provision the real components the tests need (OTLP receiver, Redis, PostgreSQL,
          MariaDB, Python for the W3C suite, chromium), run all tests, the official W3C
          Trace Context suite and the browser check of the tour's HTML page; this is the
          README's test command
  package package every library crate as crates.io would take it and build each from
          its .crate; prints each one's size and file count
  features clippy each library crate with no default features, each feature alone
          and all features
  msrv    check the library crates with the declared rust-version's toolchain (says
          NOT RUN when it is not installed)
  ci      fmt, clippy, doc, deps, tidy, package, features, msrv, test and cargo-deny,
          as CI runs them
  bench   run the benchmarks
  compat  test each crate against the oldest and newest release of its target library;
          writes docs/compatibility.md
  doctor  check a service's dependency graph for what silently breaks traces
          (`cargo xtask doctor --manifest-path path/to/Cargo.toml`)

Run `cargo xtask <task> --help` for a task's options.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match task.as_str() {
        "deps" => deps::run(&rest),
        "tidy" => tidy::run(&rest),
        "test" => test::run(&rest),
        "ci" => ci::run(&rest),
        "package" => package::run(&rest),
        "features" => features::run(&rest),
        "msrv" => msrv::run(&rest),
        "bench" => bench::run(&rest),
        "doctor" => doctor::run(&rest),
        "compat" => compat::run(&rest),
        "" => Err(format!("no task given\n\n{HELP}")),
        "help" | "-h" | "--help" => {
            println!("{HELP}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
