//! Per-query overhead of [`TracedConnection`] against the untraced sea-orm
//! connection, on SQLite in memory, measured side by side in one run.
//!
//! Two queries: a primary-key `SELECT` through an entity (`find_by_id(..).one`) and
//! the same `SELECT` as a raw parameterized [`Statement`] (`query_one_raw`). Four
//! variants: the untraced `DatabaseConnection`; traced with tracing disabled
//! (trace-core not initialised); traced with every root unsampled
//! (`parentbased_traceidratio` 0); traced at 100% sampling (no exporter, so export
//! cost does not dominate).
//!
//! sqlx runs each SQLite query on a worker thread, so wall time is mostly the
//! hand-off to it and back, and moves with the scheduler. The figure the targets are
//! judged on is the CPU time of the calling thread, the one that runs sea-orm, sqlx's
//! front end and all of the instrumentation (`/proc/thread-self/schedstat`, Linux),
//! which load on the machine and the worker's timing do not blur. Rounds are short
//! and alternate the variants (in a rotating order); the figure per variant is the
//! median of its rounds, with the spread between the first and third quartiles.
//! Wall-clock µs/query are printed beside it for context. Allocations per query
//! are counted over the whole process (`stats_alloc`); the instrumentation's share
//! is the difference to untraced.

use std::alloc::System;
use std::time::{Duration, Instant};

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

const QUERIES_PER_ROUND: usize = 400;
const WARM_UP_QUERIES: usize = 50;
const ROUNDS: usize = 31;
const ALLOC_QUERIES: usize = 2_000;
/// The target for 100% sampling, in CPU µs per query over untraced.
const TARGET_SAMPLED_US: f64 = 1.0;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Untraced,
    Disabled,
    Unsampled,
    Sampled,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant::Untraced,
        Variant::Disabled,
        Variant::Unsampled,
        Variant::Sampled,
    ];

    fn label(self) -> &'static str {
        match self {
            Variant::Untraced => "untraced",
            Variant::Disabled => "disabled (no init)",
            Variant::Unsampled => "unsampled (ratio 0)",
            Variant::Sampled => "sampled 100%",
        }
    }

    /// trace-core's state for the variant (`None`: not initialised).
    fn init(self) -> Option<TracingGuard> {
        let (sampler, rate) = match self {
            Variant::Untraced | Variant::Disabled => return None,
            Variant::Unsampled => (SamplerKind::ParentBasedTraceIdRatio, 0.0),
            Variant::Sampled => (SamplerKind::AlwaysOn, 1.0),
        };
        let config = Config {
            service_name: Some("query-overhead-bench".into()),
            exporters: vec![ExporterKind::None],
            sampler,
            sample_rate: rate,
            ..Config::default()
        };
        Some(trace_core::init(&config).expect("bench config is valid"))
    }
}

#[derive(Clone, Copy)]
enum Query {
    Entity,
    Statement,
}

impl Query {
    const ALL: [Query; 2] = [Query::Entity, Query::Statement];

    fn label(self) -> &'static str {
        match self {
            Query::Entity => "entity",
            Query::Statement => "statement",
        }
    }
}

struct Connections {
    untraced: DatabaseConnection,
    traced: TracedConnection,
}

impl Connections {
    fn run(&self, rt: &Runtime, variant: Variant, query: Query, count: usize) {
        rt.block_on(async {
            for _ in 0..count {
                match variant {
                    Variant::Untraced => one(&self.untraced, query).await,
                    _ => one(&self.traced, query).await,
                }
            }
        });
    }
}

async fn one<C: ConnectionTrait>(db: &C, query: Query) {
    let row = match query {
        Query::Entity => account::Entity::find_by_id(42)
            .one(db)
            .await
            .expect("query")
            .map(|_| ()),
        Query::Statement => {
            let stmt = Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT id, email, balance FROM accounts WHERE id = ?",
                [42.into()],
            );
            db.query_one_raw(stmt).await.expect("query").map(|_| ())
        }
    };
    assert!(row.is_some());
}

