//! `cargo xtask bench`: run the benchmarks.

use crate::util::{self, Result};

/// Every benchmark as (package, bench target).
const BENCHES: &[(&str, &str)] = &[("trace-core", "span_cost")];

const HELP: &str = "\
cargo xtask bench [--list] [BENCH...] [-- ARGS...]

Runs `cargo bench -p PACKAGE --bench BENCH` for every benchmark, or only the named ones.
ARGS after `--` go to the benchmark binaries, e.g. `cargo xtask bench -- --quick`.";

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    let (names, bench_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    if names.iter().any(|n| n == "--list") {
        for (package, bench) in BENCHES {
            println!("{bench} ({package})");
        }
        return Ok(());
    }
    if let Some(unknown) = names.iter().find(|n| !BENCHES.iter().any(|(_, b)| b == n)) {
        let known: Vec<&str> = BENCHES.iter().map(|(_, b)| *b).collect();
        return Err(format!(
            "unknown benchmark `{unknown}` (known: {})",
            known.join(", ")
        ));
    }
    for (package, bench) in BENCHES {
        if names.is_empty() || names.iter().any(|n| n == bench) {
            let mut cmd = util::cargo();
            cmd.args(["bench", "-p", package, "--bench", bench]);
            if !bench_args.is_empty() {
                cmd.arg("--").args(bench_args);
            }
            util::run(&mut cmd)?;
        }
    }
    Ok(())
}
