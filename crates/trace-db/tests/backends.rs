//! Statement, transaction and stream spans against real PostgreSQL, MariaDB and
//! SQLite: the same scenarios run on each backend.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanId, SpanKind, TraceContextExt as _};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, QueryOrder, Set, Statement,
    TransactionTrait,
};
use trace_core::{ScopedTracer, SpanStart};
use trace_db::TraceOptions;
use tracing::instrument::WithSubscriber as _;
use tracing_subscriber::layer::SubscriberExt as _;

use common::{Backend, Ctx, account, all_text, int_attr, rows_attr};

static TRACER: ScopedTracer = ScopedTracer::new("trace-db-tests", "0.0.0");

fn new_account(email: &str, balance: i64) -> account::ActiveModel {
    account::ActiveModel {
        email: Set(email.to_owned()),
        balance: Set(balance),
        ..Default::default()
    }
}

async fn crud_through_entities_nests_client_spans_under_the_caller(ctx: Ctx) {
    let Ctx {
        db,
        capture,
        backend,
        namespace,
    } = ctx;
    let handler = TRACER.start(SpanKind::Server, || SpanStart::new("handler"));
    let cx = handler.context().clone();
    async {
        let created = new_account("alice@example.test", 10)
            .insert(&db)
            .await
            .expect("insert");
        let found = account::Entity::find_by_id(created.id)
            .one(&db)
            .await
            .expect("select");
        assert_eq!(found.as_ref(), Some(&created));
        let missing = account::Entity::find_by_id(created.id + 1000)
            .one(&db)
            .await
            .expect("a missing row is not an error");
        assert_eq!(missing, None);
        let mut active: account::ActiveModel = created.clone().into();
        active.balance = Set(20);
        active.update(&db).await.expect("update");
        assert_eq!(account::Entity::find().all(&db).await.unwrap().len(), 1);
        account::Entity::delete_by_id(created.id)
            .exec(&db)
            .await
            .expect("delete");
    }
    .with_context(cx)
    .await;
    handler.end();

    let spans = capture.wait_for_spans(6, Duration::from_secs(5)).await;
    let handler = capture.find("handler");
    let client: Vec<_> = spans.iter().filter(|s| s.name() != "handler").collect();
    assert!(client.len() >= 5, "{}", capture.outline());
    for span in &client {
        span.assert_child_of(&handler);
        assert_eq!(span.kind(), SpanKind::Client);
        assert_eq!(span.attr("db.system.name"), backend.system_name());
        assert_eq!(span.attr("db.collection.name"), "accounts");
        assert!(!span.is_error(), "{}", all_text(span));
        let text = span.attr("db.query.text");
        assert!(!text.contains("alice@example.test"), "{text}");
        if backend != Backend::Sqlite {
            assert_eq!(span.attr("server.address"), "127.0.0.1");
            assert!(span.has_attribute("server.port"));
            assert!(span.has_attribute("db.namespace"));
        }
    }
    if backend == Backend::Mariadb {
        assert_eq!(client[0].attr("db.namespace"), namespace);
    }
    let insert = capture.find("INSERT accounts");
    assert_eq!(insert.attr("db.operation.name"), "INSERT");
    assert_eq!(insert.attr("db.query.summary"), "INSERT accounts");
    let update = capture.find("UPDATE accounts");
    assert_eq!(rows_attr(&update), 1);
    assert_eq!(
        int_attr(
            &capture.find("DELETE accounts"),
            "trace_rs.db.response.affected_rows"
        ),
        1
    );
    let selects = capture.find_all("SELECT accounts");
    let returned: Vec<i64> = selects
        .iter()
        .map(|s| int_attr(s, "db.response.returned_rows"))
        .collect();
    assert!(returned.contains(&0), "the missing row: {returned:?}");
    assert!(returned.contains(&1), "{returned:?}");
}

