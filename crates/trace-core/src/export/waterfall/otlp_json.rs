//! Reading OTLP/JSON files, so that traces captured anywhere can be drawn the same way.

use std::sync::Arc;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;

use super::span::{
    Kind, MAX_ITEMS, SpanEventView, SpanLinkView, SpanStatus, ViewSpan, bounded, bounded_attributes,
};
use super::tree::TraceTree;
use crate::export::console::{WaterfallStyle, render_trace};

/// Spans kept from one file at most; the rest are reported as a problem.
const MAX_SPANS: usize = 200_000;
/// Problems kept at most (the count of the rest is still reported).
const MAX_PROBLEMS: usize = 20;
/// OTLP span flag bits: whether the parent's remoteness is known, and whether it is.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

/// Traces read from OTLP/JSON, to draw as the console's waterfall or the HTML page.
///
/// Reads the output of [`JsonLinesExporter`](super::super::JsonLinesExporter) and of
/// the OpenTelemetry Collector's `file` exporter: one `ExportTraceServiceRequest` per
/// line; a file holding one request spread over many lines is read too. Lines that are
/// not such a request are skipped and listed in [`problems`](Self::problems), as are
/// spans with invalid ids. At most 200 000 spans are kept.
///
/// ```
/// use trace_core::export::{OtlpJsonTraces, WaterfallStyle};
///
/// let line = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"GET /orders","kind":2,"startTimeUnixNano":"1000000","endTimeUnixNano":"3000000"}]}]}]}"#;
/// let traces = OtlpJsonTraces::parse(line);
/// assert!(traces.problems().is_empty());
/// let text = traces.to_waterfall(&WaterfallStyle::plain());
/// assert!(text.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 · checkout · 1 span · 2.00 ms"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct OtlpJsonTraces {
    spans: Vec<ViewSpan>,
    problems: Vec<String>,
    unlisted_problems: usize,
}

impl OtlpJsonTraces {
    /// Reads `text`; never fails, and lists what it could not read.
    pub fn parse(text: &str) -> Self {
        let mut traces = Self::default();
        let mut read_any = false;
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let place = format!("line {}", number + 1);
            match serde_json::from_str::<ExportTraceServiceRequest>(line) {
                Ok(request) => {
                    read_any = true;
                    traces.add(request, &place);
                }
                Err(error) => traces.problem(format!(
                    "{place}: {error} (not an OTLP/JSON ExportTraceServiceRequest)"
                )),
            }
        }
        if !read_any {
            // Perhaps one request, pretty-printed.
            if let Ok(request) = serde_json::from_str::<ExportTraceServiceRequest>(text) {
                traces = Self::default();
                traces.add(request, "the file");
            }
        }
        traces
    }

    /// What could not be read: skipped lines and spans, and a count of further ones.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.problems.clone();
        if self.unlisted_problems > 0 {
            problems.push(format!("... and {} more", self.unlisted_problems));
        }
        problems
    }

    /// How many spans were read.
    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// How many traces (distinct trace ids) were read.
    pub fn trace_count(&self) -> usize {
        TraceTree::stitch_all(&self.spans).len()
    }

    /// Every trace as the console exporter draws it, in order of first appearance.
    pub fn to_waterfall(&self, style: &WaterfallStyle) -> String {
        let mut out = String::new();
        for tree in TraceTree::stitch_all(&self.spans) {
            render_trace(&mut out, &tree, style, None);
        }
        out
    }

    /// Every trace as the HTML exporter's page, titled `title`, newest trace first.
    #[cfg(feature = "html")]
    #[cfg_attr(docsrs, doc(cfg(feature = "html")))]
    pub fn to_html_page(&self, title: &str) -> String {
        let mut trees = TraceTree::stitch_all(&self.spans);
        trees.sort_by_key(|tree| std::cmp::Reverse(tree.start));
        crate::export::html::render_page(title, &trees, 0)
    }

    fn problem(&mut self, problem: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.unlisted_problems += 1;
        }
    }

    fn add(&mut self, request: ExportTraceServiceRequest, place: &str) {
        for resource_spans in request.resource_spans {
            let service = (resource_spans.resource.iter())
                .flat_map(|resource| &resource.attributes)
                .find(|kv| kv.key == "service.name")
                .map(|kv| Arc::<str>::from(bounded(&value_text(kv.value.as_ref()))));
            for scope_spans in resource_spans.scope_spans {
                let scope = scope_spans
                    .scope
                    .map(|scope| scope.name)
                    .unwrap_or_default();
                for span in scope_spans.spans {
                    if self.spans.len() == MAX_SPANS {
                        self.problem(format!(
                            "{place}: only the first {MAX_SPANS} spans are shown"
                        ));
                        return;
                    }
                    match convert(span, service.as_ref(), &scope) {
                        Ok(span) => self.spans.push(span),
                        Err(why) => self.problem(format!("{place}: span skipped: {why}")),
                    }
                }
            }
        }
    }
}

