//! How the terminal waterfall looks: [`WaterfallStyle`], and the text helpers that keep
//! hostile span data from breaking the layout.

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::time::Duration;

use super::ConsoleTarget;

const DEFAULT_WIDTH: usize = 100;
const MIN_WIDTH: usize = 60;
const MAX_WIDTH: usize = 1_000;
const DEFAULT_ATTRIBUTE_LIMIT: usize = 6;

/// How the console waterfall is drawn: its width, colour, and how much of each span it
/// shows.
///
/// [`for_target`](Self::for_target) follows the terminal: colour only when the stream
/// is a terminal and `NO_COLOR` is unset or empty, and the width from `COLUMNS` (export
/// it from your shell, `export COLUMNS`, for the waterfall to follow resizes), else 100
/// columns. [`plain`](Self::plain) is the same for every run: 100 columns, no colour.
///
/// ```
/// use trace_core::export::WaterfallStyle;
///
/// let style = WaterfallStyle::plain().with_width(120).with_verbose(true);
/// assert_eq!(style.width(), 120);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaterfallStyle {
    width: usize,
    color: bool,
    verbose: bool,
    attribute_limit: usize,
}

impl Default for WaterfallStyle {
    fn default() -> Self {
        Self::plain()
    }
}

impl WaterfallStyle {
    /// 100 columns, no colour, attributes condensed (at most 6 per span, on one line).
    pub fn plain() -> Self {
        Self {
            width: DEFAULT_WIDTH,
            color: false,
            verbose: false,
            attribute_limit: DEFAULT_ATTRIBUTE_LIMIT,
        }
    }

    /// The style for writing to `target`: colour when it is a terminal and `NO_COLOR`
    /// is unset or empty; the width from `COLUMNS`, else 100.
    pub fn for_target(target: ConsoleTarget) -> Self {
        let is_terminal = match target {
            ConsoleTarget::Stdout => std::io::stdout().is_terminal(),
            ConsoleTarget::Stderr => std::io::stderr().is_terminal(),
        };
        Self::detected(
            is_terminal,
            std::env::var_os("NO_COLOR"),
            std::env::var("COLUMNS").ok(),
        )
    }

    /// The style for a stream that is a terminal or not, given `NO_COLOR` and `COLUMNS`.
    fn detected(is_terminal: bool, no_color: Option<OsString>, columns: Option<String>) -> Self {
        let no_color = no_color.is_some_and(|value| !value.is_empty());
        let width = (columns.as_deref())
            .and_then(|columns| columns.trim().parse::<usize>().ok())
            .unwrap_or(DEFAULT_WIDTH);
        Self::plain()
            .with_width(width)
            .with_color(is_terminal && !no_color)
    }

    /// Lines at most `columns` wide (kept between 60 and 1000); in verbose mode only
    /// the attribute lines may be longer.
    pub fn with_width(mut self, columns: usize) -> Self {
        self.width = columns.clamp(MIN_WIDTH, MAX_WIDTH);
        self
    }

    /// ANSI colours on or off.
    pub fn with_color(mut self, on: bool) -> Self {
        self.color = on;
        self
    }

    /// Every attribute, event and link of every span, each on its own line, with the
    /// span's ids; instead of one condensed line per span.
    pub fn with_verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }

    /// How many attributes the condensed line shows (default 6); the rest are counted
    /// as `+N attrs`.
    pub fn with_attribute_limit(mut self, limit: usize) -> Self {
        self.attribute_limit = limit;
        self
    }

    /// The width in columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether ANSI colours are written.
    pub fn color(&self) -> bool {
        self.color
    }

    /// Whether every attribute, event and link is written.
    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// How many attributes the condensed line shows.
    pub fn attribute_limit(&self) -> usize {
        self.attribute_limit
    }
}

/// `text` safe to print: control characters and bidirectional overrides escaped (so a
/// value can neither break the layout nor send terminal commands).
pub(crate) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_control() || is_invisible_format(ch) {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Characters that reorder or hide text on a terminal.
fn is_invisible_format(ch: char) -> bool {
    matches!(ch, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Columns a character takes: two for East Asian wide characters and most emoji.
fn char_width(ch: char) -> usize {
    match ch {
        '\u{1100}'..='\u{115F}'
        | '\u{2E80}'..='\u{303E}'
        | '\u{3041}'..='\u{33FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{A000}'..='\u{A4CF}'
        | '\u{AC00}'..='\u{D7A3}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FF60}'
        | '\u{FFE0}'..='\u{FFE6}'
        | '\u{1F300}'..='\u{1F64F}'
        | '\u{1F900}'..='\u{1F9FF}'
        | '\u{20000}'..='\u{3FFFD}' => 2,
        _ => 1,
    }
}

/// Columns `text` takes.
pub(crate) fn width_of(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// `text` cut to at most `columns`, ending in `…` when cut.
pub(crate) fn fit(text: &str, columns: usize) -> String {
    if width_of(text) <= columns {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let width = char_width(ch);
        if used + width + 1 > columns {
            break;
        }
        out.push(ch);
        used += width;
    }
    if columns > 0 {
        out.push('…');
    }
    out
}

/// Formats nanoseconds as `812 ns`, `812 µs`, `12.41 ms` or `1.203 s`.
pub(crate) fn format_duration(nanos: u64) -> String {
    let seconds = Duration::from_nanos(nanos).as_secs_f64();
    if nanos < 1_000 {
        format!("{nanos} ns")
    } else if nanos < 1_000_000 {
        format!("{} µs", nanos / 1_000)
    } else if nanos < 1_000_000_000 {
        format!("{:.2} ms", seconds * 1_000.0)
    } else {
        format!("{seconds:.3} s")
    }
}

/// `count noun`, with an `s` unless the count is one.
pub(crate) fn plural(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        let detected = |terminal, no_color: Option<&str>| {
            WaterfallStyle::detected(terminal, no_color.map(OsString::from), None).color()
        };
        assert!(detected(true, None));
        assert!(detected(true, Some("")), "an empty NO_COLOR is unset");
        assert!(!detected(true, Some("1")));
        assert!(!detected(false, None));
    }

    #[test]
    fn the_width_follows_columns() {
        let width = |columns: Option<&str>| {
            WaterfallStyle::detected(true, None, columns.map(str::to_owned)).width()
        };
        assert_eq!(width(Some("132")), 132);
        assert_eq!(width(Some(" 80\n")), 80);
        assert_eq!(width(Some("wide")), 100);
        assert_eq!(width(None), 100);
        assert_eq!(width(Some("20")), 60, "too narrow for a waterfall");
    }

    #[test]
    fn terminal_commands_and_bidi_overrides_are_escaped() {
        assert_eq!(sanitize("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(sanitize("x\u{202E}y"), "x\\u{202e}y");
    }

    #[test]
    fn text_is_fitted_by_display_width() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("日本語です", 5), "日本…");
        assert_eq!(fit("abc", 3), "abc");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(format_duration(812), "812 ns");
        assert_eq!(format_duration(812_000), "812 µs");
        assert_eq!(format_duration(12_410_000), "12.41 ms");
        assert_eq!(format_duration(1_203_000_000), "1.203 s");
    }
}
