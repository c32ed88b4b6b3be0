//! Real components for the test suites, never mocks: Debian's Redis, PostgreSQL and MariaDB
//! servers on loopback (`servers.rs`), the Python OTLP receiver (`otlp.rs`), the Python
//! venv the official W3C Trace Context suite runs in (`w3c_suite.rs`), and, for a
//! benchmark, the rotel collector from PyPI (`rotel.rs`); the venvs are cached
//! (`venv.rs`); and Debian's chromium, which draws the tour's HTML page
//! (`crate::browser`).
//!
//! Each run keeps its data under `$TMPDIR/trace-rs-services/run-<pid>` (override with
//! `TRACE_RS_SERVICES_DIR`; /tmp because the database servers run as their own users and
//! cannot enter /root). Servers are stopped when [`Services`] drops, and servers left by a run
//! that died are stopped, through their pid files, at the start of the next one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

mod otlp;
mod rotel;
mod servers;
mod system;
mod venv;
mod w3c_suite;

use crate::util::{Result, succeeds, wait_until, which};
pub(crate) use rotel::{ROTEL_AGENT_ENV, rotel_agent};
use servers::pg_bin;
use system::{apt_install, kill_pid_file, privileged, stop_leftovers};
pub(crate) use w3c_suite::PYTHON_ENV as W3C_SUITE_PYTHON_ENV;

/// The variable that names the browser the page check uses.
pub(crate) const CHROMIUM_ENV: &str = "TRACE_RS_CHROMIUM";
/// Debian's chromium first; the others are what other hosts (a GitHub runner) already
/// have, and serve as well.
const BROWSERS: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// A component named in `[package.metadata.trace-rs] test-services`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Service {
    OtlpSink,
    Redis,
    Postgres,
    Mariadb,
    W3cSuite,
    Chromium,
}

impl Service {
    const ALL: [Service; 6] = [
        Service::OtlpSink,
        Service::Redis,
        Service::Postgres,
        Service::Mariadb,
        Service::W3cSuite,
        Service::Chromium,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::OtlpSink => "otlp-sink",
            Service::Redis => "redis",
            Service::Postgres => "postgres",
            Service::Mariadb => "mariadb",
            Service::W3cSuite => "w3c-suite",
            Service::Chromium => "chromium",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Debian packages to install before this service can start (empty: all present).
    fn missing_packages(self, target_dir: &Path) -> Vec<&'static str> {
        let missing = |bins: &[&str]| bins.iter().any(|b| which(b).is_none());
        match self {
            Service::OtlpSink => otlp::venv(target_dir).missing_packages(),
            Service::W3cSuite => w3c_suite::venv(target_dir).missing_packages(),
            Service::Redis if missing(&["redis-server", "redis-cli"]) => vec!["redis-server"],
            Service::Chromium if browser().is_none() => vec!["chromium"],
            Service::Postgres if pg_bin().is_none() => vec!["postgresql"],
            Service::Mariadb
                if missing(&["mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin"]) =>
            {
                vec!["mariadb-server", "mariadb-client"]
            }
            _ => Vec::new(),
        }
    }
}

/// A started server, to stop on drop.
enum Running {
    Redis {
        port: u16,
        dir: PathBuf,
    },
    Postgres {
        pg_ctl: PathBuf,
        dir: PathBuf,
        port: u16,
    },
    Mariadb {
        child: Child,
        dir: PathBuf,
        port: u16,
    },
}

/// The provisioned components: env vars for the test processes; stops the servers on drop.
pub(crate) struct Services {
    run_dir: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    running: Vec<Running>,
}

