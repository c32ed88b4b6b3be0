//! [`TracedTransaction`]: a `DatabaseTransaction` under one `transaction` span.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanId, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, IsolationLevel,
    QueryResult, Statement, StreamTrait, TransactionError, TransactionOptions, TransactionSession,
    TransactionStream, TransactionTrait,
};
use trace_core::TracedSpan;

use crate::span::{DB_TRANSACTION_OUTCOME, Shared, Traced, affected_rows, fail, returned_rows};
use crate::stream::TracedStream;

/// A sea-orm [`DatabaseTransaction`] whose statements nest under a `transaction` span
/// that lasts from `begin` to `commit`/`rollback` and records the outcome
/// (`trace_rs.db.transaction.outcome`). Dropping it without committing rolls back
/// (sea-orm's behavior) and records `rollback`. Nested `begin` (a savepoint) gets its own
/// nested `transaction` span.
#[derive(Debug)]
pub struct TracedTransaction {
    inner: DatabaseTransaction,
    span: TransactionSpan,
    shared: Arc<Shared>,
}

impl TracedTransaction {
    /// Starts the span, then `begin`s; a failed `begin` ends the span with the
    /// error.
    pub(crate) async fn begin_with(
        shared: &Arc<Shared>,
        begin: impl Future<Output = Result<DatabaseTransaction, DbErr>>,
    ) -> Result<Self, DbErr> {
        let parent_span_id = Context::current().span().span_context().span_id();
        let span = shared.start_transaction();
        let begun = if span.is_valid() {
            begin.with_context(span.context().clone()).await
        } else {
            begin.await
        };
        match begun {
            Ok(inner) => Ok(Self {
                inner,
                span: TransactionSpan {
                    span: Some(span),
                    parent_span_id,
                },
                shared: Arc::clone(shared),
            }),
            Err(err) => {
                fail(span, &err);
                Err(err)
            }
        }
    }

    /// The wrapped transaction, for calls that should not be traced.
    pub fn inner(&self) -> &DatabaseTransaction {
        &self.inner
    }

    /// The transaction span's context: attach it (`FutureExt::with_context`) to
    /// make your own spans its children. [`TransactionTrait::transaction`] does this
    /// for its callback.
    pub fn context(&self) -> Context {
        match &self.span.span {
            Some(span) if span.is_valid() => span.context().clone(),
            _ => Context::current(),
        }
    }

    /// Where a statement's span goes: under the transaction span, unless the
    /// caller has entered a span of its own inside the transaction (then under
    /// that one).
    fn statement_parent(&self) -> Option<Context> {
        let span = self.span.span.as_ref().filter(|s| s.is_valid())?;
        let current = Context::current();
        let inside = {
            let current_span = current.span();
            let current_id = current_span.span_context();
            current_id.is_valid()
                && current_id.trace_id() == span.span_context().trace_id()
                && current_id.span_id() != self.span.parent_span_id
        };
        Some(if inside {
            current
        } else {
            span.context().clone()
        })
    }

    /// Commits and ends the span with `trace_rs.db.transaction.outcome = commit`.
    ///
    /// # Errors
    /// sea-orm's commit error, unchanged (also recorded on the span).
    pub async fn commit(self) -> Result<(), DbErr> {
        let Self { inner, span, .. } = self;
        let result = inner.commit().await;
        span.finish("commit", &result);
        result
    }

    /// Rolls back and ends the span with `trace_rs.db.transaction.outcome = rollback`.
    ///
    /// # Errors
    /// sea-orm's rollback error, unchanged (also recorded on the span).
    pub async fn rollback(self) -> Result<(), DbErr> {
        let Self { inner, span, .. } = self;
        let result = inner.rollback().await;
        span.finish("rollback", &result);
        result
    }
}

