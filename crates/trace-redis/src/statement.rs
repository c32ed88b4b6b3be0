//! `db.query.text` in redis-cli form with values masked: `HSET user:1 name ?`.

use std::fmt::Write as _;

/// Which arguments of a command stay readable in `db.query.text`; the rest become `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MaskRule {
    /// The first argument (the key) stays; everything after it is masked. The default
    /// for commands without a rule of their own (`SET k ?`, `LPUSH k ? ?`).
    KeyOnly,
    /// Every argument is a key or a field name and stays (`DEL a b`, `HGET k f`).
    KeepAll,
    /// The key stays, then arguments alternate name / value: names stay, values are
    /// masked (`HSET k f ? g ?`).
    KeyThenPairs,
    /// Arguments alternate key / value from the start (`MSET a ? b ?`).
    Pairs,
    /// The key stays, and the arguments end in name / value pairs counted from the
    /// end, so options before them never shift a value into a kept place
    /// (`XADD s * f v` gives `XADD s ? f ?`: the tokens before the pairs may come out masked).
    KeyThenTrailingPairs,
    /// Every argument is masked (`EVAL ? ?`).
    MaskAll,
    /// Nothing about the command is recorded: no `db.query.text` at all.
    Omit,
}

/// How `db.query.text` is built.
///
/// The defaults keep command names, keys and field names, mask values, never record
/// `AUTH`, `HELLO ... AUTH`, `MIGRATE ... AUTH`, `ACL SETUSER` or `CONFIG SET`, and cut the
/// text at 2048 bytes.
///
/// ```
/// use trace_redis::{MaskRule, StatementOptions};
///
/// let options = StatementOptions::default()
///     .max_statement_length(256)
///     .rule("LRANGE", MaskRule::KeepAll); // indexes are not secret here
/// assert_eq!(options.render("LRANGE", ["jobs", "0", "-1"]).as_deref(), Some("LRANGE jobs 0 -1"));
/// assert_eq!(options.render("HSET", ["user:1", "name", "Ada"]).as_deref(), Some("HSET user:1 name ?"));
/// assert_eq!(options.render("AUTH", ["hunter2"]), None);
/// ```
#[derive(Debug, Clone)]
pub struct StatementOptions {
    capture_statement: bool,
    max_statement_length: usize,
    rules: Vec<(String, MaskRule)>,
}

impl Default for StatementOptions {
    fn default() -> Self {
        Self {
            capture_statement: true,
            max_statement_length: 2048,
            rules: Vec::new(),
        }
    }
}

impl StatementOptions {
    /// Whether `db.query.text` is recorded at all (default `true`).
    pub fn capture_statement(mut self, capture: bool) -> Self {
        self.capture_statement = capture;
        self
    }

    /// The longest `db.query.text` in bytes; longer text is cut at a character
    /// boundary and ends with `...` (default 2048).
    pub fn max_statement_length(mut self, max_bytes: usize) -> Self {
        self.max_statement_length = max_bytes;
        self
    }

    /// Sets the rule for `command` (case-insensitive), replacing the built-in one.
    /// Rules for `AUTH` and `HELLO` cannot loosen their omission.
    pub fn rule(mut self, command: &str, rule: MaskRule) -> Self {
        let command = command.to_ascii_uppercase();
        self.rules.retain(|(known, _)| *known != command);
        self.rules.push((command, rule));
        self
    }

    /// The sanitized text for `command` with `args`, or `None` when it is not recorded.
    pub fn render<I>(&self, command: &str, args: I) -> Option<String>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        if !self.capture_statement {
            return None;
        }
        let args: Vec<I::Item> = args.into_iter().collect();
        if always_secret(command, &args) {
            return None;
        }
        let rule = self
            .rules
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(command))
            .map_or_else(|| builtin_rule(command), |(_, rule)| *rule);
        if rule == MaskRule::Omit {
            return None;
        }
        let mut text = String::with_capacity(64);
        text.push_str(command);
        for (index, arg) in args.iter().enumerate() {
            if text.len() > self.max_statement_length {
                break;
            }
            text.push(' ');
            if keeps(rule, index, args.len()) {
                let _ = write!(text, "{}", arg.as_ref());
            } else {
                text.push('?');
            }
        }
        truncate(&mut text, self.max_statement_length);
        Some(text)
    }
}

