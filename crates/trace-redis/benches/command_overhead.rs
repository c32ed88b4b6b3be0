//! Per-command overhead of trace-redis against an untraced fred client, same server,
//! same process, one run.
//!
//! The server is `TRACE_RS_REDIS_URL` when set; otherwise the bench starts its own
//! redis-server (`TRACE_RS_REDIS_SERVER`, else `redis-server` from `PATH`) on a free
//! loopback port and stops it at the end.
//!
//! Variants (all on one current-thread runtime, one client, `GET` of a present key):
//!
//! - `untraced`: fred with its tracing feature compiled in but nothing subscribed, the
//!   fair baseline (this crate needs fred's `partial-tracing` feature);
//! - `registry only`: a plain `tracing_subscriber::registry()` without
//!   `RedisSubscriberLayer`: what any subscriber pays for fred's own spans
//!   (`fred.command`, `fred.rtt`);
//! - `traced 100%`: `RedisSubscriberLayer` subscribed, trace-core initialised with
//!   always-on sampling;
//! - `traced 100% + .traced()`: as above, with the outcome recorded by the wrapper;
//! - `unsampled`: parent-based ratio 0;
//! - `disabled`: trace-core initialised with `enabled: false`: `RedisSubscriberLayer`
//!   subscribed but no OpenTelemetry work, so the subscriber's bookkeeping of
//!   `fred.command` alone.
//!
//! The traced variants export as a service's would: OTLP http/protobuf through `init`'s
//! default pipeline to an OTLP receiver in a process of its own (trace-bench-support's),
//! and the spans ended and received are compared at the end; `--no-export` (or
//! `BENCH_NO_EXPORT=1`) gives them no exporter.
//!
//! While it runs, the CPUs are kept from halting (`trace_bench_support::CpusAwake`: a
//! CPU latency request of 0 µs when the bench may make one, else one lowest-priority
//! busy loop per CPU; `BENCH_LET_CPUS_IDLE=1` turns it off): every round trip sleeps
//! and wakes, and on an idle virtual machine each wake-up of a halted CPU costs tens of
//! microseconds that vary far more than what is measured.
//!
//! Each round runs two workloads per variant: one command at a time (each `GET` waits
//! for its reply, so every command sleeps and wakes the runtime thread once), and
//! `IN_FLIGHT` tasks issuing commands side by side on the same runtime thread, as a
//! busy service does (the thread rarely sleeps, so the figure is mostly the client's
//! and the instrumentation's own work).
//!
//! Each variant runs with its subscriber as the thread's scoped default (a process-wide
//! default, as services install it, measured about 200 instructions per command less
//! under callgrind for the subscribed variants).
//!
//! Rounds alternate the variants (every other round in reverse order) so load on the
//! machine hits them alike; the figure per variant is the median of its rounds, and
//! each delta is the median over rounds of the difference to `untraced` in the same
//! round (so a round slowed by other load on the machine is compared with itself). Two
//! figures: wall-clock µs per command, and CPU µs per command of the runtime thread
//! (`/proc/thread-self/schedstat`; the client, fred's connection task and the
//! instrumentation all run on it), which waiting on the server does not blur.
//! Allocations per command are counted with trace-bench-support's counting allocator over the whole process, one
//! command at a time (fred's own allocations included, so the instrumentation's share
//! is the difference to `untraced`).
//!
//! For a profiler, `COMMAND_OVERHEAD_ONLY=<variant>` (`untraced`, `registry`, `traced`,
//! `traced-outcome`, `unsampled`, `disabled`) runs just that variant for
//! `COMMAND_OVERHEAD_COMMANDS` commands (default 2000) and prints nothing else; under
//! `valgrind --tool=callgrind`, the difference between two such runs of different
//! lengths, divided by the difference in commands, is the instruction count per command.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fred::prelude::*;
use trace_bench_support::BenchCase;
use trace_bench_support::alloc::{CountingAllocator, Region};
use trace_bench_support::proc::thread_cpu;
use trace_bench_support::receiver::{BenchExport, CaseRuns};
use trace_redis::RedisFutureExt;
use tracing::Dispatch;
use tracing::subscriber::NoSubscriber;
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const COMMANDS_PER_ROUND: usize = 2_000;
const ROUNDS: usize = 31;
const ALLOC_COMMANDS: usize = 2_000;
/// Commands issued side by side in the [`Workload::InFlight`] rounds.
const IN_FLIGHT: usize = 16;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Untraced,
    RegistryOnly,
    Traced,
    TracedOutcome,
    Unsampled,
    Disabled,
}

