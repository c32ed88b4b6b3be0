//! Strict validation of the W3C `tracestate` header.
//!
//! The upstream `TraceState::from_str` accepts keys and values the spec forbids
//! (uppercase, empty values, control characters), so every member is checked
//! here first and the `TraceState` is only built from input that passed.

use std::fmt;

use opentelemetry::trace::TraceState;

/// The maximum number of list-members a `tracestate` may carry.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Upper bound on the combined header length this parser will scan.
///
/// 32 maximal members are about 16.4 KiB; the rest leaves room for OWS and
/// empty members while capping the work a hostile header can cause.
pub const MAX_TRACESTATE_BYTES: usize = 32 * 1024;

const MAX_SIMPLE_KEY: usize = 256;
const MAX_TENANT_ID: usize = 241;
const MAX_SYSTEM_ID: usize = 14;
const MAX_VALUE: usize = 256;

/// Why a `tracestate` was rejected as a whole.
///
/// The spec requires dropping the entire tracestate when any member is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracestateError {
    kind: ErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrorKind {
    TooLarge,
    TooManyMembers,
    MissingEquals,
    Key,
    Value,
    DuplicateKey,
    Unrepresentable,
}

impl TracestateError {
    const fn new(kind: ErrorKind) -> Self {
        Self { kind }
    }
}

impl fmt::Display for TracestateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self.kind {
            ErrorKind::TooLarge => "combined header exceeds the scan limit",
            ErrorKind::TooManyMembers => "more than 32 list-members",
            ErrorKind::MissingEquals => "a list-member has no '='",
            ErrorKind::Key => "a list-member key does not follow the key grammar",
            ErrorKind::Value => "a list-member value does not follow the value grammar",
            ErrorKind::DuplicateKey => "a key appears more than once",
            ErrorKind::Unrepresentable => "opentelemetry's TraceState rejected a valid member",
        };
        write!(f, "invalid tracestate: {reason}")
    }
}

impl std::error::Error for TracestateError {}

/// Parses the `tracestate` header values (repeated headers in order) strictly.
///
/// Repeated headers are combined as if joined with `,`. Empty members and OWS
/// around members are allowed. Any invalid member, a duplicate key, or more
/// than 32 members rejects the whole list.
///
/// # Errors
///
/// Returns [`TracestateError`] when the combined list is invalid. Note that
/// `opentelemetry` 0.33 rejects a multi-tenant key whose system-id has the
/// spec maximum of 14 characters; such a list is reported as an error too.
///
/// # Example
///
/// ```
/// use trace_core::propagation::parse_tracestate;
///
/// let ts = parse_tracestate(&["congo=t61rcWkgMzE", " rojo=00f067aa0ba902b7 ,tenant@vendor=x"])?;
/// assert_eq!(ts.get("tenant@vendor"), Some("x"));
/// assert_eq!(ts.header(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,tenant@vendor=x");
/// assert!(parse_tracestate(&["a=1,a=2"]).is_err());
/// # Ok::<(), trace_core::propagation::TracestateError>(())
/// ```
pub fn parse_tracestate(values: &[&str]) -> Result<TraceState, TracestateError> {
    let total = values
        .iter()
        .fold(values.len().saturating_sub(1), |acc, v| {
            acc.saturating_add(v.len())
        });
    if total > MAX_TRACESTATE_BYTES {
        return Err(TracestateError::new(ErrorKind::TooLarge));
    }
    // A fixed-size array keeps validation free of heap allocation.
    let mut members: [(&str, &str); MAX_TRACESTATE_MEMBERS] = [("", ""); MAX_TRACESTATE_MEMBERS];
    let mut count = 0;
    for member in values.iter().flat_map(|v| v.split(',')) {
        let member = trim_ows_str(member);
        if member.is_empty() {
            continue;
        }
        let (key, value) = member
            .split_once('=')
            .ok_or(TracestateError::new(ErrorKind::MissingEquals))?;
        if !is_valid_key(key) {
            return Err(TracestateError::new(ErrorKind::Key));
        }
        if !is_valid_value(value) {
            return Err(TracestateError::new(ErrorKind::Value));
        }
        if members[..count].iter().any(|(k, _)| *k == key) {
            return Err(TracestateError::new(ErrorKind::DuplicateKey));
        }
        let slot = members
            .get_mut(count)
            .ok_or(TracestateError::new(ErrorKind::TooManyMembers))?;
        *slot = (key, value);
        count += 1;
    }
    if count == 0 {
        return Ok(TraceState::NONE);
    }
    TraceState::from_key_value(members[..count].iter().copied())
        .map_err(|_| TracestateError::new(ErrorKind::Unrepresentable))
}

/// Serializes the spec-valid members of `trace_state`, or `None` if none remain.
///
/// A locally built `TraceState` may hold members upstream accepts but the spec
/// forbids, or repeated keys; those are left out (keeping the first of a
/// repeated key) so the header we send is always valid.
pub fn format_tracestate(trace_state: &TraceState) -> Option<String> {
    let mut out = String::new();
    let mut keys: [&str; MAX_TRACESTATE_MEMBERS] = [""; MAX_TRACESTATE_MEMBERS];
    let mut count = 0;
    for (key, value) in trace_state {
        if count == MAX_TRACESTATE_MEMBERS {
            break;
        }
        // `from_key_value` keeps duplicate keys; the leftmost entry is the newest.
        if !is_valid_key(key) || !is_valid_value(value) || keys[..count].contains(&key) {
            continue;
        }
        keys[count] = key;
        if count > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
        count += 1;
    }
    (count > 0).then_some(out)
}

/// Checks a key against `simple-key` or `multi-tenant-key`.
pub(crate) fn is_valid_key(key: &str) -> bool {
    match key.split_once('@') {
        None => {
            let bytes = key.as_bytes();
            bytes.len() <= MAX_SIMPLE_KEY
                && bytes.first().is_some_and(u8::is_ascii_lowercase)
                && bytes[1..].iter().all(|b| is_key_char(*b))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            t.len() <= MAX_TENANT_ID
                && s.len() <= MAX_SYSTEM_ID
                && t.first()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && t[1..].iter().all(|b| is_key_char(*b))
                && s.first().is_some_and(u8::is_ascii_lowercase)
                && s[1..].iter().all(|b| is_key_char(*b))
        }
    }
}

/// Checks a value: 1 to 256 printable ASCII chars, no `,` or `=`, not ending in space.
pub(crate) fn is_valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() <= MAX_VALUE
        && bytes.last().is_some_and(|b| *b != b' ')
        && bytes
            .iter()
            .all(|b| (0x20..=0x7e).contains(b) && *b != b',' && *b != b'=')
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

fn trim_ows_str(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::super::traceparent::trim_ows;
    use super::*;

    #[test]
    fn trim_helpers_agree() {
        assert_eq!(trim_ows(b" \ta b\t "), b"a b");
        assert_eq!(trim_ows_str(" \ta b\t "), "a b");
    }
}
