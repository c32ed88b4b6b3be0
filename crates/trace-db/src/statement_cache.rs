//! What a parameterized statement's span says about its SQL, kept per connection.
//!
//! The text, summary, operation and collection of a statement depend on its SQL
//! alone, and sea-orm sends the same few parameterized statements over and over:
//! working them out once saves the tokenizer pass and the string copies of every
//! traced statement after the first. Only parameterized SQL is kept (SQL without bound
//! values may carry literals and is unbounded in variety), and the cache is bounded
//! in entries and in statement length.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use opentelemetry::KeyValue;

/// At most this many statements per connection; a full cache starts over, so a
/// changing working set is picked up again.
const MAX_ENTRIES: usize = 128;
/// Longer SQL (bulk inserts, long `IN` lists) is described on every span instead.
const MAX_SQL_LEN: usize = 4096;

/// The SQL-derived part of a statement span.
#[derive(Debug)]
pub(crate) struct Described {
    /// `db.query.summary`, or `db.system.name` when no operation is found.
    pub(crate) name: Cow<'static, str>,
    /// `db.query.text`, `db.query.summary`, `db.operation.name`, `db.collection.name`
    /// (the ones that apply), with shared string values: cloning them allocates nothing.
    pub(crate) attributes: Vec<KeyValue>,
}

/// Keyed by the SQL through foldhash: hashing each traced statement's SQL with the
/// standard SipHash cost more than the rest of the lookup, and a map this small has
/// no use for SipHash's resistance to chosen keys.
#[derive(Debug, Default)]
pub(crate) struct StatementCache {
    entries: RwLock<HashMap<Arc<str>, Arc<Described>, foldhash::fast::RandomState>>,
}

impl StatementCache {
    /// The description of `sql`, made by `describe` (given the SQL as a shared
    /// string, to reuse as the text) when not cached yet.
    pub(crate) fn get_or_describe(
        &self,
        sql: &str,
        describe: impl FnOnce(&Arc<str>) -> Described,
    ) -> Arc<Described> {
        if let Some(described) = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sql)
        {
            return Arc::clone(described);
        }
        let key: Arc<str> = Arc::from(sql);
        let described = Arc::new(describe(&key));
        if sql.len() <= MAX_SQL_LEN {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, Arc::clone(&described));
        }
        described
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(name: &'static str) -> Described {
        Described {
            name: Cow::Borrowed(name),
            attributes: Vec::new(),
        }
    }

    #[test]
    fn describes_each_statement_once() {
        let cache = StatementCache::default();
        let mut calls = 0;
        for _ in 0..3 {
            let got = cache.get_or_describe("SELECT a FROM t WHERE id = ?", |_| {
                calls += 1;
                described("SELECT t")
            });
            assert_eq!(got.name, "SELECT t");
        }
        assert_eq!(calls, 1);
    }

    #[test]
    fn stays_bounded() {
        let cache = StatementCache::default();
        for i in 0..MAX_ENTRIES * 3 {
            cache.get_or_describe(&format!("SELECT {i} FROM t WHERE id = ?"), |_| {
                described("SELECT t")
            });
            assert!(cache.entries.read().unwrap().len() <= MAX_ENTRIES);
        }
        let long = format!(
            "SELECT a FROM t WHERE id IN ({})",
            "?, ".repeat(MAX_SQL_LEN)
        );
        cache.get_or_describe(&long, |_| described("SELECT t"));
        assert!(!cache.entries.read().unwrap().contains_key(long.as_str()));
    }
}
