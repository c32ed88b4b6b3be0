//! Spans waiting for the rest of their trace.
//!
//! A trace is ready when its local roots have ended (every span's parent is here, or
//! is remote, or there is none) and no span of it has arrived for the quiet period:
//! spans end before their parents, and a consumer or a called server may end a moment
//! after the request that caused it. A trace whose local parent never ends is released
//! after [`PATIENCE`] of quiet. Memory is bounded by limits on spans, bytes and traces;
//! past a limit the oldest trace is released as it is, and the caller counts it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;

use super::span::ViewSpan;

/// How long a trace whose local parent has not ended waits, quiet, before it is shown
/// as it is (a span that never ends must not hide its children forever).
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// The buffer's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_spans: usize,
    pub(crate) max_traces: usize,
    pub(crate) max_bytes: usize,
    pub(crate) quiet_period: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_spans: 10_000,
            max_traces: 1_000,
            max_bytes: 64 << 20,
            quiet_period: Duration::from_millis(200),
        }
    }
}

/// A trace leaving the buffer.
#[derive(Debug)]
pub(crate) struct Released {
    pub(crate) spans: Vec<ViewSpan>,
    /// Released before it was complete because a limit was reached.
    pub(crate) early: bool,
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    spans: Vec<ViewSpan>,
    bytes: usize,
    last_arrival: Instant,
}

/// Spans grouped by trace, oldest trace first.
#[derive(Debug, Default)]
pub(crate) struct PendingTraces {
    limits: Limits,
    traces: HashMap<TraceId, Pending>,
    by_age: BTreeMap<u64, TraceId>,
    next_seq: u64,
    span_count: usize,
    bytes: usize,
}

impl PendingTraces {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    /// Adds a finished span; returns the oldest traces pushed out by the limits.
    pub(crate) fn push(&mut self, span: ViewSpan, now: Instant) -> Vec<Released> {
        let trace_id = span.trace_id;
        let bytes = span.approx_bytes();
        let pending = self.traces.entry(trace_id).or_insert_with(|| {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.by_age.insert(seq, trace_id);
            Pending {
                seq,
                spans: Vec::new(),
                bytes: 0,
                last_arrival: now,
            }
        });
        pending.spans.push(span);
        pending.bytes += bytes;
        pending.last_arrival = now;
        self.span_count += 1;
        self.bytes += bytes;
        let mut released = Vec::new();
        while self.span_count > self.limits.max_spans
            || self.bytes > self.limits.max_bytes
            || self.traces.len() > self.limits.max_traces
        {
            let Some((_, oldest)) = self.by_age.first_key_value() else {
                break;
            };
            let oldest = *oldest;
            released.extend(
                self.remove(oldest)
                    .map(|spans| Released { spans, early: true }),
            );
        }
        released
    }

    /// Adds an exporter's batch; returns the traces to show now: those pushed out by the
    /// limits and, when nothing will look later (no quiet period to wait for, or
    /// `has_worker` false), those ready at `now`.
    pub(crate) fn push_batch(
        &mut self,
        batch: Vec<SpanData>,
        service: Option<&Arc<str>>,
        now: Instant,
        has_worker: bool,
    ) -> Vec<Released> {
        let mut released = Vec::new();
        for span in batch {
            released.extend(self.push(ViewSpan::from_sdk(span, service), now));
        }
        if self.limits.quiet_period.is_zero() || !has_worker {
            released.extend(self.take_ready(now));
        }
        released
    }

    /// Removes and returns the traces that are ready at `now`, oldest first.
    pub(crate) fn take_ready(&mut self, now: Instant) -> Vec<Released> {
        let quiet = self.limits.quiet_period;
        let ready: Vec<TraceId> = (self.by_age.values())
            .filter(|id| {
                self.traces.get(id).is_some_and(|pending| {
                    let waited = now.saturating_duration_since(pending.last_arrival);
                    waited >= quiet && (waited >= PATIENCE || local_roots_ended(&pending.spans))
                })
            })
            .copied()
            .collect();
        (ready.into_iter())
            .filter_map(|id| self.remove(id))
            .map(|spans| Released {
                spans,
                early: false,
            })
            .collect()
    }

    /// Removes and returns every trace, oldest first.
    pub(crate) fn take_all(&mut self) -> Vec<Released> {
        let ids: Vec<TraceId> = self.by_age.values().copied().collect();
        (ids.into_iter())
            .filter_map(|id| self.remove(id))
            .map(|spans| Released {
                spans,
                early: false,
            })
            .collect()
    }

