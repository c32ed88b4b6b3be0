//! Human-readable lines: any tracing-subscriber event format, with the ids appended.

use std::cell::RefCell;
use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{self, Format, Full, Writer};
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::ids::{IdsTemplate, TraceIdFields};
use crate::lookup::SpanLookup;

/// Wraps a human-readable event format (by default tracing-subscriber's
/// [`Full`] format) and appends `trace_id=… span_id=… trace_flags=…` to every line
/// written inside a trace, as `key=value` pairs after the event's own fields:
///
/// ```text
/// 2026-11-21T05:40:12.123456Z  INFO orders: order stored order.id=42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 trace_flags=01
/// ```
///
/// Lines outside any trace are the inner format's output, unchanged.
///
/// The inner format writes into a fresh [`Writer`], which tracing-subscriber creates
/// without ANSI colours; to keep colours on a terminal, set them on the inner format
/// (`format().with_ansi(true)`). Multi-line formats (`Pretty`) get the ids after their
/// last line.
#[derive(Clone, Debug)]
pub struct WithTraceIds<F = Format<Full, SystemTime>> {
    inner: F,
    ids: IdsTemplate,
    lookup: SpanLookup,
}

impl Default for WithTraceIds {
    fn default() -> Self {
        Self::new(format::format())
    }
}

impl<F> WithTraceIds<F> {
    /// Appends the ids to the lines `inner` writes.
    pub fn new(inner: F) -> Self {
        Self {
            inner,
            ids: IdsTemplate::text(&TraceIdFields::default()),
            lookup: SpanLookup::default(),
        }
    }

    /// Uses other names for the id fields.
    pub fn fields(mut self, fields: TraceIdFields) -> Self {
        self.ids = IdsTemplate::text(&fields);
        self
    }

    /// A layer that lets this format read `tracing` spans whose OpenTelemetry context
    /// is not active; see [`TracingSpanLookup`](crate::TracingSpanLookup).
    #[cfg(feature = "tracing")]
    pub fn tracing_span_lookup(&self) -> crate::TracingSpanLookup {
        self.lookup.layer()
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(ids) = self.lookup.ids(ctx, event) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let buffered = LINE.try_with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return None; // formatting inside formatting: take the unbuffered path
            };
            line.clear();
            let written = self
                .inner
                .format_event(ctx, Writer::new(&mut *line), event)
                .and_then(|()| {
                    let (body, newline) = match line.strip_suffix('\n') {
                        Some(body) => (body, true),
                        None => (line.as_str(), false),
                    };
                    writer.write_str(body)?;
                    self.ids.write(&mut writer, &ids)?;
                    if newline {
                        writer.write_char('\n')
                    } else {
                        Ok(())
                    }
                });
            if line.capacity() > MAX_KEPT_LINE {
                line.clear();
                line.shrink_to(MAX_KEPT_LINE);
            }
            Some(written)
        });
        if let Ok(Some(written)) = buffered {
            return written;
        }
        let mut line = HoldLineEnd {
            out: &mut writer,
            newline_held: false,
        };
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let newline_held = line.newline_held;
        self.ids.write(&mut writer, &ids)?;
        if newline_held {
            writer.write_char('\n')?;
        }
        Ok(())
    }
}

/// Capacity the per-thread line buffer keeps after an unusually long line.
const MAX_KEPT_LINE: usize = 16 * 1024;

thread_local! {
    /// The inner format's line, so the ids can go before its newline. Writing through
    /// an adapter instead costs an extra indirect call per fragment (tens per line).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Passes the inner format's output through, holding back a final newline so the ids
/// can go before it (the path for re-entrant formatting, when the line buffer is busy).
struct HoldLineEnd<'a, 'w> {
    out: &'a mut Writer<'w>,
    newline_held: bool,
}

impl fmt::Write for HoldLineEnd<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.is_empty() {
            return Ok(());
        }
        if std::mem::take(&mut self.newline_held) {
            self.out.write_char('\n')?;
        }
        match s.strip_suffix('\n') {
            Some(rest) => {
                self.newline_held = true;
                self.out.write_str(rest)
            }
            None => self.out.write_str(s),
        }
    }
}