/// CPU time this thread has used (Linux schedstat; `None` elsewhere). The kernel
/// brings the figure up to date only when the thread is switched out or on a tick
/// (milliseconds apart), so yield first: that switches it out for an instant.
fn thread_cpu() -> Option<Duration> {
    std::thread::yield_now();
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Median and interquartile range.
fn summary(values: &[f64]) -> (f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: usize| sorted[(sorted.len() - 1) * q / 4];
    (at(2), at(3) - at(1))
}

#[derive(Default, Clone)]
struct Samples {
    cpu_us: Vec<f64>,
    wall_us: Vec<f64>,
    allocs: f64,
}

fn setup(rt: &Runtime) -> Connections {
    let untraced = rt.block_on(async {
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
    Connections { untraced, traced }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let db = setup(&rt);
    let cases = Variant::ALL.len() * Query::ALL.len();
    let index = |v: usize, q: usize| v * Query::ALL.len() + q;
    let mut samples = vec![Samples::default(); cases];

    for round in 0..ROUNDS {
        for offset in 0..Variant::ALL.len() {
            let v = (round + offset) % Variant::ALL.len();
            let variant = Variant::ALL[v];
            let guard = variant.init();
            for (q, query) in Query::ALL.into_iter().enumerate() {
                db.run(&rt, variant, query, WARM_UP_QUERIES);
                let (start, cpu_start) = (Instant::now(), thread_cpu());
                db.run(&rt, variant, query, QUERIES_PER_ROUND);
                let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end - start);
                let wall = start.elapsed();
                let per_query = |d: Duration| d.as_secs_f64() * 1e6 / QUERIES_PER_ROUND as f64;
                let case = &mut samples[index(v, q)];
                case.cpu_us.push(cpu.map_or(f64::NAN, per_query));
                case.wall_us.push(per_query(wall));
            }
            if let Some(guard) = guard {
                guard.shutdown().expect("shutdown");
            }
        }
    }
    for (v, variant) in Variant::ALL.into_iter().enumerate() {
        let guard = variant.init();
        for (q, query) in Query::ALL.into_iter().enumerate() {
            db.run(&rt, variant, query, WARM_UP_QUERIES);
            let region = Region::new(GLOBAL);
            db.run(&rt, variant, query, ALLOC_QUERIES);
            samples[index(v, q)].allocs =
                region.change().allocations as f64 / ALLOC_QUERIES as f64;
        }
        if let Some(guard) = guard {
            guard.shutdown().expect("shutdown");
        }
    }

    println!();
    println!(
        "query_overhead: SQLite in memory, {ROUNDS} rounds x {QUERIES_PER_ROUND} queries per variant, \
         median per variant (iqr = spread of the middle half)"
    );
    println!("cpu = CPU time of the calling thread (judged); wall = elapsed time (context only)");
    println!(
        "{:<10} {:<20} {:>8} {:>6} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "query",
        "variant",
        "cpu µs",
        "iqr",
        "delta",
        "ratio",
        "wall µs",
        "delta",
        "allocs/q",
        "delta"
    );
    let mut verdicts = Vec::new();
    for (q, query) in Query::ALL.into_iter().enumerate() {
        let base = &samples[index(0, q)];
        let (base_cpu, _) = summary(&base.cpu_us);
        let (base_wall, _) = summary(&base.wall_us);
        for (v, variant) in Variant::ALL.into_iter().enumerate() {
            let case = &samples[index(v, q)];
            let (cpu, iqr) = summary(&case.cpu_us);
            let (wall, _) = summary(&case.wall_us);
            let extra_allocs = case.allocs - base.allocs;
            println!(
                "{:<10} {:<20} {:>8.2} {:>6.2} {:>+8.2} {:>6.3}x {:>8.2} {:>+8.2} {:>8.2} {:>+8.2}",
                query.label(),
                variant.label(),
                cpu,
                iqr,
                cpu - base_cpu,
                cpu / base_cpu,
                wall,
                wall - base_wall,
                case.allocs,
                extra_allocs,
            );
            match variant {
                Variant::Untraced => {}
                Variant::Disabled | Variant::Unsampled => verdicts.push((
                    // One allocation per query would show as +1.00; the fraction
                    // either side of 0 is sqlx's worker, not us.
                    extra_allocs.abs() < 0.5,
                    format!(
                        "{} {}: no allocation by the instrumentation ({extra_allocs:+.2}/query)",
                        query.label(),
                        variant.label()
                    ),
                )),
                Variant::Sampled => verdicts.push((
                    cpu - base_cpu <= TARGET_SAMPLED_US,
                    format!(
                        "{} {}: at most +{TARGET_SAMPLED_US} µs CPU/query ({:+.2} µs, {:.3}x)",
                        query.label(),
                        variant.label(),
                        cpu - base_cpu,
                        cpu / base_cpu
                    ),
                )),
            }
        }
    }
    println!();
    for (pass, line) in verdicts {
        println!("{} {line}", if pass { "PASS" } else { "MISS" });
    }
}
