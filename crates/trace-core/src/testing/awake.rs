//! [`CpusAwake`]: keeps a machine's CPUs from going idle while a benchmark runs.

use std::process::{Child, Command, Stdio};

/// One lowest-priority (`nice -n 19`) busy-looping process per CPU, stopped on drop.
///
/// A benchmark of I/O-bound work (a database or Redis round trip) sleeps and wakes on
/// every operation. On an otherwise idle machine, and on virtual machines above all, an
/// idle CPU halts, and waking it costs tens of microseconds that vary from one round to
/// the next: far more than the instrumentation being measured. A busy server's CPUs do
/// not halt between requests. The spinners run only when nothing else wants a CPU, so
/// they keep the CPUs awake without taking time from the measured threads.
///
/// Set `BENCH_LET_CPUS_IDLE=1` to measure without them.
#[derive(Debug)]
pub struct CpusAwake {
    spinners: Vec<Child>,
}

impl CpusAwake {
    /// Starts the spinners, unless `BENCH_LET_CPUS_IDLE=1`; prints what it did.
    pub fn start() -> Self {
        if std::env::var("BENCH_LET_CPUS_IDLE").is_ok_and(|v| v == "1") {
            println!("cpus: left to idle (BENCH_LET_CPUS_IDLE=1)");
            return Self {
                spinners: Vec::new(),
            };
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let spinners: Vec<Child> = (0..cpus)
            .filter_map(|_| {
                Command::new("nice")
                    .args(["-n", "19", "sh", "-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .ok()
            })
            .collect();
        match spinners.len() {
            0 => println!("cpus: could not start `nice` spinners; idle CPUs may add noise"),
            n => println!(
                "cpus: kept awake by {n} lowest-priority spinners (BENCH_LET_CPUS_IDLE=1 to idle)"
            ),
        }
        Self { spinners }
    }
}

impl Drop for CpusAwake {
    fn drop(&mut self) {
        for spinner in &mut self.spinners {
            let _ = spinner.kill();
            let _ = spinner.wait();
        }
    }
}
