//! A small, allocation-free SQL tokenizer: just enough to tell literals, comments,
//! identifiers and punctuation apart in the dialects sea-orm speaks.

use crate::DbSystem;

/// What a token is; its text is `sql[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Space,
    Comment,
    /// A string, number, hex, bit or dollar-quoted literal (sign included).
    Literal,
    /// An unquoted identifier or keyword.
    Word,
    /// A quoted identifier (`"x"`, `` `x` ``).
    Quoted,
    /// A bind placeholder (`?`, `?1`, `$1`).
    Placeholder,
    Punct,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Dialect quirks that change where a literal ends.
#[derive(Debug, Clone, Copy)]
struct Quirks {
    /// MySQL: `"..."` is a string, `\` escapes inside strings, `#` starts a comment.
    mysql: bool,
    /// PostgreSQL: `$tag$...$tag$` strings and nested block comments.
    postgres: bool,
}

pub(crate) struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    quirks: Quirks,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(sql: &'a str, system: DbSystem) -> Self {
        let quirks = Quirks {
            mysql: matches!(system, DbSystem::Mysql | DbSystem::Mariadb),
            postgres: matches!(system, DbSystem::Postgresql | DbSystem::OtherSql),
        };
        Self {
            bytes: sql.as_bytes(),
            pos: 0,
            quirks,
        }
    }

    fn peek(&self, offset: usize) -> u8 {
        self.bytes.get(self.pos + offset).copied().unwrap_or(0)
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        while self.pos < self.bytes.len() && keep(self.bytes[self.pos]) {
            self.pos += 1;
        }
    }

    /// Consumes a quoted run starting at the opening quote; an unterminated run
    /// swallows the rest of the input (never leaks its tail).
    fn quoted(&mut self, quote: u8, backslash_escapes: bool) {
        self.pos += 1;
        while self.pos < self.bytes.len() {
            let c = self.bytes[self.pos];
            if backslash_escapes && c == b'\\' {
                self.pos += 2;
            } else if c == quote {
                if self.peek(1) == quote {
                    self.pos += 2;
                } else {
                    self.pos += 1;
                    return;
                }
            } else {
                self.pos += 1;
            }
        }
        self.pos = self.bytes.len();
    }

    fn number(&mut self) {
        if self.peek(0) == b'0'
            && matches!(self.peek(1), b'x' | b'X')
            && self.peek(2).is_ascii_hexdigit()
        {
            self.pos += 2;
            self.skip_while(|c| c.is_ascii_hexdigit());
            return;
        }
        self.skip_while(|c| c.is_ascii_digit());
        if self.peek(0) == b'.' {
            self.pos += 1;
            self.skip_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(0), b'e' | b'E') {
            let digits_at = if matches!(self.peek(1), b'+' | b'-') {
                2
            } else {
                1
            };
            if self.peek(digits_at).is_ascii_digit() {
                self.pos += digits_at;
                self.skip_while(|c| c.is_ascii_digit());
            }
        }
    }

    fn block_comment(&mut self) {
        self.pos += 2;
        let mut depth = 1usize;
        while self.pos < self.bytes.len() {
            if self.peek(0) == b'*' && self.peek(1) == b'/' {
                self.pos += 2;
                depth -= 1;
                if depth == 0 {
                    return;
                }
            } else if self.quirks.postgres && self.peek(0) == b'/' && self.peek(1) == b'*' {
                self.pos += 2;
                depth += 1;
            } else {
                self.pos += 1;
            }
        }
    }

    /// `$tag$ ... $tag$` (PostgreSQL). Returns false, consuming nothing, when the
    /// `$` does not open one.
    fn dollar_quoted(&mut self) -> bool {
        let open_start = self.pos;
        let mut end = open_start + 1;
        if end < self.bytes.len() && is_word_start(self.bytes[end]) {
            while end < self.bytes.len() && is_tag_char(self.bytes[end]) {
                end += 1;
            }
        }
        if self.bytes.get(end) != Some(&b'$') {
            return false;
        }
        let tag = &self.bytes[open_start..=end];
        let body = end + 1;
        self.pos = self.bytes[body..]
            .windows(tag.len())
            .position(|window| window == tag)
            .map_or(self.bytes.len(), |at| body + at + tag.len());
        true
    }

    fn word(&mut self) -> Kind {
        let start = self.pos;
        self.skip_while(is_word_char);
        // Prefixed strings: E'..', X'..', B'..', N'..'.
        if self.pos - start == 1 && self.peek(0) == b'\'' {
            let prefix = self.bytes[start].to_ascii_lowercase();
            if matches!(prefix, b'e' | b'x' | b'b' | b'n') {
                self.quoted(b'\'', self.quirks.mysql || prefix == b'e');
                return Kind::Literal;
            }
        }
        Kind::Word
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let start = self.pos;
        let c = *self.bytes.get(start)?;
        let next = self.peek(1);
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
                self.skip_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c));
                Kind::Space
            }
            b'-' if next == b'-' => {
                self.skip_while(|c| c != b'\n');
                Kind::Comment
            }
            b'#' if self.quirks.mysql => {
                self.skip_while(|c| c != b'\n');
                Kind::Comment
            }
            b'/' if next == b'*' => {
                self.block_comment();
                Kind::Comment
            }
            b'\'' => {
                self.quoted(b'\'', self.quirks.mysql);
                Kind::Literal
            }
            b'"' if self.quirks.mysql => {
                self.quoted(b'"', true);
                Kind::Literal
            }
            b'"' | b'`' => {
                self.quoted(c, false);
                Kind::Quoted
            }
            b'0'..=b'9' => {
                self.number();
                Kind::Literal
            }
            b'.' if next.is_ascii_digit() => {
                self.number();
                Kind::Literal
            }
            b'+' | b'-'
                if next.is_ascii_digit() || (next == b'.' && self.peek(2).is_ascii_digit()) =>
            {
                self.pos += 1;
                self.number();
                Kind::Literal
            }
            b'$' if next.is_ascii_digit() => {
                self.pos += 1;
                self.skip_while(|c| c.is_ascii_digit());
                Kind::Placeholder
            }
            b'$' if self.quirks.postgres && self.dollar_quoted() => Kind::Literal,
            b'?' => {
                self.pos += 1;
                self.skip_while(|c| c.is_ascii_digit());
                Kind::Placeholder
            }
            c if is_word_start(c) => self.word(),
            _ => {
                self.pos += 1;
                Kind::Punct
            }
        };
        Some(Token {
            kind,
            start,
            end: self.pos,
        })
    }
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn is_tag_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}
