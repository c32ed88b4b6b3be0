//! [`TracedConnection`]: a `DatabaseConnection` whose statements are CLIENT spans.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    ExecResult, IsolationLevel, QueryResult, QueryStream, Statement, StreamTrait, TransactionError,
    TransactionOptions, TransactionTrait,
};

use crate::dispatch;
use crate::span::{Shared, Traced, affected_rows, fail, returned_rows};
use crate::stream::TracedStream;
use crate::transaction::{TracedTransaction, run_transaction};
use crate::{DbInfo, DbSystem, TraceOptions};

/// A sea-orm [`DatabaseConnection`] that traces every statement, transaction and
/// stream. It implements [`ConnectionTrait`], [`TransactionTrait`] and
/// [`StreamTrait`], so entity code takes `&TracedConnection` where it took
/// `&DatabaseConnection`. Cloning is cheap (the pool and the settings are shared).
#[derive(Debug, Clone)]
pub struct TracedConnection {
    inner: DatabaseConnection,
    shared: Arc<Shared>,
}

impl TracedConnection {
    /// Connects like [`Database::connect`] and reads `db.system.name`,
    /// `db.namespace` and `server.address`/`server.port` from the URL (never the
    /// credentials). A MySQL-protocol server is asked once whether it is MariaDB.
    ///
    /// # Errors
    /// The error of [`Database::connect`], unchanged.
    pub async fn connect(
        options: impl Into<ConnectOptions>,
        trace: TraceOptions,
    ) -> Result<Self, DbErr> {
        let options = options.into();
        let info = DbInfo::from_url(options.get_url());
        let inner = Database::connect(options).await?;
        let info = info.with_system(DbSystem::detect(&inner).await);
        Ok(Self::wrap(inner, info).with_options(trace))
    }

    /// Wraps an open connection with default [`TraceOptions`]; `info` says what
    /// the spans report about the database (see [`DbInfo::from_url`] and
    /// [`DbSystem::detect`]).
    pub fn wrap(inner: DatabaseConnection, info: DbInfo) -> Self {
        Self {
            inner,
            shared: Shared::new(info, TraceOptions::default()),
        }
    }

    /// Replaces the options.
    pub fn with_options(self, options: TraceOptions) -> Self {
        Self {
            shared: Shared::new(self.shared.info.clone(), options),
            inner: self.inner,
        }
    }

    /// What the spans report about the database.
    pub fn info(&self) -> &DbInfo {
        &self.shared.info
    }

    /// The wrapped connection, for calls that should not be traced.
    pub fn inner(&self) -> &DatabaseConnection {
        &self.inner
    }

    /// Unwraps the connection.
    pub fn into_inner(self) -> DatabaseConnection {
        self.inner
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for TracedConnection {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let span = self.shared.start_prepared(None, &stmt);
        Traced::new(span, dispatch::execute(&self.inner, stmt), |r| {
            affected_rows(r.rows_affected())
        })
        .await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let span = self.shared.start_statement(None, sql, None);
        Traced::new(span, dispatch::execute_unprepared(&self.inner, sql), |r| {
            affected_rows(r.rows_affected())
        })
        .await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let span = self.shared.start_prepared(None, &stmt);
        Traced::new(span, dispatch::query_one(&self.inner, stmt), |row| {
            returned_rows(usize::from(row.is_some()))
        })
        .await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let span = self.shared.start_prepared(None, &stmt);
        Traced::new(span, dispatch::query_all(&self.inner, stmt), |rows| {
            returned_rows(rows.len())
        })
        .await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }
}

impl StreamTrait for TracedConnection {
    type Stream<'a> = TracedStream<QueryStream>;

    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    fn stream_raw<'a>(
        &'a self,
        stmt: Statement,
    ) -> Pin<Box<dyn Future<Output = Result<Self::Stream<'a>, DbErr>> + 'a + Send>> {
        Box::pin(async move {
            let span = self.shared.start_prepared(None, &stmt);
            match self.inner.stream_raw(stmt).await {
                Ok(stream) => Ok(TracedStream::new(stream, span)),
                Err(err) => {
                    fail(span, &err);
                    Err(err)
                }
            }
        })
    }
}

#[async_trait::async_trait]
impl TransactionTrait for TracedConnection {
    type Transaction = TracedTransaction;

    async fn begin(&self) -> Result<TracedTransaction, DbErr> {
        TracedTransaction::begin_with(&self.shared, self.inner.begin()).await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<TracedTransaction, DbErr> {
        let begin = self.inner.begin_with_config(isolation_level, access_mode);
        TracedTransaction::begin_with(&self.shared, begin).await
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<TracedTransaction, DbErr> {
        let begin = self.inner.begin_with_options(options);
        TracedTransaction::begin_with(&self.shared, begin).await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c TracedTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        let txn = self.begin().await.map_err(TransactionError::Connection)?;
        run_transaction(txn, callback).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c TracedTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        let txn = self
            .begin_with_config(isolation_level, access_mode)
            .await
            .map_err(TransactionError::Connection)?;
        run_transaction(txn, callback).await
    }
}
