//! Root, apt, pid files and logs: the system side of provisioning.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{self, Result, succeeds, wait_until};

/// Installs Debian packages: one `apt-get update`, then one `apt-get install`.
/// Their (long) output goes to `log`, shown when they fail.
pub(super) fn apt_install(packages: &[&str], log: &Path) -> Result {
    if !is_root() && !succeeds(Command::new("sudo").args(["-n", "true"])) {
        return Err(format!(
            "installing {} needs root or passwordless sudo",
            packages.join(" ")
        ));
    }
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    let started = Instant::now();
    logged(privileged("apt-get", &env).args(["update", "-qq"]), log)?;
    logged(
        privileged("apt-get", &env)
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(packages),
        log,
    )?;
    println!(
        "apt: installed {} in {:.1} s",
        packages.join(" "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `program` as root: directly when we are root, else through `sudo -n env K=V ...`.
pub(super) fn privileged(program: &str, env: &[(&str, &str)]) -> Command {
    if is_root() {
        let mut cmd = Command::new(program);
        cmd.envs(env.iter().copied());
        cmd
    } else {
        let mut cmd = Command::new("sudo");
        cmd.args(["-n", "env"])
            .args(env.iter().map(|(k, v)| format!("{k}={v}")))
            .arg(program);
        cmd
    }
}

pub(super) fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next());
    uid == Some("0")
}

pub(super) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("bind a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Prints the command and runs it with its output appended to `log` (no pipes: servers that
/// fork must not hold ours). On failure the error has the end of the log.
pub(super) fn logged(cmd: &mut Command, log: &Path) -> Result {
    let line = util::display(cmd);
    println!("$ {line}");
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .status()
        .map_err(|e| format!("could not run `{line}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed ({status}):\n{}", tail(log)))
    }
}

/// The last lines of a log file.
pub(super) fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Whether process `pid` exists, is not a zombie, and runs `comm`.
fn running(pid: &str, comm: &str) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // "PID (COMM) STATE ...": COMM may hold spaces and parentheses.
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let state = stat[close + 1..].split_whitespace().next();
    &stat[open + 1..close] == comm && !matches!(state, Some("Z" | "X") | None)
}

/// Kills the process in a pid file if it is still `comm`; true when it is gone.
pub(super) fn kill_pid_file(pid_file: &Path, comm: &str) -> bool {
    let Some(pid) = fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.lines().next()?.trim().parse::<u32>().ok())
    else {
        return true;
    };
    let is_it = || running(&pid.to_string(), comm);
    if is_it() {
        let _ = succeeds(privileged("kill", &[]).arg(pid.to_string()));
    }
    wait_until(Duration::from_secs(15), || !is_it())
}

/// Stops the servers of earlier runs whose xtask process is gone, and removes their data.
pub(super) fn stop_leftovers(base: &Path) {
    for entry in fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("run-") else {
            continue;
        };
        if running(pid, "xtask") && pid != std::process::id().to_string() {
            continue;
        }
        let dir = entry.path();
        kill_pid_file(&dir.join("redis/redis.pid"), "redis-server");
        kill_pid_file(&dir.join("postgres/data/postmaster.pid"), "postgres");
        kill_pid_file(&dir.join("mariadb/run/pid"), "mariadbd");
        let _ = fs::remove_dir_all(&dir);
        println!(
            "services: cleaned up after an earlier run ({})",
            dir.display()
        );
    }
}
