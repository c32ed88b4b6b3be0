//! [`RecordingSpan`]: a sampled span recorded by trace-core itself, then handed to the
//! installed provider's span processors as the SDK's [`SpanData`].
//!
//! The SDK's own span carries its tracer (scope and provider) and builds its data
//! through a general builder; trace-core already knows the sampling decision, the
//! scope and where the span goes, so it records the same data with less work. Limits
//! and status rules are the SDK's.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{
    Event, Link, Span, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SpanData, SpanEvents, SpanLinks};

use crate::pipeline::PipelineHandle;
use crate::propagation::TRACE_FLAG_RANDOM;
use crate::span::SpanStart;

/// The instrumentation scope of a [`ScopedTracer`](crate::ScopedTracer).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope {
    pub(crate) name: &'static str,
    pub(crate) version: &'static str,
}

/// A span being recorded; it is exported when it ends (or is dropped).
#[derive(Debug)]
pub(crate) struct RecordingSpan {
    span_context: SpanContext,
    parent_span_id: SpanId,
    parent_span_is_remote: bool,
    kind: SpanKind,
    name: Cow<'static, str>,
    start_time: SystemTime,
    attributes: Vec<KeyValue>,
    dropped_attributes: u32,
    events: Vec<Event>,
    dropped_events: u32,
    links: Vec<Link>,
    dropped_links: u32,
    status: Status,
    scope: Scope,
    pipeline: Arc<PipelineHandle>,
    ended: bool,
}

impl RecordingSpan {
    /// Starts a sampled span under `parent` (invalid for a root, whose trace id is
    /// `root_trace_id` or a fresh random one).
    pub(crate) fn start(
        parent: &SpanContext,
        root_trace_id: Option<TraceId>,
        kind: SpanKind,
        start: SpanStart,
        scope: Scope,
        pipeline: Arc<PipelineHandle>,
    ) -> Self {
        let ids = RandomIdGenerator::default();
        let span_context = if parent.is_valid() {
            SpanContext::new(
                parent.trace_id(),
                ids.new_span_id(),
                parent.trace_flags().with_sampled(true),
                false,
                parent.trace_state().clone(),
            )
        } else {
            // A root: its trace id is random, which the W3C Level 2 flag says downstream.
            SpanContext::new(
                root_trace_id.unwrap_or_else(|| ids.new_trace_id()),
                ids.new_span_id(),
                TraceFlags::SAMPLED | TRACE_FLAG_RANDOM,
                false,
                TraceState::NONE,
            )
        };
        let SpanStart {
            name,
            mut attributes,
            mut links,
            start_time,
        } = start;
        let limits = pipeline.limits();
        let dropped_attributes = truncate(&mut attributes, limits.max_attributes_per_span);
        let dropped_links = truncate(&mut links, limits.max_links_per_span);
        for link in &mut links {
            link.dropped_attributes_count +=
                truncate(&mut link.attributes, limits.max_attributes_per_link);
        }
        Self {
            span_context,
            parent_span_id: parent.span_id(),
            parent_span_is_remote: parent.is_valid() && parent.is_remote(),
            kind,
            name,
            start_time: start_time.unwrap_or_else(opentelemetry::time::now),
            attributes,
            dropped_attributes,
            events: Vec::new(),
            dropped_events: 0,
            links,
            dropped_links,
            status: Status::Unset,
            scope,
            pipeline,
            ended: false,
        }
    }

    fn finish(&mut self, end_time: Option<SystemTime>) {
        if std::mem::replace(&mut self.ended, true) || !self.pipeline.has_processors() {
            return;
        }
        let mut events = SpanEvents::default();
        events.events = std::mem::take(&mut self.events);
        events.dropped_count = self.dropped_events;
        let mut links = SpanLinks::default();
        links.links = std::mem::take(&mut self.links);
        links.dropped_count = self.dropped_links;
        self.pipeline.export(SpanData {
            span_context: self.span_context.clone(),
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_span_is_remote,
            span_kind: self.kind.clone(),
            name: std::mem::take(&mut self.name),
            start_time: self.start_time,
            end_time: end_time.unwrap_or_else(opentelemetry::time::now),
            attributes: std::mem::take(&mut self.attributes),
            dropped_attributes_count: self.dropped_attributes,
            events,
            links,
            status: std::mem::replace(&mut self.status, Status::Unset),
            instrumentation_scope: InstrumentationScope::builder(self.scope.name)
                .with_version(self.scope.version)
                .build(),
        });
    }
}

/// Keeps the first `limit` items; returns how many were dropped.
fn truncate<T>(items: &mut Vec<T>, limit: u32) -> u32 {
    let dropped = items.len().saturating_sub(limit as usize);
    items.truncate(limit as usize);
    u32::try_from(dropped).unwrap_or(u32::MAX)
}

impl Span for RecordingSpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        mut attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        if self.ended {
            return;
        }
        let limits = self.pipeline.limits();
        if self.events.len() < limits.max_events_per_span as usize {
            let dropped = truncate(&mut attributes, limits.max_attributes_per_event);
            self.events
                .push(Event::new(name, timestamp, attributes, dropped));
        } else {
            self.dropped_events += 1;
        }
    }

    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }

    fn is_recording(&self) -> bool {
        !self.ended
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        if self.ended {
            return;
        }
        if self.attributes.len() < self.pipeline.limits().max_attributes_per_span as usize {
            self.attributes.push(attribute);
        } else {
            self.dropped_attributes += 1;
        }
    }

    fn set_status(&mut self, status: Status) {
        // The SDK's order: Ok > Error > Unset; a status never goes back.
        if !self.ended && status > self.status {
            self.status = status;
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if !self.ended {
            self.name = new_name.into();
        }
    }

    fn add_link(&mut self, span_context: SpanContext, mut attributes: Vec<KeyValue>) {
        if self.ended {
            return;
        }
        let limits = self.pipeline.limits();
        if self.links.len() < limits.max_links_per_span as usize {
            let dropped = truncate(&mut attributes, limits.max_attributes_per_link);
            self.links
                .push(Link::new(span_context, attributes, dropped));
        } else {
            self.dropped_links += 1;
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.finish(Some(timestamp));
    }

    fn end(&mut self) {
        self.finish(None);
    }
}

impl Drop for RecordingSpan {
    fn drop(&mut self) {
        self.finish(None);
    }
}
