//! Allocation-free parsing and formatting of the W3C `traceparent` header.
//!
//! The grammar is `version "-" trace-id "-" parent-id "-" trace-flags`, all
//! lowercase hex, as defined by W3C Trace Context Level 1 and Level 2.

use std::fmt;

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId};

/// The `random` trace flag (bit `0x02`) introduced by W3C Trace Context Level 2.
///
/// `opentelemetry` 0.33 only names the sampled bit, so this constant fills the gap.
pub const TRACE_FLAG_RANDOM: TraceFlags = TraceFlags::new(0x02);

/// The trace-flags bits this crate understands: sampled (`0x01`) and random (`0x02`).
pub const KNOWN_TRACE_FLAGS: u8 = 0x03;

/// Length of a version `00` header, and the minimum length of any version.
const HEADER_LEN: usize = 55;

/// Byte offsets of the three `-` delimiters in a traceparent value.
const DELIMITERS: [usize; 3] = [2, 35, 52];

/// A syntactically valid `traceparent` value, split into its fields.
///
/// # Example
///
/// ```
/// use trace_core::propagation::parse_traceparent;
///
/// let parsed = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")?;
/// assert_eq!(parsed.version(), 0);
/// assert!(parsed.trace_flags().is_sampled());
/// assert_eq!(parsed.raw_flags(), 0x03);
/// # Ok::<(), trace_core::propagation::TraceparentError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedTraceparent {
    version: u8,
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
}

impl ParsedTraceparent {
    /// The version field (`0x00` for the current format, `0x01..=0xfe` for future ones).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The trace id; never [`TraceId::INVALID`].
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The parent (span) id; never [`SpanId::INVALID`].
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace-flags byte exactly as received, including unknown bits.
    pub fn raw_flags(&self) -> u8 {
        self.flags
    }

    /// The trace flags this crate propagates: sampled and random, unknown bits cleared.
    pub fn trace_flags(&self) -> TraceFlags {
        TraceFlags::new(self.flags & KNOWN_TRACE_FLAGS)
    }
}

/// Why a `traceparent` value was rejected.
///
/// The variants are private so the set of reasons can grow; use `Display` for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceparentError {
    kind: ErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrorKind {
    TooShort,
    TooLong,
    Version,
    ForbiddenVersion,
    Delimiter,
    TraceId,
    ZeroTraceId,
    SpanId,
    ZeroSpanId,
    Flags,
    TrailingData,
}

impl TraceparentError {
    const fn new(kind: ErrorKind) -> Self {
        Self { kind }
    }
}

impl fmt::Display for TraceparentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self.kind {
            ErrorKind::TooShort => "value is shorter than 55 characters",
            ErrorKind::TooLong => "version 00 value must be exactly 55 characters",
            ErrorKind::Version => "version is not two lowercase hex digits",
            ErrorKind::ForbiddenVersion => "version ff is forbidden",
            ErrorKind::Delimiter => "fields are not separated by '-' at the expected offsets",
            ErrorKind::TraceId => "trace-id is not 32 lowercase hex digits",
            ErrorKind::ZeroTraceId => "trace-id is all zeros",
            ErrorKind::SpanId => "parent-id is not 16 lowercase hex digits",
            ErrorKind::ZeroSpanId => "parent-id is all zeros",
            ErrorKind::Flags => "trace-flags is not two lowercase hex digits",
            ErrorKind::TrailingData => "data after trace-flags does not start with '-'",
        };
        write!(f, "invalid traceparent: {reason}")
    }
}

impl std::error::Error for TraceparentError {}

