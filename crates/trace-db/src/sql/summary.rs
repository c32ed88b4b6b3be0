//! `db.query.summary`: the operations and their targets, in the order written.

use std::ops::Range;

use super::lexer::{Kind, Lexer, Token};
use crate::DbSystem;

/// The longest summary we produce; longer ones stop at the last whole part.
const MAX_SUMMARY_LEN: usize = 255;

/// A low-cardinality summary of a SQL statement (`SELECT users`,
/// `INSERT shipping_details SELECT orders`, `CREATE TABLE t`), built from keywords
/// and identifiers only, so it never holds a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySummary {
    text: String,
    operation: Option<Range<usize>>,
    collection: Option<Range<usize>>,
}

impl QuerySummary {
    /// The summary, e.g. `SELECT orders customers`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The operation, when the statement has exactly one (`SELECT`, `CREATE TABLE`).
    pub fn operation(&self) -> Option<&str> {
        self.operation.clone().map(|range| &self.text[range])
    }

    /// The collection (table), when the statement names exactly one.
    pub fn collection(&self) -> Option<&str> {
        self.collection.clone().map(|range| &self.text[range])
    }
}

/// Summarizes `sql` per the semantic conventions' rules: operations (`SELECT`,
/// `INSERT`, `CREATE TABLE`, ...) and their targets (tables, with quotes removed) in
/// the order written, aliases, columns and literals left out. `None` when no
/// operation is found.
///
/// ```
/// use trace_db::{sql::summarize, DbSystem};
///
/// let summary = summarize(r#"SELECT "u"."id" FROM "users" AS "u" WHERE "u"."id" = $1"#, DbSystem::Postgresql).unwrap();
/// assert_eq!(summary.as_str(), "SELECT users");
/// assert_eq!(summary.operation(), Some("SELECT"));
/// assert_eq!(summary.collection(), Some("users"));
/// ```
pub fn summarize(sql: &str, system: DbSystem) -> Option<QuerySummary> {
    let mut builder = Builder::default();
    let mut tokens = Lexer::new(sql, system)
        .filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment))
        .peekable();
    let mut expect = Expect::Nothing;
    let mut statement_start = true;
    let mut previous_word = "";
    while let Some(token) = tokens.next() {
        let text = &sql[token.start..token.end];
        let is_name = matches!(token.kind, Kind::Word | Kind::Quoted);
        if is_name
            && matches!(
                expect,
                Expect::Target | Expect::ListTarget | Expect::DdlName
            )
        {
            // Words between the keyword and the name: `DROP TABLE IF EXISTS t`,
            // `UPDATE ONLY t`, `TRUNCATE TABLE t`.
            let is_skippable = token.kind == Kind::Word
                && match expect {
                    Expect::DdlName => is_any(text, &["IF", "NOT", "EXISTS"]),
                    Expect::Target => {
                        is_any(text, &["ONLY", "IGNORE", "LOW_PRIORITY"])
                            || (text.eq_ignore_ascii_case("TABLE")
                                && previous_word.eq_ignore_ascii_case("TRUNCATE"))
                    }
                    _ => text.eq_ignore_ascii_case("ONLY"),
                };
            if !is_skippable {
                let mut end = token.end;
                // Dotted names (`dbo.Table`, `"public"."users"`) are one target.
                while let Some(dot) = tokens.next_if(|t| is_dot(sql, t) && t.start == end) {
                    match tokens.next_if(|t| {
                        matches!(t.kind, Kind::Word | Kind::Quoted) && t.start == dot.end
                    }) {
                        Some(part) => end = part.end,
                        None => break,
                    }
                }
                builder.push_target(&sql[token.start..end]);
                expect = if expect == Expect::ListTarget {
                    Expect::ListAlias
                } else {
                    Expect::Nothing
                };
                statement_start = false;
                continue;
            }
            previous_word = text;
            continue;
        }
        if token.kind == Kind::Word {
            let word = text;
            if expect == Expect::DdlKind {
                if is_any(word, DDL_MODIFIERS) {
                    continue;
                }
                if is_any(word, DDL_OBJECTS) {
                    builder.extend_operation(word);
                    expect = Expect::DdlName;
                    continue;
                }
                expect = Expect::Nothing;
            }
            let was_start = statement_start;
            statement_start = false;
            let prev = previous_word;
            previous_word = word;
            match keyword(word) {
                Keyword::Select | Keyword::Insert | Keyword::Merge => {
                    builder.push_operation(word);
                    expect = Expect::Nothing;
                }
                Keyword::Update if !is_any(prev, &["FOR", "DO", "KEY"]) => {
                    builder.push_operation(word);
                    expect = Expect::Target;
                }
                Keyword::Delete if !prev.eq_ignore_ascii_case("ON") => {
                    builder.push_operation(word);
                    expect = Expect::Nothing;
                }
                Keyword::Ddl => {
                    builder.push_operation(word);
                    expect = Expect::DdlKind;
                }
                Keyword::Truncate | Keyword::Call => {
                    builder.push_operation(word);
                    expect = Expect::Target;
                }
                Keyword::From => expect = Expect::ListTarget,
                Keyword::Join | Keyword::Into => expect = Expect::Target,
                _ if was_start && !word.eq_ignore_ascii_case("WITH") => {
                    builder.push_operation(word);
                    expect = Expect::Nothing;
                }
                _ => {
                    expect = match expect {
                        Expect::ListAlias if word.eq_ignore_ascii_case("AS") => Expect::ListAlias,
                        Expect::ListAlias => Expect::ListAliased,
                        _ => Expect::Nothing,
                    }
                }
            }
            continue;
        }
        match (token.kind, text) {
            (Kind::Punct, ",") if matches!(expect, Expect::ListAlias | Expect::ListAliased) => {
                expect = Expect::ListTarget;
            }
            (Kind::Punct, ";") => {
                statement_start = true;
                expect = Expect::Nothing;
            }
            _ => expect = Expect::Nothing,
        }
    }
    builder.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Nothing,
    /// A single target (after `JOIN`, `INTO`, `UPDATE`).
    Target,
    /// A target in a `FROM` list.
    ListTarget,
    /// After a `FROM` list target: `AS`, an alias, or `,`.
    ListAlias,
    /// After an alias: only `,` continues the list.
    ListAliased,
    /// After `CREATE`/`ALTER`/`DROP`: the object kind.
    DdlKind,
    /// After the object kind: its name.
    DdlName,
}

