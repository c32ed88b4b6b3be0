//! `error.type`, `db.response.status_code` and the status message of a failed call.

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::DB_RESPONSE_STATUS_CODE;
use sea_orm::DbErr;
use trace_core::{ErrorType, TracedSpan};

use crate::sql::redact_quoted;

/// Records `err` on `span` (which must still be open). Not-found results are not
/// errors. `error.type` is the database's code when there is one, else the failure's
/// kind (`io`, `pool_timed_out`, ...), else the error's type name. The message has
/// quoted values redacted: MySQL puts the offending value in quotes
/// (`Duplicate entry 'a@b.c' for key ...`).
pub(crate) fn record(span: &TracedSpan, err: &DbErr) {
    if !span.is_recording() || matches!(err, DbErr::RecordNotFound(_)) {
        return;
    }
    let message = redact_quoted(&err.to_string());
    match status_code(err) {
        Some(code) => {
            span.set_attribute(KeyValue::new(DB_RESPONSE_STATUS_CODE, code.clone()));
            span.record_error(ErrorType::code(code), message);
        }
        None => span.record_error(error_type(err), message),
    }
}

/// The SQLSTATE (PostgreSQL, MySQL, MariaDB) or the extended result code (SQLite)
/// of a database error.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
fn status_code(err: &DbErr) -> Option<String> {
    let code = sqlx_error(err)?.as_database_error()?.code()?;
    Some(code.into_owned())
}

#[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
fn status_code(_err: &DbErr) -> Option<String> {
    None
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
fn sqlx_error(err: &DbErr) -> Option<&sea_orm::SqlxError> {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e),
        _ => None,
    }
}

/// `error.type` for errors without a database code: the failure's kind, or the
/// error's type name for a kind this crate does not name.
fn error_type(err: &DbErr) -> ErrorType {
    #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
    if let Some(e) = sqlx_error(err) {
        use sea_orm::SqlxError as E;
        let kind = match e {
            E::Configuration(_) => "configuration",
            E::Database(_) => "database",
            E::Io(_) => "io",
            E::Tls(_) => "tls",
            E::Protocol(_) => "protocol",
            E::PoolTimedOut => "pool_timed_out",
            E::PoolClosed => "pool_closed",
            E::ColumnDecode { .. } | E::Decode(_) => "decode",
            E::Encode(_) => "encode",
            _ => return ErrorType::of::<E>(),
        };
        return ErrorType::code(kind);
    }
    let kind = match err {
        DbErr::ConnectionAcquire(_) => "connection_acquire",
        DbErr::Conn(_) => "connection",
        DbErr::Exec(_) => "exec",
        DbErr::Query(_) => "query",
        DbErr::Type(_) => "type",
        DbErr::Json(_) => "json",
        DbErr::Custom(_) => "custom",
        _ => return ErrorType::of::<DbErr>(),
    };
    ErrorType::code(kind)
}
