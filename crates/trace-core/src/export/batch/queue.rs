//! The bounded queue between the threads that end spans and the export thread.
//!
//! A thread that ends a span takes one uncontended lock and pushes the span onto the
//! batch being filled; the export thread takes whole batches. When a batch is full, the
//! thread that filled it seals it and wakes the export thread: one wake-up per batch,
//! not per span. Sealed batches wait in order (each with a number, for flush), and a
//! span that would make the queue hold more than its capacity is dropped and counted.
//! Queued spans are freed on the export thread, after encoding, never on the caller's.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use opentelemetry_sdk::trace::SpanData;
use tokio::sync::Notify;

/// Emptied batch vectors kept for reuse: enough for the export thread to hand one back
/// for every batch it takes at full speed.
const SPARE_BATCHES: usize = 4;

/// A batch taken from the queue, numbered in the order batches were sealed.
#[derive(Debug)]
pub(super) struct Batch {
    pub(super) number: u64,
    pub(super) spans: Vec<SpanData>,
}

/// What the queue counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct QueueCounts {
    /// Spans handed to `push`.
    pub(super) ended: u64,
    /// Spans dropped because the queue was full.
    pub(super) dropped_queue_full: u64,
}

#[derive(Debug)]
pub(super) struct SpanQueue {
    state: Mutex<QueueState>,
    /// Wakes the export thread: a batch was sealed, or (from elsewhere) a flush or
    /// shutdown was asked for, or an export finished.
    pub(super) wake: Notify,
    capacity: usize,
    batch_size: usize,
}

#[derive(Debug, Default)]
struct QueueState {
    filling: Vec<SpanData>,
    sealed: VecDeque<Batch>,
    spare: Vec<Vec<SpanData>>,
    /// Spans in `filling` and `sealed`.
    queued: usize,
    counts: QueueCounts,
    next_number: u64,
    /// After shutdown: spans are counted as ended and dropped (left unsent).
    closed: bool,
}

impl SpanQueue {
    /// A queue of at most `capacity` spans, sealed into batches of `batch_size`.
    pub(super) fn new(capacity: usize, batch_size: usize) -> Self {
        Self {
            state: Mutex::default(),
            wake: Notify::new(),
            capacity,
            batch_size: batch_size.clamp(1, capacity.max(1)),
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `span`, or drops and counts it when the queue is full. Never blocks
    /// beyond the lock, which every holder keeps for a few instructions.
    pub(super) fn push(&self, span: SpanData) {
        let mut state = self.lock();
        state.counts.ended += 1;
        if state.closed {
            return;
        }
        if state.queued >= self.capacity {
            state.counts.dropped_queue_full += 1;
            return;
        }
        if state.filling.capacity() == 0 {
            state.filling = state
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(self.batch_size));
        }
        state.filling.push(span);
        state.queued += 1;
        if state.filling.len() >= self.batch_size {
            state.seal();
            drop(state);
            self.wake.notify_one();
        }
    }

    /// Seals the batch being filled, if it holds a span, so the export thread can take
    /// it (scheduled delay, flush, shutdown). Returns the number of the last batch
    /// sealed so far: a flush waits for every batch up to it.
    pub(super) fn seal_filling(&self) -> Option<u64> {
        let mut state = self.lock();
        if !state.filling.is_empty() {
            state.seal();
        }
        state.next_number.checked_sub(1)
    }

    /// The oldest sealed batch.
    pub(super) fn take(&self) -> Option<Batch> {
        let mut state = self.lock();
        let batch = state.sealed.pop_front()?;
        state.queued -= batch.spans.len();
        Some(batch)
    }

    /// The number of the oldest batch still in the queue.
    pub(super) fn oldest_sealed(&self) -> Option<u64> {
        self.lock().sealed.front().map(|batch| batch.number)
    }

    /// Frees a batch's spans (on the calling thread, outside the lock) and keeps its
    /// vector for a batch to come.
    pub(super) fn recycle(&self, mut spans: Vec<SpanData>) {
        spans.clear();
        let mut state = self.lock();
        if state.spare.len() < SPARE_BATCHES {
            state.spare.push(spans);
        }
    }

    pub(super) fn counts(&self) -> QueueCounts {
        self.lock().counts
    }

    /// Spans waiting in the queue now.
    pub(super) fn queued(&self) -> usize {
        self.lock().queued
    }

    /// From now on spans are dropped (and stay counted as ended: left unsent).
    pub(super) fn close(&self) {
        self.lock().closed = true;
    }

    /// Empties the queue when shutdown ran out of time; the spans stay counted as
    /// ended (left unsent). They are freed after the lock is released.
    pub(super) fn discard(&self) {
        let mut state = self.lock();
        let filling = std::mem::take(&mut state.filling);
        let sealed = std::mem::take(&mut state.sealed);
        state.queued = 0;
        drop(state);
        drop((filling, sealed));
    }
}

impl QueueState {
    fn seal(&mut self) {
        let spans = std::mem::take(&mut self.filling);
        let number = self.next_number;
        self.next_number += 1;
        self.sealed.push_back(Batch { number, spans });
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    fn span() -> SpanData {
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "work".into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    #[test]
    fn full_batches_are_sealed_in_order_and_the_bound_drops_and_counts() {
        let queue = SpanQueue::new(5, 2);
        for _ in 0..7 {
            queue.push(span());
        }
        let counts = queue.counts();
        assert_eq!((counts.ended, counts.dropped_queue_full), (7, 2));
        assert_eq!(queue.queued(), 5);
        assert_eq!(
            queue.take().map(|b| (b.number, b.spans.len())),
            Some((0, 2))
        );
        assert_eq!(
            queue.take().map(|b| (b.number, b.spans.len())),
            Some((1, 2))
        );
        assert!(queue.take().is_none(), "the fifth span is still filling");
        assert_eq!(queue.seal_filling(), Some(2));
        assert_eq!(queue.oldest_sealed(), Some(2));
        assert_eq!(queue.take().map(|b| b.spans.len()), Some(1));
        assert_eq!(queue.queued(), 0);
    }

    #[test]
    fn a_closed_queue_counts_spans_as_ended_and_keeps_none() {
        let queue = SpanQueue::new(4, 2);
        queue.push(span());
        queue.close();
        queue.push(span());
        queue.discard();
        assert_eq!(queue.counts().ended, 2);
        assert_eq!(queue.counts().dropped_queue_full, 0);
        assert_eq!(queue.queued(), 0);
        assert_eq!(queue.seal_filling(), None);
    }
}
