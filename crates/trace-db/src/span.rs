//! Span construction shared by connections, transactions and streams.

use std::future::Future;
use std::sync::Arc;

use opentelemetry::context::FutureExt as _;

use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    DB_COLLECTION_NAME, DB_NAMESPACE, DB_OPERATION_NAME, DB_QUERY_PARAMETER, DB_QUERY_SUMMARY,
    DB_QUERY_TEXT, DB_RESPONSE_RETURNED_ROWS, DB_SYSTEM_NAME, SERVER_ADDRESS, SERVER_PORT,
};
use sea_orm::{DbErr, Statement, Values};
use trace_core::{ScopedTracer, SpanStart, TracedSpan};

use crate::sql::{sanitize, summarize, truncate};
use crate::{DbInfo, TraceOptions};

static TRACER: ScopedTracer = ScopedTracer::new("trace-db", env!("CARGO_PKG_VERSION"));

/// Rows changed by an `INSERT`/`UPDATE`/`DELETE` (no semantic-conventions
/// attribute exists for it yet).
pub const DB_RESPONSE_AFFECTED_ROWS: &str = "db.response.affected_rows";

/// How a transaction ended: `commit` or `rollback` (our attribute; dropping an
/// uncommitted transaction records `rollback`).
pub const DB_TRANSACTION_OUTCOME: &str = "db.transaction.outcome";

/// The name of the span from `begin` to `commit`/`rollback`.
pub const TRANSACTION_SPAN_NAME: &str = "transaction";

/// Per-connection state every span reads; built once at wrap time.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) info: DbInfo,
    pub(crate) options: TraceOptions,
    /// System, namespace, server and extra attributes, ready to clone.
    base: Vec<KeyValue>,
}

impl Shared {
    pub(crate) fn new(info: DbInfo, options: TraceOptions) -> Arc<Self> {
        let mut base = vec![KeyValue::new(DB_SYSTEM_NAME, info.system.as_str())];
        if let Some(namespace) = &info.namespace {
            base.push(KeyValue::new(DB_NAMESPACE, namespace.clone()));
        }
        if let Some(address) = &info.server_address {
            base.push(KeyValue::new(SERVER_ADDRESS, address.clone()));
            if let Some(port) = info.server_port {
                base.push(KeyValue::new(SERVER_PORT, i64::from(port)));
            }
        }
        base.extend(options.extra_attributes.iter().cloned());
        Arc::new(Self {
            info,
            options,
            base,
        })
    }

    /// Starts a statement span under `parent` (the current context when `None`).
    /// Nothing is built unless the span is sampled.
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
        let system = self.info.system;
        let options = &self.options;
        let summary = summarize(sql, system);
        let params = values.filter(|v| !v.0.is_empty());
        let param_count = if options.capture_parameters {
            params.map_or(0, |v| v.0.len())
        } else {
            0
        };
        let mut attributes = Vec::with_capacity(self.base.len() + 4 + param_count);
        attributes.extend(self.base.iter().cloned());
        if options.capture_statement {
            // Parameterized text is kept as written; text without bound values may
            // carry literals, so it is sanitized.
            let text = match params {
                Some(_) => {
                    let mut text = sql.to_owned();
                    truncate(&mut text, options.max_statement_length);
                    text
                }
                None => sanitize(sql, system, options.max_statement_length),
            };
            attributes.push(KeyValue::new(DB_QUERY_TEXT, text));
        }
        if let (Some(values), true) = (params, options.capture_parameters) {
            for (index, value) in values.0.iter().enumerate() {
                let mut text = value.to_string();
                truncate(&mut text, options.max_statement_length);
                attributes.push(KeyValue::new(format!("{DB_QUERY_PARAMETER}.{index}"), text));
            }
        }
        let name = match summary {
            Some(summary) => {
                if let Some(operation) = summary.operation() {
                    attributes.push(KeyValue::new(DB_OPERATION_NAME, operation.to_owned()));
                }
                if let Some(collection) = summary.collection() {
                    attributes.push(KeyValue::new(DB_COLLECTION_NAME, collection.to_owned()));
                }
                let text = summary.as_str().to_owned();
                attributes.push(KeyValue::new(DB_QUERY_SUMMARY, text.clone()));
                text
            }
            None => system.as_str().to_owned(),
        };
        SpanStart::new(name).with_attributes(attributes)
    }

    pub(crate) fn start_transaction(&self) -> TracedSpan {
        // INTERNAL: the statements inside are the CLIENT calls.
        TRACER.start(SpanKind::Internal, || {
            SpanStart::new(TRANSACTION_SPAN_NAME).with_attributes(self.base.iter().cloned())
        })
    }
}

/// Ends a statement span with the call's outcome; `rows` gives the row attribute
/// of a success.
pub(crate) fn finish<T>(
    span: TracedSpan,
    result: &Result<T, DbErr>,
    rows: impl FnOnce(&T) -> KeyValue,
) {
    if span.is_recording() {
        match result {
            Ok(value) => span.set_attribute(rows(value)),
            Err(err) => crate::error::record(&span, err),
        }
    }
    span.end();
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

/// Runs `call` in the span's context when the span records (so spans below it,
/// e.g. from `tracing`, nest), and as is otherwise.
pub(crate) async fn with_span<F: Future>(span: &TracedSpan, call: F) -> F::Output {
    if span.is_recording() {
        call.with_context(span.context().clone()).await
    } else {
        call.await
    }
}
