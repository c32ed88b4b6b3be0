//! Spans grouped by instrumentation scope as opentelemetry-proto groups them: one group
//! per distinct scope (the scope's own equality: name, version, schema URL and
//! attributes in any order), groups in the order their first span comes, spans in
//! input order within a group.

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SpanData;

/// The grouping of one batch, in buffers kept from batch to batch. A span's scope is
/// compared with its predecessor's, then with each group's until one matches: at worst
/// spans × scopes comparisons, in practice a few scopes (one per instrumented library).
#[derive(Debug, Default)]
pub(super) struct ScopeGroups {
    /// Each group's first span, whose scope is the group's.
    firsts: Vec<usize>,
    /// Each span's group.
    group_of: Vec<usize>,
    /// Where each group's spans start in `order`, then where the last one ends.
    starts: Vec<usize>,
    /// Span indices, group after group.
    order: Vec<usize>,
    /// Where the next span of each group goes in `order`, while sorting.
    next: Vec<usize>,
}

impl ScopeGroups {
    /// Groups `spans`, replacing the previous batch's grouping.
    pub(super) fn group(&mut self, spans: &[SpanData]) {
        self.firsts.clear();
        self.group_of.clear();
        // Spans of one scope usually come together: try the last span's group first.
        let mut last = None;
        for (index, span) in spans.iter().enumerate() {
            let scope = &span.instrumentation_scope;
            let group = last
                .filter(|&group| self.is_scope_of(spans, group, scope))
                .or_else(|| {
                    (0..self.firsts.len()).find(|&group| self.is_scope_of(spans, group, scope))
                })
                .unwrap_or_else(|| {
                    self.firsts.push(index);
                    self.firsts.len() - 1
                });
            self.group_of.push(group);
            last = Some(group);
        }
        // A counting sort by group keeps input order within each group.
        self.starts.clear();
        self.starts.resize(self.firsts.len() + 1, 0);
        for &group in &self.group_of {
            self.starts[group + 1] += 1;
        }
        for group in 0..self.firsts.len() {
            self.starts[group + 1] += self.starts[group];
        }
        self.order.clear();
        self.order.resize(spans.len(), 0);
        self.next.clear();
        self.next.extend_from_slice(&self.starts);
        for (index, &group) in self.group_of.iter().enumerate() {
            self.order[self.next[group]] = index;
            self.next[group] += 1;
        }
    }

    /// Each group's scope and its spans' indices in the batch `group` was given.
    pub(super) fn iter<'a>(
        &'a self,
        spans: &'a [SpanData],
    ) -> impl Iterator<Item = (&'a InstrumentationScope, &'a [usize])> {
        self.firsts
            .iter()
            .zip(self.starts.windows(2))
            .filter_map(|(&first, bounds)| {
                let scope = &spans.get(first)?.instrumentation_scope;
                Some((scope, self.order.get(bounds[0]..bounds[1])?))
            })
    }

    /// Whether `scope` is the scope of `group`.
    fn is_scope_of(&self, spans: &[SpanData], group: usize, scope: &InstrumentationScope) -> bool {
        self.firsts
            .get(group)
            .and_then(|&first| spans.get(first))
            .is_some_and(|first| same_scope(&first.instrumentation_scope, scope))
    }
}

/// The scope's own equality, without the two vectors it allocates to compare
/// attributes when they are in the same order (as when both spans come from one tracer).
fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    let same_in_order = a.name() == b.name()
        && a.version() == b.version()
        && a.schema_url() == b.schema_url()
        && a.attributes().eq(b.attributes());
    // Equal attribute lists in the same order sort the same way, so this never says
    // equal where `==` would not; `==` settles the rest (another order, or a NaN).
    same_in_order || a == b
}