#[derive(Clone, Copy)]
enum Keyword {
    Select,
    Insert,
    Merge,
    Update,
    Delete,
    Ddl,
    Truncate,
    Call,
    From,
    Join,
    Into,
    Other,
}

const DDL_MODIFIERS: &[&str] = &[
    "OR",
    "REPLACE",
    "TEMP",
    "TEMPORARY",
    "UNIQUE",
    "UNLOGGED",
    "GLOBAL",
    "LOCAL",
    "MATERIALIZED",
    "VIRTUAL",
];

const DDL_OBJECTS: &[&str] = &[
    "TABLE",
    "INDEX",
    "VIEW",
    "SEQUENCE",
    "SCHEMA",
    "DATABASE",
    "TRIGGER",
    "FUNCTION",
    "PROCEDURE",
    "TYPE",
    "EXTENSION",
    "DOMAIN",
];

fn keyword(word: &str) -> Keyword {
    const TABLE: &[(&str, Keyword)] = &[
        ("SELECT", Keyword::Select),
        ("INSERT", Keyword::Insert),
        ("MERGE", Keyword::Merge),
        ("UPDATE", Keyword::Update),
        ("DELETE", Keyword::Delete),
        ("CREATE", Keyword::Ddl),
        ("ALTER", Keyword::Ddl),
        ("DROP", Keyword::Ddl),
        ("TRUNCATE", Keyword::Truncate),
        ("CALL", Keyword::Call),
        ("FROM", Keyword::From),
        ("JOIN", Keyword::Join),
        ("INTO", Keyword::Into),
    ];
    TABLE
        .iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map_or(Keyword::Other, |(_, keyword)| *keyword)
}

fn is_any(word: &str, set: &[&str]) -> bool {
    set.iter().any(|k| word.eq_ignore_ascii_case(k))
}

fn is_dot(sql: &str, token: &Token) -> bool {
    token.kind == Kind::Punct && &sql[token.start..token.end] == "."
}

#[derive(Default)]
struct Builder {
    text: String,
    operations: usize,
    first_operation: Option<Range<usize>>,
    targets: usize,
    first_target: Option<Range<usize>>,
    full: bool,
}

impl Builder {
    /// Appends ` part` (quotes removed) unless that would pass the length limit.
    fn append(&mut self, part: &str) -> Option<Range<usize>> {
        if self.full {
            return None;
        }
        let before = self.text.len();
        if before > 0 {
            self.text.push(' ');
        }
        let start = self.text.len();
        self.text
            .extend(part.chars().filter(|c| !matches!(c, '"' | '`' | '[' | ']')));
        if self.text.len() > MAX_SUMMARY_LEN {
            self.text.truncate(before);
            self.full = true;
            return None;
        }
        Some(start..self.text.len())
    }

