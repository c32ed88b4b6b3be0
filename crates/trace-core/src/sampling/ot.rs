//! The `ot` tracestate member: the OpenTelemetry sub-keys a probability sampler reads
//! and writes (specification, "TraceState Handling").

use opentelemetry::trace::TraceState;

use super::probability::HEX_DIGITS;

/// The tracestate member that holds every OpenTelemetry sub-key (tracestate-handling.md).
pub(super) const OT_KEY: &str = "ot";

/// The longest `ot` value (tracestate-handling.md: "MUST NOT exceed 256 characters").
pub(super) const MAX_OT_LEN: usize = 256;

/// The parts of a valid `ot` value that the sampler reads.
pub(super) struct OtValue {
    /// A valid `rv` sub-key: exactly 14 lowercase hex digits (tracestate-handling.md).
    pub(super) randomness: Option<u64>,
    /// Whether a `th` sub-key is present, valid or not.
    pub(super) has_threshold: bool,
}

impl OtValue {
    /// Reads `value` if it is a list of `key:value` members with unique keys, as
    /// tracestate-handling.md defines it, within 256 characters. An `rv` that is not
    /// 14 lowercase hex digits is ignored, and kept as it is.
    pub(super) fn parse(value: &str) -> Option<Self> {
        if value.is_empty() || value.len() > MAX_OT_LEN {
            return None;
        }
        let mut randomness = None;
        let mut has_threshold = false;
        // Where the current member starts: the members before it are checked already.
        let mut start = 0;
        for member in value.split(';') {
            let (key, sub_value) = member.split_once(':')?;
            if !valid_key(key) || !sub_value.bytes().all(valid_value_byte) {
                return None;
            }
            // A look back is cheaper than a set for the few members `ot` holds.
            let earlier = value[..start].split_terminator(';');
            if earlier
                .filter_map(|m| m.split_once(':'))
                .any(|(k, _)| k == key)
            {
                return None;
            }
            start += member.len() + 1;
            match key {
                "rv" => randomness = parse_randomness(sub_value),
                "th" => has_threshold = true,
                _ => {}
            }
        }
        Some(Self {
            randomness,
            has_threshold,
        })
    }
}

/// `key = lcalpha *(lcalpha / DIGIT)`.
fn valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `chr = ucalpha / lcalpha / DIGIT / "." / "_" / "-"`.
fn valid_value_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

fn parse_randomness(value: &str) -> Option<u64> {
    let lowercase_hex = value
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if value.len() != HEX_DIGITS as usize || !lowercase_hex {
        return None;
    }
    u64::from_str_radix(value, 16).ok()
}

/// `state` with its `ot` member (`old`) replaced by `new`, moved to the front when it
/// changed (W3C: a modified member moves to the left), removed when `new` is empty.
pub(super) fn replace_ot(state: &TraceState, old: Option<&str>, new: String) -> TraceState {
    let updated = if new.is_empty() {
        state.delete(OT_KEY)
    } else if old == Some(new.as_str()) {
        return state.clone();
    } else {
        state.insert(OT_KEY, new)
    };
    // Neither can fail: `ot` is a valid key and `new` uses only `ot` grammar characters
    // within 256 characters.
    updated.unwrap_or_else(|_| state.clone())
}
