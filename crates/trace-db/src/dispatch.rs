//! Direct calls into sea-orm's sqlx pool connections.
//!
//! `DatabaseConnection`'s `ConnectionTrait` methods box their future (`async_trait`),
//! and so do ours: delegating to them would cost one more allocation per statement,
//! traced or not. The pools' own `async fn`s are public and unboxed, so we call them
//! and leave only our box, the one an untraced call pays too. Any other connection
//! kind (mock, proxy, rusqlite) goes through the trait as before. One difference:
//! sea-orm's optional `tracing-spans` spans are emitted by the trait methods, so they
//! do not appear for these calls (which are traced by us instead).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, ExecResult, QueryResult, Statement};

macro_rules! dispatch {
    ($db:expr, $method:ident($arg:expr), $fallback:ident) => {
        match &$db.inner {
            #[cfg(feature = "postgres")]
            sea_orm::DatabaseConnectionType::SqlxPostgresPoolConnection(pool) => {
                pool.$method($arg).await
            }
            #[cfg(feature = "mysql")]
            sea_orm::DatabaseConnectionType::SqlxMySqlPoolConnection(pool) => {
                pool.$method($arg).await
            }
            #[cfg(feature = "sqlite")]
            sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(pool) => {
                pool.$method($arg).await
            }
            #[allow(unreachable_patterns)]
            _ => $db.$fallback($arg).await,
        }
    };
}

pub(crate) async fn execute(db: &DatabaseConnection, stmt: Statement) -> Result<ExecResult, DbErr> {
    dispatch!(db, execute(stmt), execute_raw)
}

pub(crate) async fn execute_unprepared(
    db: &DatabaseConnection,
    sql: &str,
) -> Result<ExecResult, DbErr> {
    dispatch!(db, execute_unprepared(sql), execute_unprepared)
}

pub(crate) async fn query_one(
    db: &DatabaseConnection,
    stmt: Statement,
) -> Result<Option<QueryResult>, DbErr> {
    dispatch!(db, query_one(stmt), query_one_raw)
}

pub(crate) async fn query_all(
    db: &DatabaseConnection,
    stmt: Statement,
) -> Result<Vec<QueryResult>, DbErr> {
    dispatch!(db, query_all(stmt), query_all_raw)
}
