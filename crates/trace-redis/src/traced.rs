//! [`Traced`]: a command future whose span also gets the command's outcome (error
//! status, `db.response.status_code`) and, when given, its sanitized arguments.
//!
//! fred decides success or failure after its `fred.command` span has closed (the reply
//! frame is turned into a `Result` in the caller's future), so only a wrapper around
//! the caller's future can see it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use fred::error::Error as FredError;
use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_semantic_conventions::attribute::{DB_QUERY_TEXT, DB_RESPONSE_STATUS_CODE};
use pin_project_lite::pin_project;

use crate::failure::Failure;
use crate::scope::{self, Claimed, Scope};
use crate::statement::StatementOptions;

/// Adds [`traced`](Self::traced) to every fred command future.
pub trait RedisFutureExt<T>: Future<Output = Result<T, FredError>> + Sized {
    /// Lets the command's span record its outcome: status `Error`, `error.type` and
    /// `db.response.status_code` (the server's error prefix such as `WRONGTYPE`) on
    /// failure. A nil reply is a success.
    ///
    /// Without it the span still exists (the
    /// [`RedisSubscriberLayer`](crate::RedisSubscriberLayer) makes one for every command)
    /// but has no status. Use it on one command's future; a second command inside the
    /// same future gets an ordinary span.
    fn traced(self) -> Traced<Self, NoArgs> {
        Traced {
            inner: self,
            args: Some(NoArgs),
            state: State::Unpolled,
            span: ClaimedSpan::none(),
        }
    }
}

impl<T, F: Future<Output = Result<T, FredError>>> RedisFutureExt<T> for F {}

/// The "no arguments given" marker of [`Traced`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoArgs;

/// Gives a command's name and arguments to [`Traced`]; called only for recording spans.
pub trait CommandArgs {
    /// The sanitized `db.query.text`, or `None` when it is not recorded.
    fn render(self, command: &str, options: &StatementOptions) -> Option<String>;
}

impl CommandArgs for NoArgs {
    fn render(self, _command: &str, _options: &StatementOptions) -> Option<String> {
        None
    }
}

/// Arguments produced by a closure, called only when the span records.
#[derive(Debug, Clone, Copy)]
pub struct ArgsFn<A>(A);

impl<A, I> CommandArgs for ArgsFn<A>
where
    A: FnOnce() -> I,
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    fn render(self, command: &str, options: &StatementOptions) -> Option<String> {
        options.render(command, (self.0)())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unpolled,
    /// Polling with the scope set until fred opens its span.
    Claiming,
    /// The span is claimed (or tracing is off): plain polls.
    Plain,
}

pin_project! {
    /// A fred command future that records its outcome on its span; see
    /// [`RedisFutureExt::traced`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Traced<F, A> {
        #[pin]
        inner: F,
        args: Option<A>,
        state: State,
        span: ClaimedSpan,
    }
}

impl<F> Traced<F, NoArgs> {
    /// Records `db.query.text` from the arguments `args` returns, sanitized by the
    /// layer's [`StatementOptions`]. `args` runs only when the span records.
    ///
    /// ```no_run
    /// # async fn example(client: fred::clients::Client) -> Result<(), fred::error::Error> {
    /// use fred::interfaces::HashesInterface;
    /// use trace_redis::RedisFutureExt;
    ///
    /// let name = "Ada";
    /// let _: () = client
    ///     .hset("user:1", ("name", name))
    ///     .traced()
    ///     .with_args(|| ["user:1", "name", name]) // recorded as `HSET user:1 name ?`
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_args<A, I>(self, args: A) -> Traced<F, ArgsFn<A>>
    where
        A: FnOnce() -> I,
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Traced {
            inner: self.inner,
            args: Some(ArgsFn(args)),
            state: self.state,
            span: self.span,
        }
    }
}

impl<F, T, A> Future for Traced<F, A>
where
    F: Future<Output = Result<T, FredError>>,
    A: CommandArgs,
{
    type Output = Result<T, FredError>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.state == State::Unpolled {
            *this.state = if trace_core::is_enabled() {
                State::Claiming
            } else {
                State::Plain
            };
        }
        let poll = if *this.state == State::Claiming {
            let inner = this.inner;
            let (poll, scope) =
                scope::poll_in(Scope::Command { claimed: None }, || inner.poll(task));
            if let Scope::Command {
                claimed: Some(claimed),
            } = scope
            {
                *this.state = State::Plain;
                this.span.0 = Some(claimed);
            }
            poll
        } else {
            this.inner.poll(task)
        };
        let Poll::Ready(result) = poll else {
            return Poll::Pending;
        };
        *this.state = State::Plain;
        if let Some(args) = this.args.take() {
            this.span.finish(&result, args);
        }
        Poll::Ready(result)
    }
}

/// The span a [`Traced`] took over; ended when the command finishes or is dropped.
#[derive(Debug)]
struct ClaimedSpan(Option<Claimed>);

impl ClaimedSpan {
    const fn none() -> Self {
        Self(None)
    }

    fn finish<T>(&mut self, result: &Result<T, FredError>, args: impl CommandArgs) {
        let Some(Claimed { cx, options, name }) = self.0.take() else {
            return;
        };
        let span = cx.span();
        if let Some(name) = name
            && let Some(text) = args.render(&name, &options)
        {
            span.set_attribute(KeyValue::new(DB_QUERY_TEXT, text));
        }
        if let Err(error) = result {
            let failure = Failure::of(error);
            if let Some(code) = failure.status_code {
                span.set_attribute(KeyValue::new(DB_RESPONSE_STATUS_CODE, code.to_owned()));
            }
            // Redis echoes arguments in some error messages: the status message is
            // the error type.
            trace_core::record_error_on(&cx, failure.error_type.clone(), &failure.error_type);
        }
        span.end();
    }
}

impl Drop for ClaimedSpan {
    fn drop(&mut self) {
        // Dropped before the reply: the caller cancelled, which is not an error.
        if let Some(claimed) = self.0.take() {
            claimed.cx.span().end();
        }
    }
}
