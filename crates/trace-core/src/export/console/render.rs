//! The terminal waterfall: one block per trace, one line per span with tree guides,
//! name, kind, duration and a bar on a time axis shared by the whole trace, then the
//! span's attributes (condensed on one line, or in full when verbose).

use std::fmt::Write as _;

use crate::export::waterfall::{
    Attribute, Entry, Kind, Placement, Row, SpanStatus, TraceTree, ViewSpan,
};

use super::style::{WaterfallStyle, fit, format_duration, plural, sanitize, width_of};

const KIND_COLUMNS: usize = 8;
const DURATION_COLUMNS: usize = 9;
const GAP: &str = "  ";
const MIN_BAR_COLUMNS: usize = 10;

/// ANSI styles, used only when the style has colour on.
const BOLD: &str = "1";
const DIM: &str = "2";
const RED: &str = "31";
const BOLD_RED: &str = "1;31";

/// Appends the waterfall of `tree` to `out`; `note` goes in the header line.
pub(crate) fn render_trace(
    out: &mut String,
    tree: &TraceTree<'_>,
    style: &WaterfallStyle,
    note: Option<&str>,
) {
    let paint = Paint(style.color());
    header(out, tree, note, paint);
    let labels: Vec<String> = tree.rows.iter().map(|row| label(tree, row)).collect();
    let widest = (tree.rows.iter().zip(&labels))
        .filter(|(row, _)| matches!(row.entry, Entry::Span(_)))
        .map(|(_, label)| width_of(label))
        .max()
        .unwrap_or(0);
    let columns_besides_label = GAP.len() * 3 + KIND_COLUMNS + DURATION_COLUMNS;
    let room = style.width() - columns_besides_label - MIN_BAR_COLUMNS;
    let label_columns = widest.clamp(12, (style.width() / 2).clamp(24, room));
    let fixed = label_columns + columns_besides_label;
    let bar_columns = style.width() - fixed;
    let axis = Axis {
        start: tree.start,
        total: tree.duration(),
        columns: bar_columns,
    };
    let _ = writeln!(
        out,
        "{}{}",
        " ".repeat(fixed),
        paint.on(DIM, &axis.labels())
    );
    for (row, label) in tree.rows.iter().zip(&labels) {
        let Some(span) = tree.span_of(row) else {
            let _ = writeln!(out, "{}", paint.on(DIM, &fit(label, style.width())));
            continue;
        };
        let (guides, name) = label.split_at(guide_bytes(row));
        let guides = keep_right(guides, label_columns.saturating_sub(8));
        let guides = guides.as_str();
        let name = fit(name, label_columns.saturating_sub(width_of(guides)));
        let padding = label_columns.saturating_sub(width_of(guides) + width_of(&name));
        let name = paint.on(if span.is_error() { BOLD_RED } else { "" }, &name);
        let text = format!(
            "{}{name}{}{GAP}{:<KIND_COLUMNS$}{GAP}{:>DURATION_COLUMNS$}{GAP}",
            paint.on(DIM, guides),
            " ".repeat(padding),
            span.kind.label(),
            format_duration(span.duration()),
        );
        let color = if span.is_error() {
            RED
        } else {
            kind_color(span.kind)
        };
        let bar = paint.on(color, axis.bar(span).trim_end());
        let _ = writeln!(out, "{text}{bar}");
        let prefix = detail_prefix(row);
        if style.verbose() {
            for line in verbose_details(tree, row, span) {
                let _ = writeln!(out, "{}", paint.on(DIM, &format!("{prefix}{line}")));
            }
        } else if let Some(line) = condensed_details(row, span, style.attribute_limit()) {
            let line = fit(&format!("{prefix}{line}"), style.width());
            let _ = writeln!(out, "{}", paint.on(DIM, &line));
        }
    }
}

fn header(out: &mut String, tree: &TraceTree<'_>, note: Option<&str>, paint: Paint) {
    let mut text = format!("trace {}", tree.trace_id);
    if let Some(service) = tree.root().and_then(|root| root.service.as_deref()) {
        let _ = write!(text, " · {}", sanitize(&fit(service, 60)));
    }
    let _ = write!(
        text,
        " · {} · {}",
        plural(tree.spans.len(), "span"),
        format_duration(tree.duration())
    );
    let _ = write!(out, "{}", paint.on(BOLD, &text));
    let errors = tree.error_count();
    if errors > 0 {
        let _ = write!(
            out,
            "{}",
            paint.on(BOLD_RED, &format!(" · ✗ {}", plural(errors, "error")))
        );
    }
    if let Some(note) = note {
        let _ = write!(out, " · {note}");
    }
    out.push('\n');
}

