//! `cargo xtask tidy`: repository hygiene that rustc and clippy do not check.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{self, Result};

const HELP: &str = "\
cargo xtask tidy

Checks that:
- every crate under crates/ has README.md, CHANGELOG.md and a src/lib.rs whose crate docs
  (`//!` lines or an included file) have `## Feature flags` and `## Supported Rust versions`;
- no `dbg!(`, `todo!(` or `unimplemented!(` is left in crates/*/src;
- a crate README's dependency line for its target library (`library` in
  `[package.metadata.trace-rs.compat]`) names the oldest supported version (`oldest`);
- every .rs file under crates/, examples/ and xtask/ ends with a newline.";

/// Headings every crate's docs must have.
const REQUIRED_HEADINGS: &[&str] = &["## Feature flags", "## Supported Rust versions"];
/// Macros that must not be committed (split so this file does not match itself).
const FORBIDDEN: &[&str] = &[
    concat!("dbg", "!("),
    concat!("todo", "!("),
    concat!("unimplemented", "!("),
];
/// Directories whose `.rs` files must end with a newline.
const NEWLINE_DIRS: &[&str] = &["crates", "examples", "xtask"];

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    if let Some(arg) = args.first() {
        return Err(format!("tidy takes no arguments, got `{arg}`\n\n{HELP}"));
    }
    let problems = check(&util::project_root());
    if problems.is_empty() {
        println!("tidy: ok");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    Err(format!("tidy: {} problem(s)", problems.len()))
}

/// All problems under `root`, with paths relative to it.
pub(crate) fn check(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    for krate in crate_dirs(root) {
        for file in ["README.md", "CHANGELOG.md"] {
            if !krate.join(file).is_file() {
                problems.push(format!("{}: missing {file}", rel(&krate)));
            }
        }
        let lib = krate.join("src/lib.rs");
        match fs::read_to_string(&lib) {
            Ok(source) => {
                let docs = crate_docs(&source, &krate.join("src"));
                for heading in REQUIRED_HEADINGS {
                    if !docs.lines().any(|line| line.trim_end() == *heading) {
                        problems.push(format!(
                            "{}: crate docs lack a `{heading}` section",
                            rel(&lib)
                        ));
                    }
                }
            }
            Err(e) => problems.push(format!("{}: {e}", rel(&lib))),
        }
        problems.extend(readme_version_problems(&krate, &rel));
        for file in rust_files(&krate.join("src")) {
            let text = fs::read_to_string(&file).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                for mac in FORBIDDEN.iter().filter(|m| line.contains(**m)) {
                    problems.push(format!(
                        "{}:{}: `{mac}` left in the code",
                        rel(&file),
                        n + 1
                    ));
                }
            }
        }
    }
    for dir in NEWLINE_DIRS {
        for file in rust_files(&root.join(dir)) {
            let bytes = fs::read(&file).unwrap_or_default();
            if bytes.last().is_some_and(|b| *b != b'\n') {
                problems.push(format!("{}: does not end with a newline", rel(&file)));
            }
        }
    }
    problems
}

/// The README's `library = ...` lines that name another version than the oldest one
/// the crate supports (`[package.metadata.trace-rs.compat]` in its Cargo.toml).
fn readme_version_problems(krate: &Path, rel: &dyn Fn(&Path) -> String) -> Vec<String> {
    let manifest = fs::read_to_string(krate.join("Cargo.toml")).unwrap_or_default();
    let (Some(library), Some(oldest)) = (
        compat_value(&manifest, "library"),
        compat_value(&manifest, "oldest"),
    ) else {
        return Vec::new();
    };
    let readme_path = krate.join("README.md");
    let readme = fs::read_to_string(&readme_path).unwrap_or_default();
    let mut problems = Vec::new();
    for (n, line) in readme.lines().enumerate() {
        let Some(spec) = line
            .strip_prefix(library.as_str())
            .and_then(|rest| rest.trim_start().strip_prefix('='))
            .map(str::trim)
        else {
            continue;
        };
        // `fred = "10.0.1"` or `fred = { version = "10.0.1", ... }`.
        let version = spec
            .strip_prefix('"')
            .or_else(|| spec.split_once("version = \"").map(|(_, rest)| rest))
            .and_then(|rest| rest.split_once('"'))
            .map(|(version, _)| version);
        if version != Some(oldest.as_str()) {
            problems.push(format!(
                "{}:{}: names {library} {}, but the crate supports {library} from {oldest} \
                 (`oldest` in Cargo.toml's [package.metadata.trace-rs.compat]): write \
                 `version = \"{oldest}\"`",
                rel(&readme_path),
                n + 1,
                version.map_or_else(|| "without a version".to_owned(), |v| format!("\"{v}\"")),
            ));
        }
    }
    problems
}

/// `key = "value"` in the `[package.metadata.trace-rs.compat]` table of `manifest`.
fn compat_value(manifest: &str, key: &str) -> Option<String> {
    manifest
        .lines()
        .skip_while(|line| line.trim() != "[package.metadata.trace-rs.compat]")
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
        })
}

/// Directories under `crates/` that hold a `Cargo.toml`, sorted.
fn crate_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The crate-level docs of a `lib.rs`: its `//!` lines plus files pulled in with
/// `#![doc = include_str!("...")]` (paths relative to `src_dir`).
fn crate_docs(source: &str, src_dir: &Path) -> String {
    let mut docs = String::new();
    for line in source.lines().map(str::trim_start) {
        if let Some(doc) = line.strip_prefix("//!") {
            docs.push_str(doc.strip_prefix(' ').unwrap_or(doc));
            docs.push('\n');
        } else if let Some(rest) = line.strip_prefix("#![doc = include_str!(\"")
            && let Some((path, _)) = rest.split_once('"')
        {
            docs.push_str(&fs::read_to_string(src_dir.join(path)).unwrap_or_default());
            docs.push('\n');
        }
    }
    docs
}

/// `.rs` files under `dir`, recursively, skipping `target/` and hidden directories.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_is_tidy() {
        let problems = check(&util::project_root());
        assert!(
            problems.is_empty(),
            "cargo xtask tidy found:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn a_readme_naming_another_library_version_is_reported() {
        let root = std::env::temp_dir().join(format!("xtask-tidy-readme-{}", std::process::id()));
        let krate = root.join("crates/demo");
        fs::create_dir_all(&krate).unwrap();
        fs::write(
            krate.join("Cargo.toml"),
            "[package]\nname = \"demo\"\n\n[package.metadata.trace-rs.compat]\n\
             library = \"fred\"\noldest = \"10.0.1\"\nnewest = \"10.1.0\"\n\n[features]\n",
        )
        .unwrap();
        fs::write(
            krate.join("README.md"),
            "```toml\nfred = { version = \"10\", features = [\"partial-tracing\"] }\n\
             fred = \"10.0.1\"\nfred = { version = \"10.0.1\" }\nfred-extra = \"1\"\n```\n",
        )
        .unwrap();
        let rel = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
        let problems = readme_version_problems(&krate, &rel);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            problems,
            [
                "crates/demo/README.md:2: names fred \"10\", but the crate supports fred from \
                 10.0.1 (`oldest` in Cargo.toml's [package.metadata.trace-rs.compat]): write \
                 `version = \"10.0.1\"`"
            ]
        );
    }

    #[test]
    fn problems_are_found() {
        let root = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let krate = root.join("crates/demo");
        fs::create_dir_all(krate.join("src")).unwrap();
        fs::write(krate.join("Cargo.toml"), "").unwrap();
        fs::write(krate.join("README.md"), "").unwrap();
        fs::write(
            krate.join("src/lib.rs"),
            "//! Demo.\n//!\n//! ## Feature flags\n",
        )
        .unwrap();
        fs::write(
            krate.join("src/x.rs"),
            format!("fn f() {{ {}) }}", FORBIDDEN[1]),
        )
        .unwrap();
        let problems = check(&root);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            problems,
            [
                "crates/demo: missing CHANGELOG.md",
                "crates/demo/src/lib.rs: crate docs lack a `## Supported Rust versions` section",
                &format!(
                    "crates/demo/src/x.rs:1: `{}` left in the code",
                    FORBIDDEN[1]
                ),
                "crates/demo/src/x.rs: does not end with a newline",
            ]
        );
    }
}
