//! Stitching: the spans of one trace arranged as one tree, whatever process or batch
//! each came from. The terminal and the HTML views both draw these rows.
//!
//! A span goes under its parent when the parent is here, local or remote (so a server
//! span goes under the client span that called it, and a consumer under its producer);
//! else under a span it links to; else under one placeholder row per missing parent, so
//! a trace that arrives in pieces names each missing parent once. Children are in start
//! order. Never panics, whatever the data: duplicate ids, cycles, end before start.

use std::collections::HashMap;

use opentelemetry::trace::{SpanId, TraceId};

use super::span::ViewSpan;

/// Deeper rows stop indenting, so a pathological chain cannot make output quadratic.
pub(crate) const MAX_INDENT_DEPTH: usize = 32;

/// What a row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// The span at this index of [`TraceTree::spans`].
    Span(usize),
    /// A parent that none of the spans here is: its children follow.
    MissingParent(SpanId),
}

/// Why a row sits where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// A root (no parent), or a missing parent's placeholder.
    Top,
    /// Under its parent.
    Child,
    /// Its parent is not here; it goes under the span it links to.
    Linked(SpanId),
    /// Its parent is not here; it goes under that parent's placeholder.
    UnderMissingParent,
    /// Its parent chain loops back to it; shown at the top level.
    Cycle(SpanId),
}

/// One line of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) entry: Entry,
    pub(crate) placement: Placement,
    /// The row this one hangs under.
    pub(crate) parent_row: Option<usize>,
    /// 0 for the top level.
    pub(crate) depth: usize,
    /// The last of its siblings.
    pub(crate) is_last: bool,
    pub(crate) has_children: bool,
    /// For each ancestor below the top level, whether it has later siblings (a guide
    /// line continues past this row); at most [`MAX_INDENT_DEPTH`] entries.
    pub(crate) guides: Vec<bool>,
}

/// One trace, stitched.
#[derive(Debug)]
pub(crate) struct TraceTree<'a> {
    pub(crate) trace_id: TraceId,
    pub(crate) spans: Vec<&'a ViewSpan>,
    pub(crate) rows: Vec<Row>,
    /// Earliest start, Unix nanoseconds.
    pub(crate) start: u64,
    /// Latest end, Unix nanoseconds; never before `start`.
    pub(crate) end: u64,
}

impl<'a> TraceTree<'a> {
    /// Groups `spans` by trace id, in order of first appearance, and stitches each.
    pub(crate) fn stitch_all(spans: &'a [ViewSpan]) -> Vec<TraceTree<'a>> {
        let mut groups: Vec<(TraceId, Vec<&'a ViewSpan>)> = Vec::new();
        let mut slots: HashMap<TraceId, usize> = HashMap::new();
        for span in spans {
            let slot = *slots.entry(span.trace_id).or_insert_with(|| {
                groups.push((span.trace_id, Vec::new()));
                groups.len() - 1
            });
            groups[slot].1.push(span);
        }
        (groups.into_iter())
            .map(|(trace_id, group)| Self::stitch(trace_id, group))
            .collect()
    }

    /// Stitches the spans of one trace.
    pub(crate) fn stitch(trace_id: TraceId, spans: Vec<&'a ViewSpan>) -> Self {
        let start = spans.iter().map(|s| s.start).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.end).max().unwrap_or(0).max(start);
        let rows = arrange(&spans);
        Self {
            trace_id,
            spans,
            rows,
            start,
            end,
        }
    }

    /// Nanoseconds from the earliest start to the latest end.
    pub(crate) fn duration(&self) -> u64 {
        self.end - self.start
    }

    /// The first span of the first row: the root, or the earliest piece.
    pub(crate) fn root(&self) -> Option<&'a ViewSpan> {
        self.rows.iter().find_map(|row| match row.entry {
            Entry::Span(index) => Some(self.spans[index]),
            Entry::MissingParent(_) => None,
        })
    }

    /// Spans that failed.
    pub(crate) fn error_count(&self) -> usize {
        self.spans.iter().filter(|span| span.is_error()).count()
    }

