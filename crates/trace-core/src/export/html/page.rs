//! The HTML page: the stitched traces as JSON inside one self-contained file, drawn by
//! an inline script (no network, no CDN). Every text from a span reaches the page
//! only as JSON data, which the script puts in the DOM as text, never as markup.

use serde_json::{Value, json};

use crate::export::waterfall::{
    Attribute, Entry, Kind, MAX_INDENT_DEPTH, Placement, Row, SpanStatus, TraceTree, ViewSpan,
};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The whole page for `trees` (in the order given); `evicted` older traces were taken
/// off it to keep it within its limits.
pub(crate) fn render_page(title: &str, trees: &[TraceTree<'_>], evicted: u64) -> String {
    let data = json!({
        "title": title,
        "evicted": evicted,
        "traces": trees.iter().map(trace_data).collect::<Vec<_>>(),
    });
    let title = escape_html(title);
    let data = script_safe_json(&data);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>{title}</h1><p id=\"summary\"></p></header>\n\
         <main>\n<section id=\"traces\" aria-label=\"Traces\"></section>\n\
         <section id=\"waterfall\" aria-label=\"Waterfall\"></section>\n\
         <aside id=\"details\" aria-label=\"Span details\"></aside>\n</main>\n\
         <noscript><p>This page draws its traces with JavaScript.</p></noscript>\n\
         <script type=\"application/json\" id=\"trace-data\">{data}</script>\n\
         <script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    )
}

fn trace_data(tree: &TraceTree<'_>) -> Value {
    let root = tree.root();
    json!({
        "traceId": tree.trace_id.to_string(),
        "root": root.map_or("", |span| span.name.as_str()),
        "entry": entry(tree),
        "service": root.and_then(|span| span.service.as_deref()).unwrap_or(""),
        // Milliseconds fit a JavaScript number; nanoseconds since 1970 do not.
        "startMs": tree.start / 1_000_000,
        "durationNs": tree.duration(),
        "spanCount": tree.spans.len(),
        "errorCount": tree.error_count(),
        "rows": tree.rows.iter().map(|row| row_data(tree, row)).collect::<Vec<_>>(),
    })
}

/// When the root is a call out (a client's request, a producer's message), the first
/// span that received it: `POST` alone says little, `POST → POST /orders` says which.
fn entry<'a>(tree: &TraceTree<'a>) -> Option<&'a str> {
    let root = tree.root()?;
    if !matches!(root.kind, Kind::Client | Kind::Producer) {
        return None;
    }
    (tree.rows.iter().skip(1))
        .filter_map(|row| tree.span_of(row))
        .find(|span| matches!(span.kind, Kind::Server | Kind::Consumer))
        .map(|span| span.name.as_str())
}

fn row_data(tree: &TraceTree<'_>, row: &Row) -> Value {
    let mut data = json!({
        "parent": row.parent_row,
        "depth": row.depth.min(MAX_INDENT_DEPTH),
        "hasChildren": row.has_children,
    });
    let (placement, via) = match row.placement {
        Placement::Top => ("top", None),
        Placement::Child => ("child", None),
        Placement::Linked(id) => ("linked", Some(id)),
        Placement::UnderMissingParent => ("under-missing-parent", None),
        Placement::Cycle(id) => ("cycle", Some(id)),
    };
    data["placement"] = json!(placement);
    if let Some(id) = via {
        data["via"] = json!(id.to_string());
    }
    match row.entry {
        Entry::Span(at) => data["span"] = span_data(tree, tree.spans[at]),
        Entry::MissingParent(id) => data["missing"] = json!(id.to_string()),
    }
    data
}

fn span_data(tree: &TraceTree<'_>, span: &ViewSpan) -> Value {
    let (status, message) = match &span.status {
        SpanStatus::Unset => ("unset", ""),
        SpanStatus::Ok => ("ok", ""),
        SpanStatus::Error(message) => ("error", message.as_str()),
    };
    let links: Vec<Value> = (span.links.iter())
        .map(|link| {
            json!({
                "traceId": link.trace_id.to_string(),
                "spanId": link.span_id.to_string(),
                "attributes": attributes(&link.attributes),
            })
        })
        .collect();
    let events: Vec<Value> = (span.events.iter())
        .map(|event| {
            json!({
                "name": event.name,
                "offsetNs": event.time.saturating_sub(span.start),
                "attributes": attributes(&event.attributes),
            })
        })
        .collect();
    let parent = (span.parent_id != opentelemetry::trace::SpanId::INVALID)
        .then(|| span.parent_id.to_string());
    json!({
        "name": span.name,
        "kind": span.kind.label(),
        "spanId": span.span_id.to_string(),
        "parentId": parent,
        "remoteParent": span.parent_is_remote,
        "service": span.service.as_deref(),
        "scope": span.scope,
        "offsetNs": span.start.saturating_sub(tree.start),
        "durationNs": span.duration(),
        "error": span.is_error(),
        "errorType": span.error_type(),
        "status": status,
        "message": message,
        "attributes": attributes(&span.attributes),
        "droppedAttributes": span.dropped_attributes,
        "events": events,
        "links": links,
    })
}

fn attributes(list: &[Attribute]) -> Value {
    (list.iter())
        .map(|attribute| json!([attribute.key, attribute.value]))
        .collect()
}

/// JSON that cannot end the `<script>` element it sits in, nor open a comment: every
/// `<`, `>` and `&` is written as a JSON escape, as are the two line separators that
/// older JavaScript parsers reject.
fn script_safe_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(ch),
        }
    }
    out
}

/// Text safe in HTML content and attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::waterfall::TraceTree;
    use crate::export::waterfall::test_span;

    #[test]
    fn hostile_names_cannot_leave_the_data_block() {
        let mut span = test_span(1, 1, 0, 0, 10);
        span.name = "</script><script>alert(1)</script><!--".to_owned();
        span.attributes.push(Attribute {
            key: "x\u{2028}".to_owned(),
            value: "a & b > c".to_owned(),
        });
        let spans = [span];
        let trees = TraceTree::stitch_all(&spans);
        let page = render_page("<b>title</b>", &trees, 0);
        assert_eq!(page.matches("</script>").count(), 2, "only our own two");
        assert_eq!(page.matches("<script").count(), 2);
        assert!(!page.contains("<!--"));
        assert!(page.contains("<title>&lt;b&gt;title&lt;/b&gt;</title>"));
        let data = page
            .split("<script type=\"application/json\" id=\"trace-data\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .unwrap();
        let parsed: Value = serde_json::from_str(data).unwrap();
        let row = &parsed["traces"][0]["rows"][0];
        assert_eq!(
            row["span"]["name"],
            "</script><script>alert(1)</script><!--"
        );
        assert_eq!(row["span"]["attributes"][0][1], "a & b > c");
    }

    #[test]
    fn the_page_needs_nothing_from_the_network() {
        let page = render_page("t", &[], 0);
        for needle in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!page.contains(needle), "{needle} in the page");
        }
    }
}
