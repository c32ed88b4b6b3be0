//! SQL helpers behind `db.query.text` and `db.query.summary`.
//!
//! Both work on one pass of a small tokenizer that knows the quoting rules of
//! PostgreSQL (`$tag$` strings, `E'..'`, nested comments), MySQL/MariaDB (`"..."`
//! strings, backslash escapes, `#` comments) and SQLite. They pass every case of the
//! OpenTelemetry semantic-conventions SQL corpus (`tests/data/`).

mod lexer;
mod sanitize;
mod summary;

pub use sanitize::sanitize;
pub(crate) use sanitize::{cut, redact_quoted, truncate};
pub use summary::{QuerySummary, summarize};