    /// The span a row shows.
    pub(crate) fn span_of(&self, row: &Row) -> Option<&'a ViewSpan> {
        match row.entry {
            Entry::Span(index) => Some(self.spans[index]),
            Entry::MissingParent(_) => None,
        }
    }
}

/// A node before it becomes a row: a span or a missing parent's placeholder.
#[derive(Clone, Copy)]
struct Node {
    entry: Entry,
    placement: Placement,
    start: u64,
}

fn arrange(spans: &[&ViewSpan]) -> Vec<Row> {
    let mut index: HashMap<SpanId, usize> = HashMap::new();
    for (at, span) in spans.iter().enumerate() {
        index.entry(span.span_id).or_insert(at);
    }
    // Nodes 0..spans.len() are the spans; placeholders follow.
    let mut nodes: Vec<Node> = (spans.iter().enumerate())
        .map(|(at, span)| Node {
            entry: Entry::Span(at),
            placement: Placement::Top,
            start: span.start,
        })
        .collect();
    let mut parent_of: Vec<Option<usize>> = vec![None; spans.len()];
    let mut placeholders: HashMap<SpanId, usize> = HashMap::new();
    for (at, span) in spans.iter().enumerate() {
        let found = |id: SpanId| index.get(&id).copied().filter(|&p| p != at);
        if span.parent_id == SpanId::INVALID {
            continue;
        }
        if span.parent_id == span.span_id {
            nodes[at].placement = Placement::Cycle(span.parent_id);
            continue;
        }
        if let Some(parent) = found(span.parent_id) {
            parent_of[at] = Some(parent);
            nodes[at].placement = Placement::Child;
            continue;
        }
        let linked = (span.links.iter())
            .filter(|link| link.trace_id == span.trace_id)
            .find_map(|link| found(link.span_id).map(|target| (target, link.span_id)));
        if let Some((target, id)) = linked {
            parent_of[at] = Some(target);
            nodes[at].placement = Placement::Linked(id);
            continue;
        }
        let holder = *placeholders.entry(span.parent_id).or_insert_with(|| {
            nodes.push(Node {
                entry: Entry::MissingParent(span.parent_id),
                placement: Placement::Top,
                start: span.start,
            });
            parent_of.push(None);
            nodes.len() - 1
        });
        nodes[holder].start = nodes[holder].start.min(span.start);
        parent_of[at] = Some(holder);
        nodes[at].placement = Placement::UnderMissingParent;
    }

    let mut by_start: Vec<usize> = (0..nodes.len()).collect();
    by_start.sort_by_key(|&node| (nodes[node].start, node));
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut tops = Vec::new();
    for &node in &by_start {
        match parent_of[node] {
            Some(parent) => children[parent].push(node),
            None => tops.push(node),
        }
    }

    let mut rows = Vec::with_capacity(nodes.len());
    let mut visited = vec![false; nodes.len()];
    for (at, &top) in tops.iter().enumerate() {
        walk(
            top,
            at + 1 == tops.len(),
            &nodes,
            &children,
            &mut visited,
            &mut rows,
        );
    }
    // Spans in a parent cycle are reachable from no top: each loop is shown from its
    // earliest span, at the top level.
    for &node in &by_start {
        if !visited[node] {
            if let Entry::Span(at) = nodes[node].entry {
                nodes[node].placement = Placement::Cycle(spans[at].parent_id);
            }
            walk(node, true, &nodes, &children, &mut visited, &mut rows);
        }
    }
    rows
}