/// Tree guides, then the name (or the missing parent's placeholder).
fn label(tree: &TraceTree<'_>, row: &Row) -> String {
    let mut label = guides(row);
    match tree.span_of(row) {
        Some(span) => {
            if span.is_error() {
                label.push_str("✗ ");
            }
            match span.name.as_str() {
                "" => label.push_str("<unnamed>"),
                name => label.push_str(&sanitize(name)),
            }
        }
        None => {
            if let Entry::MissingParent(id) = row.entry {
                let _ = write!(label, "⋯ parent {id}, not seen by this process");
            }
        }
    }
    label
}

fn guides(row: &Row) -> String {
    if row.depth == 0 {
        return String::new();
    }
    let mut text: String = (row.guides.iter())
        .map(|&more| if more { "│  " } else { "   " })
        .collect();
    text.push_str(if row.is_last { "└─ " } else { "├─ " });
    text
}

/// The last `columns` characters of deep guides, after a `…`: the nearest levels
/// matter most.
fn keep_right(guides: &str, columns: usize) -> String {
    let count = guides.chars().count();
    if count <= columns {
        return guides.to_owned();
    }
    let kept: String = guides
        .chars()
        .skip(count - columns.saturating_sub(1))
        .collect();
    format!("…{kept}")
}

/// Bytes of a row's label taken by its guides.
fn guide_bytes(row: &Row) -> usize {
    guides(row).len()
}

/// What goes before a span's detail lines: the guides of the lines below it.
fn detail_prefix(row: &Row) -> String {
    let mut prefix: String = if row.depth == 0 {
        String::new()
    } else {
        (row.guides.iter())
            .map(|&more| if more { "│  " } else { "   " })
            .collect::<String>()
            + if row.is_last { "   " } else { "│  " }
    };
    prefix.push_str(if row.has_children { "│  " } else { "   " });
    prefix
}

fn placement_note(row: &Row) -> Option<String> {
    match row.placement {
        Placement::Linked(id) => Some(format!("(parent not here; linked to {id})")),
        Placement::Cycle(id) => Some(format!("(parent {id} is part of a cycle)")),
        _ => None,
    }
}

/// Error, attributes (at most `limit`), counts of the rest, and a placement note.
fn condensed_details(row: &Row, span: &ViewSpan, limit: usize) -> Option<String> {
    let mut groups: Vec<String> = placement_note(row).into_iter().collect();
    if let Some(error) = error_text(span) {
        groups.push(error);
    }
    let shown: Vec<String> = (span.attributes.iter())
        .filter(|attribute| attribute.key != "error.type")
        .take(limit)
        .map(|attribute| {
            format!(
                "{}={}",
                sanitize(&attribute.key),
                sanitize(&attribute.value)
            )
        })
        .collect();
    let listed = span.attributes.len() - usize::from(span.error_type().is_some());
    let hidden = listed - shown.len() + span.dropped_attributes as usize;
    let mut attributes = shown.join(" ");
    if hidden > 0 {
        let sep = if attributes.is_empty() { "" } else { " " };
        let _ = write!(attributes, "{sep}+{hidden} attrs");
    }
    if !attributes.is_empty() {
        groups.push(attributes);
    }
    for (count, noun) in [(span.events.len(), "event"), (span.links.len(), "link")] {
        if count > 0 {
            groups.push(format!("+{}", plural(count, noun)));
        }
    }
    (!groups.is_empty()).then(|| groups.join(GAP))
}

/// `✗ error: message  error.type=kind`, for a failed span.
fn error_text(span: &ViewSpan) -> Option<String> {
    let mut parts = Vec::new();
    match &span.status {
        SpanStatus::Error(message) if message.is_empty() => parts.push("✗ error".to_owned()),
        SpanStatus::Error(message) => parts.push(format!("✗ error: {}", sanitize(message))),
        _ => {}
    }
    if let Some(kind) = span.error_type() {
        parts.push(format!("error.type={}", sanitize(kind)));
    }
    (!parts.is_empty()).then(|| parts.join(GAP))
}

