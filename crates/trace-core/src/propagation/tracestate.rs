//! Strict validation of the W3C `tracestate` header.
//!
//! Keys follow the grammar of the current official test suite (w3c/trace-context
//! `test/`): `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")`,
//! with no tenant@vendor split. The upstream `TraceState::from_str` accepts keys and
//! values the spec forbids (uppercase, empty values, control characters), so every
//! member is checked here first.
//!
//! `opentelemetry` 0.33's `TraceState` still applies the older tenant@vendor rule to
//! keys, so it cannot hold some valid members (`foo@@bar`, `t@` followed by 14
//! characters). The propagator then keeps the whole list in the extracted `Context`
//! as a [`KeptTracestate`] and merges it back in on injection.

use std::fmt;

use opentelemetry::trace::{TraceId, TraceState};

/// The maximum number of list-members a `tracestate` may carry.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Upper bound on the combined header length this parser will scan.
///
/// 32 maximal members are about 16.4 KiB; the rest leaves room for OWS and
/// empty members while capping the work a hostile header can cause.
pub const MAX_TRACESTATE_BYTES: usize = 32 * 1024;

const MAX_KEY: usize = 256;
const MAX_VALUE: usize = 256;
/// The longest part after `@` that opentelemetry 0.33's `TraceState` accepts.
const MAX_UPSTREAM_SYSTEM_ID: usize = 13;

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
        };
        write!(f, "invalid tracestate: {reason}")
    }
}

impl std::error::Error for TracestateError {}

/// Parses the `tracestate` header values (repeated headers in order) strictly into
/// the members opentelemetry's `TraceState` can hold.
///
/// Repeated headers are combined as if joined with `,`. Empty members and OWS
/// around members are allowed. A repeated key keeps its first member. Any invalid
/// member, or more than 32 members (repeats included), rejects the whole list.
///
/// Valid members that `opentelemetry` 0.33's `TraceState` refuses (keys with more
/// than one `@`, or more than 13 characters after `@`, e.g. `foo@@bar`) are left out
/// of the result; [`TraceContextPropagator`](super::TraceContextPropagator) keeps
/// them in the extracted `Context` and sends them on.
///
/// # Errors
///
/// Returns [`TracestateError`] when the combined list is invalid.
///
/// # Example
///
/// ```
/// use trace_core::propagation::parse_tracestate;
///
/// let ts = parse_tracestate(&["congo=t61rcWkgMzE", " rojo=00f067aa0ba902b7 ,tenant@vendor=x"])?;
/// assert_eq!(ts.get("tenant@vendor"), Some("x"));
/// assert_eq!(ts.header(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,tenant@vendor=x");
/// assert_eq!(parse_tracestate(&["a=1,b=2,a=3"])?.header(), "a=1,b=2");
/// assert!(parse_tracestate(&["a=1,B=2"]).is_err());
/// # Ok::<(), trace_core::propagation::TracestateError>(())
/// ```
pub fn parse_tracestate(values: &[&str]) -> Result<TraceState, TracestateError> {
    parse_members(values).map(|members| members.trace_state())
}

/// The members of a valid `tracestate`, in order, each key once.
///
/// A fixed-size array keeps validation free of heap allocation.
pub(crate) struct Members<'a> {
    list: [(&'a str, &'a str); MAX_TRACESTATE_MEMBERS],
    len: usize,
}

impl<'a> Members<'a> {
    fn as_slice(&self) -> &[(&'a str, &'a str)] {
        &self.list[..self.len]
    }

    /// Whether opentelemetry's `TraceState` can hold every member.
    pub(crate) fn all_representable(&self) -> bool {
        self.as_slice().iter().all(|(key, _)| is_representable(key))
    }

    /// The members opentelemetry's `TraceState` can hold, in order.
    pub(crate) fn trace_state(&self) -> TraceState {
        let representable = self.as_slice().iter().filter(|(k, _)| is_representable(k));
        // Every member passed stricter checks than upstream's, so this cannot fail.
        TraceState::from_key_value(representable.copied()).unwrap_or(TraceState::NONE)
    }

