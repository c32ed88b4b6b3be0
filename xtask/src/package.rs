//! `cargo xtask package`: every library crate packaged as crates.io would take it, and
//! built from its `.crate`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::thread;

use crate::util::{self, Result};

const HELP: &str = "\
cargo xtask package [--no-verify]

Packages every library crate (the members under crates/ that may be published) in one
`cargo package --allow-dirty -p trace-core -p trace-http ...`. Packaged together, each
crate is verified by building it from its `.crate` contents (default features), with
the sibling `.crate`s standing in for the registry: trace-core is not on crates.io yet,
and a lone `cargo package -p trace-http` could not resolve it. Any warning from cargo
(missing metadata, an ignored target, ...) fails the task, except the one the crates
ask for: `ignoring benchmark ... as benches/... is not included` (they `exclude` their
benches, which need the unpublished trace-bench-support). Then prints each crate's
`.crate` size and file count.

`--allow-dirty`: this checks what the crates would contain, not that the work tree is
committed (`cargo publish` checks that).

Options:
  --no-verify   package without building (cargo's `--no-verify`)";

pub(crate) fn run(args: &[String]) -> Result {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(());
    }
    let mut verify = true;
    for arg in args {
        match arg.as_str() {
            "--no-verify" => verify = false,
            other => return Err(format!("unknown package option `{other}`\n\n{HELP}")),
        }
    }
    let meta = util::metadata(true)?;
    let crates = util::library_crates(&meta);
    if crates.is_empty() {
        return Err("no library crate under crates/ (all are `publish = false`)".into());
    }
    let target_dir = PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"));

    let mut cmd = util::cargo();
    cmd.args(["package", "--allow-dirty"]);
    if !verify {
        cmd.arg("--no-verify");
    }
    for (name, _) in &crates {
        cmd.args(["-p", name]);
    }
    let warnings = run_collecting_warnings(&mut cmd)?;

    let mut problems = Vec::new();
    let mut rows = Vec::new();
    for (name, package) in &crates {
        let version = package["version"].as_str().unwrap_or_default();
        let file = target_dir
            .join("package")
            .join(format!("{name}-{version}.crate"));
        let size = fs::metadata(&file)
            .map_err(|e| format!("{}: {e}", file.display()))?
            .len();
        let files = list(name)?;
        rows.push(Row {
            name: (*name).to_owned(),
            version: version.to_owned(),
            size,
            files: files.len(),
        });
        problems.extend(content_problems(name, &files));
    }
    println!("\n{}", table(&rows, verify));
    problems.extend(
        warnings
            .iter()
            .map(|w| format!("cargo package warned: {w}")),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        for problem in &problems {
            eprintln!("package: {problem}");
        }
        Err(format!("package: {} problem(s)", problems.len()))
    }
}

/// Runs `cmd`, passing its stderr through, and returns cargo's `warning:` lines.
fn run_collecting_warnings(cmd: &mut std::process::Command) -> Result<Vec<String>> {
    let line = util::display(cmd);
    println!("$ {line}");
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run `{line}`: {e}"))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let reader = thread::spawn(move || {
        let mut warnings = Vec::new();
        for text in BufReader::new(stderr)
            .lines()
            .map_while(std::io::Result::ok)
        {
            eprintln!("{text}");
            if let Some(warning) = text.strip_prefix("warning: ")
                && !is_excluded_bench(warning)
            {
                warnings.push(warning.to_owned());
            }
        }
        warnings
    });
    let status = child
        .wait()
        .map_err(|e| format!("could not wait for `{line}`: {e}"))?;
    let warnings = reader.join().unwrap_or_default();
    if status.success() {
        Ok(warnings)
    } else {
        Err(format!("`{line}` failed ({status})"))
    }
}

/// cargo's warning for a `[[bench]]` whose file the crate's `exclude = ["benches/"]`
/// leaves out: wanted, the target is dropped from the published manifest.
fn is_excluded_bench(warning: &str) -> bool {
    warning.starts_with("ignoring benchmark `")
        && warning.contains("as `benches/")
        && warning.ends_with("is not included in the published package")
}

/// The files `cargo package --list` puts in `name`'s `.crate`.
fn list(name: &str) -> Result<Vec<String>> {
    let mut cmd = util::cargo();
    cmd.args(["package", "--allow-dirty", "--list", "-p", name]);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run `{}`: {e}", util::display(&cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({})", util::display(&cmd), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Files a published crate must carry: the licence texts (crates.io shows `license`, but
/// MIT and Apache-2.0 both require the text to travel with the code), its README and
/// CHANGELOG.
fn content_problems(name: &str, files: &[String]) -> Vec<String> {
    ["LICENSE-MIT", "LICENSE-APACHE", "README.md", "CHANGELOG.md"]
        .iter()
        .filter(|wanted| !files.iter().any(|f| f == *wanted))
        .map(|missing| format!("{name}: the package has no {missing}"))
        .collect()
}

struct Row {
    name: String,
    version: String,
    size: u64,
    files: usize,
}

fn table(rows: &[Row], verified: bool) -> String {
    let verdict = if verified {
        "verified: built from the .crate"
    } else {
        "not verified (--no-verify)"
    };
    let mut out = format!(
        "{:<16} {:>8} {:>10} {:>6}  build\n",
        "crate", "version", "size", "files"
    );
    for row in rows {
        out.push_str(&format!(
            "{:<16} {:>8} {:>10} {:>6}  {verdict}\n",
            row.name,
            row.version,
            human_size(row.size),
            row.files
        ));
    }
    out.pop();
    out
}

fn human_size(bytes: u64) -> String {
    // Whole bytes below 1 KiB, else KiB with one decimal (crates.io's limit is 10 MiB).
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_without_licence_texts_is_reported() {
        let files: Vec<String> = ["Cargo.toml", "README.md", "CHANGELOG.md", "LICENSE-MIT"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(
            content_problems("demo", &files),
            ["demo: the package has no LICENSE-APACHE"]
        );
    }

    #[test]
    fn only_the_excluded_benches_warning_is_expected() {
        assert!(is_excluded_bench(
            "ignoring benchmark `span_cost` as `benches/span_cost.rs` is not included in the \
             published package"
        ));
        assert!(!is_excluded_bench(
            "ignoring test `clients` as `tests/clients.rs` is not included in the published \
             package"
        ));
        assert!(!is_excluded_bench("manifest has no documentation"));
    }

    #[test]
    fn sizes_read_as_a_person_would() {
        assert_eq!(human_size(900), "900 B");
        assert_eq!(human_size(150 * 1024 + 512), "150.5 KiB");
    }
}
