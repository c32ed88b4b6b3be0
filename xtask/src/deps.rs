//! `cargo xtask deps`: the layering rule and one OpenTelemetry version in the graph.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::{self, Result};

const HELP: &str = "\
cargo xtask deps

Checks, from `cargo metadata`:
- every crate under crates/ other than trace-core depends on trace-core and on no other
  crate under crates/ (any dependency kind); trace-core depends on none of them;
- the one exception: trace-bench-support (internal benchmark machinery, publish = false)
  may be a dev-dependency of any crate, and never another kind of dependency;
- the resolved graph (all features) has exactly one version of opentelemetry and of
  opentelemetry_sdk, and at most one of every other opentelemetry crate.";

/// The core crate every sibling builds on.
const CORE: &str = "trace-core";
/// Benchmark machinery shared by the crates' benches: allowed as a dev-dependency of
/// any crate, as no other kind of dependency, and never published.
const BENCH_SUPPORT: &str = "trace-bench-support";
/// Crates that must be in the graph exactly once.
const EXACTLY_ONCE: &[&str] = &["opentelemetry", "opentelemetry_sdk"];

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    if let Some(arg) = args.first() {
        return Err(format!("deps takes no arguments, got `{arg}`\n\n{HELP}"));
    }
    let problems = check()?;
    if problems.is_empty() {
        println!("deps: ok (layering rule holds; one opentelemetry and opentelemetry_sdk)");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("deps: {problem}");
    }
    Err(format!("deps: {} problem(s)", problems.len()))
}

/// Runs both checks; returns the problems found.
pub(crate) fn check() -> Result<Vec<String>> {
    let mut problems = layering_problems(&util::metadata(true)?);
    problems.extend(version_problems(&util::metadata(false)?));
    Ok(problems)
}

/// The layering rule over the `cargo metadata --no-deps` output.
fn layering_problems(meta: &Value) -> Vec<String> {
    let members = util::crates_members(meta);
    let names: Vec<&str> = members.iter().map(|(name, _)| *name).collect();
    let mut problems = Vec::new();
    if !names.contains(&CORE) {
        problems.push(format!("no `{CORE}` crate under crates/"));
    }
    for (name, package) in &members {
        let deps: Vec<&Value> = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        if *name != CORE {
            let on_core = deps
                .iter()
                .any(|d| d["name"] == CORE && d["kind"].is_null());
            if !on_core {
                problems.push(format!(
                    "`{name}` does not depend on `{CORE}`: every crate under crates/ builds on it \
                     (add `{CORE}.workspace = true` to its [dependencies])"
                ));
            }
        }
        if *name == BENCH_SUPPORT && package["publish"] != serde_json::json!([]) {
            problems.push(format!(
                "`{BENCH_SUPPORT}` must have `publish = false`: it is internal benchmark \
                 machinery, not an API"
            ));
        }
        for dep in deps {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if dep_name == *name
                || !names.contains(&dep_name)
                || (dep_name == CORE && *name != CORE)
            {
                continue;
            }
            let kind = dep["kind"].as_str().unwrap_or("normal");
            if dep_name == BENCH_SUPPORT {
                if kind != "dev" {
                    problems.push(format!(
                        "`{name}` has a {kind} dependency on `{BENCH_SUPPORT}`: it is internal \
                         benchmark machinery, allowed only in [dev-dependencies]"
                    ));
                }
                continue;
            }
            let why = if *name == CORE {
                format!("`{CORE}` is the bottom layer")
            } else {
                format!("crates under crates/ may depend on `{CORE}` only, never on each other")
            };
            problems.push(format!(
                "`{name}` has a {kind} dependency on `{dep_name}`: {why}"
            ));
        }
    }
    problems
}

