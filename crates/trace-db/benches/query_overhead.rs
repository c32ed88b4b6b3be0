//! Per-query overhead of [`TracedConnection`] against the untraced sea-orm
//! connection, on SQLite in memory, measured side by side in one run.
//!
//! Two queries: a primary-key `SELECT` through an entity (`find_by_id(..).one`) and
//! the same `SELECT` as a raw parameterized [`Statement`] (`query_one_raw`). Four
//! variants: the untraced `DatabaseConnection`; traced with tracing disabled
//! (`init` with `enabled: false`; an uninitialised trace-core is not disabled, it
//! records through `opentelemetry::global`'s provider); traced with every root unsampled
//! (`parentbased_traceidratio` 0); traced at 100% sampling. The traced variants export
//! as a service's would: OTLP http/protobuf through `init`'s default pipeline to an OTLP
//! receiver in a process of its own (trace-bench-support's), and the spans ended and
//! received are compared at the end; `--no-export` (or `BENCH_NO_EXPORT=1`) gives them no
//! exporter.
//!
//! While it runs, the CPUs are kept from halting (`trace_bench_support::CpusAwake`: a
//! CPU latency request of 0 µs when the bench may make one, else one lowest-priority
//! busy loop per CPU; `BENCH_LET_CPUS_IDLE=1` turns it off): every round trip sleeps
//! and wakes, and on an idle virtual machine each wake-up of a halted CPU costs tens of
//! microseconds that vary far more than what is measured.
//!
//! sqlx runs each SQLite query on a worker thread, so wall time is mostly the
//! hand-off to it and back, and moves with the scheduler. The figure the targets are
//! judged on is the CPU time of the calling thread, the one that runs sea-orm, sqlx's
//! front end and all of the instrumentation (`/proc/thread-self/schedstat`, Linux),
//! which load on the machine does not blur. Each round opens a fresh database (so a
//! fresh sqlx worker, placed anew by the scheduler) and runs the variants in a
//! rotating order; a variant's figure is the median over rounds, its delta the median
//! of its per-round differences to untraced. Allocations per query are counted the
//! same way over the whole process (trace-bench-support's counting allocator; sqlx's worker included, so the
//! instrumentation's share is the difference to untraced). Wall-clock µs/query are
//! printed for context.
//!
//! The calling thread's CPU time still includes the hand-off to sqlx's worker: each
//! time the thread sleeps waiting for it and is woken costs kernel time, and a few
//! hundred nanoseconds more or less work per query can change how often that happens,
//! either way (the `sleeps` column shows it). So the same queries also run against a
//! control, sea-orm's mock connection, which answers at once on the calling thread:
//! there the instrumentation's own work is all that differs.

use std::time::{Duration, Instant};

use sea_orm::entity::prelude::*;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, MockDatabase, Schema, Set, Statement,
};
use tokio::runtime::Runtime;
use trace_bench_support::BenchCase;
use trace_bench_support::alloc::{CountingAllocator, Region};
use trace_bench_support::proc::thread_cpu;
use trace_bench_support::receiver::{BenchExport, CaseRuns};
use trace_db::{DbInfo, DbSystem, TracedConnection};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

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
            Variant::Disabled => "disabled",
            Variant::Unsampled => "unsampled (ratio 0)",
            Variant::Sampled => "sampled 100%",
        }
    }

    /// The traced variant's case (`None`: not initialised, for the untraced connection).
    fn case(self) -> Option<BenchCase> {
        match self {
            Variant::Untraced => None,
            Variant::Disabled => Some(BenchCase::Disabled),
            Variant::Unsampled => Some(BenchCase::Unsampled),
            Variant::Sampled => Some(BenchCase::Sampled),
        }
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

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Mock,
}

