//! The summary: a table per protocol, the pipeline threads of each run, ours/SDK ratios,
//! PASS/MISS against issue 20's targets, the 60 s memory runs and the rotel runs.

use std::time::Duration;

use crate::pipeline::{PipelineKind, Protocol};
use crate::run::{Measured, Outcome, RunSpec};

/// The load the per-pipeline targets are read at: 200k spans/s offered, one producer.
pub(crate) const TARGET_RATE: u32 = 200_000;
/// Spans per CPU-second of the pipeline's threads ours must reach over http/protobuf.
const SPANS_PER_CPU_SECOND_TARGET: f64 = 1_000_000.0;
/// How many times the SDK's spans per CPU-second ours must reach.
const SDK_MULTIPLE_TARGET: f64 = 5.0;

/// Which part of the bench a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// Every pipeline, protocol, producer count and load, against our receiver.
    Matrix,
    /// 60 s at 200k spans/s with resident memory every second (`--long`).
    Long,
    /// Against rotel (`--rotel`).
    Rotel,
}

/// A run and what it came to.
pub(crate) struct Run {
    pub(crate) group: Group,
    pub(crate) spec: RunSpec,
    pub(crate) outcome: Outcome,
}

impl Run {
    fn measured(&self) -> Option<&Measured> {
        match &self.outcome {
            Outcome::Measured(measured) => Some(measured),
            _ => None,
        }
    }

    fn label(&self) -> String {
        format!(
            "{} {} {}p {}",
            self.spec.pipeline.name(),
            self.spec.protocol.name(),
            self.spec.producers,
            load_name(self.spec.rate)
        )
    }
}

pub(crate) fn load_name(rate: Option<u32>) -> String {
    rate.map_or_else(|| "flat out".to_owned(), |r| format!("{}k/s", r / 1000))
}

/// Spans the pipeline got to the receiver per CPU-second of its threads, in the window.
fn spans_per_cpu_second(m: &Measured) -> Option<f64> {
    let cpu = m.pipeline_cpu.as_secs_f64();
    (cpu > 0.0).then(|| m.received_in_window as f64 / cpu)
}

/// Ended - received over the whole run, after shutdown.
fn checked_drops(m: &Measured) -> i64 {
    m.ended as i64 - m.received as i64
}

fn on_end_mean(m: &Measured) -> Option<f64> {
    m.on_end.map(|t| t.mean_ns)
}

fn end_p99(m: &Measured) -> Option<f64> {
    m.end.map(|t| t.p99_ns as f64)
}

fn per_second(count: u64, window: Duration) -> f64 {
    count as f64 / window.as_secs_f64().max(1e-9)
}

/// `1.23M`, `456k`, `789`.
fn si(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.0}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// One line per finished run, as the bench goes.
pub(crate) fn progress(run: &Run) -> String {
    match &run.outcome {
        Outcome::Failed(error) => format!("  {}: FAILED: {error}", run.label()),
        Outcome::Measured(m) => format!(
            "  {}: offered {}/s, received {}/s, pipeline CPU {:.0} ms",
            run.label(),
            si(per_second(m.ended_in_window, m.window)),
            si(per_second(m.received_in_window, m.window)),
            m.pipeline_cpu.as_secs_f64() * 1e3
        ),
    }
}

/// Prints the whole summary.
pub(crate) fn print(runs: &[Run]) {
    for protocol in Protocol::ALL {
        let matrix: Vec<&Run> = runs
            .iter()
            .filter(|r| r.group == Group::Matrix)
            .filter(|r| r.spec.protocol == protocol || r.spec.pipeline == PipelineKind::Noop)
            .collect();
        if matrix.iter().all(|r| r.spec.pipeline == PipelineKind::Noop) {
            continue;
        }
        println!();
        println!(
            "== {} (receiver: trace-bench-support's, decoding every request) ==",
            protocol.name()
        );
        print_table(&matrix, runs);
        print_threads(&matrix);
        print_ratios(&matrix);
        print_targets(protocol, &matrix, runs);
    }
    print_long(runs);
    for protocol in Protocol::ALL {
        let rotel: Vec<&Run> = runs
            .iter()
            .filter(|r| r.group == Group::Rotel && r.spec.protocol == protocol)
            .collect();
        if !rotel.is_empty() {
            println!();
            println!(
                "== {} to rotel (blackhole exporter; received: rotel's debug log of each \
                 request) ==",
                protocol.name()
            );
            print_table(&rotel, runs);
            print_threads(&rotel);
        }
    }
}

