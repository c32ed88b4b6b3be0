//! The thread-local hand-off between a wrapper future ([`Traced`](crate::Traced),
//! [`pipeline`](crate::pipeline)) and the layer.
//!
//! fred opens its `fred.command` span synchronously inside the poll of the command's
//! future. A wrapper marks the thread for the length of its own poll; the layer, seeing
//! the mark, hands the span to the wrapper (which then knows the command's result) or
//! folds the command into the wrapper's batch span. Nothing here allocates.

use std::borrow::Cow;
use std::cell::RefCell;

use std::sync::Arc;

use opentelemetry::Context;

use crate::clients::ClientInfo;
use crate::statement::StatementOptions;

/// What a wrapper currently polling on this thread wants from the layer.
#[derive(Debug)]
pub(crate) enum Scope {
    /// A single-command wrapper: the first `fred.command` opened during the poll is
    /// owned by the wrapper, which ends it once it has the command's result.
    Command { claimed: Option<Claimed> },
    /// A batch wrapper: commands opened during the poll are counted and named on the
    /// batch span instead of getting spans of their own.
    Batch(BatchCommands),
}

/// The span a single-command wrapper took over.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) cx: Context,
    pub(crate) options: Arc<StatementOptions>,
    /// The command name, once fred has recorded it.
    pub(crate) name: Option<Cow<'static, str>>,
}

/// Command names collected for a batch span.
#[derive(Debug, Default)]
pub(crate) struct BatchCommands {
    /// Whether the batch span records; when it does not, nothing is collected.
    pub(crate) recording: bool,
    pub(crate) count: usize,
    pub(crate) names: Vec<String>,
    /// The server and database of the batch's client, from its first command.
    pub(crate) client: Option<Arc<ClientInfo>>,
}

thread_local! {
    static ACTIVE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// Runs `poll` with `scope` active on this thread, and returns the scope as the poll
/// left it. An enclosing scope (a wrapper polled inside another) is restored after.
pub(crate) fn poll_in<R>(scope: Scope, poll: impl FnOnce() -> R) -> (R, Scope) {
    let outer = ACTIVE.with(|active| active.replace(Some(scope)));
    let restore = Restore(outer);
    let result = poll();
    let scope = restore.finish();
    (result, scope)
}

/// Puts the outer scope back even when the inner poll panics.
struct Restore(Option<Scope>);

impl Restore {
    fn finish(mut self) -> Scope {
        let outer = self.0.take();
        let inner = ACTIVE.with(|active| active.replace(outer));
        std::mem::forget(self);
        inner.expect("the scope set before polling is still there")
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let outer = self.0.take();
        ACTIVE.with(|active| *active.borrow_mut() = outer);
    }
}

/// What the layer should do with a `fred.command` span that opens now.
pub(crate) enum Claim {
    /// No wrapper is polling: an ordinary span that ends with the command.
    None,
    /// A single-command wrapper takes the span.
    Command,
    /// A batch wrapper is polling: no span of its own.
    Batch,
}

/// Asks the active scope whether it takes the next `fred.command`.
pub(crate) fn claim() -> Claim {
    ACTIVE.with(|active| match &*active.borrow() {
        None => Claim::None,
        Some(Scope::Command { claimed: Some(_) }) => Claim::None,
        Some(Scope::Command { claimed: None }) => Claim::Command,
        Some(Scope::Batch(_)) => Claim::Batch,
    })
}

/// Gives the active single-command wrapper the context of the span it claimed.
pub(crate) fn hand_over(cx: Context, options: Arc<StatementOptions>) {
    ACTIVE.with(|active| {
        if let Some(Scope::Command { claimed }) = &mut *active.borrow_mut() {
            *claimed = Some(Claimed {
                cx,
                options,
                name: None,
            });
        }
    });
}

/// Whether the active batch records (and so wants names and the client's attributes);
/// `None` when no batch is active.
pub(crate) fn batch_recording() -> Option<bool> {
    ACTIVE.with(|active| match &*active.borrow() {
        Some(Scope::Batch(batch)) => Some(batch.recording),
        _ => None,
    })
}

/// Counts a command in the active batch and keeps its name when given (at most
/// [`MAX_BATCH_NAMES`](crate::MAX_BATCH_NAMES) names).
pub(crate) fn add_to_batch(name: Option<&str>) {
    ACTIVE.with(|active| {
        if let Some(Scope::Batch(batch)) = &mut *active.borrow_mut() {
            batch.count += 1;
            if let Some(name) = name
                && batch.names.len() < crate::MAX_BATCH_NAMES
            {
                batch.names.push(name.to_owned());
            }
        }
    });
}

/// Sets the active batch's client attributes unless it has them already.
pub(crate) fn set_batch_client(client: Arc<ClientInfo>) {
    ACTIVE.with(|active| {
        if let Some(Scope::Batch(batch)) = &mut *active.borrow_mut()
            && batch.client.is_none()
        {
            batch.client = Some(client);
        }
    });
}

/// Gives the active single-command wrapper the name of the command it claimed.
pub(crate) fn name_claimed(name: Cow<'static, str>) {
    ACTIVE.with(|active| {
        if let Some(Scope::Command {
            claimed: Some(claimed),
        }) = &mut *active.borrow_mut()
        {
            claimed.name = Some(name);
        }
    });
}
