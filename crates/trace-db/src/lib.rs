//! trace-db: OpenTelemetry CLIENT spans for sea-orm 2.0 statements, transactions
//! and streams.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connection;
mod error;
mod options;
mod span;
pub mod sql;
mod stream;
mod system;
mod transaction;

pub use connection::TracedConnection;
pub use options::TraceOptions;
pub use span::{DB_RESPONSE_AFFECTED_ROWS, DB_TRANSACTION_OUTCOME, TRANSACTION_SPAN_NAME};
pub use stream::TracedStream;
pub use system::{DbInfo, DbSystem};
pub use transaction::TracedTransaction;
