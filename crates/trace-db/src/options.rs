//! What the spans capture.

use opentelemetry::KeyValue;

/// Options for a traced connection, built by value:
///
/// ```
/// use opentelemetry::KeyValue;
/// use trace_db::TraceOptions;
///
/// let options = TraceOptions::new()
///     .max_statement_length(1024)
///     .with_attribute(KeyValue::new("db.client.pool", "primary"));
/// ```
#[derive(Debug, Clone)]
pub struct TraceOptions {
    pub(crate) capture_statement: bool,
    pub(crate) max_statement_length: usize,
    pub(crate) capture_parameters: bool,
    pub(crate) extra_attributes: Vec<KeyValue>,
}

impl Default for TraceOptions {
    fn default() -> Self {
        Self {
            capture_statement: true,
            max_statement_length: 2048,
            capture_parameters: false,
            extra_attributes: Vec::new(),
        }
    }
}

impl TraceOptions {
    /// Statement text on, 2048 bytes at most, parameters off, no extra attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to record `db.query.text` (default: on). The summary (span name) is
    /// recorded either way; it never holds a literal.
    pub fn capture_statement(mut self, capture: bool) -> Self {
        self.capture_statement = capture;
        self
    }

    /// The longest `db.query.text` (and captured parameter) in bytes; longer text is
    /// cut on a character boundary (default: 2048).
    pub fn max_statement_length(mut self, max_bytes: usize) -> Self {
        self.max_statement_length = max_bytes;
        self
    }

    /// Whether to record bound values as `db.query.parameter.<index>` (0-based;
    /// default: off). Values can be personal data or secrets: opt in knowingly.
    pub fn capture_parameters(mut self, capture: bool) -> Self {
        self.capture_parameters = capture;
        self
    }

    /// Adds an attribute to every statement and transaction span.
    pub fn with_attribute(mut self, attribute: KeyValue) -> Self {
        self.extra_attributes.push(attribute);
        self
    }

    /// Adds attributes to every statement and transaction span.
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.extra_attributes.extend(attributes);
        self
    }
}
