//! Carrying the active context across `.await` points, spawned tasks and log lines.

use std::future::Future;

use opentelemetry::Context;
use opentelemetry::context::{FutureExt, WithContext};
use opentelemetry::trace::{TraceContextExt, TraceId};

/// The trace id of the active span, if there is a valid one: the correlation id to put
/// in error responses and log lines.
pub fn current_trace_id() -> Option<TraceId> {
    let cx = Context::current();
    let span = cx.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| span_context.trace_id())
}

/// The trace id of the active span as 32 lowercase hex characters.
pub fn correlation_id() -> Option<String> {
    current_trace_id().map(|id| id.to_string())
}

/// Runs `future` with `cx` active at every poll, so spans started inside it and
/// outgoing requests it makes see `cx` as [`Context::current`].
pub fn in_context<F: Future>(cx: Context, future: F) -> WithContext<F> {
    future.with_context(cx)
}

/// Spawns `future` on the current Tokio runtime with the caller's context active in
/// it. A plain `tokio::spawn` loses the context: the task would start a new trace.
///
/// Panics like `tokio::spawn` when called outside a Tokio runtime.
///
/// ```no_run
/// # async fn example() {
/// let handle = trace_core::spawn_in_current_context(async {
///     // Spans started here are children of the caller's span.
/// });
/// handle.await.unwrap();
/// # }
/// ```
pub fn spawn_in_current_context<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.with_current_context())
}

/// Spawns `future` on the current Tokio runtime with `cx` active in it.
pub fn spawn_in_context<F>(cx: Context, future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.with_context(cx))
}
