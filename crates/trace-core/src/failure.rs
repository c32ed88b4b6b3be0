//! How a failure is described on a span: [`ErrorType`] for `error.type`, and
//! [`status_message`] for the status message. Every trace-rs crate records failures
//! through these, so one rule holds everywhere.

use std::borrow::Cow;
use std::fmt::{self, Display, Write as _};

use opentelemetry::{StringValue, Value};

/// The most bytes a span's status message holds; a longer message is cut on a
/// character boundary and ends in `...`.
pub const MAX_STATUS_MESSAGE_LEN: usize = 1024;

/// The value of `error.type` for a failure.
///
/// The rule, the semantic conventions' own: a low-cardinality code when the failure's
/// domain has one, else the error's fully-qualified type name.
///
/// | The failure has | `error.type` | Built with |
/// |---|---|---|
/// | a status or error code from its domain: an HTTP status, a SQLSTATE, a Redis error prefix | the code as the domain writes it: `500`, `23505`, `WRONGTYPE` | [`code`](Self::code), [`status_code`](Self::status_code) |
/// | a kind the instrumented library names (an error enum's variant) or a class the instrumentation defines | the kind in lowercase snake case: `timeout`, `io`, `invalid_argument`, `pool_timed_out` | [`kind`](Self::kind), [`code`](Self::code) |
/// | neither | the error's fully-qualified type name (`std::any::type_name`): `std::io::error::Error`, `my_app::FetchError` | [`of`](Self::of), [`of_val`](Self::of_val) |
/// | a kind the instrumentation cannot name | `_OTHER` | [`OTHER`](Self::OTHER) |
///
/// Codes keep their domain's spelling (Redis prefixes are upper case); identifiers the
/// instrumentation writes itself are lowercase snake case, as the conventions' own
/// values (`timeout`, `server_certificate_invalid`) are. A string converts into a code.
///
/// The status message that goes with it is the error's `Display` text, bounded by
/// [`status_message`]; it never holds a payload: an instrumentation whose errors can
/// echo data (SQL literals, Redis arguments) redacts them or records a fixed text.
///
/// ```
/// use trace_core::ErrorType;
///
/// assert_eq!(ErrorType::status_code(503).as_str(), "503");
/// assert_eq!(ErrorType::code("WRONGTYPE").as_str(), "WRONGTYPE");
/// assert_eq!(ErrorType::kind("InvalidArgument").as_str(), "invalid_argument");
/// assert_eq!(ErrorType::of::<std::io::Error>().as_str(), "std::io::error::Error");
///
/// // A code when there is one, else the type name.
/// let sqlstate: Option<String> = None;
/// let error_type = ErrorType::code_or_type::<std::io::Error>(sqlstate);
/// assert_eq!(error_type.as_str(), "std::io::error::Error");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorType(Cow<'static, str>);

impl ErrorType {
    /// `_OTHER`: the conventions' value for a failure the instrumentation cannot name.
    pub const OTHER: ErrorType = ErrorType(Cow::Borrowed("_OTHER"));

    /// A low-cardinality code from the failure's domain, as the domain writes it: a
    /// SQLSTATE (`23505`), a Redis error prefix (`WRONGTYPE`), a fixed class the
    /// instrumentation defines (`timeout`, `panic`).
    pub fn code(code: impl Into<Cow<'static, str>>) -> Self {
        Self(code.into())
    }

    /// A numeric status code as text, such as an HTTP status: `500`.
    pub fn status_code(code: u16) -> Self {
        Self(Cow::Owned(code.to_string()))
    }

    /// A kind the instrumented library names (an enum variant's name, say), in the
    /// conventions' lowercase snake case: `IO` gives `io`, `InvalidArgument` gives
    /// `invalid_argument`, `PoolTimedOut` gives `pool_timed_out`; `timeout` stays.
    pub fn kind(name: &str) -> Self {
        Self(Cow::Owned(snake_case(name)))
    }

    /// The fully-qualified type name of `E` (`std::any::type_name`), for an error
    /// without a code.
    pub fn of<E: ?Sized>() -> Self {
        Self(Cow::Borrowed(std::any::type_name::<E>()))
    }

    /// The fully-qualified type name of `error`'s type; see [`of`](Self::of).
    pub fn of_val<E: ?Sized>(error: &E) -> Self {
        let _ = error;
        Self::of::<E>()
    }

    /// The rule in one call: `code` when there is one, else `E`'s type name.
    pub fn code_or_type<E: ?Sized>(code: Option<impl Into<Cow<'static, str>>>) -> Self {
        match code {
            Some(code) => Self::code(code),
            None => Self::of::<E>(),
        }
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ErrorType {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A code: see [`ErrorType::code`].
impl From<&'static str> for ErrorType {
    fn from(code: &'static str) -> Self {
        Self::code(code)
    }
}

/// A code: see [`ErrorType::code`].
impl From<String> for ErrorType {
    fn from(code: String) -> Self {
        Self::code(code)
    }
}

/// A code: see [`ErrorType::code`].
impl From<Cow<'static, str>> for ErrorType {
    fn from(code: Cow<'static, str>) -> Self {
        Self::code(code)
    }
}

impl From<ErrorType> for Value {
    fn from(error_type: ErrorType) -> Self {
        Value::String(StringValue::from(error_type.0))
    }
}

impl From<ErrorType> for Cow<'static, str> {
    fn from(error_type: ErrorType) -> Self {
        error_type.0
    }
}

