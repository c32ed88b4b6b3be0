//! A latency histogram of fixed size (log-linear buckets, 16 per power of two: within
//! about 6%), so that recording for a 60 s memory run does not itself grow the process.
//!
//! Its mean leaves out the slowest 1% of the samples: on a shared 2-core machine a thread is
//! sometimes descheduled for milliseconds in the middle of a timed call, and a few such
//! samples among thousands would make the mean a measure of the scheduler.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Buckets per power of two, as bits.
const SUB_BITS: u32 = 4;
const SUB_BUCKETS: usize = 1 << SUB_BITS;
/// Values below `SUB_BUCKETS` get a bucket each; each power of two above gets
/// `SUB_BUCKETS`, up to 2^63.
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB_BUCKETS;

/// Nanosecond samples recorded from several threads at once.
#[derive(Debug)]
pub(crate) struct AtomicHistogram {
    counts: Box<[AtomicU64]>,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl AtomicHistogram {
    pub(crate) fn record(&self, nanos: u64) {
        self.counts[bucket(nanos)].fetch_add(1, Ordering::Relaxed);
    }

    /// The samples so far, `None` if there are none; values are bucket midpoints.
    pub(crate) fn summary(&self) -> Option<Summary> {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return None;
        }
        let percentile = |p: f64| {
            let rank = ((count as f64 * p).ceil() as u64).max(1);
            let mut seen = 0;
            let index = counts
                .iter()
                .position(|c| {
                    seen += c;
                    seen >= rank
                })
                .unwrap_or(BUCKETS - 1);
            midpoint(index)
        };
        // The fastest 99%: every bucket below the 99th percentile's, and that one's share.
        let kept = ((count as f64 * 0.99).ceil() as u64).max(1);
        let (mut taken, mut total) = (0u64, 0f64);
        for (index, &c) in counts.iter().enumerate() {
            let take = c.min(kept - taken);
            total += take as f64 * midpoint(index) as f64;
            taken += take;
            if taken == kept {
                break;
            }
        }
        Some(Summary {
            mean_ns: total / kept as f64,
            p50_ns: percentile(0.50),
            p99_ns: percentile(0.99),
        })
    }
}

/// What the report shows of a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// The mean of the fastest 99%.
    pub(crate) mean_ns: f64,
    pub(crate) p50_ns: u64,
    pub(crate) p99_ns: u64,
}

fn bucket(value: u64) -> usize {
    if value < SUB_BUCKETS as u64 {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let shift = exponent - SUB_BITS;
    let sub = (value >> shift) as usize & (SUB_BUCKETS - 1);
    (shift as usize + 1) * SUB_BUCKETS + sub
}

/// The middle of bucket `index`'s range.
fn midpoint(index: usize) -> u64 {
    if index < SUB_BUCKETS {
        return index as u64;
    }
    let shift = (index / SUB_BUCKETS - 1) as u32;
    let lower = ((SUB_BUCKETS + index % SUB_BUCKETS) as u64) << shift;
    lower + ((1u64 << shift) >> 1)
}
