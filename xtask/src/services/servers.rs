//! Starting Debian's Redis, PostgreSQL and MariaDB servers on free loopback ports, each with
//! its data in the run's directory.

use std::fs;
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::system::{free_port, logged, privileged, tail};
use super::{Running, Services};
use crate::util::{Result, succeeds, wait_until, which};

type Env = Vec<(String, String)>;

impl Services {
    fn dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.run_dir.join(name);
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(dir)
    }

    pub(super) fn start_redis(&mut self) -> Result<Env> {
        let server = which("redis-server").ok_or("redis-server is not installed")?;
        let (dir, port, started) = (self.dir("redis")?, free_port()?, Instant::now());
        let mut cmd = Command::new(&server);
        cmd.args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--daemonize",
            "yes",
        ])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(&dir)
        .arg("--pidfile")
        .arg(dir.join("redis.pid"))
        .arg("--logfile")
        .arg(dir.join("log"));
        logged(&mut cmd, &dir.join("log"))?;
        self.running.push(Running::Redis {
            port,
            dir: dir.clone(),
        });
        listening(
            port,
            Duration::from_secs(10),
            &dir.join("log"),
            "redis-server",
        )?;
        println!(
            "redis: started {} on 127.0.0.1:{port} in {:.2?}",
            server.display(),
            started.elapsed()
        );
        Ok(vec![
            (
                "TRACE_RS_REDIS_URL".into(),
                format!("redis://127.0.0.1:{port}/"),
            ),
            ("TRACE_RS_REDIS_SERVER".into(), server.display().to_string()),
        ])
    }

    pub(super) fn start_postgres(&mut self) -> Result<Env> {
        let bin = pg_bin().ok_or("no PostgreSQL server under /usr/lib/postgresql")?;
        let (dir, port, started) = (self.dir("postgres")?, free_port()?, Instant::now());
        // Our commands' output goes to setup.log; the server (user postgres) writes server.log.
        let (log, server_log) = (dir.join("setup.log"), dir.join("server.log"));
        let pw = dir.join("pw");
        fs::write(&pw, "postgres\n").map_err(|e| format!("write {}: {e}", pw.display()))?;
        logged(
            privileged("chown", &[]).arg("postgres").arg(&dir).arg(&pw),
            &log,
        )?;
        let as_postgres = |program: PathBuf| {
            let mut cmd = privileged("runuser", &[]);
            cmd.args(["-u", "postgres", "--"])
                .arg(program)
                .current_dir("/");
            cmd
        };
        logged(
            as_postgres(bin.join("initdb"))
                .arg("-D")
                .arg(dir.join("data"))
                .args([
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ])
                .arg(format!("--pwfile={}", pw.display())),
            &log,
        )?;
        let pg_ctl = bin.join("pg_ctl");
        self.running.push(Running::Postgres {
            pg_ctl: pg_ctl.clone(),
            dir: dir.clone(),
            port,
        });
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            dir.display()
        );
        logged(
            as_postgres(pg_ctl)
                .arg("-D")
                .arg(dir.join("data"))
                .arg("-l")
                .arg(&server_log)
                .args(["-w", "-o", &options, "start"]),
            &log,
        )
        .map_err(|e| format!("{e}\nserver log:\n{}", tail(&server_log)))?;
        logged(
            Command::new(bin.join("psql"))
                .env("PGPASSWORD", "postgres")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                .args(["-c", "create database test"]),
            &log,
        )?;
        println!(
            "postgres: started {} on 127.0.0.1:{port} in {:.2?}",
            bin.display(),
            started.elapsed()
        );
        Ok(vec![(
            "TRACE_RS_POSTGRES_URL".into(),
            format!("postgres://postgres:postgres@127.0.0.1:{port}/test"),
        )])
    }

    pub(super) fn start_mariadb(&mut self) -> Result<Env> {
        let server = which("mariadbd").ok_or("mariadbd is not installed")?;
        let (dir, port, started) = (self.dir("mariadb")?, free_port()?, Instant::now());
        let (log, socket) = (dir.join("setup.log"), dir.join("run/s.sock"));
        fs::create_dir_all(dir.join("data"))
            .and_then(|()| fs::create_dir_all(dir.join("run")))
            .map_err(|e| e.to_string())?;
        logged(
            privileged("chown", &[])
                .args(["-R", "mysql:mysql"])
                .arg(&dir),
            &log,
        )?;
        logged(
            privileged("mariadb-install-db", &[])
                .arg("--user=mysql")
                .arg(format!("--datadir={}", dir.join("data").display()))
                .args(["--auth-root-authentication-method=socket", "--skip-test-db"]),
            &log,
        )?;
        let mut cmd = privileged(&server.display().to_string(), &[]);
        cmd.arg("--user=mysql")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("run/pid").display()))
            .args([
                "--bind-address=127.0.0.1",
                &format!("--port={port}"),
                "--skip-name-resolve",
            ])
            .arg(format!("--log-error={}", dir.join("err").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        println!("$ {} &", crate::util::display(&cmd));
        let child = cmd
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", server.display()))?;
        self.running.push(Running::Mariadb {
            child,
            dir: dir.clone(),
            port,
        });
        let admin = |arg: &str| {
            let mut cmd = privileged("mariadb-admin", &[]);
            cmd.arg(format!("--socket={}", socket.display())).arg(arg);
            cmd
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !succeeds(&mut admin("ping")) {
            let exited = match self.running.last_mut() {
                Some(Running::Mariadb { child, .. }) => child.try_wait().is_ok_and(|s| s.is_some()),
                _ => false,
            };
            if exited || Instant::now() >= deadline {
                let why = if exited {
                    "exited"
                } else {
                    "did not answer within 60 s"
                };
                return Err(format!("mariadbd {why}:\n{}", tail(&dir.join("err"))));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let sql = "CREATE DATABASE test; CREATE USER 'test'@'127.0.0.1' IDENTIFIED BY 'test'; \
                   GRANT ALL ON *.* TO 'test'@'127.0.0.1';";
        logged(
            privileged("mariadb", &[])
                .arg(format!("--socket={}", socket.display()))
                .args(["-uroot", "-e", sql]),
            &log,
        )?;
        println!(
            "mariadb: started {} on 127.0.0.1:{port} in {:.2?}",
            server.display(),
            started.elapsed()
        );
        Ok(vec![(
            "TRACE_RS_MYSQL_URL".into(),
            format!("mysql://test:test@127.0.0.1:{port}/test"),
        )])
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with a server and psql.
pub(super) fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| {
            ["initdb", "pg_ctl", "psql"]
                .iter()
                .all(|b| bin.join(b).is_file())
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn listening(port: u16, timeout: Duration, log: &Path, what: &str) -> Result {
    if wait_until(timeout, || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
    }) {
        return Ok(());
    }
    Err(format!(
        "{what} did not listen on 127.0.0.1:{port} within {timeout:?}:\n{}",
        tail(log)
    ))
}