/// `message`'s `Display` text as a status message: at most [`MAX_STATUS_MESSAGE_LEN`]
/// bytes, cut on a character boundary and ending in `...` when longer. Formatting
/// stops at the bound, so a huge message is never built in full.
pub fn status_message(message: impl Display) -> String {
    bounded(message, MAX_STATUS_MESSAGE_LEN)
}

/// `message`'s text, at most `max` bytes (`max` at least 3).
fn bounded(message: impl Display, max: usize) -> String {
    let mut out = Bounded {
        text: String::new(),
        max,
        cut: false,
    };
    // An error here only means the text reached the bound.
    let _ = write!(out, "{message}");
    let mut text = out.text;
    if out.cut {
        text.truncate(text.floor_char_boundary(max.saturating_sub(3)));
        text.push_str("...");
    }
    text
}

/// Keeps at most `max` bytes of what is written, then refuses the rest.
struct Bounded {
    text: String,
    max: usize,
    cut: bool,
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.max - self.text.len();
        if !self.cut && s.len() <= room {
            self.text.push_str(s);
            return Ok(());
        }
        if !self.cut {
            self.text.push_str(&s[..s.floor_char_boundary(room)]);
            self.cut = true;
        }
        Err(fmt::Error)
    }
}

/// `IO` -> `io`, `InvalidArgument` -> `invalid_argument`, `HTTPError` -> `http_error`,
/// `already_snake` unchanged; `-` and spaces become `_`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == ' ' {
            out.push('_');
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let starts_word =
                prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower);
            if starts_word && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_lowercase_snake_case() {
        for (name, expected) in [
            ("IO", "io"),
            ("Timeout", "timeout"),
            ("timeout", "timeout"),
            ("InvalidArgument", "invalid_argument"),
            ("PoolTimedOut", "pool_timed_out"),
            ("pool_timed_out", "pool_timed_out"),
            ("HTTPError", "http_error"),
            ("NotFound", "not_found"),
            ("Tls", "tls"),
            ("Utf8Error", "utf8_error"),
            ("connection-reset", "connection_reset"),
        ] {
            assert_eq!(ErrorType::kind(name).as_str(), expected, "{name}");
        }
    }

    #[test]
    fn short_messages_are_kept_whole() {
        assert_eq!(status_message("timed out"), "timed out");
        assert_eq!(status_message(""), "");
        let exact = "x".repeat(MAX_STATUS_MESSAGE_LEN);
        assert_eq!(status_message(&exact), exact);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_STATUS_MESSAGE_LEN);
        let cut = status_message(&long);
        assert!(cut.len() <= MAX_STATUS_MESSAGE_LEN, "{}", cut.len());
        assert!(cut.len() >= MAX_STATUS_MESSAGE_LEN - 4, "{}", cut.len());
        assert!(cut.ends_with("..."));
        assert!(cut.trim_end_matches("...").chars().all(|c| c == 'é'));

        let one_over = "x".repeat(MAX_STATUS_MESSAGE_LEN + 1);
        let cut = status_message(&one_over);
        assert_eq!(cut.len(), MAX_STATUS_MESSAGE_LEN);
        assert!(cut.ends_with("..."));
    }

    #[test]
    fn a_cut_inside_the_last_character_is_still_seen() {
        // 1023 ASCII bytes then a 2-byte character: 1025 bytes in all.
        let text = format!("{}é", "x".repeat(MAX_STATUS_MESSAGE_LEN - 1));
        let cut = status_message(&text);
        assert!(cut.len() <= MAX_STATUS_MESSAGE_LEN);
        assert!(cut.ends_with("..."), "{cut}");
    }

    #[test]
    fn formatting_stops_at_the_bound() {
        struct Endless;
        impl Display for Endless {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                loop {
                    f.write_str("payload ")?;
                }
            }
        }
        let cut = status_message(Endless);
        assert_eq!(cut.len(), MAX_STATUS_MESSAGE_LEN);
        assert!(cut.starts_with("payload payload"));
    }

    #[test]
    fn the_rule_prefers_a_code() {
        assert_eq!(
            ErrorType::code_or_type::<std::io::Error>(Some("23505")).as_str(),
            "23505"
        );
        assert_eq!(
            ErrorType::code_or_type::<std::io::Error>(None::<&'static str>).as_str(),
            "std::io::error::Error"
        );
        assert_eq!(
            ErrorType::of_val(&std::fmt::Error).as_str(),
            "core::fmt::Error"
        );
        assert_eq!(ErrorType::OTHER.as_str(), "_OTHER");
        assert_eq!(ErrorType::status_code(404).to_string(), "404");
        assert_eq!(
            Value::from(ErrorType::code("WRONGTYPE")),
            Value::from("WRONGTYPE")
        );
    }
}
