//! [`CpusAwake`]: keeps a machine's CPUs from going idle while a benchmark runs.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::process::{Child, Command, Stdio};

/// Linux's CPU latency request (PM QoS): while a process holds it open with a value
/// written, idle CPUs stay in states that wake within that many microseconds.
const CPU_LATENCY_REQUEST: &str = "/dev/cpu_dma_latency";

/// Keeps the CPUs from halting while a benchmark runs; released on drop.
///
/// A benchmark of I/O-bound work (a database or Redis round trip) sleeps and wakes on
/// every operation. On an otherwise idle machine, and on virtual machines above all, an
/// idle CPU halts, and waking it costs tens of microseconds that vary from one round to
/// the next: far more than the instrumentation being measured. A busy server's CPUs do
/// not halt between requests.
///
/// Two ways, the first that works:
///
/// - a CPU latency request of 0 µs (`/dev/cpu_dma_latency`, Linux, needs root): idle
///   CPUs poll instead of halting, so wake-ups are immediate and nothing else runs on
///   them (on a 2-core virtual machine, same-round differences between two
///   variants of a Redis `GET` spanned 2 µs this way, 30 µs with spinners);
/// - one lowest-priority (`nice -n 19`) busy loop per CPU: it runs only when nothing
///   else wants the CPU, but when it does it takes the CPU's caches.
///
/// Set `BENCH_LET_CPUS_IDLE=1` to measure without either.
#[derive(Debug)]
pub struct CpusAwake {
    /// The open latency request; closing it withdraws the request.
    latency_request: Option<File>,
    spinners: Vec<Child>,
}

impl CpusAwake {
    /// Keeps the CPUs awake, unless `BENCH_LET_CPUS_IDLE=1`; prints how.
    pub fn start() -> Self {
        let mut awake = Self {
            latency_request: None,
            spinners: Vec::new(),
        };
        if std::env::var("BENCH_LET_CPUS_IDLE").is_ok_and(|v| v == "1") {
            println!("cpus: left to idle (BENCH_LET_CPUS_IDLE=1)");
            return awake;
        }
        match request_zero_latency() {
            Ok(request) => {
                awake.latency_request = Some(request);
                println!(
                    "cpus: idle CPUs poll instead of halting ({CPU_LATENCY_REQUEST} = 0; \
                     BENCH_LET_CPUS_IDLE=1 to idle)"
                );
                return awake;
            }
            Err(error) => println!("cpus: no CPU latency request ({error}); starting spinners"),
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        awake.spinners = (0..cpus)
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
        match awake.spinners.len() {
            0 => println!("cpus: could not start `nice` spinners; idle CPUs may add noise"),
            n => println!(
                "cpus: kept awake by {n} lowest-priority spinners (BENCH_LET_CPUS_IDLE=1 to idle)"
            ),
        }
        awake
    }
}

/// Opens the CPU latency request and asks for 0 µs; held while the file stays open.
fn request_zero_latency() -> std::io::Result<File> {
    let mut request = OpenOptions::new().write(true).open(CPU_LATENCY_REQUEST)?;
    request.write_all(&0i32.to_ne_bytes())?;
    Ok(request)
}

impl Drop for CpusAwake {
    fn drop(&mut self) {
        drop(self.latency_request.take());
        for spinner in &mut self.spinners {
            let _ = spinner.kill();
            let _ = spinner.wait();
        }
    }
}
