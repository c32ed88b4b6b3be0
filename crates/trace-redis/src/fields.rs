//! Reading the fields of fred's `fred.command` span cheaply: which field a record
//! carries (without looking the span up), the client's attributes and the command name.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Level, Metadata};

use crate::clients::{self, ClientInfo};
use crate::command_names;

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
            "cmd.name" => self.name = Some(command_names::shared_name(value)),
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
