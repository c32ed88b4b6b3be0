//! `cargo xtask tidy`: repository hygiene that rustc and clippy do not check.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{self, Result};

const HELP: &str = "\
cargo xtask tidy

Checks that:
- every crate under crates/ has README.md, CHANGELOG.md and a src/lib.rs whose crate docs
  (`//!` lines or an included file) have `## Feature flags` and `## Supported Rust versions`;
- every library crate (under crates/, not `publish = false` in its own manifest):
  - can be published: it does not inherit the workspace's `publish = false`, and its
    [package] has description, license, repository, homepage, `documentation =
    \"https://docs.rs/NAME\"`, `readme = \"README.md\"`, 1 to 5 keywords, categories and
    rust-version; `[package.metadata.docs.rs]` has `all-features = true` and, when
    src/lib.rs uses `docsrs`, `rustdoc-args = [\"--cfg\", \"docsrs\"]`; LICENSE-MIT and
    LICENSE-APACHE are in its directory (links to the root's), and its entry in the root
    [workspace.dependencies] has a `version`;
  - has a README of the common shape: `# NAME`, a paragraph, then these `##` sections in
    this order (others may come between them): Install (with a `cargo add NAME` line),
    Quick start, What it emits, Options, Feature flags, Cost, Supported versions,
    License; and no git-URL dependency line;
  - has crate docs that start with `## Quick start` and end with `## Feature flags` and
    `## Supported Rust versions`;
  - has a CHANGELOG whose first section is `## Unreleased`, followed by
    `## VERSION - YYYY-MM-DD` for the crate's version;
- no `dbg!(`, `todo!(` or `unimplemented!(` is left in crates/*/src;
- a crate README's dependency line for its target library (`library` in
  `[package.metadata.trace-rs.compat]`) names the oldest supported version (`oldest`);
- every .rs file under crates/, examples/ and xtask/ ends with a newline.";

/// The `##` sections of a library crate's README, in this order.
const README_SECTIONS: &[&str] = &[
    "Install",
    "Quick start",
    "What it emits",
    "Options",
    "Feature flags",
    "Cost",
    "Supported versions",
    "License",
];
/// `[package]` keys a library crate must set (itself or through the workspace).
const PUBLISH_KEYS: &[&str] = &[
    "description",
    "license",
    "repository",
    "homepage",
    "documentation",
    "readme",
    "keywords",
    "categories",
    "rust-version",
];
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
        let manifest = fs::read_to_string(krate.join("Cargo.toml")).unwrap_or_default();
        if is_library(&manifest) {
            problems.extend(library_problems(root, &krate, &manifest, &rel));
        }
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

/// Whether a crate's manifest makes it a library crate: one that does not set
/// `publish = false` itself (inheriting it is a problem `library_problems` reports).
fn is_library(manifest: &str) -> bool {
    !table_lines(manifest, "package").any(|(key, value)| key == "publish" && value == "false")
}

/// The problems of a library crate: publish metadata, README and crate-doc shape,
/// CHANGELOG release entry.
fn library_problems(
    root: &Path,
    krate: &Path,
    manifest: &str,
    rel: &dyn Fn(&Path) -> String,
) -> Vec<String> {
    let mut problems = Vec::new();
    let manifest_path = krate.join("Cargo.toml");
    let at = rel(&manifest_path);
    let package: Vec<(String, String)> = table_lines(manifest, "package").collect();
    let get = |key: &str| {
        package
            .iter()
            .find(|(k, _)| k == key || *k == format!("{key}.workspace"))
            .map(|(_, v)| v.as_str())
    };
    let name = get("name").unwrap_or_default().trim_matches('"').to_owned();
    if get("publish").is_some() {
        problems.push(format!(
            "{at}: a library crate sets or inherits `publish` (the workspace's is false): \
             remove it"
        ));
    }
    for key in PUBLISH_KEYS {
        if get(key).is_none() {
            problems.push(format!("{at}: [package] has no `{key}`"));
        }
    }
    let docs_rs = format!("\"https://docs.rs/{name}\"");
    if get("documentation").is_some_and(|v| v != docs_rs) {
        problems.push(format!("{at}: `documentation` should be {docs_rs}"));
    }
    if get("readme").is_some_and(|v| v != "\"README.md\"") {
        problems.push(format!("{at}: `readme` should be \"README.md\""));
    }
    if let Some(keywords) = get("keywords") {
        let count = keywords.matches('"').count() / 2;
        if !(1..=5).contains(&count) {
            problems.push(format!("{at}: {count} keywords; crates.io takes 1 to 5"));
        }
    }
    let docs_rs_table: Vec<(String, String)> =
        table_lines(manifest, "package.metadata.docs.rs").collect();
    if !docs_rs_table
        .iter()
        .any(|(k, v)| k == "all-features" && v == "true")
    {
        problems.push(format!(
            "{at}: [package.metadata.docs.rs] lacks `all-features = true`"
        ));
    }
    let lib = fs::read_to_string(krate.join("src/lib.rs")).unwrap_or_default();
    if lib.contains("docsrs")
        && !docs_rs_table
            .iter()
            .any(|(k, v)| k == "rustdoc-args" && v.contains("\"docsrs\""))
    {
        problems.push(format!(
            "{at}: src/lib.rs uses `docsrs`: [package.metadata.docs.rs] needs \
             `rustdoc-args = [\"--cfg\", \"docsrs\"]`"
        ));
    }
    for license in ["LICENSE-MIT", "LICENSE-APACHE"] {
        if !krate.join(license).is_file() {
            problems.push(format!(
                "{}: missing {license} (a link to the root's: `ln -s ../../{license}`)",
                rel(krate)
            ));
        }
    }
    let root_manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let entry = table_lines(&root_manifest, "workspace.dependencies").find(|(k, _)| *k == name);
    if let Some((_, value)) = entry
        && value.contains("path =")
        && !value.contains("version =")
    {
        problems.push(format!(
            "Cargo.toml: [workspace.dependencies] `{name}` has a path and no version: \
             `cargo package` drops the path and needs the version"
        ));
    }

    let readme_path = krate.join("README.md");
    let readme = fs::read_to_string(&readme_path).unwrap_or_default();
    problems.extend(
        readme_shape_problems(&name, &readme)
            .into_iter()
            .map(|p| format!("{}: {p}", rel(&readme_path))),
    );
    let lib_path = krate.join("src/lib.rs");
    let docs = crate_docs(&lib, &krate.join("src"));
    problems.extend(
        crate_doc_shape_problems(&docs)
            .into_iter()
            .map(|p| format!("{}: {p}", rel(&lib_path))),
    );
    let version = get("version")
        .filter(|v| v.starts_with('"'))
        .map(|v| v.trim_matches('"').to_owned())
        .or_else(|| {
            table_lines(&root_manifest, "workspace.package")
                .find(|(k, _)| k == "version")
                .map(|(_, v)| v.trim_matches('"').to_owned())
        })
        .unwrap_or_default();
    let changelog_path = krate.join("CHANGELOG.md");
    if let Ok(changelog) = fs::read_to_string(&changelog_path) {
        problems.extend(
            changelog_problems(&changelog, &version)
                .into_iter()
                .map(|p| format!("{}: {p}", rel(&changelog_path))),
        );
    }
    problems
}

/// The README shape every library crate shares.
fn readme_shape_problems(name: &str, readme: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut lines = readme.lines();
    if lines.next() != Some(format!("# {name}").as_str()) {
        problems.push(format!("does not start with `# {name}`"));
    }
    let first = lines.find(|l| !l.trim().is_empty()).unwrap_or_default();
    if first.starts_with('#') || first.starts_with("```") || first.starts_with("- ") {
        problems.push("the title is not followed by a paragraph saying what the crate is".into());
    }
    let sections: Vec<&str> = markdown_headings(readme, "## ");
    problems.extend(order_problems(&sections, README_SECTIONS, "## "));
    let install = section(readme, "## Install");
    if !install
        .lines()
        .any(|l| l.trim_start().starts_with(&format!("cargo add {name}")))
    {
        problems.push(format!("`## Install` has no `cargo add {name}` line"));
    }
    for (n, line) in readme.lines().enumerate() {
        if line.contains("git = \"http") {
            problems.push(format!(
                "line {}: a git-URL dependency; name the crates.io version (`cargo add ...`)",
                n + 1
            ));
        }
    }
    problems
}

/// The crate-doc shape: `## Quick start` first, `## Feature flags` and
/// `## Supported Rust versions` last.
fn crate_doc_shape_problems(docs: &str) -> Vec<String> {
    let headings = markdown_headings(docs, "## ");
    let mut problems = Vec::new();
    if headings.first() != Some(&"Quick start") {
        problems.push("the crate docs' first section is not `## Quick start`".into());
    }
    if headings.len() < 2
        || headings[headings.len() - 2..] != ["Feature flags", "Supported Rust versions"]
    {
        problems.push(
            "the crate docs do not end with `## Feature flags` then `## Supported Rust versions`"
                .into(),
        );
    }
    problems
}

/// `## Unreleased` first, then the entry of the crate's version with its date.
fn changelog_problems(changelog: &str, version: &str) -> Vec<String> {
    let headings = markdown_headings(changelog, "## ");
    let mut problems = Vec::new();
    if headings.first() != Some(&"Unreleased") {
        problems.push("the first section is not `## Unreleased`".into());
    }
    let entry = format!("{version} - ");
    let dated = headings.iter().any(|h| {
        h.strip_prefix(&entry).is_some_and(|date| {
            date.len() == 10
                && date.char_indices().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                })
        })
    });
    if !dated {
        problems.push(format!(
            "no `## {version} - YYYY-MM-DD` entry for the crate's version"
        ));
    }
    problems
}

/// The text of the headings at `level` (`"## "`), outside code blocks.
fn markdown_headings<'a>(text: &'a str, level: &str) -> Vec<&'a str> {
    let mut in_code = false;
    let mut headings = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && let Some(heading) = line.strip_prefix(level) {
            headings.push(heading.trim());
        }
    }
    headings
}

/// The lines from `heading` to the next heading of the same level.
fn section(text: &str, heading: &str) -> String {
    let mut lines = text.lines().skip_while(|l| l.trim_end() != heading);
    let mut out = String::new();
    if lines.next().is_some() {
        for line in lines.take_while(|l| !l.starts_with("## ")) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Problems with `wanted` as an ordered subsequence of `found`.
fn order_problems(found: &[&str], wanted: &[&str], level: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut last: Option<(usize, &str)> = None;
    for heading in wanted {
        match found.iter().position(|f| f == heading) {
            None => problems.push(format!("no `{level}{heading}` section")),
            Some(i) => {
                if let Some((j, before)) = last
                    && i < j
                {
                    problems.push(format!(
                        "`{level}{heading}` comes before `{level}{before}`; the order is {}",
                        wanted.join(", ")
                    ));
                }
                last = Some((i, heading));
            }
        }
    }
    problems
}

/// `(key, value)` of the `key = value` lines of `[table]` in a manifest (a value that
/// spans lines, such as a multi-line array, gives its first line only).
fn table_lines<'a>(
    manifest: &'a str,
    table: &'a str,
) -> impl Iterator<Item = (String, String)> + 'a {
    let header = format!("[{table}]");
    manifest
        .lines()
        .skip_while(move |line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| {
            let (k, v) = line.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
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
        // `cargo add fred@10.0.1 --features ...`: the version after `@`.
        if let Some(rest) = line
            .trim_start()
            .strip_prefix("cargo add ")
            .and_then(|rest| rest.strip_prefix(library.as_str()))
            .filter(|rest| rest.is_empty() || rest.starts_with([' ', '@']))
        {
            let version = rest
                .strip_prefix('@')
                .and_then(|v| v.split_whitespace().next());
            if version != Some(oldest.as_str()) {
                problems.push(format!(
                    "{}:{}: `cargo add {library}` names {}, but the crate supports {library} \
                     from {oldest} (`oldest` in Cargo.toml's \
                     [package.metadata.trace-rs.compat]): write `cargo add {library}@{oldest}`",
                    rel(&readme_path),
                    n + 1,
                    version.map_or_else(|| "no version".to_owned(), str::to_owned),
                ));
            }
            continue;
        }
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
             fred = \"10.0.1\"\nfred = { version = \"10.0.1\" }\nfred-extra = \"1\"\n```\n\
             ```sh\ncargo add fred@10.0.1 --features partial-tracing\ncargo add fred\n\
             cargo add fred-extra\n```\n",
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
                 `version = \"10.0.1\"`",
                "crates/demo/README.md:9: `cargo add fred` names no version, but the crate \
                 supports fred from 10.0.1 (`oldest` in Cargo.toml's \
                 [package.metadata.trace-rs.compat]): write `cargo add fred@10.0.1`",
            ]
        );
    }

    #[test]
    fn problems_are_found() {
        let root = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let krate = root.join("crates/demo");
        fs::create_dir_all(krate.join("src")).unwrap();
        fs::write(
            krate.join("Cargo.toml"),
            "[package]\nname = \"demo\"\npublish = false\n",
        )
        .unwrap();
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

    /// A library crate (no `publish = false`) with everything in place, as files.
    fn library_crate(root: &Path) -> PathBuf {
        let krate = root.join("crates/demo");
        fs::create_dir_all(krate.join("src")).unwrap();
        fs::write(
            root.join("Cargo.toml"),
            "[workspace.package]\nversion = \"0.2.0\"\npublish = false\n\n\
             [workspace.dependencies]\ndemo = { path = \"crates/demo\", version = \"0.2.0\" }\n",
        )
        .unwrap();
        fs::write(
            krate.join("Cargo.toml"),
            "[package]\nname = \"demo\"\ndescription = \"Demo.\"\nversion.workspace = true\n\
             rust-version.workspace = true\nlicense.workspace = true\n\
             repository.workspace = true\nhomepage.workspace = true\n\
             documentation = \"https://docs.rs/demo\"\nreadme = \"README.md\"\n\
             keywords = [\"a\", \"b\"]\ncategories = [\"development-tools\"]\n\n\
             [package.metadata.docs.rs]\nall-features = true\n\
             rustdoc-args = [\"--cfg\", \"docsrs\"]\n",
        )
        .unwrap();
        let sections: String = README_SECTIONS
            .iter()
            .map(|s| match *s {
                "Install" => "## Install\n\n```sh\ncargo add demo --features x\n```\n\n".to_owned(),
                other => format!("## {other}\n\nText.\n\n"),
            })
            .collect();
        fs::write(
            krate.join("README.md"),
            format!("# demo\n\nWhat it is.\n\n{sections}"),
        )
        .unwrap();
        fs::write(
            krate.join("CHANGELOG.md"),
            "# Changelog\n\n## Unreleased\n\n## 0.2.0 - 2026-12-05\n\n### Added\n- All.\n",
        )
        .unwrap();
        fs::write(
            krate.join("src/lib.rs"),
            "//! Demo.\n//!\n//! ## Quick start\n//!\n//! ## Feature flags\n//!\n\
             //! ## Supported Rust versions\n#![cfg_attr(docsrs, feature(doc_cfg))]\n",
        )
        .unwrap();
        for license in ["LICENSE-MIT", "LICENSE-APACHE"] {
            fs::write(krate.join(license), "text\n").unwrap();
        }
        krate
    }

    #[test]
    fn a_complete_library_crate_is_tidy() {
        let root = std::env::temp_dir().join(format!("xtask-tidy-lib-ok-{}", std::process::id()));
        library_crate(&root);
        let problems = check(&root);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn a_library_crate_missing_publish_metadata_is_reported() {
        let root = std::env::temp_dir().join(format!("xtask-tidy-lib-{}", std::process::id()));
        let krate = library_crate(&root);
        let manifest = fs::read_to_string(krate.join("Cargo.toml")).unwrap();
        let manifest = manifest
            .replace("homepage.workspace = true\n", "publish.workspace = true\n")
            .replace("\"https://docs.rs/demo\"", "\"https://example.com\"")
            .replace(
                "[\"a\", \"b\"]",
                "[\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]",
            )
            .replace(
                "all-features = true\nrustdoc-args = [\"--cfg\", \"docsrs\"]\n",
                "",
            );
        fs::write(krate.join("Cargo.toml"), manifest).unwrap();
        fs::remove_file(krate.join("LICENSE-APACHE")).unwrap();
        fs::write(
            root.join("Cargo.toml"),
            "[workspace.package]\nversion = \"0.2.0\"\n\n\
             [workspace.dependencies]\ndemo = { path = \"crates/demo\" }\n",
        )
        .unwrap();
        let problems = check(&root);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            problems,
            [
                "crates/demo/Cargo.toml: a library crate sets or inherits `publish` (the \
                 workspace's is false): remove it",
                "crates/demo/Cargo.toml: [package] has no `homepage`",
                "crates/demo/Cargo.toml: `documentation` should be \"https://docs.rs/demo\"",
                "crates/demo/Cargo.toml: 6 keywords; crates.io takes 1 to 5",
                "crates/demo/Cargo.toml: [package.metadata.docs.rs] lacks `all-features = true`",
                "crates/demo/Cargo.toml: src/lib.rs uses `docsrs`: [package.metadata.docs.rs] \
                 needs `rustdoc-args = [\"--cfg\", \"docsrs\"]`",
                "crates/demo: missing LICENSE-APACHE (a link to the root's: \
                 `ln -s ../../LICENSE-APACHE`)",
                "Cargo.toml: [workspace.dependencies] `demo` has a path and no version: \
                 `cargo package` drops the path and needs the version",
            ]
        );
    }

    #[test]
    fn readme_crate_docs_and_changelog_shapes_are_checked() {
        let readme = "# demo\n\n```toml\ndemo = { git = \"https://github.com/x/y\" }\n```\n\n\
                      ## Quick start\n\n## Install\n\ncargo add other\n\n## What it emits\n\n\
                      ## Options\n\n## Feature flags\n\n## Cost\n\n## Supported versions\n";
        assert_eq!(
            readme_shape_problems("demo", readme),
            [
                "the title is not followed by a paragraph saying what the crate is",
                "`## Quick start` comes before `## Install`; the order is Install, Quick start, \
                 What it emits, Options, Feature flags, Cost, Supported versions, License",
                "no `## License` section",
                "`## Install` has no `cargo add demo` line",
                "line 4: a git-URL dependency; name the crates.io version (`cargo add ...`)",
            ]
        );
        assert_eq!(
            crate_doc_shape_problems(
                "Demo.\n\n## Spans\n\n## Quick start\n\n## Supported Rust versions\n\n## Feature flags\n"
            ),
            [
                "the crate docs' first section is not `## Quick start`",
                "the crate docs do not end with `## Feature flags` then `## Supported Rust versions`",
            ]
        );
        assert_eq!(
            changelog_problems(
                "# Changelog\n\n## 0.1.0 - 2026-12\n\n## Unreleased\n",
                "0.1.0"
            ),
            [
                "the first section is not `## Unreleased`",
                "no `## 0.1.0 - YYYY-MM-DD` entry for the crate's version",
            ]
        );
        assert_eq!(
            changelog_problems(
                "# Changelog\n\n## Unreleased\n\n## 0.1.0 - 2026-12-05\n",
                "0.1.0"
            ),
            Vec::<String>::new()
        );
    }
}
