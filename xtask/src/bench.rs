//! `cargo xtask bench`: run the benchmarks.

use serde_json::Value;

use crate::services;
use crate::util::{self, Result};

const HELP: &str = "\
cargo xtask bench [--list] [BENCH...] [-- ARGS...]

Runs `cargo bench -p PACKAGE --bench BENCH` for every `[[bench]]` target of the workspace's
crates (found with `cargo metadata`), or only the named ones.
ARGS after `--` go to the benchmark binaries, e.g. `cargo xtask bench -- --quick`.
With `--rotel` among them (export_throughput), the rotel collector is installed first from
PyPI into a cached venv and named in TRACE_RS_ROTEL_AGENT (set it yourself to skip that).";

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    let (names, bench_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let meta = util::metadata(true)?;
    let benches = bench_targets(&meta);
    if names.iter().any(|n| n == "--list") {
        for (package, bench) in &benches {
            println!("{bench} ({package})");
        }
        return Ok(());
    }
    if let Some(unknown) = names.iter().find(|n| !benches.iter().any(|(_, b)| b == n)) {
        let known: Vec<&str> = benches.iter().map(|(_, b)| *b).collect();
        return Err(format!(
            "unknown benchmark `{unknown}` (known: {})",
            known.join(", ")
        ));
    }
    let rotel_agent = if bench_args.iter().any(|a| a == "--rotel") {
        let target_dir = meta["target_directory"].as_str().unwrap_or("target");
        Some(services::rotel_agent(target_dir.as_ref())?)
    } else {
        None
    };
    for (package, bench) in &benches {
        if names.is_empty() || names.iter().any(|n| n == bench) {
            let mut cmd = util::cargo();
            if let Some(agent) = &rotel_agent {
                cmd.env(services::ROTEL_AGENT_ENV, agent);
            }
            cmd.args(["bench", "-p", package, "--bench", bench]);
            if !bench_args.is_empty() {
                cmd.arg("--").args(bench_args);
            }
            util::run(&mut cmd)?;
        }
    }
    Ok(())
}

/// Every benchmark target of the workspace members as (package, bench), in member order.
fn bench_targets(meta: &Value) -> Vec<(&str, &str)> {
    util::workspace_packages(meta)
        .flat_map(|p| {
            let package = p["name"].as_str().unwrap_or_default();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "bench"))
                })
                .filter_map(move |t| Some((package, t["name"].as_str()?)))
        })
        .collect()
}
