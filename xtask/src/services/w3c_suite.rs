//! The `w3c-suite` component: a Python venv with PyPI's `aiohttp`, which the official W3C
//! Trace Context suite (`examples/w3c-test-service/w3c-suite`) needs; `crate::w3c` runs it.

use std::path::Path;

use super::venv::Venv;
use crate::util::Result;

/// The variable that tells `cargo xtask test` which Python runs the suite.
pub(crate) const PYTHON_ENV: &str = "TRACE_RS_W3C_SUITE_PYTHON";

/// The venv with aiohttp, pinned (`TRACE_RS_W3C_VENV` overrides its place).
pub(super) fn venv(target_dir: &Path) -> Venv {
    Venv::new(
        "w3c-venv",
        "TRACE_RS_W3C_VENV",
        target_dir,
        "aiohttp==3.14.5",
        "aiohttp, multidict",
    )
}

/// Makes (or reuses) the venv and returns the variable naming its Python.
pub(super) fn provision(venv: &Venv) -> Result<Vec<(String, String)>> {
    venv.ensure("w3c-suite")?;
    Ok(vec![(
        PYTHON_ENV.into(),
        venv.python().display().to_string(),
    )])
}
