//! `cargo xtask features`: every library crate built with no default features, with each
//! feature alone, and with all features.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{self, Result};

const HELP: &str = "\
cargo xtask features [-p NAME]...

For every library crate (the members under crates/ that may be published), runs
  cargo clippy -p NAME --lib --no-default-features -- -D warnings
  cargo clippy -p NAME --lib --no-default-features --features FEATURE -- -D warnings
      (each feature of its [features] table, alone)
  cargo clippy -p NAME --lib --all-features -- -D warnings
skipping a combination that enables the same features as one already run (a crate with
one feature: its `--all-features` is that feature alone). Only NAME's features count:
`-p` builds the crate as a dependent would, without the workspace's other members
unifying features into it. The default features are built by `cargo xtask package`.
Runs every combination, then prints each one's time and fails if any failed.

Options:
  -p NAME   only this crate (repeatable)";

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    let mut selected = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-p" | "--package" => selected.push(
                args.next()
                    .ok_or_else(|| format!("{arg} needs a crate name"))?
                    .clone(),
            ),
            other => return Err(format!("unknown features option `{other}`\n\n{HELP}")),
        }
    }
    let meta = util::metadata(true)?;
    let crates = util::library_crates(&meta);
    for name in &selected {
        if !crates.iter().any(|(n, _)| n == name) {
            let known: Vec<&str> = crates.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "`{name}` is not a library crate (known: {})",
                known.join(", ")
            ));
        }
    }

    let mut results: Vec<(String, Duration, Result)> = Vec::new();
    let started = Instant::now();
    for (name, package) in crates
        .iter()
        .filter(|(n, _)| selected.is_empty() || selected.iter().any(|s| s == n))
    {
        for combo in combinations(&package["features"]) {
            let label = format!("{name} {}", combo.label());
            println!("\n=== features: {label} ===");
            let mut cmd = util::cargo();
            cmd.args(["clippy", "-p", name, "--lib"])
                .args(combo.flags())
                .args(["--", "-D", "warnings"]);
            let step = Instant::now();
            let result = util::run(&mut cmd);
            results.push((label, step.elapsed(), result));
        }
    }

    println!("\n=== features: summary ===");
    for (label, elapsed, result) in &results {
        let verdict = if result.is_ok() { "ok" } else { "FAILED" };
        println!("{verdict:<6} {:>6.1} s  {label}", elapsed.as_secs_f64());
    }
    println!(
        "{} combinations in {:.1} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<String> = results
        .into_iter()
        .filter_map(|(label, _, result)| result.err().map(|e| format!("{label}: {e}")))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("features: failed:\n{}", failed.join("\n")))
    }
}

/// One build of the matrix.
#[derive(Debug, PartialEq)]
enum Combo {
    NoDefault,
    Alone(String),
    All,
}

impl Combo {
    fn flags(&self) -> Vec<String> {
        match self {
            Combo::NoDefault => vec!["--no-default-features".into()],
            Combo::Alone(feature) => vec![
                "--no-default-features".into(),
                "--features".into(),
                feature.clone(),
            ],
            Combo::All => vec!["--all-features".into()],
        }
    }

    fn label(&self) -> String {
        match self {
            Combo::NoDefault => "--no-default-features".into(),
            Combo::Alone(feature) => format!("--no-default-features --features {feature}"),
            Combo::All => "--all-features".into(),
        }
    }
}

/// The builds for a crate's `features` (as in `cargo metadata`): no default features,
/// each feature alone, all features; each set of the crate's own features once.
fn combinations(features: &Value) -> Vec<Combo> {
    let table: BTreeMap<&str, Vec<&str>> = features
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, enables)| {
            let enables = enables
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            (name.as_str(), enables)
        })
        .collect();
    let own: Vec<&str> = table.keys().copied().filter(|f| *f != "default").collect();
    let mut candidates = vec![(Combo::NoDefault, BTreeSet::new())];
    for feature in &own {
        candidates.push((
            Combo::Alone((*feature).to_owned()),
            closure(&table, [*feature]),
        ));
    }
    candidates.push((Combo::All, closure(&table, own.iter().copied())));
    let mut seen: Vec<BTreeSet<&str>> = Vec::new();
    let mut combos = Vec::new();
    for (combo, set) in candidates {
        if !seen.contains(&set) {
            seen.push(set);
            combos.push(combo);
        }
    }
    combos
}

/// The crate's own features that `start` turns on, directly or through one another.
fn closure<'a>(
    table: &BTreeMap<&'a str, Vec<&'a str>>,
    start: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<&'a str> {
    let mut on = BTreeSet::new();
    let mut stack: Vec<&str> = start.into_iter().collect();
    while let Some(feature) = stack.pop() {
        if on.insert(feature) {
            // `other` (one of ours) as opposed to `dep:x`, `x/y` or `x?/y`.
            stack.extend(
                table
                    .get(feature)
                    .into_iter()
                    .flatten()
                    .filter(|f| table.contains_key(*f)),
            );
        }
    }
    on
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_feature_alone_and_no_repeated_set() {
        let features = serde_json::json!({
            "default": ["a"],
            "a": ["dep:x"],
            "b": ["a", "y/z"],
            "c": [],
        });
        assert_eq!(
            combinations(&features),
            [
                Combo::NoDefault,
                Combo::Alone("a".into()),
                Combo::Alone("b".into()),
                Combo::Alone("c".into()),
                Combo::All,
            ]
        );
        // One feature: `--all-features` is that feature alone.
        let one = serde_json::json!({ "runner": [] });
        assert_eq!(
            combinations(&one),
            [Combo::NoDefault, Combo::Alone("runner".into())]
        );
        // Two features, one enabling the other: b alone is all of them.
        let nested = serde_json::json!({ "a": [], "b": ["a"] });
        assert_eq!(
            combinations(&nested),
            [
                Combo::NoDefault,
                Combo::Alone("a".into()),
                Combo::Alone("b".into())
            ]
        );
    }

    #[test]
    fn flags_are_cargo_flags() {
        assert_eq!(
            Combo::Alone("axum".into()).flags(),
            ["--no-default-features", "--features", "axum"]
        );
        assert_eq!(Combo::All.label(), "--all-features");
    }
}
