//! [`SpanStart`]: what a span starts with, and what the sampler sees.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanBuilder, SpanKind};

/// What a span starts with: its name, the attributes known when it starts, links and
/// an optional start time. The provider's sampler sees all of it.
///
/// Give it the attributes the semantic conventions list as available at sampling time
/// (for an HTTP server span: `http.request.method`, `url.path`, `url.scheme`, ...) and
/// add the rest with [`TracedSpan::set_attributes`](crate::TracedSpan::set_attributes),
/// which builds them only for a span that records. [`with_capacity`](Self::with_capacity)
/// leaves room for those, so adding them does not reallocate.
#[derive(Debug, Clone)]
pub struct SpanStart {
    name: Cow<'static, str>,
    attributes: Vec<KeyValue>,
    links: Vec<Link>,
    start_time: Option<SystemTime>,
}

impl SpanStart {
    /// A span named `name` with no attributes yet.
    #[inline]
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            attributes: Vec::new(),
            links: Vec::new(),
            start_time: None,
        }
    }

    /// A span named `name` with room for `attributes` attributes in all, counting
    /// those set once it records.
    #[inline]
    pub fn with_capacity(name: impl Into<Cow<'static, str>>, attributes: usize) -> Self {
        Self {
            attributes: Vec::with_capacity(attributes),
            ..Self::new(name)
        }
    }

    /// Adds one attribute.
    #[inline]
    pub fn with_attribute(mut self, attribute: KeyValue) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Adds attributes.
    #[inline]
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        if self.attributes.capacity() == 0 {
            // Collecting sizes the vector once; extending an empty one grows it.
            self.attributes = attributes.into_iter().collect();
        } else {
            self.attributes.extend(attributes);
        }
        self
    }

    /// Adds links to other spans (batch consumers, public endpoints).
    #[inline]
    pub fn with_links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        self.links.extend(links);
        self
    }

    /// Sets an explicit start time (for example when a message was received earlier).
    #[inline]
    pub fn with_start_time(mut self, start_time: SystemTime) -> Self {
        self.start_time = Some(start_time);
        self
    }

    /// The span's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The OpenTelemetry API's builder for this span.
    #[inline]
    pub(crate) fn into_builder(self, kind: SpanKind) -> SpanBuilder {
        let mut builder = SpanBuilder::from_name(self.name).with_kind(kind);
        // A vector with room for attributes set later is kept even while empty.
        if self.attributes.capacity() > 0 {
            builder.attributes = Some(self.attributes);
        }
        if !self.links.is_empty() {
            builder.links = Some(self.links);
        }
        builder.start_time = self.start_time;
        builder
    }
}