/// Appends the rows of `top`'s subtree in depth-first order. An explicit stack keeps
/// very deep traces from overflowing the thread's stack.
fn walk(
    top: usize,
    is_last: bool,
    nodes: &[Node],
    children: &[Vec<usize>],
    visited: &mut [bool],
    rows: &mut Vec<Row>,
) {
    // (node, parent row, depth, is last, guides)
    let mut stack = vec![(top, None, 0, is_last, Vec::new())];
    while let Some((node, parent_row, depth, is_last, guides)) = stack.pop() {
        if std::mem::replace(&mut visited[node], true) {
            continue;
        }
        let kids: Vec<usize> = (children[node].iter().copied())
            .filter(|&kid| !visited[kid])
            .collect();
        let row = rows.len();
        let mut kid_guides: Vec<bool> = guides.clone();
        if depth >= 1 && kid_guides.len() < MAX_INDENT_DEPTH {
            kid_guides.push(!is_last);
        }
        rows.push(Row {
            entry: nodes[node].entry,
            placement: nodes[node].placement,
            parent_row,
            depth,
            is_last,
            has_children: !kids.is_empty(),
            guides,
        });
        for (at, &kid) in kids.iter().enumerate().rev() {
            let last = at + 1 == kids.len();
            stack.push((kid, Some(row), depth + 1, last, kid_guides.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::waterfall::span::{SpanLinkView, test_span};

    fn rows(spans: &[ViewSpan]) -> Vec<(String, usize, Placement)> {
        let tree = TraceTree::stitch(TraceId::from(1), spans.iter().collect());
        (tree.rows.iter())
            .map(|row| {
                let name = match row.entry {
                    Entry::Span(at) => tree.spans[at].name.clone(),
                    Entry::MissingParent(id) => format!("missing {id}"),
                };
                (name, row.depth, row.placement)
            })
            .collect()
    }

    #[test]
    fn children_follow_their_parent_in_start_order_across_remote_parents() {
        let mut server = test_span(1, 2, 1, 5, 15);
        server.parent_is_remote = true;
        let spans = vec![
            test_span(1, 4, 2, 9, 12),
            test_span(1, 3, 2, 6, 8),
            server,
            test_span(1, 1, 0, 0, 20),
        ];
        assert_eq!(
            rows(&spans),
            [
                ("span 1".to_owned(), 0, Placement::Top),
                ("span 2".to_owned(), 1, Placement::Child),
                ("span 3".to_owned(), 2, Placement::Child),
                ("span 4".to_owned(), 2, Placement::Child),
            ]
        );
    }

    #[test]
    fn orphans_of_one_missing_parent_share_one_placeholder() {
        let spans = vec![test_span(1, 2, 9, 5, 6), test_span(1, 3, 9, 1, 2)];
        let missing = SpanId::from(9);
        assert_eq!(
            rows(&spans),
            [
                (format!("missing {missing}"), 0, Placement::Top),
                ("span 3".to_owned(), 1, Placement::UnderMissingParent),
                ("span 2".to_owned(), 1, Placement::UnderMissingParent),
            ]
        );
    }

    #[test]
    fn a_span_without_its_parent_goes_under_a_span_it_links_to() {
        let mut consumer = test_span(1, 3, 9, 5, 6);
        consumer.links.push(SpanLinkView {
            trace_id: TraceId::from(1),
            span_id: SpanId::from(2),
            attributes: Vec::new(),
        });
        let spans = vec![test_span(1, 2, 0, 0, 4), consumer];
        assert_eq!(
            rows(&spans),
            [
                ("span 2".to_owned(), 0, Placement::Top),
                ("span 3".to_owned(), 1, Placement::Linked(SpanId::from(2))),
            ]
        );
    }

    #[test]
    fn guides_record_which_ancestors_have_later_siblings() {
        let spans = [
            test_span(1, 1, 0, 0, 10),
            test_span(1, 2, 1, 1, 5),
            test_span(1, 3, 2, 2, 3),
            test_span(1, 4, 1, 6, 9),
        ];
        let tree = TraceTree::stitch(TraceId::from(1), spans.iter().collect());
        let span3 = &tree.rows[2];
        assert_eq!((span3.depth, span3.guides.as_slice()), (2, &[true][..]));
        assert!(tree.rows[1].has_children && !tree.rows[1].is_last);
        assert!(tree.rows[3].is_last);
        assert_eq!((tree.start, tree.end, tree.duration()), (0, 10, 10));
    }
}
