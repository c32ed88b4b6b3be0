//! [`CountingAllocator`]: the system allocator, counting allocator calls for the
//! benchmarks' "allocations per call" figures, at a cost that does not blur the time
//! they measure.
//!
//! A counter every thread increments with a locked instruction (stats_alloc's, which the
//! benchmarks used before) added about 27 ns to each allocation and free in `http_load`'s
//! direct calls (ours at 100%: 1,226 ns per request counted that way, 1,040 ns with the
//! plain system allocator), and an export thread freeing spans made the counter's cache
//! line move between CPUs on every call. Here each thread counts in a cache line of its
//! own, with plain loads and stores; the totals are the sum over threads. This is the
//! workspace's one use of `unsafe`: implementing `GlobalAlloc` requires it.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads with a counter of their own; later threads share the last one.
const COUNTERS: usize = 256;

/// One thread's counts, alone in its cache lines (128 bytes: two lines, which the
/// adjacent-line prefetcher fetches together).
#[repr(align(128))]
struct Counter {
    allocations: AtomicUsize,
    reallocations: AtomicUsize,
    bytes_allocated: AtomicUsize,
}

static COUNTER_TABLE: [Counter; COUNTERS] = [const {
    Counter {
        allocations: AtomicUsize::new(0),
        reallocations: AtomicUsize::new(0),
        bytes_allocated: AtomicUsize::new(0),
    }
}; COUNTERS];

/// The next thread's counter.
static NEXT_COUNTER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's counter in `COUNTER_TABLE`, once it allocated.
    static OWN_COUNTER: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Adds one call of `field` and `bytes` bytes to this thread's counts.
#[inline]
fn count(field: fn(&Counter) -> &AtomicUsize, bytes: usize) {
    let own = OWN_COUNTER
        .try_with(|own| {
            if own.get() == usize::MAX {
                own.set(NEXT_COUNTER.fetch_add(1, Ordering::Relaxed));
            }
            own.get()
        })
        // A thread whose locals are gone (it is exiting) shares the last counter.
        .unwrap_or(usize::MAX);
    if own < COUNTERS - 1 {
        // This thread is the counter's only writer: no locked instruction needed.
        let counter = &COUNTER_TABLE[own];
        let calls = field(counter);
        calls.store(calls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let total = &counter.bytes_allocated;
        total.store(total.load(Ordering::Relaxed) + bytes, Ordering::Relaxed);
    } else {
        let counter = &COUNTER_TABLE[COUNTERS - 1];
        field(counter).fetch_add(1, Ordering::Relaxed);
        counter.bytes_allocated.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The system allocator, counting allocations and reallocations per thread. Install it
/// in a benchmark, then read [`AllocCounts`]:
///
/// ```
/// use trace_bench_support::alloc::{CountingAllocator, Region};
///
/// #[global_allocator]
/// static ALLOCATOR: CountingAllocator = CountingAllocator;
///
/// let region = Region::new();
/// let boxed = std::hint::black_box(Box::new(7));
/// assert!(region.change().allocations >= 1);
/// # drop(boxed);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

// SAFETY: every call goes to `System` with the caller's arguments unchanged; counting
// touches no memory the allocator hands out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(|counter| &counter.allocations, layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(|counter| &counter.allocations, layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let growth = new_size.saturating_sub(layout.size());
        count(|counter| &counter.reallocations, growth);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocator calls of the whole process (every thread) so far, or over a [`Region`].
/// Zero unless [`CountingAllocator`] is the global allocator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocCounts {
    /// `alloc` and `alloc_zeroed` calls.
    pub allocations: usize,
    /// `realloc` calls.
    pub reallocations: usize,
    /// Bytes asked for by `alloc` and `alloc_zeroed`, and by `realloc` growing a block.
    pub bytes_allocated: usize,
}

impl AllocCounts {
    /// The counts so far. A thread's latest calls may be missing until something
    /// synchronises it with the reading thread (a join, a lock, a channel).
    pub fn now() -> Self {
        COUNTER_TABLE
            .iter()
            .fold(Self::default(), |total, counter| Self {
                allocations: total.allocations + counter.allocations.load(Ordering::Relaxed),
                reallocations: total.reallocations + counter.reallocations.load(Ordering::Relaxed),
                bytes_allocated: total.bytes_allocated
                    + counter.bytes_allocated.load(Ordering::Relaxed),
            })
    }
}

/// The allocator calls made from its creation on.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    start: AllocCounts,
}

impl Region {
    /// Starts counting now.
    pub fn new() -> Self {
        Self {
            start: AllocCounts::now(),
        }
    }

    /// The calls since [`new`](Self::new).
    pub fn change(&self) -> AllocCounts {
        let now = AllocCounts::now();
        AllocCounts {
            allocations: now.allocations.saturating_sub(self.start.allocations),
            reallocations: now.reallocations.saturating_sub(self.start.reallocations),
            bytes_allocated: now
                .bytes_allocated
                .saturating_sub(self.start.bytes_allocated),
        }
    }
}

impl Default for Region {
    fn default() -> Self {
        Self::new()
    }
}