fn print_table(rows: &[&Run], all: &[Run]) {
    println!(
        "{:<6}{:>3} {:>9}{:>10}{:>11}{:>21}{:>12}{:>11}{:>8}{:>9}{:>9}{:>13}{:>8}",
        "",
        "",
        "",
        "offered",
        "received",
        "drops",
        "pipe CPU",
        "spans per",
        "on_end",
        "producer",
        "vs no-op",
        "end() µs",
        "peak"
    );
    println!(
        "{:<6}{:>3} {:>9}{:>10}{:>11}{:>21}{:>12}{:>11}{:>8}{:>9}{:>9}{:>13}{:>8}",
        "",
        "p",
        "load",
        "spans/s",
        "spans/s",
        "proc/checked (%)",
        "ms per 1M",
        "CPU-s",
        "ns",
        "ns/span",
        "ns/span",
        "p50/p99",
        "RSS MiB"
    );
    for run in rows {
        let name = run.spec.pipeline.name();
        let load = load_name(run.spec.rate);
        let m = match &run.outcome {
            Outcome::Measured(m) => m,
            Outcome::Failed(error) => {
                println!(
                    "{name:<6}{:>3} {load:>9}   FAILED: {error}",
                    run.spec.producers
                );
                continue;
            }
        };
        let exporting = run.spec.pipeline != PipelineKind::Noop;
        let dash = || "-".to_owned();
        let drops = if exporting {
            format!(
                "{}/{} {:.1}%",
                m.processor_dropped.map_or_else(dash, |d| d.to_string()),
                checked_drops(m),
                checked_drops(m) as f64 * 100.0 / m.ended.max(1) as f64
            )
        } else {
            dash()
        };
        let received = m.received_in_window;
        let cpu_per_million = (exporting && received > 0)
            .then(|| m.pipeline_cpu.as_secs_f64() * 1e3 / (received as f64 / 1e6));
        let producer_ns = m.producer_cpu.as_nanos() as f64 / m.ended_in_window.max(1) as f64;
        // Paced producers sleep and wake between bursts, which costs more than a span and
        // varies: the difference means something flat out only.
        let noop_ns = run
            .spec
            .rate
            .is_none()
            .then(|| noop_producer_ns(all, run.spec.producers, None))
            .flatten();
        println!(
            "{name:<6}{:>3} {load:>9}{:>10}{:>11}{:>21}{:>12}{:>11}{:>8}{:>9.0}{:>9}{:>13}{:>8.1}",
            run.spec.producers,
            si(per_second(m.ended_in_window, m.window)),
            si(per_second(received, m.window)),
            drops,
            cpu_per_million.map_or_else(dash, |v| format!("{v:.0}")),
            if exporting {
                spans_per_cpu_second(m).map_or_else(dash, si)
            } else {
                dash()
            },
            m.on_end.map_or_else(dash, |t| format!("{:.0}", t.mean_ns)),
            producer_ns,
            noop_ns.map_or_else(dash, |noop| format!("{:+.0}", producer_ns - noop)),
            m.end.map_or_else(dash, |t| format!(
                "{:.1}/{:.1}",
                t.p50_ns as f64 / 1e3,
                t.p99_ns as f64 / 1e3
            )),
            m.peak_rss_kib as f64 / 1024.0,
        );
    }
}

/// The no-op pipeline's producer CPU per span at this producer count and load.
fn noop_producer_ns(all: &[Run], producers: usize, rate: Option<u32>) -> Option<f64> {
    all.iter()
        .filter(|r| r.group == Group::Matrix && r.spec.pipeline == PipelineKind::Noop)
        .filter(|r| r.spec.producers == producers && r.spec.rate == rate)
        .find_map(Run::measured)
        .map(|m| m.producer_cpu.as_nanos() as f64 / m.ended_in_window.max(1) as f64)
}