async fn transactions_record_commit_and_rollback_with_statements_nested(ctx: Ctx) {
    let Ctx { db, capture, .. } = ctx;
    db.transaction::<_, (), DbErr>(|txn| {
        Box::pin(async move {
            new_account("t1@example.test", 1).insert(txn).await?;
            new_account("t2@example.test", 2).insert(txn).await?;
            Ok(())
        })
    })
    .await
    .expect("committed");

    let failed = db
        .transaction::<_, (), DbErr>(|txn| {
            Box::pin(async move {
                new_account("t3@example.test", 3).insert(txn).await?;
                Err(DbErr::Custom("abort".into()))
            })
        })
        .await;
    assert!(failed.is_err());

    let dropped = db.begin().await.expect("begin");
    new_account("t4@example.test", 4)
        .insert(&dropped)
        .await
        .expect("insert in dropped txn");
    drop(dropped);

    let emails: Vec<String> = account::Entity::find()
        .order_by_asc(account::Column::Id)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.email)
        .collect();
    assert_eq!(emails, ["t1@example.test", "t2@example.test"]);

    capture.wait_for_spans(3, Duration::from_secs(5)).await;
    let mut txns = capture.find_all(trace_db::TRANSACTION_SPAN_NAME);
    txns.sort_by_key(|s| s.start_time);
    let outcomes: Vec<String> = txns
        .iter()
        .map(|s| s.attr("trace_rs.db.transaction.outcome"))
        .collect();
    assert_eq!(
        outcomes,
        ["commit", "rollback", "rollback"],
        "{}",
        capture.outline()
    );
    let inserts = capture.find_all("INSERT accounts");
    for (txn, expected) in txns.iter().zip([2, 1, 1]) {
        let nested = inserts
            .iter()
            .filter(|s| s.parent_span_id() == txn.span_id())
            .count();
        assert!(nested >= expected, "{}", capture.outline());
        assert!(!txn.is_error());
    }
}

async fn streams_end_their_span_at_the_end_or_on_drop(ctx: Ctx) {
    let Ctx { db, capture, .. } = ctx;
    account::Entity::insert_many((0..5).map(|i| new_account(&format!("s{i}@example.test"), i)))
        .exec(&db)
        .await
        .expect("seed rows");
    capture.clear();
    {
        let mut stream = account::Entity::find().stream(&db).await.expect("stream");
        let mut rows = 0;
        while let Some(row) = stream.next().await {
            row.expect("row");
            rows += 1;
        }
        assert_eq!(rows, 5);
    }
    {
        let mut stream = account::Entity::find().stream(&db).await.expect("stream");
        stream.next().await.expect("one row").expect("row");
        stream.next().await.expect("two rows").expect("row");
    }
    let mut streams = capture.find_all("SELECT accounts");
    streams.sort_by_key(|s| s.start_time);
    let returned: Vec<i64> = streams
        .iter()
        .map(|s| int_attr(s, "db.response.returned_rows"))
        .collect();
    assert_eq!(returned, [5, 2], "{}", capture.outline());
}

