//! `cargo xtask doctor`: find what silently breaks traces in a service's dependency graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::util::{self, Result};

const HELP: &str = "\
cargo xtask doctor [--manifest-path PATH] [--all-features]

Reads the dependency graph of a service (`cargo metadata` on PATH, default ./Cargo.toml)
and reports, each with its fix, what silently breaks traces:
- two versions of opentelemetry or opentelemetry_sdk (spans of one never see the context
  of the other: broken parents, missing spans);
- a tracing-opentelemetry built on another opentelemetry than the rest of the service
  (its layer exports nothing, or `#[instrument]` spans start new traces);
- reqwest-tracing with an `opentelemetry_*` feature for another opentelemetry version
  (it injects headers from a context the service's spans never reach);
- an OTLP exporter or async span processor whose async runtime is missing.
Exits non-zero when it finds a problem.";

/// The opentelemetry minor trace-rs is built on.
const TRACE_RS_OTEL: &str = "0.33";
/// tracing-opentelemetry releases and the opentelemetry minor each is built on.
const TRACING_OTEL_PAIRS: &[(&str, &str)] = &[
    ("0.34", "0.33"),
    ("0.33", "0.32"),
    ("0.32", "0.31"),
    ("0.31", "0.30"),
    ("0.30", "0.29"),
    ("0.29", "0.28"),
    ("0.28", "0.27"),
];

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    let mut manifest = "Cargo.toml".to_owned();
    let mut all_features = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--manifest-path" => {
                manifest = rest
                    .next()
                    .ok_or("--manifest-path needs a path to a Cargo.toml")?
                    .clone();
            }
            "--all-features" => all_features = true,
            other => return Err(format!("unknown argument `{other}`\n\n{HELP}")),
        }
    }
    let meta = service_metadata(Path::new(&manifest), all_features)?;
    let problems = diagnose(&meta);
    if problems.is_empty() {
        println!("doctor: {manifest}: no problems found");
        return Ok(());
    }
    print!("{}", render(&problems));
    Err(format!(
        "doctor: {manifest}: {} problem(s) that break traces",
        problems.len()
    ))
}

/// The numbered findings as `cargo xtask doctor` prints them.
fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .enumerate()
        .map(|(i, problem)| format!("{}. {}\n   fix: {}\n\n", i + 1, problem.what, problem.fix))
        .collect()
}

/// One finding: what is wrong, and what to change.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) what: String,
    pub(crate) fix: String,
}

fn service_metadata(manifest: &Path, all_features: bool) -> Result<Value> {
    if !manifest.is_file() {
        return Err(format!("{} is not a file", manifest.display()));
    }
    let mut cmd = util::cargo();
    cmd.args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(manifest);
    if all_features {
        cmd.arg("--all-features");
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed for {}; fix the manifest first",
            manifest.display()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata output: {e}"))
}

/// The resolved graph: package id -> (name, version, enabled features, dependency ids).
struct Graph<'a> {
    nodes: BTreeMap<&'a str, Node<'a>>,
}

struct Node<'a> {
    name: &'a str,
    version: &'a str,
    features: BTreeSet<&'a str>,
    deps: Vec<&'a str>,
}