    /// The whole list, for the `Context` of a parent in trace `trace_id`.
    pub(crate) fn kept(&self, trace_id: TraceId) -> KeptTracestate {
        let members = self
            .as_slice()
            .iter()
            .map(|(key, value)| KeptMember {
                key: (*key).into(),
                value: (*value).into(),
                representable: is_representable(key),
            })
            .collect();
        KeptTracestate { trace_id, members }
    }
}

/// Validates the combined header values; see [`parse_tracestate`].
pub(crate) fn parse_members<'a>(values: &[&'a str]) -> Result<Members<'a>, TracestateError> {
    let total = values
        .iter()
        .fold(values.len().saturating_sub(1), |acc, v| {
            acc.saturating_add(v.len())
        });
    if total > MAX_TRACESTATE_BYTES {
        return Err(TracestateError::new(ErrorKind::TooLarge));
    }
    let mut members = Members {
        list: [("", ""); MAX_TRACESTATE_MEMBERS],
        len: 0,
    };
    let mut received = 0;
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
        // The limit counts list-members as received, so repeats cannot make it unbounded.
        received += 1;
        if received > MAX_TRACESTATE_MEMBERS {
            return Err(TracestateError::new(ErrorKind::TooManyMembers));
        }
        // The spec allows keeping one member of a repeated key: the first one is kept.
        if members.as_slice().iter().all(|(k, _)| *k != key) {
            members.list[members.len] = (key, value);
            members.len += 1;
        }
    }
    Ok(members)
}

/// Serializes the spec-valid members of `trace_state`, or `None` if none remain.
///
/// A locally built `TraceState` may hold members upstream accepts but the spec
/// forbids, or repeated keys; those are left out (keeping the first of a
/// repeated key) so the header we send is always valid.
pub fn format_tracestate(trace_state: &TraceState) -> Option<String> {
    let mut header = HeaderWriter::new();
    for (key, value) in trace_state {
        header.push(key, value);
    }
    header.finish()
}

/// The whole validated `tracestate` of an extracted parent, kept in its `Context`
/// only when opentelemetry's `TraceState` cannot hold every member.
///
/// Child spans inherit `Context` values, so the members reach every outgoing call
/// in the same trace; the trace id keeps them from a new root's calls.
#[derive(Debug)]
pub(crate) struct KeptTracestate {
    trace_id: TraceId,
    members: Vec<KeptMember>,
}

#[derive(Debug)]
struct KeptMember {
    key: Box<str>,
    value: Box<str>,
    representable: bool,
}

impl KeptTracestate {
    /// A value that applies to no span: it hides the one a parent `Context` carries.
    pub(crate) const NONE: Self = Self {
        trace_id: TraceId::INVALID,
        members: Vec::new(),
    };

    /// Whether the list belongs to the span context of trace `trace_id`.
    pub(crate) fn applies_to(&self, trace_id: TraceId) -> bool {
        trace_id != TraceId::INVALID && trace_id == self.trace_id
    }

    /// The `tracestate` to send for a span whose `TraceState` is `state`, or `None`
    /// if no member remains.
    ///
    /// First the members of `state` that are new or changed relative to the kept
    /// list (samplers insert at the front, as W3C asks of modified keys), then the
    /// kept list in its order: a member `TraceState` cannot hold always, one it can
    /// only while `state` still has it unchanged, so a deletion is honoured.
    pub(crate) fn merge(&self, state: &TraceState) -> Option<String> {
        let mut header = HeaderWriter::new();
        for (key, value) in state {
            // A repeated key's later entries are stale: the leftmost is the newest.
            let newest = state.get(key) == Some(value);
            if newest && !self.holds_unchanged(key, value) {
                header.push(key, value);
            }
        }
        for member in &self.members {
            if !member.representable || state.get(&member.key) == Some(&*member.value) {
                header.push(&member.key, &member.value);
            }
        }
        header.finish()
    }

