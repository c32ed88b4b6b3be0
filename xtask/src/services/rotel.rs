//! rotel, a collector written in Rust, from PyPI (`rotel`, a wheel that carries the
//! `rotel-agent` binary), for `cargo xtask bench export_throughput -- --rotel`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::venv::Venv;
use crate::util::Result;

/// The variable the benchmark reads the `rotel-agent` binary's path from; when it is
/// already set, nothing is installed.
pub(crate) const ROTEL_AGENT_ENV: &str = "TRACE_RS_ROTEL_AGENT";
const REQUIREMENT: &str = "rotel==0.0.1a15";

/// The `rotel-agent` binary: `TRACE_RS_ROTEL_AGENT`, or the one in a cached venv made with
/// the pinned wheel from PyPI (`TRACE_RS_ROTEL_VENV` overrides its place).
pub(crate) fn rotel_agent(target_dir: &Path) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(ROTEL_AGENT_ENV) {
        return Ok(PathBuf::from(path));
    }
    let venv = Venv::new(
        "rotel-venv",
        "TRACE_RS_ROTEL_VENV",
        target_dir,
        REQUIREMENT,
        "rotel",
    );
    venv.ensure("rotel").map_err(|e| {
        format!(
            "--rotel needs {REQUIREMENT} from PyPI, which could not be installed: {e}\n\
             (is pypi.org reachable? Without network, set {ROTEL_AGENT_ENV} to a rotel-agent \
             binary, or run without --rotel)"
        )
    })?;
    // The wheel keeps the binary inside the package, beside its `__init__.py`.
    let output = Command::new(venv.python())
        .args([
            "-c",
            "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
        ])
        .output()
        .map_err(|e| format!("cannot run the rotel venv's python: {e}"))?;
    let agent = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if agent.is_file() {
        Ok(agent)
    } else {
        Err(format!(
            "{REQUIREMENT} is installed but has no rotel-agent binary at {}",
            agent.display()
        ))
    }
}
