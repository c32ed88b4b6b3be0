//! One span for a pipeline (`PIPELINE`) or a MULTI/EXEC transaction (`MULTI`).
//!
//! fred queues pipelined and transactional commands locally (each gets an immediate
//! `QUEUED` reply) and sends them in one write from `Pipeline::all` or
//! `Transaction::exec`, which open no span of their own. So a batch needs a wrapper
//! around the code that builds and sends it: [`pipeline`] and [`transaction`].
//!
//! The queued commands are recorded on the batch span as a summary
//! (`db.operation.batch.size` and [`REDIS_COMMANDS`]), not as child spans: they have no
//! time of their own on the wire, and one span per queued command would multiply the
//! span count of a batch-heavy service for no extra information.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use fred::error::Error as FredError;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_semantic_conventions::attribute::{
    DB_OPERATION_BATCH_SIZE, DB_OPERATION_NAME, DB_RESPONSE_STATUS_CODE, DB_SYSTEM_NAME,
};
use pin_project_lite::pin_project;
use trace_core::{SpanStart, TracedSpan};

use crate::failure::Failure;
use crate::scope::{self, BatchCommands, Scope};
use crate::subscriber::TRACER;

/// `trace_rs.redis.commands` (string array): the names of the commands in a batch, in
/// order (at most [`MAX_BATCH_NAMES`]). The semantic conventions have no attribute for
/// this, so the name is under `trace_rs.*`.
pub const REDIS_COMMANDS: &str = "trace_rs.redis.commands";

/// The most command names [`REDIS_COMMANDS`] lists; `db.operation.batch.size` still
/// counts them all.
pub const MAX_BATCH_NAMES: usize = 128;

/// Wraps the code that queues commands on a fred `Pipeline` and sends them, so that
/// the batch becomes one `PIPELINE` CLIENT span.
///
/// ```no_run
/// # async fn example(client: fred::clients::Client) -> Result<(), fred::error::Error> {
/// use fred::interfaces::{ClientLike, KeysInterface};
///
/// let (a, b): (i64, Option<String>) = trace_redis::pipeline(async {
///     let pipe = client.pipeline();
///     let _: () = pipe.incr("visits").await?;
///     let _: () = pipe.get("greeting").await?;
///     pipe.all().await
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
///
/// Every fred command issued while the wrapped future is polled counts as part of the
/// batch, so keep only the pipeline in it.
pub fn pipeline<F, T>(future: F) -> BatchFuture<F>
where
    F: Future<Output = Result<T, FredError>>,
{
    BatchFuture::new("PIPELINE", future)
}

/// Wraps the code that queues commands on a fred `Transaction` and runs `EXEC`, so that
/// the transaction becomes one `MULTI` CLIENT span.
///
/// ```no_run
/// # async fn example(client: fred::clients::Client) -> Result<(), fred::error::Error> {
/// use fred::interfaces::{KeysInterface, TransactionInterface};
///
/// let (count,): (i64,) = trace_redis::transaction(async {
///     let trx = client.multi();
///     let _: () = trx.incr("visits").await?;
///     trx.exec(true).await
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
pub fn transaction<F, T>(future: F) -> BatchFuture<F>
where
    F: Future<Output = Result<T, FredError>>,
{
    BatchFuture::new("MULTI", future)
}

pin_project! {
    /// A pipeline or transaction future with one span; see [`pipeline`] and
    /// [`transaction`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct BatchFuture<F> {
        #[pin]
        inner: F,
        name: &'static str,
        span: Option<TracedSpan>,
        commands: BatchCommands,
    }
}

impl<F> BatchFuture<F> {
    fn new(name: &'static str, inner: F) -> Self {
        Self {
            inner,
            name,
            span: None,
            commands: BatchCommands::default(),
        }
    }
}

impl<F, T> Future for BatchFuture<F>
where
    F: Future<Output = Result<T, FredError>>,
{
    type Output = Result<T, FredError>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let name = *this.name;
        let span = this.span.get_or_insert_with(|| {
            TRACER.start(SpanKind::Client, || {
                SpanStart::new(name).with_attributes([
                    KeyValue::new(DB_SYSTEM_NAME, "redis"),
                    KeyValue::new(DB_OPERATION_NAME, name),
                ])
            })
        });
        this.commands.recording = span.is_recording();
        let commands = std::mem::take(this.commands);
        let inner = this.inner;
        let (poll, scope) = scope::poll_in(Scope::Batch(commands), || inner.poll(task));
        if let Scope::Batch(commands) = scope {
            *this.commands = commands;
        }
        let Poll::Ready(result) = poll else {
            return Poll::Pending;
        };
        if let Some(span) = this.span.take() {
            finish(span, std::mem::take(this.commands), &result);
        }
        Poll::Ready(result)
    }
}

fn finish<T>(span: TracedSpan, commands: BatchCommands, result: &Result<T, FredError>) {
    if !span.is_recording() {
        return span.end();
    }
    if let Some(info) = commands.client {
        span.set_attributes(|| info.attributes.to_vec());
    }
    let count = i64::try_from(commands.count).unwrap_or(i64::MAX);
    let names: Vec<StringValue> = commands.names.into_iter().map(StringValue::from).collect();
    span.set_attributes(|| {
        [
            KeyValue::new(DB_OPERATION_BATCH_SIZE, count),
            KeyValue::new(REDIS_COMMANDS, Value::Array(Array::String(names))),
        ]
    });
    if let Err(error) = result {
        let failure = Failure::of(error);
        if let Some(code) = failure.status_code {
            span.set_attribute(KeyValue::new(DB_RESPONSE_STATUS_CODE, code.to_owned()));
        }
        // Redis echoes arguments in some error messages: the status message is the
        // error type.
        span.record_error(failure.error_type.clone(), &failure.error_type);
    }
    span.end();
}
