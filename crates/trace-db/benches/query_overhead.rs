//! Per-query overhead of [`TracedConnection`] against the untraced sea-orm
//! connection, on SQLite in memory, measured side by side in one run.
//!
//! Two queries: a primary-key `SELECT` through an entity (`find_by_id(..).one`) and
//! the same `SELECT` as a raw parameterized [`Statement`] (`query_one_raw`). For each,
//! four cases: the untraced `DatabaseConnection`; traced with tracing disabled
//! (trace-core not initialised); traced with every root unsampled
//! (`parentbased_traceidratio` 0); traced at 100% sampling (no exporter, so export
//! cost does not dominate). It prints µs/query (best of several timed loops, the two
//! sides alternated), the delta to untraced in µs, the ratio, and the
//! allocations/query the instrumentation adds (`stats_alloc`; traced minus untraced).

use std::alloc::System;
use std::future::Future;
use std::time::Instant;

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Schema, Set, Statement};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio::runtime::Runtime;
use trace_core::config::{ExporterKind, SamplerKind};
use trace_core::{Config, TracingGuard};
use trace_db::{DbInfo, DbSystem, TracedConnection};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[allow(unreachable_pub)] // sea-orm's derives expect `pub` items
mod account {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub email: String,
        pub balance: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const ITERATIONS: u32 = 1_000;
const ROUNDS: usize = 15;
const ALLOC_ITERATIONS: u64 = 500;

async fn by_entity<C: ConnectionTrait>(db: &C) {
    let row = account::Entity::find_by_id(42)
        .one(db)
        .await
        .expect("query");
    assert!(row.is_some());
}

async fn by_statement<C: ConnectionTrait>(db: &C) {
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT id, email, balance FROM accounts WHERE id = ?",
        [42.into()],
    );
    let row = db.query_one_raw(stmt).await.expect("query");
    assert!(row.is_some());
}

/// Best µs/query of one timed loop.
fn time_once<F, Fut>(rt: &Runtime, query: &F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..ITERATIONS {
            query().await;
        }
        start.elapsed().as_secs_f64() * 1e6 / f64::from(ITERATIONS)
    })
}

fn allocations<F, Fut>(rt: &Runtime, query: &F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    rt.block_on(async {
        query().await; // warm caches (tracer, statement cache)
        let region = Region::new(GLOBAL);
        for _ in 0..ALLOC_ITERATIONS {
            query().await;
        }
        region.change().allocations as f64 / ALLOC_ITERATIONS as f64
    })
}

struct Row {
    case: &'static str,
    query: &'static str,
    untraced_us: f64,
    traced_us: f64,
    extra_allocs: f64,
}

/// Untraced vs traced, alternated, best of `ROUNDS` each.
fn compare<FU, FT, FutU, FutT>(
    rt: &Runtime,
    case: &'static str,
    query: &'static str,
    untraced: FU,
    traced: FT,
) -> Row
where
    FU: Fn() -> FutU,
    FT: Fn() -> FutT,
    FutU: Future<Output = ()>,
    FutT: Future<Output = ()>,
{
    let (mut best_u, mut best_t) = (f64::MAX, f64::MAX);
    time_once(rt, &untraced);
    time_once(rt, &traced);
    for _ in 0..ROUNDS {
        best_u = best_u.min(time_once(rt, &untraced));
        best_t = best_t.min(time_once(rt, &traced));
    }
    let extra_allocs = allocations(rt, &traced) - allocations(rt, &untraced);
    Row {
        case,
        query,
        untraced_us: best_u,
        traced_us: best_t,
        extra_allocs,
    }
}

fn init(sampler: SamplerKind, rate: f64) -> TracingGuard {
    let config = Config {
        service_name: Some("query-overhead-bench".into()),
        exporters: vec![ExporterKind::None],
        sampler,
        sample_rate: rate,
        ..Config::default()
    };
    trace_core::init(&config).expect("bench config is valid")
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let untraced: DatabaseConnection = rt.block_on(async {
        // One connection: every in-memory SQLite connection is its own database.
        let mut options = sea_orm::ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options).await.expect("sqlite");
        let create =
            Schema::new(db.get_database_backend()).create_table_from_entity(account::Entity);
        db.execute(&create).await.expect("table");
        let rows = (1..=100).map(|i| account::ActiveModel {
            id: Set(i),
            email: Set(format!("user{i}@example.test")),
            balance: Set(i64::from(i)),
        });
        account::Entity::insert_many(rows)
            .exec(&db)
            .await
            .expect("rows");
        db
    });
    let traced = TracedConnection::wrap(untraced.clone(), DbInfo::new(DbSystem::Sqlite));

    let mut rows = Vec::new();
    let run_case = |rows: &mut Vec<Row>, case: &'static str| {
        rows.push(compare(
            &rt,
            case,
            "entity",
            || by_entity(&untraced),
            || by_entity(&traced),
        ));
        rows.push(compare(
            &rt,
            case,
            "statement",
            || by_statement(&untraced),
            || by_statement(&traced),
        ));
    };
    run_case(&mut rows, "disabled");
    let guard = init(SamplerKind::ParentBasedTraceIdRatio, 0.0);
    run_case(&mut rows, "unsampled");
    let _ = guard.shutdown();
    let guard = init(SamplerKind::AlwaysOn, 1.0);
    run_case(&mut rows, "sampled 100%");
    let _ = guard.shutdown();

    println!();
    println!(
        "query_overhead (SQLite in memory; µs/query = best of {ROUNDS} loops of {ITERATIONS})"
    );
    println!(
        "{:<13} {:<10} {:>12} {:>10} {:>10} {:>7} {:>16}",
        "case", "query", "untraced µs", "traced µs", "delta µs", "ratio", "extra allocs/q"
    );
    for row in &rows {
        println!(
            "{:<13} {:<10} {:>12.2} {:>10.2} {:>+10.2} {:>7.3} {:>16.2}",
            row.case,
            row.query,
            row.untraced_us,
            row.traced_us,
            row.traced_us - row.untraced_us,
            row.traced_us / row.untraced_us,
            row.extra_allocs,
        );
    }
    println!("targets: sampled delta <= +1 µs/query; unsampled extra allocs/query = 0");
}