/// Commands whose arguments carry credentials, whatever the configured rules say.
fn always_secret<A: AsRef<str>>(command: &str, args: &[A]) -> bool {
    let upper = command.to_ascii_uppercase();
    match upper.as_str() {
        "AUTH" | "ACL SETUSER" | "CONFIG SET" => true,
        "HELLO" | "MIGRATE" => args
            .iter()
            .any(|arg| arg.as_ref().eq_ignore_ascii_case("AUTH")),
        "ACL" | "CONFIG" => args.first().is_some_and(|sub| {
            sub.as_ref().eq_ignore_ascii_case("SETUSER") || sub.as_ref().eq_ignore_ascii_case("SET")
        }),
        _ => false,
    }
}

fn builtin_rule(command: &str) -> MaskRule {
    match command.to_ascii_uppercase().as_str() {
        "DEL" | "UNLINK" | "EXISTS" | "TOUCH" | "MGET" | "WATCH" | "TYPE" | "TTL" | "PTTL"
        | "PERSIST" | "HGET" | "HMGET" | "HDEL" | "HEXISTS" | "HSTRLEN" | "SINTER" | "SUNION"
        | "SDIFF" | "RENAME" | "COPY" | "XREAD" => MaskRule::KeepAll,
        "HSET" | "HMSET" | "HSETNX" => MaskRule::KeyThenPairs,
        "XADD" => MaskRule::KeyThenTrailingPairs,
        "MSET" | "MSETNX" => MaskRule::Pairs,
        "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO" | "SCRIPT LOAD" => {
            MaskRule::MaskAll
        }
        _ => MaskRule::KeyOnly,
    }
}

fn keeps(rule: MaskRule, index: usize, len: usize) -> bool {
    match rule {
        MaskRule::KeyThenTrailingPairs => index == 0 || (len - 1 - index) % 2 == 1,
        MaskRule::KeyOnly => index == 0,
        MaskRule::KeepAll => true,
        MaskRule::KeyThenPairs => index == 0 || index % 2 == 1,
        MaskRule::Pairs => index.is_multiple_of(2),
        MaskRule::MaskAll | MaskRule::Omit => false,
    }
}

fn truncate(text: &mut String, max_length: usize) {
    if text.len() <= max_length {
        return;
    }
    let mut cut = max_length.saturating_sub(3);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str("...");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_masked_and_names_kept() {
        let options = StatementOptions::default();
        let render = |cmd: &str, args: &[&str]| options.render(cmd, args.iter().copied());
        assert_eq!(render("SET", &["k", "v"]).as_deref(), Some("SET k ?"));
        assert_eq!(
            render("HSET", &["u:1", "name", "Ada", "age", "36"]).as_deref(),
            Some("HSET u:1 name ? age ?")
        );
        assert_eq!(
            render("MSET", &["a", "1", "b", "2"]).as_deref(),
            Some("MSET a ? b ?")
        );
        assert_eq!(
            render("XADD", &["s", "*", "f", "v"]).as_deref(),
            Some("XADD s ? f ?")
        );
        let xadd = render("XADD", &["s", "MAXLEN", "~", "10", "*", "f", "secret"]).unwrap();
        assert!(xadd.ends_with(" f ?"), "{xadd}");
        assert_eq!(render("DEL", &["a", "b"]).as_deref(), Some("DEL a b"));
        assert_eq!(
            render("EVAL", &["return 1", "0"]).as_deref(),
            Some("EVAL ? ?")
        );
        assert_eq!(render("PING", &[] as &[&str]).as_deref(), Some("PING"));
    }

    #[test]
    fn credentials_are_never_recorded_even_with_loose_rules() {
        let options = StatementOptions::default()
            .rule("AUTH", MaskRule::KeepAll)
            .rule("HELLO", MaskRule::KeepAll);
        assert_eq!(options.render("AUTH", ["user", "pw"]), None);
        assert_eq!(options.render("hello", ["3", "auth", "user", "pw"]), None);
        assert_eq!(options.render("CONFIG", ["SET", "requirepass", "pw"]), None);
        assert_eq!(options.render("HELLO", ["3"]).as_deref(), Some("HELLO 3"));
    }

    #[test]
    fn capture_statement_off_and_max_statement_length_apply() {
        let off = StatementOptions::default().capture_statement(false);
        assert_eq!(off.render("GET", ["k"]), None);
        let short = StatementOptions::default()
            .max_statement_length(10)
            .rule("DEL", MaskRule::KeepAll);
        let text = short.render("DEL", ["ééééé", "b", "c"]).unwrap();
        assert!(text.len() <= 10, "{text}");
        assert!(text.ends_with("..."), "{text}");
        // Many arguments never build unbounded text.
        let many = std::iter::repeat_n("x", 1_000_000);
        assert!(
            StatementOptions::default()
                .render("DEL", many)
                .unwrap()
                .len()
                <= 2048
        );
    }
}
