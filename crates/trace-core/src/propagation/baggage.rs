//! The W3C Baggage propagator with bounded, member-granular limits.

use opentelemetry::{
    Context,
    baggage::{Baggage, BaggageExt},
    propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter},
};

/// The `baggage` header name.
pub const BAGGAGE_HEADER: &str = "baggage";

/// The number of list-members the spec requires us to accept and send.
pub const MAX_BAGGAGE_MEMBERS: usize = 64;

/// The combined header size, in bytes, the spec requires us to accept and send.
pub const MAX_BAGGAGE_BYTES: usize = 8192;

/// Propagates name/value pairs in W3C Baggage format.
///
/// Extraction combines repeated `baggage` headers, skips invalid members one
/// by one, percent-decodes values and keeps properties (normalized, still in
/// wire form) as [`BaggageMetadata`](opentelemetry::baggage::BaggageMetadata).
/// Both directions stop at 64 members and 8192 bytes and never emit or keep a
/// partial member. Injection sorts members by key so output is deterministic.
///
/// # Example
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::{Context, KeyValue};
/// use std::collections::HashMap;
/// use trace_core::propagation::BaggagePropagator;
///
/// let propagator = BaggagePropagator::new();
/// let cx = Context::new().with_baggage([KeyValue::new("user", "Ada Lovelace")]);
/// let mut headers = HashMap::new();
/// propagator.inject_context(&cx, &mut headers);
/// assert_eq!(headers["baggage"], "user=Ada%20Lovelace");
///
/// let back = propagator.extract_with_context(&Context::new(), &headers);
/// assert_eq!(back.baggage().get("user").map(|v| v.as_str()), Some("Ada Lovelace"));
/// ```
#[derive(Clone, Debug)]
pub struct BaggagePropagator {
    fields: [String; 1],
}

impl BaggagePropagator {
    /// Creates the propagator.
    pub fn new() -> Self {
        Self {
            fields: [BAGGAGE_HEADER.to_owned()],
        }
    }
}

impl Default for BaggagePropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        if let Some(header) = format_baggage(cx.baggage()) {
            injector.reserve(1);
            injector.set(BAGGAGE_HEADER, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(values) = extractor.get_all(BAGGAGE_HEADER) else {
            return cx.clone();
        };
        let baggage = parse_baggage(&values);
        if baggage.is_empty() {
            cx.clone()
        } else {
            cx.with_baggage(baggage)
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Parses `baggage` header values (repeated headers in order) into [`Baggage`].
///
/// Invalid members are skipped. Parsing stops before the first member that
/// would end past byte 8192 of the combined header, or that would be the 65th
/// distinct key, so work is bounded by the limits whatever the input size.
/// A later duplicate key replaces the earlier value.
pub fn parse_baggage(values: &[&str]) -> Baggage {
    let mut baggage = Baggage::new();
    let mut used = 0usize;
    'headers: for (index, value) in values.iter().enumerate() {
        if index > 0 {
            // Repeated headers count as if joined with a comma.
            used += 1;
        }
        let mut rest: &str = value;
        loop {
            // Past the limit only empty members could fit, so stop scanning.
            if used >= MAX_BAGGAGE_BYTES {
                break 'headers;
            }
            let budget = MAX_BAGGAGE_BYTES - used;
            // Only look for the member end within the budget, so a huge member
            // costs at most the budget to reject.
            let window = &rest.as_bytes()[..rest.len().min(budget.saturating_add(1))];
            let (member, next) = match window.iter().position(|&b| b == b',') {
                Some(end) if end <= budget => (&rest[..end], Some(&rest[end + 1..])),
                None if rest.len() <= budget => (rest, None),
                _ => break 'headers,
            };
            used += member.len();
            if let Some((key, raw_value, metadata)) = parse_member(member) {
                if baggage.len() >= MAX_BAGGAGE_MEMBERS && baggage.get(key).is_none() {
                    break 'headers;
                }
                baggage.insert_with_metadata(key.to_owned(), percent_decode(raw_value), metadata);
            }
            match next {
                Some(next) => {
                    used += 1;
                    rest = next;
                }
                None => break,
            }
        }
    }
    baggage
}

/// Serializes `baggage` into one header value, or `None` when nothing can be sent.
///
/// Members are sorted by key; a member with an invalid key is skipped, invalid
/// metadata is left off, and a member that does not fit the limits is dropped
/// whole while smaller later members may still be sent.
pub fn format_baggage(baggage: &Baggage) -> Option<String> {
    if baggage.is_empty() {
        return None;
    }
    let mut entries: Vec<_> = baggage.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let mut header = String::new();
    let mut member = String::new();
    let mut count = 0;
    for (key, (value, metadata)) in entries {
        if count == MAX_BAGGAGE_MEMBERS {
            break;
        }
        let key = key.as_str();
        if !is_token(key) {
            continue;
        }
        member.clear();
        member.push_str(key);
        member.push('=');
        percent_encode_into(&mut member, value.as_str());
        if let Some(properties) = normalize_properties(metadata.as_str())
            && !properties.is_empty()
        {
            member.push(';');
            member.push_str(&properties);
        }
        let separator = usize::from(count > 0);
        if header.len() + separator + member.len() > MAX_BAGGAGE_BYTES {
            continue;
        }
        if separator == 1 {
            header.push(',');
        }
        header.push_str(&member);
        count += 1;
    }
    (count > 0).then_some(header)
}

/// Splits one list-member into key, raw value and normalized properties.
fn parse_member(member: &str) -> Option<(&str, &str, String)> {
    let (pair, properties) = match member.split_once(';') {
        Some((pair, properties)) => (pair, Some(properties)),
        None => (member, None),
    };
    let (key, value) = pair.split_once('=')?;
    let (key, value) = (trim_ows(key), trim_ows(value));
    if !is_token(key) || !value.bytes().all(is_baggage_octet) {
        return None;
    }
    let metadata = match properties {
        Some(properties) => normalize_properties(properties)?,
        None => String::new(),
    };
    Some((key, value, metadata))
}

/// Validates `;`-separated properties and rewrites them without OWS.
///
/// Empty properties (as in a trailing `;`) are tolerated and dropped.
fn normalize_properties(properties: &str) -> Option<String> {
    let mut out = String::new();
    for property in properties.split(';') {
        let property = trim_ows(property);
        if property.is_empty() {
            continue;
        }
        let (key, value) = match property.split_once('=') {
            Some((key, value)) => (trim_ows(key), Some(trim_ows(value))),
            None => (property, None),
        };
        if !is_token(key) || !value.is_none_or(|v| v.bytes().all(is_baggage_octet)) {
            return None;
        }
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(key);
        if let Some(value) = value {
            out.push('=');
            out.push_str(value);
        }
    }
    Some(out)
}

/// Decodes `%XX` escapes; malformed escapes stay literal and invalid UTF-8
/// becomes U+FFFD, as the spec asks.
fn percent_decode(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex_value(*high).zip(hex_value(*low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                out.push((high << 4) | low);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes every byte outside the baggage-octet set, and `%` itself.
fn percent_encode_into(out: &mut String, value: &str) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if is_baggage_octet(b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `baggage-octet`: printable ASCII except space, `"`, `,`, `;` and `\`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// An RFC 7230 `token`: one or more `tchar`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}
