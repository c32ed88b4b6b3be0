//! `cargo xtask msrv`: the library crates built with the toolchain of their declared
//! `rust-version`, when it is installed; said plainly when it is not.

use std::process::Stdio;

use crate::util::{self, Result};

const HELP: &str = "\
cargo xtask msrv [--required]

Runs, with the toolchain of the library crates' `rust-version` (1.94: `rustup run 1.94`),
  cargo check --locked --lib --all-features -p trace-core -p trace-http ...
so a dependency in Cargo.lock that needs a newer Rust, or code that does, fails here.

Without that toolchain (`rustup toolchain list` has no `1.94` line) it prints
`msrv: NOT RUN` and why, and succeeds: `cargo xtask ci` shows the step as not run.
Install it with `rustup toolchain install 1.94 --profile minimal`.

Options:
  --required   a missing toolchain is an error (CI's msrv job)";

/// What the MSRV step did.
pub(crate) enum Msrv {
    Built,
    NotRun(String),
}

pub(crate) fn run(args: &[String]) -> Result {
    check(args).map(|outcome| {
        if let Msrv::NotRun(why) = outcome {
            println!("msrv: NOT RUN: {why}");
        }
    })
}

/// Runs the check; `Ok(Msrv::NotRun(why))` when the toolchain is missing and not required.
pub(crate) fn check(args: &[String]) -> Result<Msrv> {
    if util::wants_help(args) {
        println!("{HELP}");
        return Ok(Msrv::Built);
    }
    let mut required = false;
    for arg in args {
        match arg.as_str() {
            "--required" => required = true,
            other => return Err(format!("unknown msrv option `{other}`\n\n{HELP}")),
        }
    }
    let meta = util::metadata(true)?;
    let crates = util::library_crates(&meta);
    let mut versions: Vec<&str> = crates
        .iter()
        .filter_map(|(_, p)| p["rust_version"].as_str())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    let [version] = versions[..] else {
        return Err(format!(
            "the library crates should declare one `rust-version` (the workspace's), found: {}",
            if versions.is_empty() {
                "none".to_owned()
            } else {
                versions.join(", ")
            }
        ));
    };

    let Some(toolchain) = installed_toolchain(version) else {
        let why = format!(
            "Rust {version} (the declared `rust-version`) is not installed, so nothing was \
             built with it; `rustup toolchain install {version} --profile minimal` installs \
             it (CI's msrv job does)"
        );
        return if required {
            Err(why)
        } else {
            Ok(Msrv::NotRun(why))
        };
    };
    let mut cmd = util::cargo_of(&toolchain);
    cmd.args(["check", "--locked", "--lib", "--all-features"]);
    for (name, _) in &crates {
        cmd.args(["-p", name]);
    }
    util::run(&mut cmd)?;
    println!("msrv: ok (library crates build with {toolchain})");
    Ok(Msrv::Built)
}

/// The installed toolchain for `version` (`1.94`, `1.94.1`, `1.94-x86_64-...`), if any.
fn installed_toolchain(version: &str) -> Option<String> {
    let out = std::process::Command::new("rustup")
        .args(["toolchain", "list"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    pick_toolchain(&String::from_utf8_lossy(&out.stdout), version)
}

fn pick_toolchain(list: &str, version: &str) -> Option<String> {
    list.lines()
        .filter_map(|line| line.split_whitespace().next())
        .find(|name| {
            name.strip_prefix(version)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.']))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_declared_version_counts() {
        let list = "stable-x86_64-unknown-linux-gnu (active, default)\n\
                    nightly-x86_64-unknown-linux-gnu\n\
                    1.95.0-x86_64-unknown-linux-gnu\n\
                    1.940-x86_64-unknown-linux-gnu\n";
        assert_eq!(pick_toolchain(list, "1.94"), None);
        let list = format!("{list}1.94.1-x86_64-unknown-linux-gnu\n");
        assert_eq!(
            pick_toolchain(&list, "1.94").as_deref(),
            Some("1.94.1-x86_64-unknown-linux-gnu")
        );
        assert_eq!(
            pick_toolchain("1.94-x86_64-unknown-linux-gnu\n", "1.94").as_deref(),
            Some("1.94-x86_64-unknown-linux-gnu")
        );
    }
}
