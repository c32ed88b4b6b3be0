//! Options and sampling, on SQLite.

mod common;

use opentelemetry::KeyValue;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set, TransactionTrait};
use trace_core::Sampling;
use trace_core::config::SamplerKind;
use trace_core::testing::SpanCapture;
use trace_db::{DbInfo, DbSystem, TraceOptions, TracedConnection};

use common::{Backend, Ctx, account, run};

fn alice() -> account::ActiveModel {
    account::ActiveModel {
        email: Set("alice@example.test".to_owned()),
        balance: Set(7),
        ..Default::default()
    }
}

#[tokio::test]
async fn parameters_are_captured_only_when_asked() {
    let options = TraceOptions::new().capture_parameters(true);
    run(
        Backend::Sqlite,
        "params_on",
        options,
        |Ctx { db, capture, .. }| async move {
            alice().insert(&db).await.unwrap();
            let insert = capture.find("INSERT accounts");
            assert_eq!(insert.attr("db.query.parameter.0"), "'alice@example.test'");
            assert_eq!(insert.attr("db.query.parameter.1"), "7");
        },
    )
    .await;
    run(
        Backend::Sqlite,
        "params_off",
        TraceOptions::new(),
        |Ctx { db, capture, .. }| async move {
            alice().insert(&db).await.unwrap();
            assert!(
                !capture
                    .find("INSERT accounts")
                    .has_attribute("db.query.parameter.0")
            );
        },
    )
    .await;
}

#[tokio::test]
async fn repeated_statements_keep_their_own_values() {
    // Calls after the first describe the SQL from the connection's cache; captured
    // parameters are still each call's own.
    let emails = ["a@example.test", "b@example.test", "c@example.test"];
    run(
        Backend::Sqlite,
        "repeated",
        TraceOptions::new().capture_parameters(true),
        |Ctx { db, capture, .. }| async move {
            for email in emails {
                let row = account::ActiveModel {
                    email: Set(email.to_owned()),
                    balance: Set(1),
                    ..Default::default()
                };
                row.insert(&db).await.unwrap();
            }
            let inserts = capture.find_all("INSERT accounts");
            assert_eq!(inserts.len(), 3, "{}", capture.outline());
            let mut captured: Vec<String> = inserts
                .iter()
                .map(|span| span.attr("db.query.parameter.0"))
                .collect();
            captured.sort();
            let expected: Vec<String> = emails.iter().map(|e| format!("'{e}'")).collect();
            assert_eq!(captured, expected);
            for span in &inserts {
                assert_eq!(span.attr("db.query.text"), inserts[0].attr("db.query.text"));
                assert_eq!(span.attr("db.query.summary"), "INSERT accounts");
                assert_eq!(span.attr("db.operation.name"), "INSERT");
                assert_eq!(span.attr("db.collection.name"), "accounts");
            }
        },
    )
    .await;
}

#[tokio::test]
async fn statement_capture_length_and_extra_attributes() {
    let options = TraceOptions::new()
        .capture_statement(false)
        .with_attribute(KeyValue::new("db.client.pool", "primary"));
    run(
        Backend::Sqlite,
        "no_text",
        options,
        |Ctx { db, capture, .. }| async move {
            db.transaction::<_, _, sea_orm::DbErr>(|txn| {
                Box::pin(async move { alice().insert(txn).await })
            })
            .await
            .unwrap();
            let insert = capture.find("INSERT accounts");
            assert!(!insert.has_attribute("db.query.text"));
            assert_eq!(insert.attr("db.query.summary"), "INSERT accounts");
            assert_eq!(insert.attr("db.client.pool"), "primary");
            assert_eq!(
                capture.find("transaction").attr("db.client.pool"),
                "primary"
            );
        },
    )
    .await;
    let options = TraceOptions::new().max_statement_length(16);
    run(
        Backend::Sqlite,
        "short_text",
        options,
        |Ctx { db, capture, .. }| async move {
            account::Entity::find().all(&db).await.unwrap();
            let text = capture.find("SELECT accounts").attr("db.query.text");
            assert_eq!(text, r#"SELECT "accounts"#);
        },
    )
    .await;
}

#[tokio::test]
async fn unsampled_and_disabled_connections_work_and_record_nothing() {
    let inner = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let db = TracedConnection::wrap(inner, DbInfo::new(DbSystem::Sqlite));
    // Disabled: no provider installed.
    db.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        .await
        .unwrap();
    let capture =
        SpanCapture::install_with(Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.0));
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared("INSERT INTO t (v) VALUES ('x')")
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT v FROM t",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(capture.spans().is_empty(), "{}", capture.outline());
}