impl<'a> Graph<'a> {
    fn new(meta: &'a Value) -> Self {
        let packages: BTreeMap<&str, &Value> = meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["id"].as_str()?, p)))
            .collect();
        let strs = |v: &'a Value| -> Vec<&'a str> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        };
        let nodes = meta["resolve"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| {
                let id = n["id"].as_str()?;
                let package = packages.get(id)?;
                Some((
                    id,
                    Node {
                        name: package["name"].as_str()?,
                        version: package["version"].as_str()?,
                        features: strs(&n["features"]).into_iter().collect(),
                        deps: strs(&n["dependencies"]),
                    },
                ))
            })
            .collect();
        Self { nodes }
    }

    fn named(&self, name: &str) -> Vec<(&'a str, &Node<'a>)> {
        self.nodes
            .iter()
            .filter(|(_, node)| node.name == name)
            .map(|(id, node)| (*id, node))
            .collect()
    }

    /// "name version" of every package that depends directly on `id`.
    fn dependents(&self, id: &str) -> Vec<String> {
        self.nodes
            .values()
            .filter(|node| node.deps.contains(&id))
            .map(|node| format!("{} {}", node.name, node.version))
            .collect()
    }

    /// "name version" of the packages that bring `id` in: its dependents, looking
    /// through OpenTelemetry crates (a stray `opentelemetry` comes with the SDK and
    /// exporter of its release, which the crate using them brings in).
    fn users_outside_opentelemetry(&self, id: &str) -> Vec<String> {
        let mut users = BTreeSet::new();
        let mut seen = BTreeSet::from([id]);
        let mut queue = vec![id];
        while let Some(at) = queue.pop() {
            for (dependent_id, dependent) in self
                .nodes
                .iter()
                .filter(|(_, node)| node.deps.contains(&at))
            {
                if dependent.name.starts_with("opentelemetry") {
                    if seen.insert(dependent_id) {
                        queue.push(dependent_id);
                    }
                } else {
                    users.insert(format!("{} {}", dependent.name, dependent.version));
                }
            }
        }
        users.into_iter().collect()
    }

    /// The version of `name` that package `id` depends on directly.
    fn dep_version(&self, id: &str, name: &str) -> Option<&'a str> {
        self.nodes[id]
            .deps
            .iter()
            .filter_map(|dep| self.nodes.get(dep))
            .find(|node| node.name == name)
            .map(|node| node.version)
    }
}

/// Every problem in `meta` (the `cargo metadata` output of a service).
pub(crate) fn diagnose(meta: &Value) -> Vec<Problem> {
    let graph = Graph::new(meta);
    let mut problems = duplicate_versions(&graph);
    problems.extend(tracing_opentelemetry_pairing(&graph));
    problems.extend(reqwest_tracing_features(&graph));
    problems.extend(missing_runtime(&graph));
    problems
}

fn minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