impl Variant {
    const ALL: [Variant; 6] = [
        Variant::Untraced,
        Variant::RegistryOnly,
        Variant::Traced,
        Variant::TracedOutcome,
        Variant::Unsampled,
        Variant::Disabled,
    ];

    /// The name `COMMAND_OVERHEAD_ONLY` selects the variant by.
    fn key(self) -> &'static str {
        match self {
            Variant::Untraced => "untraced",
            Variant::RegistryOnly => "registry",
            Variant::Traced => "traced",
            Variant::TracedOutcome => "traced-outcome",
            Variant::Unsampled => "unsampled",
            Variant::Disabled => "disabled",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Variant::Untraced => "untraced (nothing subscribed)",
            Variant::RegistryOnly => "registry only (no RedisSubscriberLayer)",
            Variant::Traced => "traced 100%",
            Variant::TracedOutcome => "traced 100% + .traced()",
            Variant::Unsampled => "unsampled (ratio 0)",
            Variant::Disabled => "disabled (enabled: false)",
        }
    }

    /// trace-core's state for the variant (`None`: not initialised at all).
    fn case(self) -> Option<BenchCase> {
        match self {
            Variant::Untraced | Variant::RegistryOnly => None,
            Variant::Traced | Variant::TracedOutcome => Some(BenchCase::Sampled),
            Variant::Unsampled => Some(BenchCase::Unsampled),
            Variant::Disabled => Some(BenchCase::Disabled),
        }
    }

    fn dispatch(self) -> Dispatch {
        match self {
            // Registered like the others, so callsite interest is rebuilt as "never":
            // `Dispatch::none()` would keep whatever the previous variant left cached.
            Variant::Untraced => Dispatch::new(NoSubscriber::default()),
            Variant::RegistryOnly => Dispatch::new(tracing_subscriber::registry()),
            _ => Dispatch::new(
                tracing_subscriber::registry().with(trace_redis::RedisSubscriberLayer::new()),
            ),
        }
    }
}

/// How the commands of a round are issued.
#[derive(Clone, Copy, PartialEq)]
enum Workload {
    /// One task, one command at a time: each command waits for its reply.
    OneAtATime,
    /// [`IN_FLIGHT`] tasks issuing commands side by side, as a busy service does.
    InFlight,
}

impl Workload {
    const ALL: [Workload; 2] = [Workload::OneAtATime, Workload::InFlight];

    fn label(self) -> String {
        match self {
            Workload::OneAtATime => "one command at a time".into(),
            Workload::InFlight => format!("{IN_FLIGHT} commands in flight"),
        }
    }
}

async fn run(client: &Client, variant: Variant, workload: Workload, commands: usize) {
    match workload {
        Workload::OneAtATime => run_task(client, variant, commands).await,
        Workload::InFlight => {
            // Tasks on the bench's current-thread runtime: the runtime thread still does
            // all of the client's and the instrumentation's work.
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..IN_FLIGHT {
                let client = client.clone();
                tasks.spawn(async move { run_task(&client, variant, commands / IN_FLIGHT).await });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("bench task");
            }
        }
    }
}

async fn run_task(client: &Client, variant: Variant, commands: usize) {
    for _ in 0..commands {
        let value: Option<String> = if variant == Variant::TracedOutcome {
            client.get("bench:key").traced().await
        } else {
            client.get("bench:key").await
        }
        .expect("GET succeeds");
        std::hint::black_box(value);
    }
}

