//! One JSON object per log line, with the ids as top-level members.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::ids::{IdsTemplate, TraceIdFields};
use crate::json_fields::{JsonFields, write_string};
use crate::lookup::SpanLookup;

/// A JSON event format that puts the ids of the event's span next to its timestamp and
/// level, one object per line:
///
/// ```json
/// {"timestamp":"2026-11-21T05:40:12.123456Z","level":"INFO","target":"orders","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","trace_flags":"01","span":{"name":"store"},"fields":{"message":"order stored","order.id":42}}
/// ```
///
/// Members, in order: `timestamp` (RFC 3339, UTC), `level`, `target`, the three ids
/// (only inside a trace), `span` (name of the current `tracing` span, when there is
/// one), and the event's `fields` (nested by default, or top level with
/// [`flatten_fields`](Self::flatten_fields)). Records from the `log` crate show their
/// own target and level. Every string is escaped, so each line is valid JSON whatever
/// the field values hold.
///
/// tracing-subscriber's own `format().json()` has no hook for extra top-level members,
/// hence this format; it needs no `serde`.
#[derive(Clone, Debug)]
pub struct JsonFormat<T = SystemTime> {
    timer: T,
    display_timestamp: bool,
    display_target: bool,
    display_span: bool,
    flatten_fields: bool,
    trace_ids: bool,
    ids: IdsTemplate,
    lookup: SpanLookup,
}

impl Default for JsonFormat {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonFormat {
    /// The format with every member on and RFC 3339 UTC timestamps.
    pub fn new() -> Self {
        Self {
            timer: SystemTime,
            display_timestamp: true,
            display_target: true,
            display_span: true,
            flatten_fields: false,
            trace_ids: true,
            ids: IdsTemplate::json(&TraceIdFields::default()),
            lookup: SpanLookup::default(),
        }
    }
}

impl<T> JsonFormat<T> {
    /// Uses `timer` for the `timestamp` member.
    pub fn with_timer<T2: FormatTime>(self, timer: T2) -> JsonFormat<T2> {
        JsonFormat {
            timer,
            display_timestamp: self.display_timestamp,
            display_target: self.display_target,
            display_span: self.display_span,
            flatten_fields: self.flatten_fields,
            trace_ids: self.trace_ids,
            ids: self.ids,
            lookup: self.lookup,
        }
    }

    /// Whether to write the `timestamp` member (default on).
    pub fn with_timestamp(mut self, display: bool) -> Self {
        self.display_timestamp = display;
        self
    }

    /// Whether to write the `target` member (default on).
    pub fn with_target(mut self, display: bool) -> Self {
        self.display_target = display;
        self
    }

    /// Whether to write the `span` member, the current `tracing` span's name
    /// (default on).
    pub fn with_span_name(mut self, display: bool) -> Self {
        self.display_span = display;
        self
    }

    /// Puts the event's fields at the top level instead of under `fields`, as in
    /// `{"level":"INFO",...,"message":"processing event"}`. A field named like one of
    /// the other members then appears twice; keep field names distinct.
    pub fn flatten_fields(mut self, flatten: bool) -> Self {
        self.flatten_fields = flatten;
        self
    }

    /// Whether to write the ids (default on). Off gives the same lines without
    /// correlation, e.g. to measure its cost.
    pub fn with_trace_ids(mut self, display: bool) -> Self {
        self.trace_ids = display;
        self
    }

    /// Uses other names for the id members.
    pub fn fields(mut self, fields: TraceIdFields) -> Self {
        self.ids = IdsTemplate::json(&fields);
        self
    }

    /// A layer that lets this format read `tracing` spans whose OpenTelemetry context
    /// is not active; see [`TracingSpanLookup`](crate::TracingSpanLookup).
    #[cfg(feature = "tracing")]
    pub fn tracing_span_lookup(&self) -> crate::TracingSpanLookup {
        self.lookup.layer()
    }
}

impl<S, N, T> FormatEvent<S, N> for JsonFormat<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut first = true;
        let mut key = |writer: &mut Writer<'_>, name: &str| -> fmt::Result {
            writer.write_str(if std::mem::take(&mut first) { "{" } else { "," })?;
            write_string(writer, name)?;
            writer.write_char(':')
        };

        if self.display_timestamp {
            key(&mut writer, "timestamp")?;
            writer.write_char('"')?;
            self.timer.format_time(&mut writer)?;
            writer.write_char('"')?;
        }
        key(&mut writer, "level")?;
        write_string(&mut writer, meta.level().as_str())?;
        if self.display_target {
            key(&mut writer, "target")?;
            write_string(&mut writer, meta.target())?;
        }
        if self.trace_ids
            && let Some(ids) = self.lookup.ids(ctx, event)
        {
            // `level` is always written before, so the object is open.
            self.ids.write(&mut writer, &ids)?;
        }
        if self.display_span {
            let span = event
                .parent()
                .and_then(|id| ctx.span(id))
                .or_else(|| ctx.lookup_current());
            if let Some(span) = span {
                key(&mut writer, "span")?;
                writer.write_str("{\"name\":")?;
                write_string(&mut writer, span.name())?;
                writer.write_char('}')?;
            }
        }
        let skip_log_fields = normalized.is_some();
        if self.flatten_fields {
            // `level` is always written, so the object is open and fields follow a comma.
            let mut fields = JsonFields::new(&mut writer, false, skip_log_fields);
            event.record(&mut fields);
            fields.finish()?;
        } else {
            key(&mut writer, "fields")?;
            writer.write_char('{')?;
            let mut fields = JsonFields::new(&mut writer, true, skip_log_fields);
            event.record(&mut fields);
            fields.finish()?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}
