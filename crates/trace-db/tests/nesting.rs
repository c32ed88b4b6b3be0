//! Where transaction statements go: savepoints and the caller's own spans, on SQLite.

mod common;

use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::SpanKind;
use sea_orm::{ActiveModelTrait, DbErr, Set, TransactionTrait};
use trace_core::{ScopedTracer, SpanStart};
use trace_db::TraceOptions;

use common::{Backend, Ctx, account, run};

static TRACER: ScopedTracer = ScopedTracer::new("trace-db-tests", "0.0.0");

fn row(email: &str) -> account::ActiveModel {
    account::ActiveModel {
        email: Set(email.to_owned()),
        balance: Set(1),
        ..Default::default()
    }
}

#[tokio::test]
async fn savepoints_and_caller_spans_nest_inside_the_transaction() {
    run(
        Backend::Sqlite,
        "nesting",
        TraceOptions::new(),
        |Ctx { db, capture, .. }| async move {
            db.transaction::<_, (), DbErr>(|txn| {
                Box::pin(async move {
                    // A span of our own inside the transaction becomes the statement's parent.
                    let step = TRACER.start(SpanKind::Internal, || SpanStart::new("step"));
                    row("a@example.test")
                        .insert(txn)
                        .with_context(step.context().clone())
                        .await?;
                    step.end();
                    // A savepoint: a nested transaction span with its statement inside.
                    let inner = txn.begin().await?;
                    row("b@example.test").insert(&inner).await?;
                    inner.rollback().await?;
                    Ok(())
                })
            })
            .await
            .unwrap();

            let mut txns = capture.find_all("transaction");
            txns.sort_by_key(|s| s.start_time);
            let [outer, savepoint] = txns.as_slice() else {
                panic!("{}", capture.outline());
            };
            savepoint.assert_child_of(outer);
            assert_eq!(outer.attr("trace_rs.db.transaction.outcome"), "commit");
            assert_eq!(
                savepoint.attr("trace_rs.db.transaction.outcome"),
                "rollback"
            );
            let step = capture.find("step");
            step.assert_child_of(outer);
            let mut inserts = capture.find_all("INSERT accounts");
            inserts.sort_by_key(|s| s.start_time);
            inserts[0].assert_child_of(&step);
            inserts[1].assert_child_of(savepoint);
        },
    )
    .await;
}
