//! Which database a connection talks to, and where.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// The `db.system.name` of a connection; it also picks the SQL dialect used to
/// sanitize and summarize statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DbSystem {
    /// PostgreSQL (`postgresql`).
    Postgresql,
    /// MySQL (`mysql`).
    Mysql,
    /// MariaDB (`mariadb`); sea-orm talks to it as MySQL.
    Mariadb,
    /// SQLite (`sqlite`).
    Sqlite,
    /// Any other SQL database (`other_sql`): generic quoting rules.
    OtherSql,
}

impl DbSystem {
    /// The `db.system.name` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Postgresql => "postgresql",
            Self::Mysql => "mysql",
            Self::Mariadb => "mariadb",
            Self::Sqlite => "sqlite",
            Self::OtherSql => "other_sql",
        }
    }

    /// The system sea-orm's backend stands for (MySQL for MariaDB too; see
    /// [`DbSystem::detect`]).
    pub const fn from_backend(backend: DbBackend) -> Self {
        match backend {
            DbBackend::Postgres => Self::Postgresql,
            DbBackend::MySql => Self::Mysql,
            DbBackend::Sqlite => Self::Sqlite,
            _ => Self::OtherSql,
        }
    }

    /// Asks a MySQL-protocol server once (`SELECT VERSION()`) whether it is MariaDB;
    /// other backends answer from the connection alone. A failed probe keeps
    /// `mysql`.
    pub async fn detect(db: &DatabaseConnection) -> Self {
        let backend = db.get_database_backend();
        if backend != DbBackend::MySql {
            return Self::from_backend(backend);
        }
        let probe = Statement::from_string(backend, "SELECT VERSION()");
        let version = db
            .query_one_raw(probe)
            .await
            .ok()
            .flatten()
            .and_then(|row| row.try_get_by_index::<String>(0).ok());
        match version {
            Some(v) if v.to_ascii_lowercase().contains("mariadb") => Self::Mariadb,
            _ => Self::Mysql,
        }
    }
}

/// What every span of a connection says about the database: system, namespace
/// (database name) and server address. Never holds credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbInfo {
    pub(crate) system: DbSystem,
    pub(crate) namespace: Option<String>,
    pub(crate) server_address: Option<String>,
    pub(crate) server_port: Option<u16>,
}

impl DbInfo {
    /// Only the system; add the rest with the `with_*` methods.
    pub fn new(system: DbSystem) -> Self {
        Self {
            system,
            namespace: None,
            server_address: None,
            server_port: None,
        }
    }

    /// Reads system, host, port and database name from a connection URL
    /// (`postgres://user:pw@host:5432/db`, `mysql://...`, `sqlite:...`). User and
    /// password are skipped. An unknown scheme gives `other_sql`.
    pub fn from_url(url: &str) -> Self {
        let (scheme, rest) = url.split_once(':').unwrap_or(("", url));
        let (system, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => (DbSystem::Postgresql, 5432),
            "mysql" => (DbSystem::Mysql, 3306),
            "mariadb" => (DbSystem::Mariadb, 3306),
            "sqlite" => return Self::new(DbSystem::Sqlite),
            _ => (DbSystem::OtherSql, 0),
        };
        let mut info = Self::new(system);
        let Some(rest) = rest.strip_prefix("//") else {
            return info;
        };
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = split_host_port(host_port);
        if !host.is_empty() {
            info.server_address = Some(host.to_owned());
            info.server_port = port.or((default_port != 0).then_some(default_port));
        }
        if !path.is_empty() {
            info.namespace = Some(path.to_owned());
        }
        info
    }

    /// Sets the system (e.g. after [`DbSystem::detect`]).
    pub fn with_system(mut self, system: DbSystem) -> Self {
        self.system = system;
        self
    }

    /// Sets `db.namespace` (the database name).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets `server.address` and, when known, `server.port`.
    pub fn with_server(mut self, address: impl Into<String>, port: Option<u16>) -> Self {
        self.server_address = Some(address.into());
        self.server_port = port;
        self
    }

    /// The system.
    pub fn system(&self) -> DbSystem {
        self.system
    }

    /// The database name, if known.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The server host and port, if known.
    pub fn server(&self) -> Option<(&str, Option<u16>)> {
        self.server_address
            .as_deref()
            .map(|a| (a, self.server_port))
    }
}

fn split_host_port(host_port: &str) -> (&str, Option<u16>) {
    if let Some(v6) = host_port.strip_prefix('[') {
        let (host, rest) = v6.split_once(']').unwrap_or((v6, ""));
        return (host, rest.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().ok()),
        None => (host_port, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_server_and_namespace_but_never_credentials() {
        let info =
            DbInfo::from_url("postgres://user:s3cret@db.internal:6432/orders?sslmode=require");
        assert_eq!(info.system(), DbSystem::Postgresql);
        assert_eq!(info.server(), Some(("db.internal", Some(6432))));
        assert_eq!(info.namespace(), Some("orders"));
        assert!(!format!("{info:?}").contains("s3cret"));

        let info = DbInfo::from_url("mysql://u@[::1]/app");
        assert_eq!(info.server(), Some(("::1", Some(3306))));
        assert_eq!(
            DbInfo::from_url("sqlite::memory:"),
            DbInfo::new(DbSystem::Sqlite)
        );
        assert_eq!(DbInfo::from_url("nonsense").system(), DbSystem::OtherSql);
    }
}
