//! trace-core's `tracing` bridge beside trace-db, on SQLite: sea-orm's and sqlx's own
//! `tracing` spans and events stay out of the traces, trace-db's statement span and a
//! user's `#[instrument]` span are there.

mod common;

use std::sync::{Arc, Mutex};

use sea_orm::EntityTrait as _;
use trace_db::{TraceOptions, TracedConnection};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

use common::{Backend, Ctx, account, all_text};

/// The targets of the spans and events every layer of the subscriber sees.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl<S> tracing_subscriber::Layer<S> for Seen
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: LayerContext<'_, S>,
    ) {
        let meta = attrs.metadata();
        let seen = format!("span {} {}", meta.target(), meta.name());
        self.0.lock().unwrap().push(seen);
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        let seen = format!("event {}", event.metadata().target());
        self.0.lock().unwrap().push(seen);
    }
}

#[tracing::instrument(skip(db))]
async fn load_accounts(db: &TracedConnection) -> Vec<account::Model> {
    account::Entity::find().all(db).await.expect("query")
}

#[tokio::test]
async fn library_spans_stay_out_while_statement_and_instrument_spans_go_in() {
    // Installed before the provider (`run` installs it), as a service may do.
    let seen = Seen::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(trace_core::tracing_bridge::layer())
            .with(seen.clone()),
    )
    .expect("the only subscriber of this test binary");

    common::run(
        Backend::Sqlite,
        "tracing_bridge",
        TraceOptions::new(),
        |Ctx { db, capture, .. }| async move {
            seen.0.lock().unwrap().clear();
            load_accounts(&db).await;
            // The function's `tracing` span closes once sea-orm's span under it has, and
            // sqlx's SQLite worker thread may let go of that one a moment later.
            capture
                .wait_for_spans(2, std::time::Duration::from_secs(5))
                .await;

            let user = capture.find("load_accounts");
            assert_eq!(
                user.instrumentation_scope.name(),
                trace_core::tracing_bridge::TRACING_SCOPE
            );
            let select = capture.find("SELECT accounts");
            select.assert_child_of(&user);
            assert_eq!(capture.spans().len(), 2, "{}", capture.outline());
            for span in capture.spans() {
                let text = all_text(&span);
                assert!(
                    !text.contains("sea_orm") && !text.contains("sqlx") && !text.contains("Pool"),
                    "{text}"
                );
            }

            // They were there: sea-orm's span (with its `self=...Pool...` field) and
            // sqlx's statement log reached the subscriber, and a log layer beside the
            // bridge still sees them.
            let seen = seen.0.lock().unwrap();
            assert!(
                seen.iter().any(|s| s.starts_with("span sea_orm::")),
                "{seen:#?}"
            );
            assert!(seen.iter().any(|s| s == "event sqlx::query"), "{seen:#?}");
        },
    )
    .await;
}