    fn holds_unchanged(&self, key: &str, value: &str) -> bool {
        self.members
            .iter()
            .any(|m| m.representable && &*m.key == key && &*m.value == value)
    }
}

/// Builds a `tracestate` value: valid members only, each key once, at most 32.
struct HeaderWriter<'a> {
    out: String,
    keys: [&'a str; MAX_TRACESTATE_MEMBERS],
    len: usize,
}

impl<'a> HeaderWriter<'a> {
    fn new() -> Self {
        Self {
            out: String::new(),
            keys: [""; MAX_TRACESTATE_MEMBERS],
            len: 0,
        }
    }

    /// Appends a member unless it is invalid, its key is written already, or the
    /// list is full.
    fn push(&mut self, key: &'a str, value: &'a str) {
        if self.len == MAX_TRACESTATE_MEMBERS
            || !is_valid_key(key)
            || !is_valid_value(value)
            || self.keys[..self.len].contains(&key)
        {
            return;
        }
        self.keys[self.len] = key;
        if self.len > 0 {
            self.out.push(',');
        }
        self.out.push_str(key);
        self.out.push('=');
        self.out.push_str(value);
        self.len += 1;
    }

    fn finish(self) -> Option<String> {
        (self.len > 0).then_some(self.out)
    }
}

/// Checks a key: `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")`.
pub(crate) fn is_valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() <= MAX_KEY
        && bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes[1..].iter().all(|b| is_key_char(*b))
}