/// Parses one `traceparent` header value strictly, without allocating.
///
/// Leading and trailing optional whitespace (spaces and tabs) is ignored. Version
/// `00` must be exactly 55 characters; a future version (`01`..`fe`) may carry
/// more fields after a `-`, which are ignored.
///
/// # Errors
///
/// Returns [`TraceparentError`] for any value that does not follow the grammar,
/// uses uppercase hex, has version `ff`, or has an all-zero trace-id or parent-id.
pub fn parse_traceparent(value: &str) -> Result<ParsedTraceparent, TraceparentError> {
    let bytes = trim_ows(value.as_bytes());
    if bytes.len() < HEADER_LEN {
        return Err(TraceparentError::new(ErrorKind::TooShort));
    }
    let version = hex_u8(bytes[0], bytes[1]).ok_or(TraceparentError::new(ErrorKind::Version))?;
    if version == 0xff {
        return Err(TraceparentError::new(ErrorKind::ForbiddenVersion));
    }
    if DELIMITERS.iter().any(|&at| bytes[at] != b'-') {
        return Err(TraceparentError::new(ErrorKind::Delimiter));
    }
    let trace_id = hex_u128(&bytes[3..35]).ok_or(TraceparentError::new(ErrorKind::TraceId))?;
    let span_id = hex_u128(&bytes[36..52]).ok_or(TraceparentError::new(ErrorKind::SpanId))?;
    let flags = hex_u8(bytes[53], bytes[54]).ok_or(TraceparentError::new(ErrorKind::Flags))?;
    if bytes.len() > HEADER_LEN {
        // Version 00 forbids extra data; future versions may append `-` fields.
        if version == 0 {
            return Err(TraceparentError::new(ErrorKind::TooLong));
        }
        if bytes[HEADER_LEN] != b'-' {
            return Err(TraceparentError::new(ErrorKind::TrailingData));
        }
    }
    if trace_id == 0 {
        return Err(TraceparentError::new(ErrorKind::ZeroTraceId));
    }
    // Sixteen hex digits always fit in a u64; the conversion cannot fail.
    let span_id = u64::try_from(span_id).map_err(|_| TraceparentError::new(ErrorKind::SpanId))?;
    if span_id == 0 {
        return Err(TraceparentError::new(ErrorKind::ZeroSpanId));
    }
    Ok(ParsedTraceparent {
        version,
        trace_id: TraceId::from(trace_id),
        span_id: SpanId::from(span_id),
        flags,
    })
}

/// Formats a version `00` traceparent for `span_context`, or `None` if it is invalid.
///
/// Only the sampled and random flags are written; other bits are not propagated.
///
/// # Example
///
/// ```
/// use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
/// use trace_core::propagation::format_traceparent;
///
/// let sc = SpanContext::new(
///     TraceId::from(1u128),
///     SpanId::from(2u64),
///     TraceFlags::SAMPLED,
///     false,
///     TraceState::NONE,
/// );
/// assert_eq!(
///     format_traceparent(&sc).as_deref(),
///     Some("00-00000000000000000000000000000001-0000000000000002-01")
/// );
/// ```
pub fn format_traceparent(span_context: &SpanContext) -> Option<String> {
    if !span_context.is_valid() {
        return None;
    }
    let mut out = String::with_capacity(HEADER_LEN);
    out.push_str("00-");
    push_hex(&mut out, &span_context.trace_id().to_bytes());
    out.push('-');
    push_hex(&mut out, &span_context.span_id().to_bytes());
    out.push('-');
    push_hex(
        &mut out,
        &[span_context.trace_flags().to_u8() & KNOWN_TRACE_FLAGS],
    );
    Some(out)
}

/// Strips the optional whitespace (space and horizontal tab) HTTP allows around a value.
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Value of one lowercase hex digit; uppercase is rejected as the spec requires.
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn hex_u8(high: u8, low: u8) -> Option<u8> {
    Some((hex_digit(high)? << 4) | hex_digit(low)?)
}

/// Parses up to 32 lowercase hex digits; callers pass fixed-width slices.
fn hex_u128(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |acc, &b| {
        Some((acc << 4) | u128::from(hex_digit(b)?))
    })
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}
