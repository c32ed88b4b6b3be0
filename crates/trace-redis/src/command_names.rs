//! Command names (`GET`, `HSET`, ...) as shared `'static` strings: fred records them as
//! text on each `fred.command` span, and a span name taken from that text would be an
//! allocation per command.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::{PoisonError, RwLock};

/// The most distinct names kept; more (custom commands without end) are copied per
/// span instead.
const MAX_NAMES: usize = 1024;

const RECENT_SLOTS: usize = 16;

static NAMES: RwLock<Option<HashSet<&'static str>>> = RwLock::new(None);

thread_local! {
    /// The names this thread used last, by a cheap hash of the name: a service's few
    /// hot names are found here without taking the lock.
    static RECENT: [Cell<&'static str>; RECENT_SLOTS] =
        const { [const { Cell::new("") }; RECENT_SLOTS] };
}

/// `name` as a string that costs nothing to clone. Each distinct name is copied once
/// and kept for the life of the process, up to 1024 names; past that, names not kept
/// yet come back as an owned copy.
pub(crate) fn shared_name(name: &str) -> Cow<'static, str> {
    let slot = recent_slot(name);
    let recent = RECENT.with(|recent| recent[slot].get());
    if recent == name {
        return Cow::Borrowed(recent);
    }
    let kept = keep(name);
    if let Cow::Borrowed(known) = kept {
        RECENT.with(|recent| recent[slot].set(known));
    }
    kept
}

fn recent_slot(name: &str) -> usize {
    let bytes = name.as_bytes();
    let (first, last) = (bytes.first().copied(), bytes.last().copied());
    (name.len() ^ usize::from(first.unwrap_or(0)) ^ (usize::from(last.unwrap_or(0)) << 1))
        % RECENT_SLOTS
}

fn keep(name: &str) -> Cow<'static, str> {
    if let Some(known) = NAMES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|names| names.get(name))
    {
        return Cow::Borrowed(known);
    }
    let mut names = NAMES.write().unwrap_or_else(PoisonError::into_inner);
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(known) = names.get(name) {
        return Cow::Borrowed(known);
    }
    if names.len() >= MAX_NAMES {
        return Cow::Owned(name.to_owned());
    }
    // Leaked on purpose: at most MAX_NAMES short strings, shared by every span after.
    let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(kept);
    Cow::Borrowed(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_names_are_shared_and_equal() {
        let first = shared_name("HGETALL");
        let again = shared_name(&String::from("HGETALL"));
        assert_eq!(first, "HGETALL");
        assert!(
            matches!((&first, &again), (Cow::Borrowed(a), Cow::Borrowed(b)) if std::ptr::eq(*a, *b))
        );
        // Names sharing a recent slot still come back as themselves.
        for name in ["GET", "SET", "DEL", "INCR", "", "X", "SELECT accounts"] {
            assert_eq!(shared_name(name), name);
        }
    }
}
