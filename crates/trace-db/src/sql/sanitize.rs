//! `db.query.text` for raw SQL: every literal becomes `?`, comments go.

use super::lexer::{Kind, Lexer};
use crate::DbSystem;

/// Returns `sql` with every string, number, hex, bit and dollar-quoted literal
/// replaced by `?` and every comment removed, cut to at most `max_len` bytes (on a
/// character boundary). Identifiers, keywords, placeholders and whitespace are kept
/// as written.
///
/// ```
/// use trace_db::{sql::sanitize, DbSystem};
///
/// let text = sanitize("SELECT * FROM users WHERE email = 'a@b.c' AND id = 42", DbSystem::Postgresql, 1024);
/// assert_eq!(text, "SELECT * FROM users WHERE email = ? AND id = ?");
/// ```
pub fn sanitize(sql: &str, system: DbSystem, max_len: usize) -> String {
    let mut out = String::with_capacity(sql.len().min(max_len));
    for token in Lexer::new(sql, system) {
        match token.kind {
            Kind::Comment => {}
            Kind::Literal => out.push('?'),
            _ => out.push_str(&sql[token.start..token.end]),
        }
        if out.len() >= max_len {
            break;
        }
    }
    truncate(&mut out, max_len);
    out
}

/// Cuts `text` to at most `max_len` bytes without splitting a character.
pub(crate) fn truncate(text: &mut String, max_len: usize) {
    let len = cut(text, max_len).len();
    text.truncate(len);
}

/// The longest prefix of `text` of at most `max_len` bytes that ends on a character
/// boundary.
pub(crate) fn cut(text: &str, max_len: usize) -> &str {
    if text.len() <= max_len {
        return text;
    }
    let mut end = max_len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Replaces every single-quoted run in a database error message with `?`: MySQL
/// and MariaDB quote the offending value there (`Duplicate entry 'x' for key ...`).
pub(crate) fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('\'') {
        out.push_str(&rest[..open]);
        out.push('?');
        rest = &rest[open + 1..];
        match rest.find('\'') {
            Some(close) => rest = &rest[close + 1..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> String {
        sanitize(sql, DbSystem::Postgresql, usize::MAX)
    }

    fn my(sql: &str) -> String {
        sanitize(sql, DbSystem::Mysql, usize::MAX)
    }

    #[test]
    fn placeholders_and_identifiers_stay() {
        assert_eq!(
            pg(r#"SELECT "t"."a1" FROM "t" WHERE "id" = $1 AND x = $2"#),
            r#"SELECT "t"."a1" FROM "t" WHERE "id" = $1 AND x = $2"#
        );
        assert_eq!(
            my("SELECT `a` FROM t WHERE b = ?"),
            "SELECT `a` FROM t WHERE b = ?"
        );
    }

    #[test]
    fn dialect_strings_are_literals() {
        assert_eq!(pg("SELECT $$secret$$, $tag$it's$tag$"), "SELECT ?, ?");
        assert_eq!(pg("SELECT E'a\\'b', 'c'"), "SELECT ?, ?");
        assert_eq!(my(r#"SELECT "secret", 'it\'s', 'x'"#), "SELECT ?, ?, ?");
        assert_eq!(my("SELECT 1 # trailing"), "SELECT ? ");
        assert_eq!(pg("SELECT X'00ff', B'0101', N'x'"), "SELECT ?, ?, ?");
        assert_eq!(
            pg("SELECT a::int FROM t /* a /* nested */ comment */"),
            "SELECT a::int FROM t "
        );
    }

    #[test]
    fn unterminated_literals_swallow_the_rest() {
        assert_eq!(pg("SELECT 'secret"), "SELECT ?");
        assert_eq!(pg("SELECT $$secret"), "SELECT ?");
        assert_eq!(my("SELECT 'secret\\"), "SELECT ?");
    }

    #[test]
    fn truncates_on_a_char_boundary() {
        assert_eq!(sanitize("SELECT é", DbSystem::Sqlite, 8), "SELECT ");
        assert_eq!(
            sanitize("SELECT 'x' FROM t", DbSystem::Sqlite, 8),
            "SELECT ?"
        );
    }

    #[test]
    fn error_messages_lose_quoted_values() {
        assert_eq!(
            redact_quoted("Duplicate entry 'a@b.c' for key 'email'"),
            "Duplicate entry ? for key ?"
        );
        assert_eq!(redact_quoted("near 'secret"), "near ?");
        assert_eq!(redact_quoted("no quotes"), "no quotes");
    }
}