/// One version of each OpenTelemetry crate in the full resolve (`--all-features`).
fn version_problems(meta: &Value) -> Vec<String> {
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let (Some(name), Some(version)) = (package["name"].as_str(), package["version"].as_str())
        else {
            continue;
        };
        if name.starts_with("opentelemetry") || name == "tracing-opentelemetry" {
            versions.entry(name).or_default().push(version);
        }
    }
    let mut problems = Vec::new();
    for name in EXACTLY_ONCE {
        if !versions.contains_key(name) {
            problems.push(format!("`{name}` is not in the resolved dependency graph"));
        }
    }
    for (name, found) in &versions {
        if found.len() > 1 {
            problems.push(format!(
                "{} versions of `{name}` in the resolved graph ({}): two copies of OpenTelemetry \
                 in one graph silently break context propagation; `cargo tree -i {name}@{}` \
                 shows what pulls in the extra one",
                found.len(),
                found.join(", "),
                found[0],
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn workspace_follows_the_dependency_rules() {
        let problems = check().expect("cargo metadata runs");
        assert!(
            problems.is_empty(),
            "cargo xtask deps found:\n{}",
            problems.join("\n")
        );
    }

    fn package(name: &str, deps: &[(&str, Option<&str>)]) -> Value {
        let root = util::project_root();
        json!({
            "id": format!("{name}-id"),
            "name": name,
            "manifest_path": root.join("crates").join(name).join("Cargo.toml"),
            "dependencies": deps.iter().map(|(n, k)| json!({"name": n, "kind": k})).collect::<Vec<_>>(),
            // What `cargo metadata` reports for `publish = false`.
            "publish": [],
        })
    }

    fn workspace(packages: Vec<Value>) -> Value {
        let ids: Vec<Value> = packages.iter().map(|p| p["id"].clone()).collect();
        json!({"packages": packages, "workspace_members": ids})
    }

    #[test]
    fn sibling_dependencies_are_reported() {
        let meta = workspace(vec![
            package("trace-core", &[("trace-core", Some("dev"))]),
            package("trace-http", &[("trace-core", None)]),
            package(
                "trace-db",
                &[("trace-core", None), ("trace-http", Some("dev"))],
            ),
            package("trace-log", &[("serde", None)]),
        ]);
        let problems = layering_problems(&meta);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].starts_with("`trace-db` has a dev dependency on `trace-http`"));
        assert!(problems[1].starts_with("`trace-log` does not depend on `trace-core`"));
    }

    #[test]
    fn bench_support_is_a_dev_dependency_only() {
        let mut published = package(BENCH_SUPPORT, &[("trace-core", None)]);
        published["publish"] = Value::Null;
        let meta = workspace(vec![
            package(
                "trace-core",
                &[("trace-core", Some("dev")), (BENCH_SUPPORT, Some("dev"))],
            ),
            published,
            // Dev-dependencies on the bench support are fine anywhere...
            package(
                "trace-http",
                &[("trace-core", None), (BENCH_SUPPORT, Some("dev"))],
            ),
            // ...other kinds are not...
            package("trace-db", &[("trace-core", None), (BENCH_SUPPORT, None)]),
            package(
                "trace-redis",
                &[("trace-core", None), (BENCH_SUPPORT, Some("build"))],
            ),
            // ...and it does not open a way between siblings, from either side.
            package(
                "trace-log",
                &[
                    ("trace-core", None),
                    (BENCH_SUPPORT, Some("dev")),
                    ("trace-http", Some("dev")),
                ],
            ),
        ]);
        let mut problems = layering_problems(&meta);
        problems.sort();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].starts_with(&format!("`{BENCH_SUPPORT}` must have `publish = false`")));
        assert!(problems[1].starts_with(&format!(
            "`trace-db` has a normal dependency on `{BENCH_SUPPORT}`"
        )));
        assert!(problems[2].starts_with("`trace-log` has a dev dependency on `trace-http`"));
        assert!(problems[3].starts_with(&format!(
            "`trace-redis` has a build dependency on `{BENCH_SUPPORT}`"
        )));

        // The bench support itself builds on trace-core and on no sibling.
        let meta = workspace(vec![
            package("trace-core", &[]),
            package("trace-http", &[("trace-core", None)]),
            package(BENCH_SUPPORT, &[("trace-core", None), ("trace-http", None)]),
        ]);
        let problems = layering_problems(&meta);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with(&format!(
            "`{BENCH_SUPPORT}` has a normal dependency on `trace-http`: crates under crates/ \
             may depend on `trace-core` only"
        )));
    }

    #[test]
    fn duplicate_opentelemetry_versions_are_reported() {
        let meta = json!({"packages": [
            {"name": "opentelemetry", "version": "0.33.1"},
            {"name": "opentelemetry", "version": "0.31.0"},
            {"name": "opentelemetry-otlp", "version": "0.33.1"},
        ]});
        let problems = version_problems(&meta);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].contains("`opentelemetry_sdk` is not in"));
        assert!(problems[1].starts_with("2 versions of `opentelemetry` in the resolved graph"));
    }
}
