//! Reading the fields of fred's `fred.command` span cheaply: which field a record
//! carries (without looking the span up), the client's attributes and the command name.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Level, Metadata};

use crate::clients::{self, ClientInfo};

/// The span fred opens around every command.
const FRED_COMMAND: &str = "fred.command";

pub(crate) fn is_fred_command(metadata: &Metadata<'_>) -> bool {
    metadata.name() == FRED_COMMAND
}

/// The `cmd.name` and `cmd.res` fields of one `fred.command` callsite.
struct CommandCallsite {
    name: Field,
    reply: Field,
}

/// One entry per level: fred has a `fred.command` callsite for each level its spans can
/// be configured at.
static CALLSITES: [OnceLock<CommandCallsite>; 5] = [const { OnceLock::new() }; 5];

fn level_index(level: &Level) -> usize {
    match *level {
        Level::ERROR => 0,
        Level::WARN => 1,
        Level::INFO => 2,
        Level::DEBUG => 3,
        Level::TRACE => 4,
    }
}

/// Remembers the fields of a `fred.command` callsite, so that [`recorded`] can tell its
/// records apart without a registry lookup.
pub(crate) fn remember_callsite(metadata: &Metadata<'_>) {
    let slot = &CALLSITES[level_index(metadata.level())];
    if slot.get().is_some() {
        return;
    }
    let fields = metadata.fields();
    if let (Some(name), Some(reply)) = (fields.field("cmd.name"), fields.field("cmd.res")) {
        let _ = slot.set(CommandCallsite { name, reply });
    }
}

/// The fields of a record on a `fred.command` span that the layer acts on.
pub(crate) struct Recorded {
    /// `cmd.name`: the command is known.
    pub(crate) name: bool,
    /// `cmd.res`: the reply arrived.
    pub(crate) reply: bool,
}

/// Which of the fields the layer acts on `values` carries; `None` for `cmd.req` alone
/// and for spans other than `fred.command`.
pub(crate) fn recorded(values: &Record<'_>) -> Option<Recorded> {
    CALLSITES
        .iter()
        .filter_map(OnceLock::get)
        .find_map(|callsite| {
            let recorded = Recorded {
                name: values.contains(&callsite.name),
                reply: values.contains(&callsite.reply),
            };
            (recorded.name || recorded.reply).then_some(recorded)
        })
}

/// The fields of `fred.command` this layer reads.
#[derive(Default)]
pub(crate) struct CommandFields {
    pub(crate) client: Option<Arc<ClientInfo>>,
    pub(crate) name: Option<Cow<'static, str>>,
}

impl CommandFields {
    fn set(&mut self, field: &Field, value: &str) {
        match field.name() {
            "client.id" => self.client = clients::lookup(value),
            "cmd.name" => self.name = Some(intern(value)),
            _ => {}
        }
    }
}

impl Visit for CommandFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Only reached if fred ever records these as something other than text.
        if matches!(field.name(), "cmd.name" | "client.id") {
            self.set(field, format!("{value:?}").trim_matches('"'));
        }
    }
}

/// The most distinct command names kept for reuse; more (an application inventing
/// custom command names without end) are allocated per span instead.
const MAX_INTERNED_NAMES: usize = 512;

static NAMES: RwLock<Option<HashSet<&'static str>>> = RwLock::new(None);

const RECENT_SLOTS: usize = 16;

thread_local! {
    /// The names this thread used last, by a cheap hash of the name: a service's few
    /// hot commands are found here without taking the lock.
    static RECENT: [Cell<&'static str>; RECENT_SLOTS] = const { [const { Cell::new("") }; RECENT_SLOTS] };
}

fn recent_slot(name: &str) -> usize {
    let bytes = name.as_bytes();
    let (first, last) = (bytes.first().copied(), bytes.last().copied());
    (name.len() ^ usize::from(first.unwrap_or(0)) ^ (usize::from(last.unwrap_or(0)) << 1))
        % RECENT_SLOTS
}

/// The command name as a `'static` string, so that sampled spans do not allocate it:
/// Redis has a few hundred command names, each leaked once.
fn intern(name: &str) -> Cow<'static, str> {
    let slot = recent_slot(name);
    let recent = RECENT.with(|recent| recent[slot].get());
    if recent == name {
        return Cow::Borrowed(recent);
    }
    let interned = intern_shared(name);
    if let Cow::Borrowed(known) = interned {
        RECENT.with(|recent| recent[slot].set(known));
    }
    interned
}

fn intern_shared(name: &str) -> Cow<'static, str> {
    if let Some(known) = NAMES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|names| names.get(name))
    {
        return Cow::Borrowed(known);
    }
    let mut names = NAMES.write().unwrap_or_else(|p| p.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(known) = names.get(name) {
        return Cow::Borrowed(known);
    }
    if names.len() >= MAX_INTERNED_NAMES {
        return Cow::Owned(name.to_owned());
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    Cow::Borrowed(leaked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_names_are_shared_and_equal() {
        let first = intern("HGETALL");
        let again = intern(&String::from("HGETALL"));
        assert_eq!(first, "HGETALL");
        assert!(
            matches!((&first, &again), (Cow::Borrowed(a), Cow::Borrowed(b)) if std::ptr::eq(*a, *b))
        );
        // Names sharing a recent slot still come back as themselves.
        for name in ["GET", "SET", "DEL", "INCR", "", "X"] {
            assert_eq!(intern(name), name);
        }
    }
}
