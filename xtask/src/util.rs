//! Helpers shared by the tasks: paths, running commands, `cargo metadata`.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Errors are messages for a person; `main` prints them and exits non-zero.
pub(crate) type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root (the parent of `xtask/`).
pub(crate) fn project_root() -> PathBuf {
    // `cargo run` sets the variable at run time too. Prefer that: two checkouts that share
    // one `CARGO_TARGET_DIR` share one compiled xtask, which embeds the path it was built
    // from.
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

/// The `cargo` that runs us (env `CARGO`), in the workspace root.
pub(crate) fn cargo() -> Command {
    workspace_command(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `rustup run TOOLCHAIN cargo`, in the workspace root: cargo of another installed
/// toolchain (`CARGO` is the one that runs us).
pub(crate) fn cargo_of(toolchain: &str) -> Command {
    let mut cmd = workspace_command("rustup".into());
    cmd.args(["run", toolchain, "cargo"]);
    cmd
}

/// `program` in the workspace root, without the package variables `cargo run` gave us.
fn workspace_command(program: OsString) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(project_root());
    // `cargo run` gave us xtask's package variables. Build scripts that track one (ring
    // tracks CARGO_MANIFEST_DIR and CARGO_PKG_NAME) would otherwise rebuild, with all that
    // depends on them, each time a build alternates between `cargo xtask` and plain cargo.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        let package_var = key.starts_with("CARGO_PKG_")
            || matches!(
                &*key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            );
        if package_var {
            cmd.env_remove(&*key);
        }
    }
    cmd
}

/// The command line as a person would type it, with the env vars it sets.
pub(crate) fn display(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| {
            Some(format!(
                "{}={}",
                k.to_string_lossy(),
                quote(&v?.to_string_lossy())
            ))
        })
        .collect();
    let program = cmd.get_program().to_string_lossy();
    let cargo_env = env::var_os("CARGO").map(|c| c.to_string_lossy().into_owned());
    let is_cargo = Some(&*program) == cargo_env.as_deref();
    parts.push(if is_cargo {
        "cargo".into()
    } else {
        program.into_owned()
    });
    parts.extend(cmd.get_args().map(|a| quote(&a.to_string_lossy())));
    parts.join(" ")
}

/// Single-quotes a shell word when it needs it.
fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Prints the command, runs it with inherited stdio, and fails unless it exits 0.
pub(crate) fn run(cmd: &mut Command) -> Result {
    let line = display(cmd);
    println!("$ {line}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not run `{line}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed ({status})"))
    }
}

/// Runs a command quietly and tells whether it exited 0.
pub(crate) fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Looks `name` up on `PATH` (and in the sbin directories, where Debian puts servers).
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    let extra: [OsString; 2] = ["/usr/sbin".into(), "/sbin".into()];
    env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `cargo metadata --format-version 1`, without or with the resolved dependency graph.
pub(crate) fn metadata(no_deps: bool) -> Result<Value> {
    let mut cmd = cargo();
    cmd.args(["metadata", "--format-version", "1"]);
    if no_deps {
        cmd.arg("--no-deps");
    } else {
        cmd.arg("--all-features");
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({})", display(&cmd), out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata output: {e}"))
}

/// The packages of the workspace's members, in `cargo metadata` order.
pub(crate) fn workspace_packages(meta: &Value) -> impl Iterator<Item = &Value> {
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |p| p["id"].as_str().is_some_and(|id| members.contains(&id)))
}

/// The workspace members whose manifest lives under `crates/`, as (name, package) pairs.
pub(crate) fn crates_members(meta: &Value) -> Vec<(&str, &Value)> {
    let crates_dir = project_root().join("crates");
    let mut found: Vec<(&str, &Value)> = workspace_packages(meta)
        .filter(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| Path::new(m).starts_with(&crates_dir))
        })
        .filter_map(|p| Some((p["name"].as_str()?, p)))
        .collect();
    found.sort_by_key(|(name, _)| *name);
    found
}

/// The library crates: members under `crates/` that may be published (`publish` is not
/// `false`), as (name, package) pairs sorted by name.
pub(crate) fn library_crates(meta: &Value) -> Vec<(&str, &Value)> {
    crates_members(meta)
        .into_iter()
        .filter(|(_, p)| p["publish"] != serde_json::json!([]))
        .collect()
}

/// Polls `check` every 100 ms until it returns true or `timeout` passes.
pub(crate) fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `args` asks for help.
pub(crate) fn wants_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "--help" || a == "-h")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_cargo_does_not_inherit_our_package_variables() {
        // The test harness runs with this package's variables set, as `cargo run` does.
        assert!(env::var_os("CARGO_MANIFEST_DIR").is_some());
        let cmd = cargo();
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(key, _)| key.to_string_lossy().into_owned())
            .collect();
        assert!(removed.iter().any(|k| k == "CARGO_MANIFEST_DIR"));
        assert!(removed.iter().any(|k| k == "CARGO_PKG_NAME"));
        assert!(!removed.iter().any(|k| k == "PATH"));
    }
}