fn print_threads(rows: &[&Run]) {
    println!("pipeline threads (CPU in the window), receiver process CPU, shutdown:");
    for run in rows
        .iter()
        .filter(|r| r.spec.pipeline != PipelineKind::Noop)
    {
        let Some(m) = run.measured() else { continue };
        let threads: Vec<String> = m
            .pipeline_threads
            .iter()
            .filter(|(_, cpu)| !cpu.is_zero())
            .map(|(name, cpu)| format!("{name} {:.0} ms", cpu.as_secs_f64() * 1e3))
            .collect();
        let mut line = format!(
            "  {}: {}; receiver {:.0} ms; shutdown {:.0} ms",
            run.label(),
            threads.join(", "),
            m.receiver_cpu.as_secs_f64() * 1e3,
            m.shutdown.as_secs_f64() * 1e3
        );
        if m.exited_threads > 0 {
            line += &format!(
                "; {} thread(s) exited in the window, not counted",
                m.exited_threads
            );
        }
        if let Some(error) = &m.shutdown_error {
            line += &format!("; shutdown error: {error}");
        }
        println!("{line}");
    }
}

/// The matrix run of `kind` at this producer count and load.
fn find<'a>(
    rows: &[&'a Run],
    kind: PipelineKind,
    producers: usize,
    rate: Option<u32>,
) -> Option<&'a Run> {
    rows.iter()
        .copied()
        .find(|r| r.spec.pipeline == kind && r.spec.producers == producers && r.spec.rate == rate)
}

fn print_ratios(rows: &[&Run]) {
    println!("ours / SDK (same producers and load):");
    for sdk in rows.iter().filter(|r| r.spec.pipeline == PipelineKind::Sdk) {
        let (producers, rate) = (sdk.spec.producers, sdk.spec.rate);
        let ours = find(rows, PipelineKind::Ours, producers, rate);
        let head = format!("  {producers}p {:>9}:", load_name(rate));
        match (ours.map(|r| &r.outcome), sdk.measured()) {
            (Some(Outcome::Measured(o)), Some(s)) => {
                let ratio = |ours: Option<f64>, sdk: Option<f64>| match (ours, sdk) {
                    (Some(o), Some(s)) if s > 0.0 => format!("{:.2}x", o / s),
                    _ => "-".to_owned(),
                };
                let received = |m: &Measured| Some(m.received_in_window as f64);
                println!(
                    "{head} received/s {}, spans per CPU-s {}, on_end {}, end() p99 {}, peak RSS {}",
                    ratio(received(o), received(s)),
                    ratio(spans_per_cpu_second(o), spans_per_cpu_second(s)),
                    ratio(on_end_mean(o), on_end_mean(s)),
                    ratio(end_p99(o), end_p99(s)),
                    ratio(Some(o.peak_rss_kib as f64), Some(s.peak_rss_kib as f64)),
                );
            }
            (None, _) => println!("{head} ours did not run"),
            _ => println!("{head} no ratio: a run failed"),
        }
    }
}

/// PASS or MISS, or why there is no verdict.
fn verdict(ours: Option<&Run>, check: impl Fn(&Measured) -> Option<bool>) -> &'static str {
    match ours.map(|r| &r.outcome) {
        None => "MISS-not-run",
        Some(Outcome::Failed(_)) => "MISS-failed",
        Some(Outcome::Measured(m)) => match check(m) {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "MISS-no-figure",
        },
    }
}

