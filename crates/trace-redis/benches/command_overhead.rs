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
//! - `traced 100%`: `RedisLayer` subscribed, trace-core initialised with always-on
//!   sampling and no exporter (spans are built and ended, then dropped);
//! - `traced 100% + .traced()`: as above, with the outcome recorded by the wrapper;
//! - `unsampled`: parent-based ratio 0;
//! - `disabled`: trace-core initialised with `enabled: false`.
//!
//! Rounds alternate the variants so load on the machine hits them alike; the figure per
//! variant is the median of its rounds. Two figures: wall-clock µs per command (one
//! loopback round trip each, so noisy on a loaded machine) and CPU µs per command of
//! the runtime thread (`/proc/thread-self/schedstat`; the client, fred's connection task
//! and the instrumentation all run on it), which waiting on the server does not blur. Allocations per command are counted with
//! `stats_alloc` over the whole process (fred's own allocations included, so the
//! instrumentation's share is the difference to `untraced`).

use std::alloc::System;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fred::prelude::*;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use trace_core::config::{ExporterKind, SamplerKind};
use trace_core::{Config as TracingConfig, TracingGuard};
use trace_redis::RedisFutureExt;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const COMMANDS_PER_ROUND: usize = 4_000;
const ROUNDS: usize = 7;
const ALLOC_COMMANDS: usize = 2_000;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Untraced,
    Traced,
    TracedOutcome,
    Unsampled,
    Disabled,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::Untraced,
        Variant::Traced,
        Variant::TracedOutcome,
        Variant::Unsampled,
        Variant::Disabled,
    ];

    fn label(self) -> &'static str {
        match self {
            Variant::Untraced => "untraced (nothing subscribed)",
            Variant::Traced => "traced 100%",
            Variant::TracedOutcome => "traced 100% + .traced()",
            Variant::Unsampled => "unsampled (ratio 0)",
            Variant::Disabled => "disabled (enabled: false)",
        }
    }

    /// trace-core's state for the variant (`None`: not initialised at all).
    fn init(self) -> Option<TracingGuard> {
        let (enabled, sampler, rate) = match self {
            Variant::Untraced => return None,
            Variant::Traced | Variant::TracedOutcome => (true, SamplerKind::AlwaysOn, 1.0),
            Variant::Unsampled => (true, SamplerKind::ParentBasedTraceIdRatio, 0.0),
            Variant::Disabled => (false, SamplerKind::AlwaysOn, 1.0),
        };
        let config = TracingConfig {
            enabled,
            service_name: Some("command-overhead-bench".into()),
            exporters: vec![ExporterKind::None],
            sampler,
            sample_rate: rate,
            ..TracingConfig::default()
        };
        Some(trace_core::init(&config).expect("trace-core initialises"))
    }

    fn dispatch(self) -> Dispatch {
        match self {
            Variant::Untraced => Dispatch::none(),
            _ => Dispatch::new(tracing_subscriber::registry().with(trace_redis::RedisLayer::new())),
        }
    }
}

async fn run(client: &Client, variant: Variant, commands: usize) {
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

/// CPU time this thread has used, from Linux's schedstat; `None` elsewhere.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
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

    let mut micros: Vec<Vec<f64>> = vec![Vec::new(); Variant::ALL.len()];
    let mut cpu_micros: Vec<Vec<f64>> = vec![Vec::new(); Variant::ALL.len()];
    for _round in 0..ROUNDS {
        for (index, variant) in Variant::ALL.into_iter().enumerate() {
            let guard = variant.init();
            let dispatch = variant.dispatch();
            let (elapsed, cpu) = tracing::dispatcher::with_default(&dispatch, || {
                runtime.block_on(run(&client, variant, 200)); // warm up
                let (start, cpu_start) = (Instant::now(), thread_cpu());
                runtime.block_on(run(&client, variant, COMMANDS_PER_ROUND));
                let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end - start);
                (start.elapsed(), cpu)
            });
            micros[index].push(elapsed.as_secs_f64() * 1e6 / COMMANDS_PER_ROUND as f64);
            cpu_micros[index].push(cpu.map_or(f64::NAN, |cpu| {
                cpu.as_secs_f64() * 1e6 / COMMANDS_PER_ROUND as f64
            }));
            if let Some(guard) = guard {
                guard.shutdown().expect("shutdown");
            }
        }
    }

    let mut allocations = Vec::new();
    for variant in Variant::ALL {
        let guard = variant.init();
        let dispatch = variant.dispatch();
        let per_command = tracing::dispatcher::with_default(&dispatch, || {
            runtime.block_on(run(&client, variant, 500));
            let region = Region::new(GLOBAL);
            runtime.block_on(run(&client, variant, ALLOC_COMMANDS));
            region.change().allocations as f64 / ALLOC_COMMANDS as f64
        });
        allocations.push(per_command);
        if let Some(guard) = guard {
            guard.shutdown().expect("shutdown");
        }
    }

    let base = median(micros[0].clone());
    let cpu_base = median(cpu_micros[0].clone());
    let base_allocs = allocations[0];
    println!();
    println!(
        "command_overhead: GET over loopback, {ROUNDS} rounds x {COMMANDS_PER_ROUND} commands, median per variant"
    );
    println!(
        "{:<30} {:>8} {:>9} {:>7} {:>9} {:>9} {:>7} {:>11} {:>11}",
        "variant", "wall us", "delta", "ratio", "cpu us", "delta", "ratio", "allocs/cmd", "delta"
    );
    for (index, variant) in Variant::ALL.into_iter().enumerate() {
        let us = median(micros[index].clone());
        let cpu = median(cpu_micros[index].clone());
        println!(
            "{:<30} {:>8.2} {:>+9.2} {:>6.3}x {:>9.2} {:>+9.2} {:>6.3}x {:>11.2} {:>+11.2}",
            variant.label(),
            us,
            us - base,
            base / us,
            cpu,
            cpu - cpu_base,
            cpu_base / cpu,
            allocations[index],
            allocations[index] - base_allocs
        );
    }
    let traced_cpu = median(cpu_micros[1].clone()) - cpu_base;
    let unsampled_allocs = allocations[3] - base_allocs;
    println!();
    println!(
        "target +1 us/command at 100% (cpu): {} ({traced_cpu:+.2} us); no allocations by the instrumentation when unsampled: {} ({unsampled_allocs:+.2}/cmd)",
        if traced_cpu <= 1.0 { "PASS" } else { "MISS" },
        if unsampled_allocs <= 0.01 {
            "PASS"
        } else {
            "MISS"
        },
    );
    runtime.block_on(async {
        let _: i64 = client.del("bench:key").await.unwrap();
        let _ = client.quit().await;
    });
}