    fn remove(&mut self, trace_id: TraceId) -> Option<Vec<ViewSpan>> {
        let pending = self.traces.remove(&trace_id)?;
        self.by_age.remove(&pending.seq);
        self.span_count -= pending.spans.len();
        self.bytes -= pending.bytes;
        Some(pending.spans)
    }
}

/// Whether every span's local parent is here: nothing of this process's part of the
/// trace is still running, as far as ended spans can tell.
fn local_roots_ended(spans: &[ViewSpan]) -> bool {
    let ids: HashSet<SpanId> = spans.iter().map(|span| span.span_id).collect();
    spans.iter().all(|span| {
        span.parent_id == SpanId::INVALID || span.parent_is_remote || ids.contains(&span.parent_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::waterfall::span::test_span;

    const QUIET: Duration = Duration::from_millis(200);

    fn buffer() -> PendingTraces {
        PendingTraces::new(Limits {
            quiet_period: QUIET,
            ..Limits::default()
        })
    }

    fn names(released: &[Released]) -> Vec<Vec<String>> {
        (released.iter())
            .map(|trace| trace.spans.iter().map(|s| s.name.clone()).collect())
            .collect()
    }

    #[test]
    fn a_trace_is_ready_after_its_roots_ended_and_the_quiet_period() {
        let mut pending = buffer();
        let t0 = Instant::now();
        // A child ends first: its parent is still running.
        assert!(pending.push(test_span(1, 2, 1, 10, 20), t0).is_empty());
        assert!(pending.take_ready(t0 + QUIET * 2).is_empty(), "parent open");
        pending.push(test_span(1, 1, 0, 0, 30), t0 + QUIET * 2);
        assert!(
            pending.take_ready(t0 + QUIET * 2 + QUIET / 2).is_empty(),
            "not quiet yet"
        );
        let ready = pending.take_ready(t0 + QUIET * 3);
        assert_eq!(names(&ready), [["span 2", "span 1"]]);
        assert!(!ready[0].early);
        assert!(pending.is_empty());
    }

    #[test]
    fn a_remote_parent_counts_as_a_local_root() {
        let mut pending = buffer();
        let t0 = Instant::now();
        let mut server = test_span(1, 5, 4, 0, 10);
        server.parent_is_remote = true;
        pending.push(server, t0);
        assert_eq!(pending.take_ready(t0 + QUIET).len(), 1);
    }

    #[test]
    fn a_parent_that_never_ends_is_waited_for_patiently_then_given_up() {
        let mut pending = buffer();
        let t0 = Instant::now();
        pending.push(test_span(1, 2, 1, 10, 20), t0);
        assert!(pending.take_ready(t0 + PATIENCE - QUIET).is_empty());
        assert_eq!(pending.take_ready(t0 + PATIENCE).len(), 1);
    }

    #[test]
    fn limits_release_the_oldest_trace_early() {
        let mut pending = PendingTraces::new(Limits {
            max_spans: 3,
            max_traces: 2,
            ..Limits::default()
        });
        let t0 = Instant::now();
        pending.push(test_span(1, 1, 9, 0, 1), t0);
        pending.push(test_span(2, 2, 9, 0, 1), t0);
        let pushed_out = pending.push(test_span(3, 3, 9, 0, 1), t0);
        assert_eq!(names(&pushed_out), [["span 1"]], "three traces > two");
        assert!(pushed_out[0].early);
        let pushed_out = pending.push(test_span(3, 4, 9, 0, 1), t0);
        assert!(pushed_out.is_empty(), "three spans fit");
        let pushed_out = pending.push(test_span(3, 5, 9, 0, 1), t0);
        assert_eq!(names(&pushed_out), [["span 2"]], "four spans > three");
        let all = pending.take_all();
        assert_eq!(names(&all), [["span 3", "span 4", "span 5"]]);
        assert!(!all[0].early);
    }

    #[test]
    fn the_byte_limit_counts_what_spans_hold() {
        let mut pending = PendingTraces::new(Limits {
            max_bytes: 10_000,
            ..Limits::default()
        });
        let t0 = Instant::now();
        let mut big = test_span(1, 1, 9, 0, 1);
        big.name = "x".repeat(20_000);
        let pushed_out = pending.push(big, t0);
        assert_eq!(pushed_out.len(), 1, "a span over the limit leaves at once");
        assert!(pending.is_empty());
    }
}
