//! Span construction shared by connections, transactions and streams.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{self, Poll, ready};

use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    DB_COLLECTION_NAME, DB_NAMESPACE, DB_OPERATION_NAME, DB_QUERY_PARAMETER, DB_QUERY_SUMMARY,
    DB_QUERY_TEXT, DB_RESPONSE_RETURNED_ROWS, DB_SYSTEM_NAME, SERVER_ADDRESS, SERVER_PORT,
};
use pin_project_lite::pin_project;
use sea_orm::{DbErr, Statement, Values};
use trace_core::{ScopedTracer, SpanStart, TracedSpan};

use crate::sql::{cut, sanitize, summarize, truncate};
use crate::statement_cache::{Described, StatementCache};
use crate::{DbInfo, TraceOptions};

static TRACER: ScopedTracer = ScopedTracer::new("trace-db", env!("CARGO_PKG_VERSION"));

/// `trace_rs.db.response.affected_rows` (int): rows changed by an
/// `INSERT`/`UPDATE`/`DELETE`. The semantic conventions have no attribute for it, so
/// the name is under `trace_rs.*`.
pub const DB_RESPONSE_AFFECTED_ROWS: &str = "trace_rs.db.response.affected_rows";

/// `trace_rs.db.transaction.outcome` (string): how a transaction ended, `commit` or
/// `rollback` (dropping an uncommitted transaction records `rollback`). The semantic
/// conventions have no attribute for it, so the name is under `trace_rs.*`.
pub const DB_TRANSACTION_OUTCOME: &str = "trace_rs.db.transaction.outcome";

/// The name of the span from `begin` to `commit`/`rollback`.
pub const TRANSACTION_SPAN_NAME: &str = "transaction";

/// Per-connection state every span reads; built once at wrap time.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) info: DbInfo,
    pub(crate) options: TraceOptions,
    /// System, namespace, server and extra attributes, ready to clone.
    base: Vec<KeyValue>,
    statements: StatementCache,
}

impl Shared {
    pub(crate) fn new(info: DbInfo, options: TraceOptions) -> Arc<Self> {
        let mut base = vec![KeyValue::new(DB_SYSTEM_NAME, info.system.as_str())];
        if let Some(namespace) = &info.namespace {
            base.push(KeyValue::new(
                DB_NAMESPACE,
                Arc::<str>::from(namespace.as_str()),
            ));
        }
        if let Some(address) = &info.server_address {
            base.push(KeyValue::new(
                SERVER_ADDRESS,
                Arc::<str>::from(address.as_str()),
            ));
            if let Some(port) = info.server_port {
                base.push(KeyValue::new(SERVER_PORT, i64::from(port)));
            }
        }
        base.extend(options.extra_attributes.iter().cloned());
        Arc::new(Self {
            info,
            options,
            base,
            statements: StatementCache::default(),
        })
    }

    /// Starts a statement span under `parent` (the current context when `None`). Its
    /// sampler sees every attribute, from the per-connection cache; nothing is built
    /// when tracing is disabled.
    pub(crate) fn start_statement(
        &self,
        parent: Option<&Context>,
        sql: &str,
        values: Option<&Values>,
    ) -> TracedSpan {
        let build = || self.statement_span(sql, values);
        match parent {
            Some(parent) => TRACER.start_with_parent(parent, SpanKind::Client, build),
            None => TRACER.start(SpanKind::Client, build),
        }
    }

    pub(crate) fn start_prepared(&self, parent: Option<&Context>, stmt: &Statement) -> TracedSpan {
        self.start_statement(parent, &stmt.sql, stmt.values.as_ref())
    }

    fn statement_span(&self, sql: &str, values: Option<&Values>) -> SpanStart {
        let params = values.filter(|v| !v.0.is_empty());
        let cached;
        let described: &Described = match params {
            Some(_) => {
                cached = self
                    .statements
                    .get_or_describe(sql, |shared| self.describe(sql, Some(shared)));
                &cached
            }
            None => &self.describe(sql, None),
        };
        let captured = match params {
            Some(values) if self.options.capture_parameters => values.0.as_slice(),
            _ => &[],
        };
        let mut attributes =
            Vec::with_capacity(self.base.len() + described.attributes.len() + 1 + captured.len());
        attributes.extend(self.base.iter().cloned());
        attributes.extend(described.attributes.iter().cloned());
        for (index, value) in captured.iter().enumerate() {
            let mut text = value.to_string();
            truncate(&mut text, self.options.max_statement_length);
            attributes.push(KeyValue::new(format!("{DB_QUERY_PARAMETER}.{index}"), text));
        }
        SpanStart::new(described.name.clone()).with_attributes(attributes)
    }