/// Ids, status, every attribute, event and link, one per line.
fn verbose_details(tree: &TraceTree<'_>, row: &Row, span: &ViewSpan) -> Vec<String> {
    let mut lines = Vec::new();
    let mut ids = format!("span {}", span.span_id);
    if span.parent_id != opentelemetry::trace::SpanId::INVALID {
        let remote = if span.parent_is_remote {
            " (remote)"
        } else {
            ""
        };
        let _ = write!(ids, "  parent {}{remote}", span.parent_id);
    }
    if !span.scope.is_empty() {
        let _ = write!(ids, "  scope {}", sanitize(&span.scope));
    }
    lines.push(ids);
    lines.extend(placement_note(row));
    lines.extend(error_text(span));
    if span.status == SpanStatus::Ok {
        lines.push("status ok".to_owned());
    }
    let pairs = |attributes: &[Attribute]| -> String {
        (attributes.iter())
            .map(|a| format!("{}={}", sanitize(&a.key), sanitize(&a.value)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for attribute in &span.attributes {
        lines.push(format!(
            "{} = {}",
            sanitize(&attribute.key),
            sanitize(&attribute.value)
        ));
    }
    if span.dropped_attributes > 0 {
        lines.push(format!("+{} attributes dropped", span.dropped_attributes));
    }
    for event in &span.events {
        let at = format_duration(event.time.saturating_sub(span.start));
        let attributes = pairs(&event.attributes);
        lines.push(
            format!("event +{at} {}  {attributes}", sanitize(&event.name))
                .trim_end()
                .to_owned(),
        );
    }
    for link in &span.links {
        let here = if link.trace_id == tree.trace_id {
            " (this trace)"
        } else {
            ""
        };
        let attributes = pairs(&link.attributes);
        let text = format!(
            "link {}/{}{here}  {attributes}",
            link.trace_id, link.span_id
        );
        lines.push(text.trim_end().to_owned());
    }
    lines
}

fn kind_color(kind: Kind) -> &'static str {
    match kind {
        Kind::Server => "34",
        Kind::Client => "36",
        Kind::Producer | Kind::Consumer => "35",
        Kind::Internal => "32",
    }
}

/// Whether to write ANSI colours.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn on(self, code: &str, text: &str) -> String {
        if self.0 && !code.is_empty() && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// The trace's time axis across `columns` cells.
struct Axis {
    start: u64,
    total: u64,
    columns: usize,
}

impl Axis {
    /// The cell where `time` falls, rounding down or up.
    fn cell(&self, time: u64, round_up: bool) -> usize {
        if self.total == 0 {
            return 0;
        }
        let offset = u128::from(time.saturating_sub(self.start).min(self.total));
        let scaled = offset * self.columns as u128;
        let total = u128::from(self.total);
        let cell = if round_up {
            scaled.div_ceil(total)
        } else {
            scaled / total
        };
        usize::try_from(cell).unwrap_or(self.columns)
    }

    /// The span's bar: full blocks from its start cell to its end cell, at least one.
    fn bar(&self, span: &ViewSpan) -> String {
        let first = self.cell(span.start, false).min(self.columns - 1);
        let last = self
            .cell(span.end.max(span.start), true)
            .clamp(first + 1, self.columns);
        format!("{}{}", " ".repeat(first), "█".repeat(last - first))
    }

    /// `0`, the middle and the total, spread over the axis as room allows.
    fn labels(&self) -> String {
        let end = format_duration(self.total);
        let middle = format_duration(self.total / 2);
        let mut line = vec![' '; self.columns];
        let mut place = |text: &str, at: usize| {
            for (offset, ch) in text.chars().enumerate() {
                if let Some(cell) = line.get_mut(at + offset) {
                    *cell = ch;
                }
            }
        };
        let end_at = self.columns.saturating_sub(end.chars().count());
        if end_at >= 3 {
            place("0", 0);
        }
        let middle_at = (self.columns / 2).saturating_sub(middle.chars().count() / 2);
        if self.total > 0 && middle_at >= 4 && middle_at + middle.chars().count() + 2 <= end_at {
            place(&middle, middle_at);
        }
        place(&end, end_at);
        line.into_iter().collect::<String>().trim_end().to_owned()
    }
}
