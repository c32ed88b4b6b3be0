//! The tour's SQLite database, in memory, through trace-db's traced sea-orm connection:
//! every statement below is a CLIENT span named after its summary (`SELECT users`).

use sea_orm::{ConnectOptions, ConnectionTrait as _, DbErr, Statement, Value};
use trace_db::{TraceOptions, TracedConnection};

const SCHEMA: &str = "
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE notes (module TEXT NOT NULL, body TEXT NOT NULL);
    CREATE TABLE platforms (name TEXT PRIMARY KEY, channel TEXT NOT NULL);
    CREATE TABLE webhooks (id TEXT PRIMARY KEY, pipeline TEXT NOT NULL);
    CREATE TABLE pipeline_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        pipeline TEXT NOT NULL,
        status TEXT NOT NULL
    );
    CREATE TABLE digests (run_id INTEGER NOT NULL, body TEXT NOT NULL);
";

const SEED: &str = "
    INSERT INTO users VALUES (1, 'ada');
    INSERT INTO notes VALUES ('weather', 'bring an umbrella');
    INSERT INTO platforms VALUES ('chat', '#general');
    INSERT INTO webhooks VALUES ('gh-42', 'digest');
";

/// The database handle the routes, consumers and pipelines share.
#[derive(Clone)]
pub(crate) struct Db {
    connection: TracedConnection,
}

impl Db {
    /// Opens SQLite in memory, creates the tables and seeds a few rows.
    pub(crate) async fn open() -> Result<Self, DbErr> {
        // One connection: every in-memory SQLite connection is a database of its own.
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let connection = TracedConnection::connect(options, TraceOptions::new()).await?;
        connection.execute_unprepared(SCHEMA).await?;
        connection.execute_unprepared(SEED).await?;
        Ok(Self { connection })
    }

    fn statement(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(sea_orm::DbBackend::Sqlite, sql, values)
    }

    async fn text(&self, sql: &str, value: impl Into<Value>) -> Result<Option<String>, DbErr> {
        let row = self
            .connection
            .query_one_raw(Self::statement(sql, [value.into()]))
            .await?;
        row.map(|row| row.try_get_by_index::<String>(0)).transpose()
    }

    /// `SELECT users`: the user sending a command.
    pub(crate) async fn user_name(&self, id: i64) -> Result<Option<String>, DbErr> {
        self.text("SELECT name FROM users WHERE id = ?", id).await
    }

    /// `SELECT notes`: the data a capability reads for a module.
    pub(crate) async fn module_note(&self, module: &str) -> Result<Option<String>, DbErr> {
        self.text("SELECT body FROM notes WHERE module = ?", module)
            .await
    }

    /// `SELECT platforms`: where a consumer delivers a message.
    pub(crate) async fn platform_channel(&self, name: &str) -> Result<Option<String>, DbErr> {
        self.text("SELECT channel FROM platforms WHERE name = ?", name)
            .await
    }

    /// `SELECT webhooks`: the pipeline a webhook triggers.
    pub(crate) async fn webhook_pipeline(&self, id: &str) -> Result<Option<String>, DbErr> {
        self.text("SELECT pipeline FROM webhooks WHERE id = ?", id)
            .await
    }

    /// `SELECT pipeline_runs`: the consumption check, true when the event already ran.
    pub(crate) async fn event_consumed(&self, event_id: &str) -> Result<bool, DbErr> {
        let found = self
            .text(
                "SELECT status FROM pipeline_runs WHERE event_id = ?",
                event_id,
            )
            .await?;
        Ok(found.is_some())
    }

    /// `INSERT pipeline_runs`: the run record, returning its id.
    pub(crate) async fn create_run(&self, event_id: &str, pipeline: &str) -> Result<i64, DbErr> {
        let sql = "INSERT INTO pipeline_runs (event_id, pipeline, status) VALUES (?, ?, 'running')";
        let result = self
            .connection
            .execute_raw(Self::statement(sql, [event_id.into(), pipeline.into()]))
            .await?;
        i64::try_from(result.last_insert_id())
            .map_err(|_| DbErr::Custom("run id out of range".into()))
    }

    /// `INSERT digests`: what the pipeline's last step produced.
    pub(crate) async fn save_digest(&self, run_id: i64, body: &str) -> Result<(), DbErr> {
        let sql = "INSERT INTO digests (run_id, body) VALUES (?, ?)";
        self.connection
            .execute_raw(Self::statement(sql, [run_id.into(), body.into()]))
            .await
            .map(|_| ())
    }

    /// `UPDATE pipeline_runs`: the run's final status.
    pub(crate) async fn finish_run(&self, run_id: i64, status: &str) -> Result<(), DbErr> {
        let sql = "UPDATE pipeline_runs SET status = ? WHERE id = ?";
        self.connection
            .execute_raw(Self::statement(sql, [status.into(), run_id.into()]))
            .await
            .map(|_| ())
    }
}