impl Backend {
    const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Mock];

    fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Mock => "control",
        }
    }

    /// Connects; the control is loaded with a row for each of `queries` queries.
    fn connect(self, rt: &Runtime, queries: usize) -> Connections {
        let untraced = match self {
            Backend::Sqlite => sqlite(rt),
            Backend::Mock => {
                let row = account::Model {
                    id: 42,
                    email: "user42@example.test".into(),
                    balance: 42,
                };
                MockDatabase::new(DbBackend::Sqlite)
                    .append_query_results(vec![[row]; queries])
                    .into_connection()
            }
        };
        let traced = TracedConnection::wrap(untraced.clone(), DbInfo::new(DbSystem::Sqlite));
        Connections { untraced, traced }
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

/// How often this thread has gone to sleep (Linux; `None` elsewhere): each sleep and
/// wake-up is kernel time on its CPU clock.
fn thread_sleeps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let line = status
        .lines()
        .find(|line| line.starts_with("voluntary_ctxt_switches:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Median of the per-round differences `case - base` (rounds are paired).
fn paired_delta(case: &[f64], base: &[f64]) -> f64 {
    let deltas: Vec<f64> = case.iter().zip(base).map(|(c, b)| c - b).collect();
    summary(&deltas).0
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
    sleeps: Vec<f64>,
    allocs: Vec<f64>,
}

fn sqlite(rt: &Runtime) -> DatabaseConnection {
    rt.block_on(async {
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
    })
}

/// Where a case's samples live.
fn case_index(b: usize, q: usize, v: usize) -> usize {
    (b * Query::ALL.len() + q) * Variant::ALL.len() + v
}

fn main() {
    BenchExport::serve_if_receiver();
    let export = BenchExport::start_unless_off("query_overhead");
    let mut runs = CaseRuns::new(export.as_ref(), "query-overhead-bench");
    // Round trips sleep and wake: idle (halting) CPUs would add more noise than the
    // instrumentation costs.
    let _awake = trace_bench_support::CpusAwake::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cases = Backend::ALL.len() * Query::ALL.len() * Variant::ALL.len();
    let mut samples = vec![Samples::default(); cases];

    for round in 0..ROUNDS {
        // A fresh database per round: sqlx starts a new worker thread, so where the
        // scheduler puts it relative to this thread varies within the run, not only
        // between runs.
        let queries = Variant::ALL.len() * Query::ALL.len() * (WARM_UP_QUERIES + QUERIES_PER_ROUND);
        let dbs: Vec<Connections> = Backend::ALL
            .iter()
            .map(|b| b.connect(&rt, queries))
            .collect();
        for offset in 0..Variant::ALL.len() {
            let v = (round + offset) % Variant::ALL.len();
            let variant = Variant::ALL[v];
            let run = variant.case().map(|case| runs.start(case));
            for (b, db) in dbs.iter().enumerate() {
                for (q, query) in Query::ALL.into_iter().enumerate() {
                    db.run(&rt, variant, query, WARM_UP_QUERIES);
                    let sleeps_start = thread_sleeps();
                    let (start, cpu_start) = (Instant::now(), thread_cpu());
                    let region = Region::new();
                    db.run(&rt, variant, query, QUERIES_PER_ROUND);
                    let allocations = region.change().allocations;
                    let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end - start);
                    let wall = start.elapsed();
                    let sleeps = thread_sleeps()
                        .zip(sleeps_start)
                        .map(|(end, start)| end - start);
                    let per_query = |d: Duration| d.as_secs_f64() * 1e6 / QUERIES_PER_ROUND as f64;
                    let count = |n: u64| n as f64 / QUERIES_PER_ROUND as f64;
                    let case = &mut samples[case_index(b, q, v)];
                    case.cpu_us.push(cpu.map_or(f64::NAN, per_query));
                    case.wall_us.push(per_query(wall));
                    case.sleeps.push(sleeps.map_or(f64::NAN, count));
                    case.allocs.push(count(allocations as u64));
                }
            }
            if let Some(run) = run {
                runs.finish(run);
            }
        }
    }
    println!();
    println!(
        "query_overhead: {ROUNDS} rounds x {QUERIES_PER_ROUND} queries per case; sqlite = SQLite in \
         memory (judged); control = sea-orm's mock answering at once on this thread"
    );
    println!(
        "cpu = CPU time of the calling thread, median over rounds (iqr = spread of the middle \
         half); delta = median of per-round differences to untraced; sleeps = times the \
         calling thread slept per query; wall = elapsed (context only)"
    );
    println!(
        "{:<8} {:<10} {:<20} {:>7} {:>5} {:>7} {:>7} {:>6} {:>7} {:>7} {:>8} {:>6}",
        "backend",
        "query",
        "variant",
        "cpu µs",
        "iqr",
        "delta",
        "ratio",
        "sleeps",
        "wall µs",
        "delta",
        "allocs/q",
        "delta"
    );
    let mut verdicts = Vec::new();
    for (b, backend) in Backend::ALL.into_iter().enumerate() {
        for (q, query) in Query::ALL.into_iter().enumerate() {
            let base = &samples[case_index(b, q, 0)];
            let (base_cpu, _) = summary(&base.cpu_us);
            for (v, variant) in Variant::ALL.into_iter().enumerate() {
                let case = &samples[case_index(b, q, v)];
                let (cpu, iqr) = summary(&case.cpu_us);
                let (wall, _) = summary(&case.wall_us);
                let (sleeps, _) = summary(&case.sleeps);
                let cpu_delta = paired_delta(&case.cpu_us, &base.cpu_us);
                let wall_delta = paired_delta(&case.wall_us, &base.wall_us);
                let ratio = (base_cpu + cpu_delta) / base_cpu;
                let (allocs, _) = summary(&case.allocs);
                let extra_allocs = paired_delta(&case.allocs, &base.allocs);
                println!(
                    "{:<8} {:<10} {:<20} {:>7.2} {:>5.2} {:>+7.2} {:>6.3}x {:>6.2} {:>7.2} {:>+7.2} {:>8.2} {:>+6.2}",
                    backend.label(),
                    query.label(),
                    variant.label(),
                    cpu,
                    iqr,
                    cpu_delta,
                    ratio,
                    sleeps,
                    wall,
                    wall_delta,
                    allocs,
                    extra_allocs,
                );
                let what = format!("{} {} {}", backend.label(), query.label(), variant.label());
                match (backend, variant) {
                    (Backend::Sqlite, Variant::Disabled) => verdicts.push((
                        // One allocation per query would show as +1.00; the fraction
                        // either side of 0 is sqlx's worker, not us.
                        extra_allocs.abs() < 0.5,
                        format!(
                            "{what}: no allocation by the instrumentation ({extra_allocs:+.2}/query)"
                        ),
                    )),
                    (Backend::Sqlite, Variant::Unsampled) => verdicts.push((
                        // An unsampled statement is a non-recording span with a span
                        // context of its own, which its polls run in: one allocation.
                        extra_allocs < 1.5,
                        format!(
                            "{what}: at most one allocation by the instrumentation, the \
                             span's context ({extra_allocs:+.2}/query)"
                        ),
                    )),
                    (Backend::Sqlite, Variant::Sampled) => verdicts.push((
                        cpu_delta <= TARGET_SAMPLED_US,
                        format!(
                            "{what}: at most +{TARGET_SAMPLED_US} µs CPU/query over untraced \
                             ({cpu_delta:+.2} µs, {ratio:.3}x)"
                        ),
                    )),
                    (Backend::Mock, Variant::Sampled) => {
                        // Over the mock the wrapper calls sea-orm's boxed trait method (the
                        // sqlx pools it calls directly): compare with disabled, which pays
                        // that too, to see the instrumentation's own work.
                        let disabled = &samples[case_index(b, q, 1)];
                        let work = paired_delta(&case.cpu_us, &disabled.cpu_us);
                        verdicts.push((
                            work <= TARGET_SAMPLED_US,
                            format!(
                                "{what}: the instrumentation's own work (sampled - disabled) \
                                 at most +{TARGET_SAMPLED_US} µs CPU/query ({work:+.2} µs)"
                            ),
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    println!();
    for (pass, line) in verdicts {
        println!("{} {line}", if pass { "PASS" } else { "MISS" });
    }
    runs.print();
}
