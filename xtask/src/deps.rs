//! `cargo xtask deps`: the layering rule, one OpenTelemetry version and one TLS crypto
//! stack (ring) in the graph.

use std::collections::{BTreeMap, VecDeque};

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
  opentelemetry_sdk, and at most one of every other opentelemetry crate;
- the resolved graph (all features, every dependency kind and platform) has no aws-lc
  (`aws-lc-sys`, `aws-lc-rs`): TLS is rustls with ring only, one crypto stack in every
  crate and example.";

/// The core crate every sibling builds on.
const CORE: &str = "trace-core";
/// Benchmark machinery shared by the crates' benches: allowed as a dev-dependency of
/// any crate, as no other kind of dependency, and never published.
const BENCH_SUPPORT: &str = "trace-bench-support";
/// Crates that must be in the graph exactly once.
const EXACTLY_ONCE: &[&str] = &["opentelemetry", "opentelemetry_sdk"];
/// A second TLS crypto stack beside ring: reqwest's default `default-tls` (and the
/// `rustls` features of reqwest, hyper-rustls, tokio-rustls and rustls) pull it.
const SECOND_CRYPTO_STACK: &[&str] = &["aws-lc-sys", "aws-lc-rs"];
/// How many member-to-crate paths a problem shows (features are unified: usually every
/// member reaches the crate through the same shared node).
const SHOWN_PATHS: usize = 3;

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
        println!(
            "deps: ok (layering rule holds; one opentelemetry and opentelemetry_sdk; no aws-lc)"
        );
        return Ok(());
    }
    for problem in &problems {
        eprintln!("deps: {problem}");
    }
    Err(format!("deps: {} problem(s)", problems.len()))
}

/// Runs every check; returns the problems found.
pub(crate) fn check() -> Result<Vec<String>> {
    let mut problems = layering_problems(&util::metadata(true)?);
    let resolved = util::metadata(false)?;
    problems.extend(version_problems(&resolved));
    problems.extend(crypto_stack_problems(&resolved));
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

/// aws-lc anywhere in the full resolve (`--all-features`, all kinds and platforms), with
/// the path from a workspace member that pulls it in.
fn crypto_stack_problems(meta: &Value) -> Vec<String> {
    let label = |id: &str| -> String {
        meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["id"] == id)
            .map_or_else(
                || id.to_owned(),
                |p| {
                    format!(
                        "{} {}",
                        p["name"].as_str().unwrap_or_default(),
                        p["version"].as_str().unwrap_or_default()
                    )
                },
            )
    };
    let deps: BTreeMap<&str, Vec<&str>> = meta["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| {
            let targets = node["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            Some((node["id"].as_str()?, targets))
        })
        .collect();
    let members: Vec<&str> = util::workspace_packages(meta)
        .filter_map(|p| p["id"].as_str())
        .collect();
    let mut problems = Vec::new();
    for name in SECOND_CRYPTO_STACK {
        let found: Vec<&str> = meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == *name)
            .filter_map(|p| p["id"].as_str())
            .collect();
        for id in found {
            let mut paths: Vec<Vec<&str>> = members
                .iter()
                .filter_map(|member| path_between(&deps, member, id))
                .collect();
            paths.sort_by_key(Vec::len);
            let mut shown: Vec<String> = paths
                .iter()
                .take(SHOWN_PATHS)
                .map(|path| {
                    path.iter()
                        .map(|step| label(step))
                        .collect::<Vec<_>>()
                        .join(" -> ")
                })
                .collect();
            if paths.len() > SHOWN_PATHS {
                shown.push(format!("and {} more members", paths.len() - SHOWN_PATHS));
            }
            let via = if shown.is_empty() {
                String::new()
            } else {
                format!(" ({})", shown.join("; "))
            };
            problems.push(format!(
                "`{}` is in the resolved graph{via}: TLS in this workspace is rustls with ring \
                 only. Give each dependency that pulls it `default-features = false` and its \
                 ring or no-provider TLS feature (reqwest: `rustls-no-provider`; its default \
                 `default-tls` and its `rustls` feature bring aws-lc); `cargo tree -i {name} \
                 --workspace --all-features --target all -e normal,build,dev,features` shows \
                 every path and the feature that turns it on",
                label(id)
            ));
        }
    }
    problems
}