fn print_targets(protocol: Protocol, rows: &[&Run], all: &[Run]) {
    let at = format!("{}k spans/s offered, 1 producer", TARGET_RATE / 1000);
    let ours = find(rows, PipelineKind::Ours, 1, Some(TARGET_RATE));
    let sdk = find(rows, PipelineKind::Sdk, 1, Some(TARGET_RATE)).and_then(Run::measured);
    let figure = |run: Option<&Measured>, f: &dyn Fn(&Measured) -> Option<f64>| {
        run.and_then(f).map_or_else(|| "-".to_owned(), si)
    };
    let ours_measured = ours.and_then(Run::measured);
    println!("targets ({at} unless said):");
    if protocol == Protocol::HttpProtobuf {
        println!(
            "  >= 1M spans per CPU-second of the pipeline's threads: ours {}, SDK {}: {}",
            figure(ours_measured, &spans_per_cpu_second),
            figure(sdk, &spans_per_cpu_second),
            verdict(ours, |m| spans_per_cpu_second(m)
                .map(|v| v >= SPANS_PER_CPU_SECOND_TARGET))
        );
    }
    let sdk_rate = sdk.and_then(spans_per_cpu_second);
    println!(
        "  >= {SDK_MULTIPLE_TARGET}x the SDK's spans per CPU-second: {}",
        verdict(ours, |m| {
            Some(spans_per_cpu_second(m)? >= SDK_MULTIPLE_TARGET * sdk_rate?)
        })
    );
    let sdk_on_end = sdk.and_then(on_end_mean);
    println!(
        "  on_end no slower than the SDK's: ours {} ns, SDK {} ns: {}",
        figure(ours_measured, &on_end_mean),
        figure(sdk, &on_end_mean),
        verdict(ours, |m| Some(on_end_mean(m)? <= sdk_on_end?))
    );
    for producers in [1, 2] {
        let ours = find(rows, PipelineKind::Ours, producers, Some(TARGET_RATE));
        let sdk = find(rows, PipelineKind::Sdk, producers, Some(TARGET_RATE));
        let Some(sdk) = sdk else { continue };
        let drops = |m: &Measured| checked_drops(m).to_string();
        println!(
            "  0 drops at {}k spans/s offered, {producers} producer(s): ours {}, SDK {}: {}",
            TARGET_RATE / 1000,
            ours.and_then(Run::measured)
                .map_or_else(|| "-".to_owned(), drops),
            sdk.measured().map_or_else(|| "-".to_owned(), drops),
            verdict(ours, |m| Some(
                checked_drops(m) == 0 && m.processor_dropped.unwrap_or(0) == 0
            ))
        );
    }
    let long = all.iter().find(|r| {
        r.group == Group::Long
            && r.spec.protocol == protocol
            && r.spec.pipeline == PipelineKind::Ours
    });
    let memory = match long {
        None => "not run (--long)",
        Some(run) => verdict(Some(run), |m| rss_flat(&m.rss_series_kib)),
    };
    println!(
        "  memory bounded and flat over 60 s at {}k spans/s: {memory}",
        TARGET_RATE / 1000
    );
}

/// Whether resident memory stayed flat: after 10 s of settling, the peak of the second half
/// of the samples is within 5% (or 2 MiB) of the first half's. `None`: too few samples.
fn rss_flat(series_kib: &[u64]) -> Option<bool> {
    let settled = series_kib.get(10..)?;
    if settled.len() < 4 {
        return None;
    }
    let (first, second) = settled.split_at(settled.len() / 2);
    let (first, second) = (*first.iter().max()?, *second.iter().max()?);
    Some(second <= first + (first / 20).max(2048))
}

fn print_long(runs: &[Run]) {
    let long: Vec<&Run> = runs.iter().filter(|r| r.group == Group::Long).collect();
    if long.is_empty() {
        return;
    }
    println!();
    println!(
        "== memory over time at {}k spans/s, 1 producer (resident MiB every 5 s) ==",
        TARGET_RATE / 1000
    );
    for run in long {
        let Some(m) = run.measured() else {
            println!("  {}", progress(run));
            continue;
        };
        let series: Vec<String> = m
            .rss_series_kib
            .iter()
            .step_by(5)
            .map(|kib| format!("{:.1}", *kib as f64 / 1024.0))
            .collect();
        let flat = match rss_flat(&m.rss_series_kib) {
            Some(true) => "flat",
            Some(false) => "GROWING",
            None => "too short to tell",
        };
        let drops = checked_drops(m);
        println!(
            "  {}: {} -> {flat}; peak {:.1} MiB; drops {drops} of {}",
            run.label(),
            series.join(" "),
            m.peak_rss_kib as f64 / 1024.0,
            m.ended
        );
    }
}
