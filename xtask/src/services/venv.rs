//! Python venvs with one pinned PyPI package, cached between runs next to the target dir.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::util::{self, Result, succeeds, which};

/// A venv that must hold `requirement` (`name==version`) and import `imports`.
pub(super) struct Venv {
    dir: PathBuf,
    requirement: &'static str,
    imports: &'static str,
}

impl Venv {
    /// The venv `name` lives next to the target dir when that is outside the repository
    /// (a shared cache), else inside it; the variable `env_var` overrides.
    pub(super) fn new(
        name: &str,
        env_var: &str,
        target_dir: &Path,
        requirement: &'static str,
        imports: &'static str,
    ) -> Self {
        let dir = match (std::env::var_os(env_var), target_dir.parent()) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(parent)) if !target_dir.starts_with(util::project_root()) => {
                parent.join(name)
            }
            (None, _) => target_dir.join(name),
        };
        Self {
            dir,
            requirement,
            imports,
        }
    }

    pub(super) fn python(&self) -> PathBuf {
        self.dir.join("bin/python")
    }

    /// Whether the venv already has the pinned package, importable.
    fn usable(&self) -> bool {
        let (name, version) = self
            .requirement
            .split_once("==")
            .unwrap_or((self.requirement, ""));
        let check = format!(
            "import {}; from importlib.metadata import version; \
             assert version('{name}') == '{version}'",
            self.imports
        );
        self.python().is_file() && succeeds(Command::new(self.python()).args(["-c", &check]))
    }

    /// Debian packages needed to build the venv (none when it exists or python3 can make one).
    pub(super) fn missing_packages(&self) -> Vec<&'static str> {
        if self.usable() {
            Vec::new()
        } else if which("python3").is_none() {
            vec!["python3", "python3-venv"]
        } else if !succeeds(Command::new("python3").args(["-c", "import venv, ensurepip"])) {
            vec!["python3-venv"]
        } else {
            Vec::new()
        }
    }

    /// Makes the venv with the pinned package from PyPI, or reuses it when it has it.
    pub(super) fn ensure(&self, label: &str) -> Result {
        let (dir, requirement) = (self.dir.display(), self.requirement);
        if self.usable() {
            println!("{label}: reusing the venv {dir} ({requirement})");
            return Ok(());
        }
        let started = Instant::now();
        if self.dir.exists() {
            fs::remove_dir_all(&self.dir).map_err(|e| format!("remove {dir}: {e}"))?;
        }
        util::run(Command::new("python3").args(["-m", "venv"]).arg(&self.dir))?;
        let pip = || {
            let mut cmd = Command::new(self.python());
            cmd.args(["-m", "pip", "install", "-q", "--disable-pip-version-check"]);
            cmd
        };
        // The machine's stock pip fails to resolve oteltest's dependencies: upgrade it first.
        util::run(pip().args(["-U", "pip"]))?;
        util::run(pip().arg(requirement))?;
        if !self.usable() {
            return Err(format!("{requirement} is still not importable in {dir}"));
        }
        let secs = started.elapsed().as_secs_f64();
        println!("{label}: created the venv {dir} with {requirement} in {secs:.1} s");
        Ok(())
    }
}