fn convert(span: Span, service: Option<&Arc<str>>, scope: &str) -> Result<ViewSpan, String> {
    let trace_id = trace_id(&span.trace_id).ok_or("its traceId is not 16 bytes")?;
    let span_id = span_id(&span.span_id).ok_or("its spanId is not 8 bytes")?;
    let parent_id = if span.parent_span_id.is_empty() {
        SpanId::INVALID
    } else {
        self::span_id(&span.parent_span_id).ok_or("its parentSpanId is not 8 bytes")?
    };
    let (attributes, cut) = attributes_of(&span.attributes);
    let events = (span.events.iter().take(MAX_ITEMS))
        .map(|event| SpanEventView {
            name: bounded(&event.name),
            time: event.time_unix_nano,
            attributes: attributes_of(&event.attributes).0,
        })
        .collect();
    let links = (span.links.iter().take(MAX_ITEMS))
        .filter_map(|link| {
            Some(SpanLinkView {
                trace_id: self::trace_id(&link.trace_id)?,
                span_id: self::span_id(&link.span_id)?,
                attributes: attributes_of(&link.attributes).0,
            })
        })
        .collect();
    let status = match span.status {
        Some(status) if status.code == 2 => SpanStatus::Error(bounded(&status.message)),
        Some(status) if status.code == 1 => SpanStatus::Ok,
        _ => SpanStatus::Unset,
    };
    Ok(ViewSpan {
        trace_id,
        span_id,
        parent_id,
        parent_is_remote: span.flags & (FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE)
            == (FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE),
        name: bounded(&span.name),
        kind: Kind::from_otlp(span.kind),
        start: span.start_time_unix_nano,
        end: span.end_time_unix_nano,
        attributes,
        dropped_attributes: span.dropped_attributes_count.saturating_add(cut),
        events,
        links,
        status,
        service: service.cloned(),
        scope: bounded(scope),
    })
}

fn trace_id(bytes: &[u8]) -> Option<TraceId> {
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    Some(TraceId::from_bytes(bytes))
}

fn span_id(bytes: &[u8]) -> Option<SpanId> {
    let bytes: [u8; 8] = bytes.try_into().ok()?;
    Some(SpanId::from_bytes(bytes))
}

fn attributes_of(list: &[KeyValue]) -> (Vec<super::span::Attribute>, u32) {
    bounded_attributes((list.iter()).map(|kv| (kv.key.as_str(), value_text(kv.value.as_ref()))))
}

/// An attribute value as text, as the SDK's `Value` displays it: strings as they are,
/// arrays as `[a,b]`; maps as `{k: v}` and bytes as their length (the SDK has neither).
fn value_text(value: Option<&AnyValue>) -> String {
    let Some(value) = value.and_then(|value| value.value.as_ref()) else {
        return String::new();
    };
    match value {
        any_value::Value::StringValue(text) => text.clone(),
        any_value::Value::BoolValue(flag) => flag.to_string(),
        any_value::Value::IntValue(number) => number.to_string(),
        any_value::Value::DoubleValue(number) => number.to_string(),
        any_value::Value::ArrayValue(array) => {
            let items: Vec<String> = (array.values.iter().take(MAX_ITEMS))
                .map(|item| match &item.value {
                    Some(any_value::Value::StringValue(text)) => format!("\"{text}\""),
                    _ => value_text(Some(item)),
                })
                .collect();
            format!("[{}]", items.join(","))
        }
        any_value::Value::KvlistValue(list) => {
            let items: Vec<String> = (list.values.iter().take(MAX_ITEMS))
                .map(|kv| format!("{}: {}", kv.key, value_text(kv.value.as_ref())))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        any_value::Value::BytesValue(bytes) => format!("<{} bytes>", bytes.len()),
        // An index into a profile's string table, which a trace has not.
        any_value::Value::StringValueStrindex(index) => format!("<string #{index}>"),
    }
}