/// Runs a `transaction(|txn| ...)` callback in the transaction's context, then
/// commits on `Ok` and rolls back on `Err`, like sea-orm.
pub(crate) async fn run_transaction<F, T, E>(
    txn: TracedTransaction,
    callback: F,
) -> Result<T, TransactionError<E>>
where
    F: for<'c> FnOnce(
            &'c TracedTransaction,
        ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
        + Send,
    T: Send,
    E: std::fmt::Display + std::fmt::Debug + Send,
{
    let cx = txn.context();
    let result = callback(&txn).with_context(cx).await;
    match result {
        Ok(value) => {
            txn.commit().await.map_err(TransactionError::Connection)?;
            Ok(value)
        }
        Err(err) => {
            txn.rollback().await.map_err(TransactionError::Connection)?;
            Err(TransactionError::Transaction(err))
        }
    }
}

/// Ends the transaction span exactly once: on commit, rollback or drop.
#[derive(Debug)]
struct TransactionSpan {
    span: Option<TracedSpan>,
    /// The span that was current at `begin`; see `statement_parent`.
    parent_span_id: SpanId,
}

impl TransactionSpan {
    fn finish(mut self, outcome: &'static str, result: &Result<(), DbErr>) {
        if let Some(span) = self.span.take() {
            span.set_attribute(KeyValue::new(DB_TRANSACTION_OUTCOME, outcome));
            match result {
                Ok(()) => span.end(),
                Err(err) => fail(span, err),
            }
        }
    }
}

impl Drop for TransactionSpan {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            span.set_attribute(KeyValue::new(DB_TRANSACTION_OUTCOME, "rollback"));
            span.end();
        }
    }
}

#[async_trait::async_trait]
impl TransactionSession for TracedTransaction {
    async fn commit(self) -> Result<(), DbErr> {
        TracedTransaction::commit(self).await
    }

    async fn rollback(self) -> Result<(), DbErr> {
        TracedTransaction::rollback(self).await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for TracedTransaction {
    fn get_database_backend(&self) -> DbBackend {
        ConnectionTrait::get_database_backend(&self.inner)
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let span = self
            .shared
            .start_prepared(self.statement_parent().as_ref(), &stmt);
        Traced::new(span, self.inner.execute_raw(stmt), |r| {
            affected_rows(r.rows_affected())
        })
        .await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let span = self
            .shared
            .start_statement(self.statement_parent().as_ref(), sql, None);
        Traced::new(span, self.inner.execute_unprepared(sql), |r| {
            affected_rows(r.rows_affected())
        })
        .await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let span = self
            .shared
            .start_prepared(self.statement_parent().as_ref(), &stmt);
        Traced::new(span, self.inner.query_one_raw(stmt), |row| {
            returned_rows(usize::from(row.is_some()))
        })
        .await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let span = self
            .shared
            .start_prepared(self.statement_parent().as_ref(), &stmt);
        Traced::new(span, self.inner.query_all_raw(stmt), |rows| {
            returned_rows(rows.len())
        })
        .await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }
}

impl StreamTrait for TracedTransaction {
    type Stream<'a> = TracedStream<TransactionStream<'a>>;

    fn get_database_backend(&self) -> DbBackend {
        ConnectionTrait::get_database_backend(&self.inner)
    }

    fn stream_raw<'a>(
        &'a self,
        stmt: Statement,
    ) -> Pin<Box<dyn Future<Output = Result<Self::Stream<'a>, DbErr>> + 'a + Send>> {
        Box::pin(async move {
            let span = self
                .shared
                .start_prepared(self.statement_parent().as_ref(), &stmt);
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
impl TransactionTrait for TracedTransaction {
    type Transaction = TracedTransaction;

    async fn begin(&self) -> Result<TracedTransaction, DbErr> {
        let cx = self.context();
        TracedTransaction::begin_with(&self.shared, self.inner.begin())
            .with_context(cx)
            .await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<TracedTransaction, DbErr> {
        let cx = self.context();
        let begin = self.inner.begin_with_config(isolation_level, access_mode);
        TracedTransaction::begin_with(&self.shared, begin)
            .with_context(cx)
            .await
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<TracedTransaction, DbErr> {
        let cx = self.context();
        let begin = self.inner.begin_with_options(options);
        TracedTransaction::begin_with(&self.shared, begin)
            .with_context(cx)
            .await
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
