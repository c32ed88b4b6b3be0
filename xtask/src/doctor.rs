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
    for (i, problem) in problems.iter().enumerate() {
        println!("{}. {}\n   fix: {}\n", i + 1, problem.what, problem.fix);
    }
    Err(format!(
        "doctor: {manifest}: {} problem(s) that break traces",
        problems.len()
    ))
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
            Some(Problem {
                what: format!(
                    "{} versions of {name} in the graph: {}. Spans and contexts of one \
                     version are invisible to the other.",
                    copies.len(),
                    who.join("; ")
                ),
                fix: format!(
                    "move every crate listed to releases built on one {name} minor \
                     (trace-rs uses 0.33); `cargo tree -i {name}@VERSION` shows each path"
                ),
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
        let others: Vec<&String> = service_otel.iter().filter(|v| **v != own).collect();
        if others.is_empty() {
            continue;
        }
        let pairing = TRACING_OTEL_PAIRS
            .iter()
            .find(|(_, o)| others.iter().any(|v| v.as_str() == *o))
            .map_or_else(String::new, |(t, o)| {
                format!(" (tracing-opentelemetry {t} pairs with opentelemetry {o})")
            });
        problems.push(Problem {
            what: format!(
                "tracing-opentelemetry {} is built on opentelemetry {own}, but the service \
                 also uses opentelemetry {}: its layer's spans never join your traces",
                node.version,
                others
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            fix: format!("use the tracing-opentelemetry release for your opentelemetry{pairing}"),
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
