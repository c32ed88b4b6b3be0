//! `cargo xtask compat`: build and test each crate against both ends of its target library's
//! declared range, and write the matrix to `docs/compatibility.md`.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;

use serde_json::Value;

use crate::util::{self, Result};

const HELP: &str = "\
cargo xtask compat [CRATE...]

For every crate with `[package.metadata.trace-rs.compat]` (`library`, `oldest`, `newest`,
optional `pin-with` = crates released in lockstep with the library, such as sea-orm-macros),
or only the named ones: pins the library (and `pin-with`) to each end of the range with
`cargo update --precise`, runs the crate's tests with the components they need
(`cargo xtask test -p CRATE`), restores Cargo.lock, and writes the matrix to
docs/compatibility.md. Fails when a declared end does not resolve, build or pass.";

const OUTPUT: &str = "docs/compatibility.md";

/// One crate's declared range.
#[derive(Debug, Clone, PartialEq)]
struct Declared {
    krate: String,
    library: String,
    oldest: String,
    newest: String,
    /// Crates pinned to the same version as the library.
    pin_with: Vec<String>,
}

/// The outcome at one end of a range.
struct Outcome {
    version: String,
    result: std::result::Result<(), String>,
}

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    let meta = util::metadata(true)?;
    let declared = declared_ranges(&meta)?;
    if let Some(unknown) = args
        .iter()
        .find(|a| !declared.iter().any(|d| &d.krate == *a))
    {
        let known: Vec<&str> = declared.iter().map(|d| d.krate.as_str()).collect();
        return Err(format!(
            "`{unknown}` declares no compat range (crates that do: {})",
            known.join(", ")
        ));
    }
    let selected: Vec<&Declared> = declared
        .iter()
        .filter(|d| args.is_empty() || args.contains(&d.krate))
        .collect();
    let otel = resolved_version("opentelemetry")?.unwrap_or_else(|| "?".into());
    let lock = util::project_root().join("Cargo.lock");
    let saved = fs::read(&lock).map_err(|e| format!("reading Cargo.lock: {e}"))?;

    let mut rows = Vec::new();
    for range in &selected {
        let mut outcomes = Vec::new();
        for version in [&range.oldest, &range.newest] {
            println!("compat: {} with {} {version}", range.krate, range.library);
            let result = check_end(range, version);
            // Every end starts from, and leaves, the committed lock file.
            fs::write(&lock, &saved).map_err(|e| format!("restoring Cargo.lock: {e}"))?;
            if let Err(e) = &result {
                eprintln!(
                    "compat: {} with {} {version}: {e}",
                    range.krate, range.library
                );
            }
            outcomes.push(Outcome {
                version: version.clone(),
                result,
            });
        }
        rows.push(((*range).clone(), outcomes));
    }
    if args.is_empty() {
        let page = render(&rows, &otel);
        fs::write(util::project_root().join(OUTPUT), page)
            .map_err(|e| format!("writing {OUTPUT}: {e}"))?;
        println!("compat: wrote {OUTPUT}");
    } else {
        println!("compat: a partial run; {OUTPUT} is only written by a full run");
    }
    let failed: Vec<String> = rows
        .iter()
        .flat_map(|(range, outcomes)| {
            outcomes
                .iter()
                .filter(|o| o.result.is_err())
                .map(move |o| format!("{} with {} {}", range.krate, range.library, o.version))
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "declared ranges that do not hold: {}",
            failed.join("; ")
        ))
    }
}

/// Every `[package.metadata.trace-rs.compat]` table of the workspace's crates.
fn declared_ranges(meta: &Value) -> Result<Vec<Declared>> {
    let mut ranges = Vec::new();
    for (name, package) in util::crates_members(meta) {
        let compat = &package["metadata"]["trace-rs"]["compat"];
        if compat.is_null() {
            continue;
        }
        let field = |key: &str| {
            compat[key].as_str().map(str::to_owned).ok_or_else(|| {
                format!("{name}: [package.metadata.trace-rs.compat] needs a string `{key}`")
            })
        };
        ranges.push(Declared {
            krate: name.to_owned(),
            library: field("library")?,
            oldest: field("oldest")?,
            newest: field("newest")?,
            pin_with: compat["pin-with"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        });
    }
    Ok(ranges)
}

/// The version of `name` in the committed lock file (the first, if several).
fn resolved_version(name: &str) -> Result<Option<String>> {
    let meta = util::metadata(false)?;
    Ok(meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .and_then(|p| p["version"].as_str())
        .map(str::to_owned))
}

/// Pins the library to `version` and runs the crate's tests.
fn check_end(range: &Declared, version: &str) -> std::result::Result<(), String> {
    for library in std::iter::once(&range.library).chain(&range.pin_with) {
        let current = resolved_version(library)?
            .ok_or_else(|| format!("{library} is not in the dependency graph"))?;
        if current != version {
            let spec = format!("{library}@{current}");
            util::run(util::cargo().args(["update", "-p", &spec, "--precise", version]))
                .map_err(|e| format!("{library} {version} does not resolve: {e}"))?;
        }
    }
    crate::test::run(&["-p".to_owned(), range.krate.clone()])
}

fn render(rows: &[(Declared, Vec<Outcome>)], otel: &str) -> String {
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_else(|_| "rustc ?".into());
    let mut page = String::from(
        "# Compatibility\n\n\
         Generated by `cargo xtask compat`; do not edit by hand. Each crate's tests ran \
         against the oldest and the newest release of its target library that it declares \
         in `[package.metadata.trace-rs.compat]`, with the components the tests need \
         (Redis, PostgreSQL, MariaDB) started by the test tooling.\n\n",
    );
    let _ = writeln!(
        page,
        "opentelemetry: {otel} (one version across the workspace)  "
    );
    let _ = writeln!(page, "toolchain: {}\n", rustc.trim());
    page.push_str("| Crate | Library | Oldest | Result | Newest | Result |\n");
    page.push_str("|---|---|---|---|---|---|\n");
    for (range, outcomes) in rows {
        let cell = |o: &Outcome| match &o.result {
            Ok(()) => "pass".to_owned(),
            Err(_) => "**fail**".to_owned(),
        };
        let _ = writeln!(
            page,
            "| {} | {} | {} | {} | {} | {} |",
            range.krate,
            range.library,
            outcomes[0].version,
            cell(&outcomes[0]),
            outcomes[1].version,
            cell(&outcomes[1]),
        );
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_range_is_complete_and_names_a_dependency() {
        let meta = util::metadata(true).unwrap();
        let ranges = declared_ranges(&meta).unwrap();
        for range in &ranges {
            let package = util::crates_members(&meta)
                .into_iter()
                .find(|(name, _)| *name == range.krate)
                .map(|(_, p)| p)
                .unwrap();
            let depends = package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| d["name"] == range.library.as_str());
            assert!(
                depends,
                "{} does not depend on {}",
                range.krate, range.library
            );
        }
        assert!(render(&[], "0.33.1").contains("opentelemetry: 0.33.1"));
    }
}