/// Provisions `wanted`. A component that cannot be provisioned is an error when `strict`,
/// otherwise a warning (its tests then skip).
pub(crate) fn provision(
    wanted: &BTreeSet<Service>,
    strict: bool,
    target_dir: &Path,
) -> Result<Services> {
    let base = std::env::var_os("TRACE_RS_SERVICES_DIR").map_or_else(
        || std::env::temp_dir().join("trace-rs-services"),
        PathBuf::from,
    );
    stop_leftovers(&base);
    let run_dir = base.join(format!("run-{}", std::process::id()));
    fs::create_dir_all(&run_dir).map_err(|e| format!("create {}: {e}", run_dir.display()))?;
    let mut services = Services {
        run_dir,
        env: Vec::new(),
        running: Vec::new(),
    };
    let mut failed: BTreeMap<Service, String> = BTreeMap::new();
    let needs: Vec<(Service, Vec<&str>)> = wanted
        .iter()
        .map(|s| (*s, s.missing_packages(target_dir)))
        .filter(|(_, packages)| !packages.is_empty())
        .collect();
    if !needs.is_empty() {
        let mut packages: Vec<&str> = needs.iter().flat_map(|(_, p)| p.iter().copied()).collect();
        packages.sort_unstable();
        packages.dedup();
        if let Err(e) = apt_install(&packages, &services.run_dir.join("apt.log")) {
            failed.extend(needs.iter().map(|(s, _)| (*s, e.clone())));
        }
    }
    for service in wanted {
        let result = match failed.remove(service) {
            Some(e) => Err(e),
            None => match service {
                Service::OtlpSink => otlp::provision(&otlp::venv(target_dir), &services.run_dir),
                Service::W3cSuite => w3c_suite::provision(&w3c_suite::venv(target_dir)),
                Service::Chromium => chromium(),
                Service::Redis => services.start_redis(),
                Service::Postgres => services.start_postgres(),
                Service::Mariadb => services.start_mariadb(),
            },
        };
        match result {
            Ok(env) => services.env.extend(env),
            Err(e) if strict => {
                return Err(format!(
                    "{} could not be provisioned: {e}\n(CI=true or --strict make this an error; \
                     without them the tests that need it skip)",
                    service.name()
                ));
            }
            Err(e) => {
                eprintln!("warning: {} could not be provisioned: {e}", service.name());
                eprintln!("warning: tests that need {} will skip", service.name());
            }
        }
    }
    Ok(services)
}

/// The first of [`BROWSERS`] on PATH.
fn browser() -> Option<PathBuf> {
    BROWSERS.iter().find_map(|name| which(name))
}

/// The installed browser, as the variable the browser check reads.
fn chromium() -> Result<Vec<(String, String)>> {
    let path = browser().ok_or("`chromium` is not on PATH after installing it")?;
    Ok(vec![(CHROMIUM_ENV.into(), path.display().to_string())])
}

impl Services {
    /// This run's directory, for logs; removed when the services stop.
    pub(crate) fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The value of a variable the provisioned components set.
    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|(k, v)| (k == name).then_some(v.as_str()))
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for running in self.running.drain(..).rev() {
            let (name, port, stopped) = match running {
                Running::Redis { port, dir } => {
                    let ok = succeeds(Command::new("redis-cli").args([
                        "-p",
                        &port.to_string(),
                        "shutdown",
                        "nosave",
                    ])) && wait_until(Duration::from_secs(10), || {
                        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err()
                    });
                    (
                        "redis",
                        port,
                        ok || kill_pid_file(&dir.join("redis.pid"), "redis-server"),
                    )
                }
                Running::Postgres { pg_ctl, dir, port } => {
                    let mut cmd = privileged("runuser", &[]);
                    cmd.args(["-u", "postgres", "--"])
                        .arg(pg_ctl)
                        .arg("-D")
                        .arg(dir.join("data"));
                    let ok = succeeds(cmd.args(["-m", "fast", "-w", "stop"]).current_dir("/"));
                    (
                        "postgres",
                        port,
                        ok || kill_pid_file(&dir.join("data/postmaster.pid"), "postgres"),
                    )
                }
                Running::Mariadb {
                    mut child,
                    dir,
                    port,
                } => {
                    let socket = format!("--socket={}", dir.join("run/s.sock").display());
                    let _ = succeeds(privileged("mariadb-admin", &[]).args([&socket, "shutdown"]));
                    let ok = wait_until(Duration::from_secs(30), || {
                        child.try_wait().is_ok_and(|s| s.is_some())
                    });
                    if !ok {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    (
                        "mariadb",
                        port,
                        ok || kill_pid_file(&dir.join("run/pid"), "mariadbd"),
                    )
                }
            };
            if stopped {
                println!("{name}: stopped the server on 127.0.0.1:{port}");
            } else {
                eprintln!("warning: {name}: could not stop the server on 127.0.0.1:{port}");
            }
        }
        let _ = fs::remove_dir_all(&self.run_dir);
    }
}
