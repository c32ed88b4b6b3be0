//! Shared setup: one real database per backend, an isolated schema (PostgreSQL) or
//! database (MariaDB) per test so test processes can run in parallel.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;

use opentelemetry::Value;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, Schema};
use trace_core::testing::{CapturedSpan, SpanCapture};
use trace_db::{TraceOptions, TracedConnection};

pub mod account {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(unique)]
        pub email: String,
        pub balance: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mariadb,
}

impl Backend {
    pub fn system_name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgresql",
            Self::Mariadb => "mariadb",
        }
    }

    /// The code a unique-constraint violation reports.
    pub fn unique_violation_code(self) -> &'static str {
        match self {
            Self::Sqlite => "2067",
            Self::Postgres => "23505",
            Self::Mariadb => "23000",
        }
    }

    pub fn db_backend(self) -> DbBackend {
        match self {
            Self::Sqlite => DbBackend::Sqlite,
            Self::Postgres => DbBackend::Postgres,
            Self::Mariadb => DbBackend::MySql,
        }
    }
}

pub struct Ctx {
    pub db: TracedConnection,
    pub capture: SpanCapture,
    pub backend: Backend,
    /// The schema (PostgreSQL) or database (MariaDB) of this test.
    pub namespace: String,
}

/// The URL of a provisioned server: missing fails under `CI=true`, skips otherwise.
fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{var} is not set under CI=true; run `cargo xtask test -p trace-db`")
        }
        _ => {
            eprintln!("skipping: {var} is not set (run `cargo xtask test -p trace-db`)");
            None
        }
    }
}

/// Connects a traced connection to an isolated namespace for `test`, creates the
/// `accounts` table, clears the captured setup spans and runs `scenario`.
pub async fn run<F, Fut>(backend: Backend, test: &str, options: TraceOptions, scenario: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    // Short enough for identifier limits (63 bytes), unique per test and process.
    let namespace = format!("{}_{}", &test[..test.len().min(20)], std::process::id());
    let capture = SpanCapture::install();
    let connect = match backend {
        Backend::Sqlite => {
            let mut opts = ConnectOptions::new("sqlite::memory:");
            opts.max_connections(1);
            opts
        }
        Backend::Postgres => {
            let Some(url) = server_url("TRACE_RS_POSTGRES_URL") else {
                return;
            };
            let admin = Database::connect(&url).await.expect("postgres reachable");
            admin
                .execute_unprepared(&format!(
                    "DROP SCHEMA IF EXISTS {namespace} CASCADE; CREATE SCHEMA {namespace}"
                ))
                .await
                .expect("schema created");
            let mut opts = ConnectOptions::new(url);
            opts.set_schema_search_path(namespace.clone());
            opts
        }
        Backend::Mariadb => {
            let Some(url) = server_url("TRACE_RS_MYSQL_URL") else {
                return;
            };
            let admin = Database::connect(&url).await.expect("mariadb reachable");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {namespace}"))
                .await
                .expect("database dropped");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {namespace}"))
                .await
                .expect("database created");
            let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
            ConnectOptions::new(format!("{base}/{namespace}"))
        }
    };
    // sqlx's statement logging stays on (sea-orm's default): one test checks where
    // its lines are written.
    let db = TracedConnection::connect(connect, options)
        .await
        .expect("traced connect");
    let create = Schema::new(backend.db_backend()).create_table_from_entity(account::Entity);
    db.execute(&create).await.expect("table created");
    capture.clear();
    scenario(Ctx {
        db,
        capture,
        backend,
        namespace,
    })
    .await;
}

/// Every string a span carries: name, attribute values, status message, events.
pub fn all_text(span: &CapturedSpan) -> String {
    let mut text = format!("{} {:?}", span.name(), span.status);
    for kv in &span.attributes {
        let value = match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        };
        text.push_str(&format!(" {}={}", kv.key, value));
    }
    for event in span.events.iter() {
        text.push_str(&format!(" {event:?}"));
    }
    text
}

/// `trace_rs.db.response.affected_rows`, or `db.response.returned_rows` where the backend
/// ran the write with `RETURNING`.
pub fn rows_attr(span: &CapturedSpan) -> i64 {
    if span.has_attribute("trace_rs.db.response.affected_rows") {
        int_attr(span, "trace_rs.db.response.affected_rows")
    } else {
        int_attr(span, "db.response.returned_rows")
    }
}

pub fn int_attr(span: &CapturedSpan, key: &str) -> i64 {
    match span.attribute(key) {
        Some(Value::I64(v)) => *v,
        other => panic!("{key} on {:?} is {other:?}", span.name()),
    }
}