fn duplicate_versions(graph: &Graph<'_>) -> Vec<Problem> {
    ["opentelemetry", "opentelemetry_sdk"]
        .iter()
        .filter_map(|name| {
            let copies = graph.named(name);
            if copies.len() < 2 {
                return None;
            }
            let who: Vec<String> = copies
                .iter()
                .map(|(id, node)| {
                    format!(
                        "{name} {} (used by {})",
                        node.version,
                        graph.dependents(id).join(", ")
                    )
                })
                .collect();
            // With trace-rs's minor in the graph, the crates on any other one move.
            let stray: Vec<&(&str, &Node<'_>)> = copies
                .iter()
                .filter(|(_, node)| minor(node.version) != TRACE_RS_OTEL)
                .collect();
            let fix = if stray.len() < copies.len() {
                let movers: BTreeSet<String> = stray
                    .iter()
                    .flat_map(|(id, _)| graph.users_outside_opentelemetry(id))
                    .collect();
                let movers: Vec<String> = movers.into_iter().collect();
                let paths: Vec<String> = stray
                    .iter()
                    .map(|(_, node)| format!("`cargo tree -i {name}@{}`", node.version))
                    .collect();
                format!(
                    "move {} to releases built on {name} {TRACE_RS_OTEL}, the version \
                     trace-rs uses (keep trace-rs and what is already on {TRACE_RS_OTEL}); {} \
                     shows each path",
                    movers.join(", "),
                    paths.join(", ")
                )
            } else {
                format!(
                    "move every crate listed to releases built on one {name} minor \
                     (trace-rs uses {TRACE_RS_OTEL}); `cargo tree -i {name}@VERSION` shows \
                     each path"
                )
            };
            Some(Problem {
                what: format!(
                    "{} versions of {name} in the graph: {}. Spans and contexts of one \
                     version are invisible to the other.",
                    copies.len(),
                    who.join("; ")
                ),
                fix,
            })
        })
        .collect()
}

fn tracing_opentelemetry_pairing(graph: &Graph<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let service_otel: BTreeSet<String> = graph
        .named("opentelemetry")
        .iter()
        .map(|(_, node)| minor(node.version))
        .collect();
    for (id, node) in graph.named("tracing-opentelemetry") {
        let Some(otel) = graph.dep_version(id, "opentelemetry") else {
            continue;
        };
        let own = minor(otel);
        let others: Vec<&str> = service_otel
            .iter()
            .map(String::as_str)
            .filter(|v| *v != own)
            .collect();
        // The opentelemetry the layer must be built on: trace-rs's when it is in the
        // graph, else the other one.
        let Some(target) = others
            .iter()
            .copied()
            .find(|v| *v == TRACE_RS_OTEL)
            .or_else(|| {
                (!service_otel.contains(TRACE_RS_OTEL))
                    .then(|| others.first().copied())
                    .flatten()
            })
        else {
            // Built on trace-rs's opentelemetry (trace-core's own, for one): the layer is
            // right, and the other copies are reported as duplicate versions.
            continue;
        };
        let release = TRACING_OTEL_PAIRS
            .iter()
            .find(|(_, o)| *o == target)
            .map_or_else(
                || format!("the tracing-opentelemetry release built on opentelemetry {target}"),
                |(t, _)| {
                    format!("tracing-opentelemetry {t}, which pairs with opentelemetry {target}")
                },
            );
        let whose = if target == TRACE_RS_OTEL {
            " (the version trace-rs uses)"
        } else {
            ""
        };
        problems.push(Problem {
            what: format!(
                "tracing-opentelemetry {} (used by {}) is built on opentelemetry {own}, but the \
                 service also uses opentelemetry {}: its layer's spans never join your traces",
                node.version,
                graph.dependents(id).join(", "),
                others.join(", ")
            ),
            fix: format!(
                "use {release}{whose} wherever tracing-opentelemetry {} is required \
                 (`cargo tree -i tracing-opentelemetry@{}` shows who requires it); with \
                 trace-core, `trace_core::tracing_bridge::layer()` is that layer",
                node.version, node.version
            ),
        });
    }
    problems
}

fn reqwest_tracing_features(graph: &Graph<'_>) -> Vec<Problem> {
    let service_otel: BTreeSet<String> = graph
        .named("opentelemetry")
        .iter()
        .map(|(_, node)| minor(node.version).replace('.', "_"))
        .collect();
    graph
        .named("reqwest-tracing")
        .iter()
        .filter_map(|(_, node)| {
            // `opentelemetry_0_30` pulls opentelemetry 0.30: a problem when the graph also
            // has another version.
            let foreign: Vec<&str> = node
                .features
                .iter()
                .copied()
                .filter(|f| {
                    f.strip_prefix("opentelemetry_").is_some_and(|v| {
                        v.bytes().all(|b| b.is_ascii_digit() || b == b'_')
                            && service_otel.iter().any(|s| s.as_str() != v)
                    })
                })
                .collect();
            (!foreign.is_empty()).then(|| Problem {
                what: format!(
                    "reqwest-tracing {} has feature(s) {}, which pull another opentelemetry: \
                     the `traceparent` it injects comes from a context your spans never \
                     reach",
                    node.version,
                    foreign.join(", ")
                ),
                fix: "turn those features off and let trace-http's client middleware inject \
                      from `Context::current()` next to reqwest-tracing's `TracingMiddleware`"
                    .into(),
            })
        })
        .collect()
}

fn missing_runtime(graph: &Graph<'_>) -> Vec<Problem> {
    let tokio_runtime = graph
        .named("tokio")
        .iter()
        .any(|(_, node)| node.features.contains("rt") || node.features.contains("rt-multi-thread"));
    let mut problems = Vec::new();
    for (_, node) in graph.named("opentelemetry-otlp") {
        let needs: Vec<&str> = ["grpc-tonic", "reqwest-client", "hyper-client"]
            .into_iter()
            .filter(|f| node.features.contains(f))
            .collect();
        if !needs.is_empty() && !tokio_runtime {
            problems.push(Problem {
                what: format!(
                    "opentelemetry-otlp {} exports with {}, which needs a Tokio runtime, but \
                     no crate enables tokio's `rt` or `rt-multi-thread`: the exporter fails \
                     at start or drops every batch",
                    node.version,
                    needs.join(", ")
                ),
                fix: "add `tokio = { version = \"1\", features = [\"rt-multi-thread\"] }` and \
                      initialise tracing inside the runtime, or use the blocking HTTP \
                      exporter (`reqwest-blocking-client`, trace-core's default)"
                    .into(),
            });
        }
    }
    for (_, node) in graph.named("opentelemetry_sdk") {
        let async_runtime = ["rt-tokio", "rt-tokio-current-thread"]
            .iter()
            .any(|f| node.features.contains(f));
        let wants_async = node
            .features
            .iter()
            .any(|f| f.starts_with("experimental_trace_batch_span_processor_with_async"));
        if wants_async && !async_runtime {
            problems.push(Problem {
                what: format!(
                    "opentelemetry_sdk {} uses the async batch span processor without a \
                     runtime feature: spans are queued and never exported",
                    node.version
                ),
                fix: "enable opentelemetry_sdk's `rt-tokio` (or `rt-tokio-current-thread`), or \
                      drop the async processor feature (the default processor uses its own \
                      thread)"
                    .into(),
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;

    /// A throwaway service crate with `dependencies` (TOML lines) in a fresh temp dir.
    fn service(name: &str, dependencies: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("trace-rs-doctor-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
        fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
                 publish = false\n\n[workspace]\n\n[dependencies]\n{dependencies}"
            ),
        )
        .unwrap();
        dir.join("Cargo.toml")
    }

    /// A resolved graph of `(id, enabled features, dependency ids)`, each id
    /// `name@version`.
    fn graph(packages: &[(&str, &[&str], &[&str])]) -> Value {
        let package = |id: &str| {
            let (name, version) = id.split_once('@').unwrap();
            json!({"id": id, "name": name, "version": version})
        };
        json!({
            "packages": packages.iter().map(|(id, _, _)| package(id)).collect::<Vec<_>>(),
            "resolve": {"nodes": packages
                .iter()
                .map(|(id, features, deps)| json!({"id": id, "features": features, "dependencies": deps}))
                .collect::<Vec<_>>()},
        })
    }

    /// A service on trace-rs (trace-core with tracing-opentelemetry 0.34 on
    /// opentelemetry 0.33) plus `extra` packages, which `extra_deps` of the service
    /// pull in.
    fn service_on_trace_rs(extra_deps: &[&str], extra: &[(&str, &[&str], &[&str])]) -> Value {
        let mut service_deps = vec!["trace-core@0.1.0"];
        service_deps.extend_from_slice(extra_deps);
        let mut packages: Vec<(&str, &[&str], &[&str])> = vec![
            ("service@0.1.0", &[], &service_deps),
            (
                "trace-core@0.1.0",
                &[],
                &[
                    "opentelemetry@0.33.1",
                    "opentelemetry_sdk@0.33.1",
                    "tracing-opentelemetry@0.34.0",
                    "tokio@1.47.0",
                ],
            ),
            ("opentelemetry@0.33.1", &["trace"], &[]),
            (
                "opentelemetry_sdk@0.33.1",
                &["trace"],
                &["opentelemetry@0.33.1"],
            ),
            (
                "tracing-opentelemetry@0.34.0",
                &[],
                &["opentelemetry@0.33.1", "opentelemetry_sdk@0.33.1"],
            ),
            ("tokio@1.47.0", &["rt"], &[]),
        ];
        packages.extend_from_slice(extra);
        graph(&packages)
    }

    /// The findings as `(what, fix)` pairs.
    fn findings(meta: &Value) -> Vec<(String, String)> {
        diagnose(meta)
            .into_iter()
            .map(|problem| (problem.what, problem.fix))
            .collect()
    }

    fn pair(what: &str, fix: &str) -> (String, String) {
        (what.to_owned(), fix.to_owned())
    }

    /// A crate on opentelemetry 0.31 beside trace-rs: findings 1 and 2 (two versions of
    /// opentelemetry and of opentelemetry_sdk) name the crate to move, and nothing
    /// tells the service to touch trace-core's own tracing-opentelemetry.
    #[test]
    fn finding_two_versions_names_the_crate_to_move_to_0_33() {
        let meta = service_on_trace_rs(
            &["old-exporter@0.9.0"],
            &[
                (
                    "old-exporter@0.9.0",
                    &[],
                    &["opentelemetry@0.31.0", "opentelemetry_sdk@0.31.0"],
                ),
                ("opentelemetry@0.31.0", &["trace"], &[]),
                (
                    "opentelemetry_sdk@0.31.0",
                    &["trace"],
                    &["opentelemetry@0.31.0"],
                ),
            ],
        );
        assert_eq!(
            findings(&meta),
            [
                pair(
                    "2 versions of opentelemetry in the graph: opentelemetry 0.31.0 (used by \
                     old-exporter 0.9.0, opentelemetry_sdk 0.31.0); opentelemetry 0.33.1 (used by \
                     opentelemetry_sdk 0.33.1, trace-core 0.1.0, tracing-opentelemetry 0.34.0). \
                     Spans and contexts of one version are invisible to the other.",
                    "move old-exporter 0.9.0 to releases built on opentelemetry 0.33, the \
                     version trace-rs uses (keep trace-rs and what is already on 0.33); `cargo \
                     tree -i opentelemetry@0.31.0` shows each path",
                ),
                pair(
                    "2 versions of opentelemetry_sdk in the graph: opentelemetry_sdk 0.31.0 \
                     (used by old-exporter 0.9.0); opentelemetry_sdk 0.33.1 (used by trace-core \
                     0.1.0, tracing-opentelemetry 0.34.0). Spans and contexts of one version are \
                     invisible to the other.",
                    "move old-exporter 0.9.0 to releases built on opentelemetry_sdk 0.33, the \
                     version trace-rs uses (keep trace-rs and what is already on 0.33); `cargo \
                     tree -i opentelemetry_sdk@0.31.0` shows each path",
                ),
            ]
        );
        let report = render(&diagnose(&meta));
        assert!(!report.contains("tracing-opentelemetry 0.32"), "{report}");
    }

    /// Without trace-rs's version in the graph there is no side to keep.
    #[test]
    fn finding_two_versions_without_trace_rs_asks_for_one_minor() {
        let meta = graph(&[
            ("service@0.1.0", &[], &["a@1.0.0", "b@1.0.0"]),
            ("a@1.0.0", &[], &["opentelemetry@0.30.0"]),
            ("b@1.0.0", &[], &["opentelemetry@0.31.0"]),
            ("opentelemetry@0.30.0", &[], &[]),
            ("opentelemetry@0.31.0", &[], &[]),
        ]);
        assert_eq!(
            findings(&meta),
            [pair(
                "2 versions of opentelemetry in the graph: opentelemetry 0.30.0 (used by a \
                 1.0.0); opentelemetry 0.31.0 (used by b 1.0.0). Spans and contexts of one \
                 version are invisible to the other.",
                "move every crate listed to releases built on one opentelemetry minor \
                 (trace-rs uses 0.33); `cargo tree -i opentelemetry@VERSION` shows each path",
            )]
        );
    }

    /// Finding 3: a tracing-opentelemetry on another opentelemetry than trace-rs's is
    /// told to move to 0.34 (trace-core's own 0.34 is left alone).
    #[test]
    fn finding_tracing_opentelemetry_on_another_opentelemetry_points_to_0_34() {
        let meta = service_on_trace_rs(
            &["tracing-opentelemetry@0.31.0"],
            &[
                (
                    "tracing-opentelemetry@0.31.0",
                    &[],
                    &["opentelemetry@0.30.0", "opentelemetry_sdk@0.30.0"],
                ),
                ("opentelemetry@0.30.0", &["trace"], &[]),
                (
                    "opentelemetry_sdk@0.30.0",
                    &["trace"],
                    &["opentelemetry@0.30.0"],
                ),
            ],
        );
        let found = findings(&meta);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert_eq!(
            found[2],
            pair(
                "tracing-opentelemetry 0.31.0 (used by service 0.1.0) is built on \
                 opentelemetry 0.30, but the service also uses opentelemetry 0.33: its layer's \
                 spans never join your traces",
                "use tracing-opentelemetry 0.34, which pairs with opentelemetry 0.33 (the \
                 version trace-rs uses) wherever tracing-opentelemetry 0.31.0 is required \
                 (`cargo tree -i tracing-opentelemetry@0.31.0` shows who requires it); with \
                 trace-core, `trace_core::tracing_bridge::layer()` is that layer",
            )
        );
        assert!(
            found[0]
                .1
                .starts_with("move tracing-opentelemetry 0.31.0 to releases")
        );
    }

    /// Finding 4: reqwest-tracing's `opentelemetry_*` features.
    #[test]
    fn finding_reqwest_tracing_with_an_opentelemetry_feature() {
        let meta = service_on_trace_rs(
            &["reqwest-tracing@0.5.8"],
            &[
                (
                    "reqwest-tracing@0.5.8",
                    &["opentelemetry_0_30"],
                    &["opentelemetry@0.30.0"],
                ),
                ("opentelemetry@0.30.0", &["trace"], &[]),
            ],
        );
        let found = findings(&meta);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(
            found[1],
            pair(
                "reqwest-tracing 0.5.8 has feature(s) opentelemetry_0_30, which pull another \
                 opentelemetry: the `traceparent` it injects comes from a context your spans \
                 never reach",
                "turn those features off and let trace-http's client middleware inject from \
                 `Context::current()` next to reqwest-tracing's `TracingMiddleware`",
            )
        );
    }

    /// Finding 5: an OTLP exporter that needs a Tokio runtime nobody enables.
    #[test]
    fn finding_an_otlp_exporter_without_a_runtime() {
        let meta = graph(&[
            (
                "service@0.1.0",
                &[],
                &["opentelemetry-otlp@0.33.1", "tokio@1.47.0"],
            ),
            ("opentelemetry-otlp@0.33.1", &["grpc-tonic", "trace"], &[]),
            ("tokio@1.47.0", &["sync"], &[]),
        ]);
        assert_eq!(
            findings(&meta),
            [pair(
                "opentelemetry-otlp 0.33.1 exports with grpc-tonic, which needs a Tokio \
                 runtime, but no crate enables tokio's `rt` or `rt-multi-thread`: the exporter \
                 fails at start or drops every batch",
                "add `tokio = { version = \"1\", features = [\"rt-multi-thread\"] }` and \
                 initialise tracing inside the runtime, or use the blocking HTTP exporter \
                 (`reqwest-blocking-client`, trace-core's default)",
            )]
        );
    }

    /// Finding 6: the SDK's async batch processor without a runtime feature.
    #[test]
    fn finding_an_async_span_processor_without_a_runtime() {
        let meta = graph(&[
            ("service@0.1.0", &[], &["opentelemetry_sdk@0.33.1"]),
            (
                "opentelemetry_sdk@0.33.1",
                &[
                    "trace",
                    "experimental_trace_batch_span_processor_with_async_runtime",
                ],
                &[],
            ),
        ]);
        assert_eq!(
            findings(&meta),
            [pair(
                "opentelemetry_sdk 0.33.1 uses the async batch span processor without a \
                 runtime feature: spans are queued and never exported",
                "enable opentelemetry_sdk's `rt-tokio` (or `rt-tokio-current-thread`), or \
                 drop the async processor feature (the default processor uses its own thread)",
            )]
        );
    }

    #[test]
    fn findings_are_numbered_with_their_fix() {
        let meta = graph(&[
            ("service@0.1.0", &[], &["opentelemetry_sdk@0.33.1"]),
            (
                "opentelemetry_sdk@0.33.1",
                &["experimental_trace_batch_span_processor_with_async_runtime"],
                &[],
            ),
        ]);
        assert_eq!(
            render(&diagnose(&meta)),
            "1. opentelemetry_sdk 0.33.1 uses the async batch span processor without a runtime \
             feature: spans are queued and never exported\n   fix: enable opentelemetry_sdk's \
             `rt-tokio` (or `rt-tokio-current-thread`), or drop the async processor feature \
             (the default processor uses its own thread)\n\n"
        );
    }

    #[test]
    fn a_service_with_mismatched_opentelemetry_crates_gets_every_problem_named() {
        let manifest = service(
            "conflicted",
            "opentelemetry = \"0.33\"\n\
             opentelemetry-otlp = { version = \"0.33\", default-features = false, \
             features = [\"trace\", \"grpc-tonic\"] }\n\
             tracing-opentelemetry = \"0.31\"\n\
             reqwest-tracing = { version = \"0.5\", features = [\"opentelemetry_0_30\"] }\n",
        );
        let meta = service_metadata(&manifest, false).expect("cargo metadata on the fixture");
        let problems = diagnose(&meta);
        let text: Vec<&str> = problems.iter().map(|p| p.what.as_str()).collect();
        let has = |needle: &str| text.iter().any(|t| t.contains(needle));
        assert!(has("versions of opentelemetry in the graph"), "{text:#?}");
        assert!(has("tracing-opentelemetry 0.31"), "{text:#?}");
        assert!(
            has("reqwest-tracing 0.5.8 has feature(s) opentelemetry_0_30,"),
            "{text:#?}"
        );
        assert!(problems.iter().all(|p| !p.fix.is_empty()));
        let _ = fs::remove_dir_all(manifest.parent().unwrap());
    }

    /// A service on trace-core (whose tracing-opentelemetry 0.34 is built on
    /// opentelemetry 0.33) that also uses opentelemetry 0.31 is told to move its own
    /// dependency to 0.33, never to use tracing-opentelemetry 0.32.
    #[test]
    fn a_service_on_trace_core_with_a_stray_opentelemetry_is_told_to_move_its_own() {
        let core = util::project_root().join("crates/trace-core");
        let manifest = service(
            "stray",
            &format!(
                "trace-core = {{ path = {:?}, default-features = false, features = \
                 [\"tracing\"] }}\nopentelemetry = \"0.31\"\n",
                core.display().to_string()
            ),
        );
        let meta = service_metadata(&manifest, false).expect("cargo metadata on the fixture");
        let problems = diagnose(&meta);
        let report = render(&problems);
        assert_eq!(problems.len(), 1, "{report}");
        assert!(
            problems[0].fix.starts_with(
                "move stray 0.1.0 to releases built on opentelemetry 0.33, the version \
                 trace-rs uses (keep trace-rs and what is already on 0.33); `cargo tree -i \
                 opentelemetry@0.31."
            ),
            "{report}"
        );
        assert!(!report.contains("tracing-opentelemetry 0.32"), "{report}");
        let _ = fs::remove_dir_all(manifest.parent().unwrap());
    }

    #[test]
    fn an_async_span_processor_without_a_runtime_is_named() {
        let manifest = service(
            "no-runtime",
            "opentelemetry_sdk = { version = \"0.33\", features = \
             [\"experimental_trace_batch_span_processor_with_async_runtime\"] }\n",
        );
        let meta = service_metadata(&manifest, false).expect("cargo metadata on the fixture");
        let problems = diagnose(&meta);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].what.contains("without a runtime feature"));
        let _ = fs::remove_dir_all(manifest.parent().unwrap());
    }

    #[test]
    fn a_service_on_one_opentelemetry_version_is_healthy() {
        let manifest = service(
            "healthy",
            "opentelemetry = \"0.33\"\nopentelemetry_sdk = \"0.33\"\n\
             tracing-opentelemetry = \"0.34\"\n",
        );
        let meta = service_metadata(&manifest, false).expect("cargo metadata on the fixture");
        let problems = diagnose(&meta);
        assert!(problems.is_empty(), "{problems:#?}");
        let _ = fs::remove_dir_all(manifest.parent().unwrap());
    }
}