async fn raw_sql_literals_never_reach_a_span(ctx: Ctx) {
    let Ctx {
        db,
        capture,
        backend,
        ..
    } = ctx;
    db.execute_unprepared(
        "INSERT INTO accounts (email, balance) VALUES ('s3cr3t@corp.example', 424242) -- note: pw hunter2",
    )
    .await
    .expect("raw insert");
    let rows = db
        .query_all_raw(Statement::from_string(
            backend.db_backend(),
            "SELECT id, balance FROM accounts WHERE email = 's3cr3t@corp.example' AND balance > 424241",
        ))
        .await
        .expect("raw select");
    assert_eq!(rows.len(), 1);

    let insert = capture.find("INSERT accounts");
    assert_eq!(
        insert.attr("db.query.text"),
        "INSERT INTO accounts (email, balance) VALUES (?, ?) "
    );
    assert_eq!(int_attr(&insert, "trace_rs.db.response.affected_rows"), 1);
    let select = capture.find("SELECT accounts");
    assert_eq!(
        select.attr("db.query.text"),
        "SELECT id, balance FROM accounts WHERE email = ? AND balance > ?"
    );
    for span in capture.spans() {
        let text = all_text(&span);
        for secret in ["s3cr3t", "424242", "424241", "hunter2"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}

async fn a_constraint_violation_records_its_code_and_keeps_the_error(ctx: Ctx) {
    let Ctx {
        db,
        capture,
        backend,
        ..
    } = ctx;
    new_account("dup@example.test", 1)
        .insert(&db)
        .await
        .expect("first");
    capture.clear();
    let traced = new_account("dup@example.test", 2)
        .insert(&db)
        .await
        .expect_err("duplicate");
    let untraced = new_account("dup@example.test", 2)
        .insert(db.inner())
        .await
        .expect_err("duplicate, untraced");
    assert_eq!(traced.to_string(), untraced.to_string());
    assert!(
        matches!(traced, DbErr::Exec(_) | DbErr::Query(_)),
        "{traced:?}"
    );

    let span = capture.find("INSERT accounts");
    assert!(span.is_error());
    let code = backend.unique_violation_code();
    assert_eq!(span.attr("db.response.status_code"), code);
    assert_eq!(span.attr("error.type"), code);
    assert!(
        !all_text(&span).contains("dup@example.test"),
        "{}",
        all_text(&span)
    );
}

macro_rules! on_every_backend {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::common::run(super::Backend::Sqlite, stringify!($scenario), super::TraceOptions::new(), super::$scenario).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $scenario() {
                super::common::run(super::Backend::Postgres, stringify!($scenario), super::TraceOptions::new(), super::$scenario).await;
            })*
        }
        mod mariadb {
            $(#[tokio::test]
            async fn $scenario() {
                super::common::run(super::Backend::Mariadb, stringify!($scenario), super::TraceOptions::new(), super::$scenario).await;
            })*
        }
    };
}

on_every_backend!(
    crud_through_entities_nests_client_spans_under_the_caller,
    transactions_record_commit_and_rollback_with_statements_nested,
    streams_end_their_span_at_the_end_or_on_drop,
    raw_sql_literals_never_reach_a_span,
    a_constraint_violation_records_its_code_and_keeps_the_error,
);

/// The OpenTelemetry span current at each `tracing` event, by event target.
struct SpanAtEvents(Arc<Mutex<Vec<(String, SpanId)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanAtEvents {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let current = opentelemetry::Context::map_current(|cx| cx.span().span_context().span_id());
        let target = event.metadata().target().to_owned();
        self.0.lock().unwrap().push((target, current));
    }
}

/// sqlx logs each statement through `tracing` from inside the call (on SQLite it logs
/// from its worker thread instead): the statement's span is current there, so the
/// log line (with trace-log) and any `tracing` span under it carry the span's ids.
async fn statement_logs_are_written_inside_the_statement_span(ctx: Ctx) {
    let seen = Arc::default();
    let subscriber = tracing_subscriber::registry().with(SpanAtEvents(Arc::clone(&seen)));
    account::Entity::find()
        .all(&ctx.db)
        .with_subscriber(subscriber)
        .await
        .expect("query");
    let select = ctx.capture.find("SELECT accounts");
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|(target, id)| target == "sqlx::query" && *id == select.span_context.span_id()),
        "statement span {:?}, events {seen:?}",
        select.span_context.span_id()
    );
}

#[tokio::test]
async fn postgres_statement_logs_are_written_inside_the_statement_span() {
    common::run(
        Backend::Postgres,
        "statement_logs",
        TraceOptions::new(),
        statement_logs_are_written_inside_the_statement_span,
    )
    .await;
}

#[tokio::test]
async fn mariadb_statement_logs_are_written_inside_the_statement_span() {
    common::run(
        Backend::Mariadb,
        "statement_logs",
        TraceOptions::new(),
        statement_logs_are_written_inside_the_statement_span,
    )
    .await;
}