/// Whether opentelemetry 0.33's `TraceState` accepts a valid key.
///
/// It still applies the older tenant@vendor rule: at most one `@`, followed by at
/// most 13 characters, the first of them lcalpha or DIGIT.
fn is_representable(key: &str) -> bool {
    key.split_once('@').is_none_or(|(_, system)| {
        system.len() <= MAX_UPSTREAM_SYSTEM_ID
            && !system.contains('@')
            && system
                .bytes()
                .next()
                .is_none_or(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
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
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
}

fn trim_ows_str(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::traceparent::trim_ows;
    use super::*;

    const TRACE: TraceId = TraceId::from_bytes([7; 16]);

    fn kept(header: &str) -> KeptTracestate {
        parse_members(&[header]).expect("valid").kept(TRACE)
    }

    fn state(members: &[(&str, &str)]) -> TraceState {
        TraceState::from_key_value(members.iter().copied()).expect("representable")
    }

    #[test]
    fn trim_helpers_agree() {
        assert_eq!(trim_ows(b" \ta b\t "), b"a b");
        assert_eq!(trim_ows_str(" \ta b\t "), "a b");
    }

    #[test]
    fn keys_follow_the_single_grammar() {
        let long_tenant = format!("{}@{}", "t".repeat(241), "v".repeat(14));
        let valid = [
            "a",
            "0",
            "foo@",
            "foo@@bar",
            "foo@bar@baz",
            "t@vvvvvvvvvvvvvvv",
            "a0_-*/@z",
            long_tenant.as_str(),
        ];
        for key in valid {
            assert!(is_valid_key(key), "{key:?}");
        }
        assert!(is_valid_key(&"z".repeat(256)));
        assert!(!is_valid_key(&"z".repeat(257)));
        for key in ["", "@foo", "_a", "*", "Foo", "foo.bar", "foo bar", "é"] {
            assert!(!is_valid_key(key), "{key:?}");
        }
    }

    #[test]
    fn representable_keys_follow_upstream() {
        let ok = ["foo", "foo@", "tenant@vendor", "t@vvvvvvvvvvvvv", "a@0-"];
        let refused = ["foo@@bar", "foo@bar@baz", "t@vvvvvvvvvvvvvv", "a@-b", "a@_"];
        for key in ok {
            assert!(is_representable(key), "{key:?}");
        }
        for key in refused {
            assert!(!is_representable(key), "{key:?}");
        }
    }

    #[test]
    fn repeated_keys_keep_the_first_member() {
        let members = parse_members(&["foo=1,bar=2,foo=3", "bar=4"]).expect("valid");
        assert_eq!(members.as_slice(), [("foo", "1"), ("bar", "2")]);
        assert!(parse_members(&["a=1,".repeat(32).as_str()]).is_ok());
        assert!(parse_members(&["a=1,".repeat(33).as_str()]).is_err());
    }

    #[test]
    fn unrepresentable_members_stay_out_of_the_trace_state() {
        let members = parse_members(&["foo@@bar=1,bar=2"]).expect("valid");
        assert!(!members.all_representable());
        assert_eq!(members.trace_state().header(), "bar=2");
        assert!(
            parse_members(&["foo@=1"])
                .expect("valid")
                .all_representable()
        );
    }

    #[test]
    fn merge_without_changes_gives_the_received_list() {
        let kept = kept("foo@@bar=1,bar=2,baz=3");
        assert_eq!(
            kept.merge(&state(&[("bar", "2"), ("baz", "3")])).as_deref(),
            Some("foo@@bar=1,bar=2,baz=3")
        );
    }

    #[test]
    fn merge_puts_new_and_changed_members_first() {
        let kept = kept("bar=2,foo@@bar=1,baz=3");
        let sampled = state(&[("ot", "th:8"), ("baz", "4"), ("bar", "2")]);
        assert_eq!(
            kept.merge(&sampled).as_deref(),
            Some("ot=th:8,baz=4,bar=2,foo@@bar=1")
        );
    }

    #[test]
    fn merge_honours_deletions_but_keeps_unrepresentable_members() {
        let both = kept("bar=2,foo@@bar=1");
        assert_eq!(both.merge(&TraceState::NONE).as_deref(), Some("foo@@bar=1"));
        let only = kept("foo@@bar=1");
        assert_eq!(only.merge(&TraceState::NONE).as_deref(), Some("foo@@bar=1"));
    }

    #[test]
    fn merge_keeps_at_most_32_members_and_each_key_once() {
        let header: Vec<String> = (0..31).map(|i| format!("k{i}=v")).collect();
        let received = kept(&format!("x@@y=1,{}", header.join(",")));
        let all: Vec<(String, String)> = (0..31).map(|i| (format!("k{i}"), "v".into())).collect();
        let full = TraceState::from_key_value(all).expect("representable");
        let sampled = full.insert("ot", "th:8").expect("valid");
        let merged = received.merge(&sampled).expect("members");
        assert_eq!(merged.split(',').count(), 32);
        assert!(merged.starts_with("ot=th:8,x@@y=1,k0=v,"), "{merged}");
        let repeated = state(&[("a", "new"), ("a", "old")]);
        assert_eq!(
            kept("a=old,b@@c=1").merge(&repeated).as_deref(),
            Some("a=new,b@@c=1")
        );
    }

    #[test]
    fn the_none_value_applies_to_no_span() {
        assert!(!KeptTracestate::NONE.applies_to(TraceId::INVALID));
        assert!(!KeptTracestate::NONE.applies_to(TRACE));
        assert!(kept("a@@b=1").applies_to(TRACE));
    }

    proptest! {
        #[test]
        fn representable_agrees_with_upstream(
            key in prop_oneof![
                "[a-z0-9][a-z0-9_*/@\\-]{0,24}",
                "[a-z0-9]{1,240}@[a-z0-9_*/@\\-]{0,15}",
            ],
        ) {
            prop_assert!(is_valid_key(&key));
            let upstream = TraceState::from_key_value([(key.as_str(), "v")]).is_ok();
            prop_assert_eq!(is_representable(&key), upstream, "{:?}", key);
        }
    }
}