    fn push_operation(&mut self, word: &str) {
        if let Some(range) = self.append(word) {
            self.operations += 1;
            self.first_operation.get_or_insert(range);
        }
    }

    /// `CREATE` + `TABLE`: one operation, one space between.
    fn extend_operation(&mut self, word: &str) {
        let Some(range) = self.append(word) else {
            return;
        };
        if self.operations == 1
            && let Some(first) = &mut self.first_operation
            && first.end + 1 == range.start
        {
            first.end = range.end;
        }
    }

    fn push_target(&mut self, name: &str) {
        if let Some(range) = self.append(name) {
            self.targets += 1;
            self.first_target.get_or_insert(range);
        }
    }

    fn finish(self) -> Option<QuerySummary> {
        if self.operations == 0 {
            return None;
        }
        Some(QuerySummary {
            operation: self.first_operation.filter(|_| self.operations == 1),
            collection: self.first_target.filter(|_| self.targets == 1),
            text: self.text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(sql: &str) -> String {
        summarize(sql, DbSystem::Postgresql)
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn sea_orm_statements() {
        let s = summarize(
            r#"SELECT "cake"."id", "cake"."name" FROM "cake" WHERE "cake"."id" = $1 LIMIT $2"#,
            DbSystem::Postgresql,
        )
        .unwrap();
        assert_eq!(
            (s.as_str(), s.operation(), s.collection()),
            ("SELECT cake", Some("SELECT"), Some("cake"))
        );
        assert_eq!(
            summary(r#"INSERT INTO "cake" ("name") VALUES ($1) RETURNING "id", "name""#),
            "INSERT cake"
        );
        assert_eq!(
            summary(r#"UPDATE "cake" SET "name" = $1 WHERE "cake"."id" = $2"#),
            "UPDATE cake"
        );
        assert_eq!(
            summary(r#"DELETE FROM "cake" WHERE "cake"."id" = $1"#),
            "DELETE cake"
        );
        assert_eq!(
            summary(
                "INSERT INTO `cake` (`name`) VALUES (?) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`)"
            ),
            "INSERT cake"
        );
        assert_eq!(
            summary(
                r#"INSERT INTO "c" ("id") VALUES ($1) ON CONFLICT ("id") DO UPDATE SET "id" = $2"#
            ),
            "INSERT c"
        );
        assert_eq!(summary("SELECT * FROM t FOR UPDATE"), "SELECT t");
    }

    #[test]
    fn lists_aliases_and_clauses() {
        let s = summarize(
            "SELECT a FROM t1 AS x, t2 y ORDER BY a, b",
            DbSystem::Sqlite,
        )
        .unwrap();
        assert_eq!(s.as_str(), "SELECT t1 t2");
        assert_eq!(s.collection(), None);
        assert_eq!(
            summary(r#"SELECT 1 FROM "public"."users""#),
            "SELECT public.users"
        );
    }

    #[test]
    fn ddl_and_other_statements() {
        assert_eq!(
            summary("CREATE TABLE IF NOT EXISTS t (id int)"),
            "CREATE TABLE t"
        );
        assert_eq!(summary("create unique index i on t (a)"), "create index i");
        assert_eq!(
            summary("CREATE TABLE t (id int REFERENCES u (id) ON DELETE CASCADE)"),
            "CREATE TABLE t"
        );
        assert_eq!(summary("DROP TABLE IF EXISTS t"), "DROP TABLE t");
        assert_eq!(summary("BEGIN"), "BEGIN");
        assert_eq!(summary("TRUNCATE TABLE t"), "TRUNCATE t");
        assert_eq!(summary("SELECT * FROM ONLY t"), "SELECT t");
        assert_eq!(summary("PRAGMA foreign_keys = ON"), "PRAGMA");
        assert_eq!(summary("SELECT 1; DELETE FROM t"), "SELECT DELETE t");
        assert_eq!(summarize("  ", DbSystem::Sqlite), None);
        assert_eq!(summarize("(1)", DbSystem::Sqlite), None);
    }

    #[test]
    fn stops_at_the_last_whole_part() {
        let sql = format!(
            "SELECT * FROM {}",
            vec!["table_with_a_long_name"; 40].join(", ")
        );
        let s = summary(&sql);
        assert!(s.len() <= MAX_SUMMARY_LEN, "{}", s.len());
        assert!(s.ends_with(" table_with_a_long_name"));
    }
}
