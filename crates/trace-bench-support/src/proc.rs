//! CPU time per thread and memory of a process, read from Linux's `/proc` (the workspace
//! forbids `unsafe`, so no libc calls). Elsewhere the readers return nothing.

use std::fs;
use std::time::Duration;

/// `/proc`'s clock tick (`USER_HZ`), fixed at 100 on every architecture Linux exposes it.
const USER_HZ: u64 = 100;

/// One thread's name and the CPU time it has used so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadCpu {
    /// The kernel's thread id.
    pub tid: u32,
    /// The thread's name as the kernel keeps it (`comm`: at most 15 bytes).
    pub name: String,
    /// User plus system time.
    pub cpu: Duration,
}

/// Every live thread of process `pid` (this process when `None`) with its CPU time.
///
/// The time is the scheduler's run time in nanoseconds (`/proc/.../schedstat`), or, on a
/// kernel without it, utime + stime from `stat` in 10 ms ticks. Threads that exited are not
/// listed: their time is only in the process's total ([`process_cpu`]).
pub fn threads_cpu(pid: Option<u32>) -> Vec<ThreadCpu> {
    let dir = format!("{}/task", process_dir(pid));
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut threads: Vec<ThreadCpu> = entries
        .flatten()
        .filter_map(|entry| {
            let tid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let task = format!("{dir}/{tid}");
            let name = fs::read_to_string(format!("{task}/comm")).ok()?;
            let cpu = scheduler_run_time(&task).or_else(|| stat_cpu(&task))?;
            Some(ThreadCpu {
                tid,
                name: name.trim_end().to_owned(),
                cpu,
            })
        })
        .collect();
    threads.sort_by_key(|thread| thread.tid);
    threads
}

/// CPU time of process `pid` (this process when `None`), exited threads included: utime +
/// stime from `/proc/.../stat`, in 10 ms ticks. Zero where it cannot be read.
pub fn process_cpu(pid: Option<u32>) -> Duration {
    stat_cpu(&process_dir(pid)).unwrap_or_default()
}

/// CPU time the calling thread has used so far (its scheduler run time, in
/// nanoseconds), or `None` where `/proc/thread-self/schedstat` cannot be read. The
/// kernel brings the figure up to date when the thread is switched out or on a tick
/// (milliseconds apart), so this yields first, which switches the thread out for an
/// instant when another one waits to run.
pub fn thread_cpu() -> Option<Duration> {
    std::thread::yield_now();
    scheduler_run_time("/proc/thread-self")
}

/// The kernel's id of the calling thread (from the `/proc/thread-self` link).
pub fn current_thread_id() -> Option<u32> {
    let link = fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// This process's resident memory now and at its peak (`VmRSS`, `VmHWM`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now, KiB.
    pub rss_kib: u64,
    /// The highest resident set size so far, KiB.
    pub peak_rss_kib: u64,
}

/// This process's [`Memory`]; zeros where `/proc/self/status` cannot be read.
pub fn memory() -> Memory {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS"),
        peak_rss_kib: field("VmHWM"),
    }
}

fn process_dir(pid: Option<u32>) -> String {
    pid.map_or_else(|| "/proc/self".to_owned(), |pid| format!("/proc/{pid}"))
}

/// The first field of `schedstat`: nanoseconds spent running.
fn scheduler_run_time(task: &str) -> Option<Duration> {
    let schedstat = fs::read_to_string(format!("{task}/schedstat")).ok()?;
    let nanos = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// utime + stime (fields 14 and 15 of `stat`).
fn stat_cpu(dir: &str) -> Option<Duration> {
    let stat = fs::read_to_string(format!("{dir}/stat")).ok()?;
    // The command name is parenthesised and may hold spaces: count fields after it.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_thread_is_listed_with_its_time() {
        let Some(tid) = current_thread_id() else {
            return; // not Linux
        };
        // Some work, so the thread has run for at least a tick.
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let threads = threads_cpu(None);
        let me = threads.iter().find(|t| t.tid == tid).expect("listed");
        assert!(me.cpu > Duration::ZERO, "{me:?}");
        let memory = memory();
        assert!(memory.rss_kib > 0 && memory.peak_rss_kib >= memory.rss_kib);
    }
}