/// A redis-server of the bench's own, killed on drop.
struct OwnServer(Child, std::path::PathBuf);

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn server_url() -> (String, Option<OwnServer>) {
    if let Ok(url) = std::env::var("TRACE_RS_REDIS_URL") {
        return (url, None);
    }
    let binary = std::env::var("TRACE_RS_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = std::env::temp_dir().join(format!("trace-redis-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let child = Command::new(&binary)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {binary} ({e}); set TRACE_RS_REDIS_URL or TRACE_RS_REDIS_SERVER")
        });
    let server = OwnServer(child, dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (format!("redis://127.0.0.1:{port}/"), Some(server))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One variant's per-command figure against `untraced`, from rounds run side by side.
struct Figure {
    median: f64,
    /// Median over rounds of (this variant - untraced) in the same round.
    delta: f64,
    lowest: f64,
    highest: f64,
    /// Median of this variant over median of untraced.
    ratio: f64,
}

impl Figure {
    fn of(rounds: &[f64], untraced: &[f64]) -> Self {
        let differences: Vec<f64> = rounds.iter().zip(untraced).map(|(v, u)| v - u).collect();
        let lowest = differences.iter().copied().fold(f64::INFINITY, f64::min);
        let highest = differences
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let median_value = median(rounds.to_vec());
        Self {
            median: median_value,
            delta: median(differences),
            lowest,
            highest,
            ratio: median_value / median(untraced.to_vec()),
        }
    }
}

/// Runs only the variant named `only` (see the module documentation).
fn profile(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    runs: &mut CaseRuns<'_>,
    only: &str,
) {
    let variant = Variant::ALL
        .into_iter()
        .find(|variant| variant.key() == only)
        .unwrap_or_else(|| panic!("COMMAND_OVERHEAD_ONLY={only} is no variant"));
    let commands = std::env::var("COMMAND_OVERHEAD_COMMANDS").map_or(2_000, |n| {
        n.parse().expect("COMMAND_OVERHEAD_COMMANDS is a count")
    });
    let case_run = variant.case().map(|case| runs.start(case));
    tracing::dispatcher::with_default(&variant.dispatch(), || {
        runtime.block_on(run(client, variant, Workload::OneAtATime, 200)); // warm up
        runtime.block_on(run(client, variant, Workload::OneAtATime, commands));
    });
    if let Some(case_run) = case_run {
        runs.finish(case_run);
    }
}

/// Per-command samples of one workload: a row per variant, a column per round.
#[derive(Clone)]
struct Samples {
    wall: Vec<Vec<f64>>,
    cpu: Vec<Vec<f64>>,
}

/// Runs every variant in alternating rounds and prints the tables and the verdicts.
fn compare(runtime: &tokio::runtime::Runtime, client: &Client, runs: &mut CaseRuns<'_>) {
    let empty = Samples {
        wall: vec![Vec::new(); Variant::ALL.len()],
        cpu: vec![Vec::new(); Variant::ALL.len()],
    };
    let mut samples = vec![empty; Workload::ALL.len()];
    for round in 0..ROUNDS {
        // Every other round runs the variants in reverse, so a drift in machine load
        // does not always favour the variants run first.
        let mut order: Vec<usize> = (0..Variant::ALL.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let variant = Variant::ALL[index];
            let case_run = variant.case().map(|case| runs.start(case));
            let dispatch = variant.dispatch();
            tracing::dispatcher::with_default(&dispatch, || {
                for (workload, samples) in Workload::ALL.into_iter().zip(&mut samples) {
                    runtime.block_on(run(client, variant, workload, 200)); // warm up
                    let (start, cpu_start) = (Instant::now(), thread_cpu());
                    runtime.block_on(run(client, variant, workload, COMMANDS_PER_ROUND));
                    let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end - start);
                    let per_command =
                        |d: Duration| d.as_secs_f64() * 1e6 / COMMANDS_PER_ROUND as f64;
                    samples.wall[index].push(per_command(start.elapsed()));
                    samples.cpu[index].push(cpu.map_or(f64::NAN, per_command));
                }
            });
            if let Some(case_run) = case_run {
                runs.finish(case_run);
            }
        }
    }

    let mut allocations = Vec::new();
    for variant in Variant::ALL {
        let case_run = variant.case().map(|case| runs.start(case));
        let dispatch = variant.dispatch();
        let per_command = tracing::dispatcher::with_default(&dispatch, || {
            runtime.block_on(run(client, variant, Workload::OneAtATime, 500));
            let region = Region::new();
            runtime.block_on(run(client, variant, Workload::OneAtATime, ALLOC_COMMANDS));
            region.change().allocations as f64 / ALLOC_COMMANDS as f64
        });
        allocations.push(per_command);
        if let Some(case_run) = case_run {
            runs.finish(case_run);
        }
    }

    let index_of = |wanted: Variant| Variant::ALL.iter().position(|v| *v == wanted).unwrap();
    let verdict = |pass: bool| if pass { "PASS" } else { "MISS" };
    let base_allocs = allocations[0];
    let mut verdicts = Vec::new();
    for (workload, samples) in Workload::ALL.into_iter().zip(&samples) {
        let figure = |rounds: &[Vec<f64>], index: usize| Figure::of(&rounds[index], &rounds[0]);
        println!();
        println!(
            "command_overhead, {}: GET over loopback, {ROUNDS} rounds x {COMMANDS_PER_ROUND} \
             commands; median per variant, delta = median of same-round differences to untraced",
            workload.label()
        );
        println!(
            "{:<30} {:>8} {:>8} {:>7} {:>8} {:>8} {:>7} {:>11} {:>8}",
            "variant",
            "wall us",
            "delta",
            "ratio",
            "cpu us",
            "delta",
            "ratio",
            "allocs/cmd",
            "delta"
        );
        for (index, variant) in Variant::ALL.into_iter().enumerate() {
            let (wall, cpu) = (figure(&samples.wall, index), figure(&samples.cpu, index));
            let allocs = match workload {
                Workload::OneAtATime => format!(
                    "{:>11.2} {:>+8.2}",
                    allocations[index],
                    allocations[index] - base_allocs
                ),
                Workload::InFlight => String::new(),
            };
            println!(
                "{:<30} {:>8.2} {:>+8.2} {:>6.3}x {:>8.2} {:>+8.2} {:>6.3}x {allocs}",
                variant.label(),
                wall.median,
                wall.delta,
                wall.ratio,
                cpu.median,
                cpu.delta,
                cpu.ratio,
            );
        }
        let traced = figure(&samples.cpu, index_of(Variant::Traced));
        let bookkeeping = figure(&samples.cpu, index_of(Variant::Disabled));
        println!(
            "of the {:+.2} us at 100%: {:+.2} us the subscriber's bookkeeping of fred's spans \
             (disabled row), {:+.2} us the OpenTelemetry span",
            traced.delta,
            bookkeeping.delta,
            traced.delta - bookkeeping.delta
        );
        verdicts.push(format!(
            "target at most +1 us cpu per command at 100% vs untraced, {}: {} ({:+.2} us; \
             same-round differences {:+.2} to {:+.2})",
            workload.label(),
            verdict(traced.delta <= 1.0),
            traced.delta,
            traced.lowest,
            traced.highest
        ));
    }
    let not_sampled_allocs = [Variant::Unsampled, Variant::Disabled]
        .map(|variant| allocations[index_of(variant)] - base_allocs);
    verdicts.push(format!(
        "target no allocation by the instrumentation when not sampled: {} \
         (unsampled {:+.2}/cmd, disabled {:+.2}/cmd)",
        verdict(not_sampled_allocs.iter().all(|allocs| *allocs <= 0.01)),
        not_sampled_allocs[0],
        not_sampled_allocs[1]
    ));
    println!();
    for line in verdicts {
        println!("{line}");
    }
    runs.print();
}

fn main() {
    BenchExport::serve_if_receiver();
    let export = BenchExport::start_unless_off("command_overhead");
    let mut runs = CaseRuns::new(export.as_ref(), "command-overhead-bench");
    // Round trips sleep and wake: idle (halting) CPUs would add more noise than the
    // instrumentation costs.
    let _awake = trace_bench_support::CpusAwake::start();
    let (url, _server) = server_url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime.block_on(async {
        let mut config = Config::from_url(&url).expect("valid url");
        trace_redis::enable_command_spans(&mut config);
        let client = Builder::from_config(config).build().expect("client");
        trace_redis::register(&client);
        client.init().await.expect("connects");
        let _: () = client
            .set("bench:key", "value", None, None, false)
            .await
            .unwrap();
        client
    });

    match std::env::var("COMMAND_OVERHEAD_ONLY") {
        Ok(only) => profile(&runtime, &client, &mut runs, &only),
        Err(_) => compare(&runtime, &client, &mut runs),
    }
    runtime.block_on(async {
        let _: i64 = client.del("bench:key").await.unwrap();
        let _ = client.quit().await;
    });
}
