//! Writing JSON straight into a tracing-subscriber `Writer`: escaped strings and an
//! event-field visitor, with no intermediate `serde_json::Value` or `String`.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};

/// Writes `value` as a JSON string, quotes included.
pub(crate) fn write_string<W: Write + ?Sized>(out: &mut W, value: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(out).write_str(value)?;
    out.write_char('"')
}

/// Writes `value`'s `Display` or `Debug` output as a JSON string.
pub(crate) fn write_display<W: Write + ?Sized>(
    out: &mut W,
    value: fmt::Arguments<'_>,
) -> fmt::Result {
    out.write_char('"')?;
    Escaped(&mut *out).write_fmt(value)?;
    out.write_char('"')
}

/// Escapes what JSON requires inside a string (`"`, `\` and control characters);
/// everything else, including non-ASCII text, passes through as UTF-8.
struct Escaped<'a, W: Write + ?Sized>(&'a mut W);

impl<W: Write + ?Sized> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut clean_from = 0;
        for (at, byte) in s.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[clean_from..at])?;
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.0.write_str("\\u00")?;
                self.0.write_char(char::from(HEX[usize::from(byte >> 4)]))?;
                self.0
                    .write_char(char::from(HEX[usize::from(byte & 0x0f)]))?;
            } else {
                self.0.write_str(escape)?;
            }
            clean_from = at + 1;
        }
        self.0.write_str(&s[clean_from..])
    }
}

/// Writes an event's fields as `"name":value` members, comma-separated, starting with
/// a comma unless `first` is set. Keeps the first write error and stops writing.
pub(crate) struct JsonFields<'a, W: Write + ?Sized> {
    out: &'a mut W,
    first: bool,
    skip_log_fields: bool,
    result: fmt::Result,
}

impl<'a, W: Write + ?Sized> JsonFields<'a, W> {
    /// `skip_log_fields` drops the `log.*` fields tracing-log adds to records from the
    /// `log` crate (they are shown as the line's target and level instead).
    pub(crate) fn new(out: &'a mut W, first: bool, skip_log_fields: bool) -> Self {
        Self {
            out,
            first,
            skip_log_fields,
            result: Ok(()),
        }
    }

    /// Whether any field was written, and the first error, if any.
    pub(crate) fn finish(self) -> Result<bool, fmt::Error> {
        self.result.map(|()| !self.first)
    }

    fn member(&mut self, field: &Field, write_value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() || (self.skip_log_fields && field.name().starts_with("log.")) {
            return;
        }
        let name = field.name();
        // `r#type = ...` arrives as `r#type`.
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                self.out.write_char(',')?;
            }
            write_string(self.out, name)?;
            self.out.write_char(':')?;
            write_value(self.out)
        })();
    }
}

impl<W: Write + ?Sized> Visit for JsonFields<'_, W> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |out| {
            if value.is_finite() {
                write!(out, "{value}")
            } else {
                // JSON has no NaN or infinity.
                write_display(out, format_args!("{value}"))
            }
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| write_string(out, value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.member(field, |out| write_display(out, format_args!("{value}")));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| write_display(out, format_args!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(value: &str) -> String {
        let mut out = String::new();
        write_string(&mut out, value).unwrap();
        out
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(escaped(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(escaped("line\nnext\r\t"), r#""line\nnext\r\t""#);
        assert_eq!(escaped("\u{1}\u{1f}"), r#""\u0001\u001f""#);
        assert_eq!(escaped("héllo ✓ 日本"), "\"héllo ✓ 日本\"");
    }

    #[test]
    fn escaped_strings_parse_back_to_the_input() {
        let inputs = [
            "",
            "plain",
            "\"quoted\"",
            "\\",
            "\u{0}\u{7f}\u{2028}",
            "🦀\n",
        ];
        for input in inputs {
            let parsed: String = serde_json::from_str(&escaped(input)).unwrap();
            assert_eq!(parsed, input);
        }
    }
}