/// The shortest dependency path from `from` to `to`, both included.
fn path_between<'a>(
    deps: &BTreeMap<&'a str, Vec<&'a str>>,
    from: &'a str,
    to: &str,
) -> Option<Vec<&'a str>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(at) = queue.pop_front() {
        if at == to {
            let mut path = vec![at];
            let mut step = at;
            while let Some(previous) = came_from.get(step) {
                path.push(previous);
                step = previous;
            }
            path.reverse();
            return Some(path);
        }
        for next in deps.get(at).into_iter().flatten() {
            if *next != from && !came_from.contains_key(next) {
                came_from.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    None
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

    /// A resolved graph: `(id, name, version, dependency ids)`, the first package the
    /// only workspace member.
    fn resolved(packages: &[(&str, &str, &str, &[&str])]) -> Value {
        json!({
            "packages": packages
                .iter()
                .map(|(id, name, version, _)| json!({"id": id, "name": name, "version": version}))
                .collect::<Vec<_>>(),
            "workspace_members": [packages[0].0],
            "resolve": {"nodes": packages
                .iter()
                .map(|(id, _, _, deps)| json!({"id": id, "dependencies": deps}))
                .collect::<Vec<_>>()},
        })
    }

    #[test]
    fn aws_lc_in_the_graph_is_reported_with_the_path_that_pulls_it() {
        let meta = resolved(&[
            ("tour", "tour", "0.1.0", &["reqwest", "ring"]),
            ("reqwest", "reqwest", "0.13.5", &["hyper-rustls"]),
            (
                "hyper-rustls",
                "hyper-rustls",
                "0.27.10",
                &["aws-lc-rs", "ring"],
            ),
            ("aws-lc-rs", "aws-lc-rs", "1.15.0", &["aws-lc-sys"]),
            ("aws-lc-sys", "aws-lc-sys", "0.34.0", &[]),
            ("ring", "ring", "0.17.14", &[]),
        ]);
        assert_eq!(
            crypto_stack_problems(&meta),
            [
                "`aws-lc-sys 0.34.0` is in the resolved graph (tour 0.1.0 -> reqwest 0.13.5 -> \
                 hyper-rustls 0.27.10 -> aws-lc-rs 1.15.0 -> aws-lc-sys 0.34.0): TLS in this \
                 workspace is rustls with ring only. Give each dependency that pulls it \
                 `default-features = false` and its ring or no-provider TLS feature (reqwest: \
                 `rustls-no-provider`; its default `default-tls` and its `rustls` feature bring \
                 aws-lc); `cargo tree -i aws-lc-sys --workspace --all-features --target all \
                 -e normal,build,dev,features` shows every path and the feature that turns it \
                 on",
                "`aws-lc-rs 1.15.0` is in the resolved graph (tour 0.1.0 -> reqwest 0.13.5 -> \
                 hyper-rustls 0.27.10 -> aws-lc-rs 1.15.0): TLS in this workspace is rustls \
                 with ring only. Give each dependency that pulls it `default-features = false` \
                 and its ring or no-provider TLS feature (reqwest: `rustls-no-provider`; its \
                 default `default-tls` and its `rustls` feature bring aws-lc); `cargo tree -i \
                 aws-lc-rs --workspace --all-features --target all -e \
                 normal,build,dev,features` shows every path and the feature that turns it on",
            ]
        );
    }

    #[test]
    fn the_workspace_resolves_no_aws_lc() {
        let meta = util::metadata(false).expect("cargo metadata runs");
        let problems = crypto_stack_problems(&meta);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        // The check looks at the whole graph: ring is there, so the graph is.
        assert!(
            meta["packages"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == "ring"))
        );
    }

    #[test]
    fn many_members_pulling_aws_lc_show_the_three_shortest_paths() {
        let mut meta = resolved(&[
            ("a", "a", "0.1.0", &["aws-lc-rs"]),
            ("b", "b", "0.1.0", &["a"]),
            ("c", "c", "0.1.0", &["b"]),
            ("d", "d", "0.1.0", &["c"]),
            ("e", "e", "0.1.0", &["d"]),
            ("aws-lc-rs", "aws-lc-rs", "1.15.0", &[]),
        ]);
        meta["workspace_members"] = json!(["e", "d", "c", "b", "a"]);
        let problems = crypto_stack_problems(&meta);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "`aws-lc-rs 1.15.0` is in the resolved graph (a 0.1.0 -> aws-lc-rs 1.15.0; \
                 b 0.1.0 -> a 0.1.0 -> aws-lc-rs 1.15.0; c 0.1.0 -> b 0.1.0 -> a 0.1.0 -> \
                 aws-lc-rs 1.15.0; and 2 more members): "
            ),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn ring_alone_is_fine() {
        let meta = resolved(&[
            ("tour", "tour", "0.1.0", &["rustls"]),
            ("rustls", "rustls", "0.23.46", &["ring"]),
            ("ring", "ring", "0.17.14", &[]),
        ]);
        assert!(crypto_stack_problems(&meta).is_empty());
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