    /// The span name and SQL-derived attributes. `parameterized` is the SQL as a
    /// shared string when the statement has bound values: its text is then kept as
    /// written (placeholders only); text without bound values may carry literals, so
    /// it is sanitized.
    fn describe(&self, sql: &str, parameterized: Option<&Arc<str>>) -> Described {
        let system = self.info.system;
        let options = &self.options;
        let mut attributes = Vec::with_capacity(4);
        if options.capture_statement {
            let max_len = options.max_statement_length;
            let text: Arc<str> = match parameterized {
                Some(shared) if shared.len() <= max_len => Arc::clone(shared),
                Some(_) => Arc::from(cut(sql, max_len)),
                None => Arc::from(sanitize(sql, system, max_len)),
            };
            attributes.push(KeyValue::new(DB_QUERY_TEXT, text));
        }
        let name = match summarize(sql, system) {
            Some(summary) => {
                // Shared strings: each span clones a reference count, not the text.
                if let Some(operation) = summary.operation() {
                    attributes.push(KeyValue::new(
                        DB_OPERATION_NAME,
                        Arc::<str>::from(operation),
                    ));
                }
                if let Some(collection) = summary.collection() {
                    attributes.push(KeyValue::new(
                        DB_COLLECTION_NAME,
                        Arc::<str>::from(collection),
                    ));
                }
                attributes.push(KeyValue::new(
                    DB_QUERY_SUMMARY,
                    Arc::<str>::from(summary.as_str()),
                ));
                Cow::Owned(summary.as_str().to_owned())
            }
            None => Cow::Borrowed(system.as_str()),
        };
        Described { name, attributes }
    }

    pub(crate) fn start_transaction(&self) -> TracedSpan {
        // INTERNAL: the statements inside are the CLIENT calls.
        TRACER.start(SpanKind::Internal, || {
            SpanStart::new(TRANSACTION_SPAN_NAME).with_attributes(self.base.iter().cloned())
        })
    }
}

/// Ends a span whose call failed.
pub(crate) fn fail(span: TracedSpan, err: &DbErr) {
    crate::error::record(&span, err);
    span.end();
}

pub(crate) fn returned_rows(count: usize) -> KeyValue {
    KeyValue::new(
        DB_RESPONSE_RETURNED_ROWS,
        i64::try_from(count).unwrap_or(i64::MAX),
    )
}

pub(crate) fn affected_rows(count: u64) -> KeyValue {
    KeyValue::new(
        DB_RESPONSE_AFFECTED_ROWS,
        i64::try_from(count).unwrap_or(i64::MAX),
    )
}

pin_project! {
    /// A statement call under its span: polled in a context whose parent is the span,
    /// recording or not (so spans and log lines below it, e.g. from `tracing`, nest and
    /// follow its sampling decision), and the span ended with the outcome when the call completes (or,
    /// unfinished, when dropped). One hand-written future: sqlx's futures are
    /// kilobytes, and every `async` layer that takes one by value copies it again.
    pub(crate) struct Traced<F, T> {
        #[pin]
        call: F,
        span: Option<TracedSpan>,
        // Made once, attached on every poll; `None` when there is no span (disabled).
        child: Option<Context>,
        rows: fn(&T) -> KeyValue,
    }
}

impl<F, T> Traced<F, T>
where
    F: Future<Output = Result<T, DbErr>>,
{
    /// `rows` gives the row attribute of a success.
    pub(crate) fn new(span: TracedSpan, call: F, rows: fn(&T) -> KeyValue) -> Self {
        Self {
            call,
            child: span.is_valid().then(|| span.child_context()),
            span: Some(span),
            rows,
        }
    }
}

impl<F, T> Future for Traced<F, T>
where
    F: Future<Output = Result<T, DbErr>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let result = match this.child {
            Some(child) => {
                let _attached = child.clone().attach();
                ready!(this.call.poll(cx))
            }
            None => ready!(this.call.poll(cx)),
        };
        if let Some(span) = this.span.take() {
            if span.is_recording() {
                match &result {
                    Ok(value) => span.set_attribute((this.rows)(value)),
                    Err(err) => crate::error::record(&span, err),
                }
            }
            span.end();
        }
        Poll::Ready(result)
    }
}
