//! CRUD and a transaction through a traced sea-orm connection on SQLite in memory,
//! printed as a span tree on the console.
//!
//! ```text
//! cargo run -p trace-db --example sqlite
//! ```

use std::process::ExitCode;

use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::SpanKind;
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectOptions, ConnectionTrait, Schema, Set, TransactionTrait};
use trace_core::config::ExporterKind;
use trace_core::{Config, ScopedTracer, SpanStart};
use trace_db::{TraceOptions, TracedConnection};

static TRACER: ScopedTracer = ScopedTracer::new("sqlite-example", env!("CARGO_PKG_VERSION"));

#[allow(unreachable_pub)] // sea-orm's derives expect `pub` items
mod cake {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cake")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
        pub price_cents: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // `?` in `main` would print the error's `Debug` form; print what it says instead.
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sqlite: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = trace_core::ConfigLoader::new()
        .defaults(Config {
            service_name: Some("trace-db-example".into()),
            exporters: vec![ExporterKind::Console],
            ..Config::default()
        })
        .load()?;
    let guard = trace_core::init(&config)?;

    // One connection: every in-memory SQLite connection is its own database.
    let mut options = ConnectOptions::new("sqlite::memory:");
    options.max_connections(1).sqlx_logging(false);
    let db = TracedConnection::connect(options, TraceOptions::new()).await?;
    let create = Schema::new(db.get_database_backend()).create_table_from_entity(cake::Entity);
    db.execute(&create).await?;

    let request = TRACER.start(SpanKind::Server, || SpanStart::new("POST /cakes"));
    async {
        let cake = cake::ActiveModel {
            name: Set("Cheesecake".to_owned()),
            price_cents: Set(450),
            ..Default::default()
        }
        .insert(&db)
        .await?;
        let mut active: cake::ActiveModel = cake.clone().into();
        active.price_cents = Set(500);
        active.update(&db).await?;

        db.transaction::<_, (), DbErr>(|txn| {
            Box::pin(async move {
                for name in ["Brownie", "Muffin"] {
                    cake::ActiveModel {
                        name: Set(name.to_owned()),
                        price_cents: Set(300),
                        ..Default::default()
                    }
                    .insert(txn)
                    .await?;
                }
                Ok(())
            })
        })
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;

        let cakes = cake::Entity::find().all(&db).await?;
        println!(
            "{} cakes: {:?}",
            cakes.len(),
            cakes.iter().map(|c| &c.name).collect::<Vec<_>>()
        );
        cake::Entity::delete_by_id(cake.id).exec(&db).await?;
        // Raw SQL: the literals are replaced by `?` in `db.query.text`.
        db.execute_unprepared("UPDATE cake SET price_cents = 350 WHERE name = 'Muffin'")
            .await?;
        Ok::<_, DbErr>(())
    }
    .with_context(request.context().clone())
    .await?;
    request.end();

    guard.shutdown()?;
    Ok(())
}
