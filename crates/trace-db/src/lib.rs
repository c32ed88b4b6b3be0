//! trace-db: OpenTelemetry CLIENT spans for sea-orm 2.0 statements, transactions
//! and streams, on PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! Wrap the `DatabaseConnection` in a [`TracedConnection`] and pass `&TracedConnection`
//! where entity code took `&DatabaseConnection`: it implements sea-orm's
//! `ConnectionTrait`, `TransactionTrait` and `StreamTrait`, so
//! `Entity::find().all(&db)`, `ActiveModel::insert(&db)`, `db.transaction(|txn| ...)`,
//! `Entity::find().stream(&db)` and raw statements work unchanged. Every statement
//! becomes a CLIENT span under `Context::current()`.
//!
//! ## Quick start
//!
//! ```
//! use sea_orm::{ConnectOptions, ConnectionTrait, TransactionTrait};
//! use trace_db::{TraceOptions, TracedConnection};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sea_orm::DbErr> {
//! // `trace_core::init(&config)` once at startup; without it nothing is recorded.
//! let mut options = ConnectOptions::new("sqlite::memory:");
//! options.max_connections(1);
//! let db = TracedConnection::connect(options, TraceOptions::new()).await?;
//!
//! db.execute_unprepared("CREATE TABLE cake (id INTEGER PRIMARY KEY, name TEXT)").await?;
//! // Span `INSERT cake`, db.query.text `INSERT INTO cake (name) VALUES (?)`.
//! db.execute_unprepared("INSERT INTO cake (name) VALUES ('Cheesecake')").await?;
//! // Span `transaction` (trace_rs.db.transaction.outcome = commit) with its statements nested.
//! db.transaction::<_, (), sea_orm::DbErr>(|txn| {
//!     Box::pin(async move {
//!         txn.execute_unprepared("DELETE FROM cake").await?;
//!         Ok(())
//!     })
//! })
//! .await
//! .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
//! # Ok(())
//! # }
//! ```
//!
//! Run the full example with `cargo run -p trace-db --example sqlite` (console span
//! tree, no collector needed). An existing connection is wrapped with
//! [`TracedConnection::wrap`] and a [`DbInfo`] (from [`DbInfo::from_url`] and
//! [`DbSystem::detect`]).
//!
//! ## Spans and attributes
//!
//! | Span | Kind | Name | Attributes |
//! |---|---|---|---|
//! | statement (`execute`, `query_one`, `query_all`, `execute_unprepared`, stream) | CLIENT | `db.query.summary`, e.g. `SELECT cake`, `INSERT orders SELECT carts`; `db.system.name` when no operation is found | `db.system.name` (`postgresql`, `mysql`, `mariadb`, `sqlite`), `db.namespace` (database name), `server.address`, `server.port`, `db.query.text`, `db.query.summary`, `db.operation.name` (when the statement has one operation), `db.collection.name` (when it names one table), `db.response.returned_rows` (queries, streams, `RETURNING`), `trace_rs.db.response.affected_rows` (writes; [`DB_RESPONSE_AFFECTED_ROWS`]), `db.query.parameter.<n>` (opt-in), on failure `error.type` and `db.response.status_code` |
//! | transaction (`begin` to `commit`/`rollback`/drop) | INTERNAL | [`TRANSACTION_SPAN_NAME`] (`transaction`) | `db.system.name`, `db.namespace`, `server.*`, [`DB_TRANSACTION_OUTCOME`] (`commit`/`rollback`), on a failed begin/commit/rollback `error.type` |
//!
//! - `db.query.text`: a statement with bound values is recorded as built (with its
//!   placeholders, never the values). Text without bound values (`execute_unprepared`,
//!   `Statement::from_string`) may hold literals, so every string, number, hex, bit and
//!   dollar-quoted literal becomes `?` and comments are removed ([`sql::sanitize`]);
//!   `TRUE`/`FALSE`/`NULL` stay. At most [`TraceOptions::max_statement_length`] bytes.
//! - Errors: `db.response.status_code` and `error.type` are the SQLSTATE (PostgreSQL,
//!   MySQL, MariaDB) or SQLite's extended result code (`2067` for a unique
//!   violation); without a code, `error.type` names the failure (`io`,
//!   `pool_timed_out`, `connection_acquire`, ...), or is the error's type name for a
//!   kind trace-db does not name (trace-core's [`ErrorType`](trace_core::ErrorType)
//!   rule). The status message is the error's text with single-quoted values replaced
//!   by `?` (MySQL quotes the offending value), at most
//!   [`MAX_STATUS_MESSAGE_LEN`](trace_core::MAX_STATUS_MESSAGE_LEN) bytes.
//!   The caller gets sea-orm's error unchanged. A missing row (`Ok(None)`, an empty
//!   `Vec`) is not an error.
//! - Spans go through the SDK tracer of the provider in use (`trace_core::init`'s, one
//!   handed over with `trace_core::set_provider`, or `opentelemetry::global`'s). A
//!   statement span's sampler sees its name and every attribute it starts with (all of
//!   the above but row counts and errors; the SQL-derived ones come from a
//!   per-connection cache); a transaction span's sees its name and the connection's
//!   attributes.
//! - Statements of a transaction nest under its span, recording or not; a span you
//!   start inside the transaction (the `transaction(|txn| ...)` callback runs in its
//!   context) becomes their parent instead.
//! - A stream's span ends when the stream ends or is dropped, with the rows read so far.
//! - While a statement runs, its span is the current context, recording or not (as a
//!   parent: it records only what trace-db sets). sqlx's statement log lines on
//!   PostgreSQL and MySQL, with trace-log, and `tracing` spans inside the call carry its
//!   ids. On SQLite sqlx runs and logs each statement on its own worker thread, so those
//!   lines carry none.
//!
//! ## Options
//!
//! [`TraceOptions`]: statement capture on/off, maximum statement length (2048 bytes),
//! bound-parameter capture (off; values can be personal data), extra attributes on
//! every span.
//!
//! ## sea-orm's `tracing-spans` feature
//!
//! sea-orm 2.0 can emit its own `tracing` spans (`sea_orm.query_all`, ...; feature
//! `tracing-spans`, off by default) with the older `db.system`/`db.operation`/
//! `db.statement` fields and the statement as written (literals included when
//! `record_stmt_in_spans` is on). trace-db creates OpenTelemetry spans directly: current
//! semantic conventions, sanitized raw SQL, summaries, transaction and stream spans,
//! and attributes the provider's sampler can see. Use one of the two: with both (and the
//! `tracing-opentelemetry` bridge) each statement appears twice, sea-orm's nested under
//! ours. trace-db does not enable `tracing-spans`; and because a `TracedConnection`
//! calls sea-orm's sqlx pools directly (saving the allocation of a second boxed
//! future per statement), sea-orm's own spans appear only for statements inside
//! transactions, never twice for one statement outside them.
//!
//! ## With `#[instrument]` spans (trace-core's `tracing` bridge)
//!
//! sea-orm's drivers open a `trace`-level `tracing` span for every statement
//! (`query_all`, `execute`, ... with the pool's `Debug` dump as a `self=...Pool...`
//! field), and sqlx logs every statement as a `tracing` event. Through a
//! tracing-opentelemetry layer these would land in the trace next to trace-db's
//! statement span. trace-core's bridge (feature `tracing`) leaves the targets `sea_orm`
//! and `sqlx` out by default, so the usual setup needs nothing more:
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! // #[instrument] spans in, sea-orm's and sqlx's out; other layers still see them.
//! let subscriber = tracing_subscriber::registry().with(trace_core::tracing_bridge::layer());
//! # drop(subscriber);
//! ```
//!
//! A tracing-opentelemetry layer built by hand needs the same per-layer filter:
//! `.with_filter(trace_core::tracing_bridge::BridgeFilter::default())`;
//! `BridgeFilter::default().include("sqlx")` bridges sqlx's events again.
//!
//! ## Cost
//!
//! A disabled statement parses no SQL and builds no attribute. Otherwise the sampler
//! sees the statement's attributes, so they are built for unsampled statements too:
//! parameterized SQL is described once per connection (at most 128 statements of up to
//! 4 KiB) and each span shares those values; SQL without bound values is sanitized on
//! every call. `cargo bench -p trace-db --bench query_overhead` prints the per-query
//! overhead against the untraced connection.
//!
//! ## Feature flags
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `postgres` | yes | sea-orm's `sqlx-postgres` |
//! | `mysql` | yes | sea-orm's `sqlx-mysql` (MySQL and MariaDB) |
//! | `sqlite` | yes | sea-orm's `sqlx-sqlite` |
//! | `runtime-tokio` | yes | sea-orm's `runtime-tokio` (what [`TracedConnection::connect`] needs) |
//! | `runtime-tokio-rustls` | no | sea-orm's `runtime-tokio-rustls`, for TLS connections |
//!
//! sea-orm's own default features stay off; enable what your entities need (`macros`,
//! `with-chrono`, ...) in your own sea-orm dependency.
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.94 (the declared `rust-version`, set by
//! sea-orm 2.0). CI builds with the current stable toolchain; `cargo xtask msrv` builds
//! with 1.94. Target library: sea-orm 2.0.0 to 2.0.4.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connection;
mod dispatch;
mod error;
mod options;
mod span;
pub mod sql;
mod statement_cache;
mod stream;
mod system;
mod transaction;

pub use connection::TracedConnection;
pub use options::TraceOptions;
pub use span::{DB_RESPONSE_AFFECTED_ROWS, DB_TRANSACTION_OUTCOME, TRANSACTION_SPAN_NAME};
pub use stream::TracedStream;
pub use system::{DbInfo, DbSystem};
pub use transaction::TracedTransaction;
