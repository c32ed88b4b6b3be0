//! Environment variables as a carrier, for handing context to child processes.
//!
//! Following the OpenTelemetry convention, a propagator field such as
//! `traceparent` travels as the variable `TRACEPARENT`: ASCII letters are
//! upper-cased and every other character except digits becomes `_`.

use std::process::Command;

use opentelemetry::{
    Context, global,
    propagation::{Extractor, Injector},
};

use crate::propagation::extract_context;

/// The fields every snapshot and command hand-off covers, whatever the global
/// propagator says, so stale W3C variables are always removed.
const STANDARD_FIELDS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// The environment variable name for propagator `field` (`traceparent` -> `TRACEPARENT`).
///
/// ```
/// assert_eq!(trace_core::carrier::env_var_name("x-b3-traceid"), "X_B3_TRACEID");
/// ```
pub fn env_var_name(field: &str) -> String {
    field.chars().map(env_char).collect()
}

fn env_char(c: char) -> char {
    if c.is_ascii_alphanumeric() {
        c.to_ascii_uppercase()
    } else {
        '_'
    }
}

/// Whether `name` is the variable name of `field`, without allocating.
fn is_env_name_of(name: &str, field: &str) -> bool {
    name.chars().count() == field.chars().count()
        && name
            .chars()
            .zip(field.chars())
            .all(|(n, f)| n == env_char(f))
}

/// Reads propagation fields from a snapshot of environment variables.
///
/// The snapshot is taken at construction, so lookups are cheap and consistent
/// even if the environment changes later. Variables whose value is not valid
/// Unicode are left out.
///
/// # Example
///
/// ```
/// use opentelemetry::propagation::Extractor;
/// use trace_core::carrier::EnvExtractor;
///
/// let env = EnvExtractor::from_pairs([("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]);
/// assert!(env.get("traceparent").is_some());
/// assert_eq!(env.get("baggage"), None);
/// ```
#[derive(Clone, Debug, Default)]
pub struct EnvExtractor {
    vars: Vec<(String, String)>,
}

impl EnvExtractor {
    /// Snapshots `TRACEPARENT`, `TRACESTATE` and `BAGGAGE` from the process environment.
    pub fn from_process_env() -> Self {
        Self::from_process_env_fields(STANDARD_FIELDS)
    }

    /// Snapshots the variables for the standard fields and for `fields`
    /// (propagator field names such as `traceparent`).
    pub fn from_process_env_fields<'a>(fields: impl IntoIterator<Item = &'a str>) -> Self {
        let mut vars: Vec<(String, String)> = Vec::new();
        for field in STANDARD_FIELDS.into_iter().chain(fields) {
            let name = env_var_name(field);
            if vars.iter().any(|(n, _)| *n == name) {
                continue;
            }
            if let Some(value) = std::env::var_os(&name).and_then(|v| v.into_string().ok()) {
                vars.push((name, value));
            }
        }
        Self { vars }
    }

    /// Builds a snapshot from explicit `(variable name, value)` pairs, e.g. in tests.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl Extractor for EnvExtractor {
    /// Looks up the variable for propagator field `key` (`traceparent` -> `TRACEPARENT`).
    fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(name, _)| is_env_name_of(name, key))
            .map(|(_, value)| value.as_str())
    }

    /// The variable names in the snapshot.
    fn keys(&self) -> Vec<&str> {
        self.vars.iter().map(|(name, _)| name.as_str()).collect()
    }
}

/// Collects injected fields as `(VARIABLE_NAME, value)` pairs.
///
/// Setting a field twice keeps the last value; values containing NUL, which
/// no environment can hold, are skipped.
///
/// # Example
///
/// ```
/// use opentelemetry::propagation::Injector;
/// use trace_core::carrier::EnvInjector;
///
/// let mut env = EnvInjector::new();
/// env.set("traceparent", "value".to_string());
/// assert_eq!(env.vars(), [("TRACEPARENT".to_string(), "value".to_string())]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct EnvInjector {
    vars: Vec<(String, String)>,
}

impl EnvInjector {
    /// Creates an empty injector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The collected `(name, value)` pairs, in first-set order.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// Consumes the injector and returns the collected pairs.
    pub fn into_vars(self) -> Vec<(String, String)> {
        self.vars
    }
}

impl Injector for EnvInjector {
    fn set(&mut self, key: &str, value: String) {
        if key.is_empty() || value.contains('\0') {
            return;
        }
        let name = env_var_name(key);
        match self.vars.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
    }

    fn reserve(&mut self, additional: usize) {
        // A hint only: failing to grow must not abort injection.
        let _ = self.vars.try_reserve(additional);
    }
}

/// Sets the context variables of `cmd` for `cx` using the global propagator.
///
/// Variables for fields that `cx` does not produce (the standard W3C ones and
/// those the global propagator declares) are removed from the command, so a
/// child never inherits a stale `TRACEPARENT` from this process.
///
/// # Example
///
/// ```
/// use opentelemetry::Context;
/// use std::process::Command;
///
/// let mut cmd = Command::new("true");
/// cmd.env("TRACEPARENT", "stale");
/// trace_core::carrier::inject_into_command(&Context::new(), &mut cmd);
/// assert!(cmd.get_envs().any(|(k, v)| k == "TRACEPARENT" && v.is_none()));
/// ```
pub fn inject_into_command(cx: &Context, cmd: &mut Command) {
    let mut injector = EnvInjector::new();
    let mut names: Vec<String> = STANDARD_FIELDS.into_iter().map(env_var_name).collect();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut injector);
        names.extend(propagator.fields().map(env_var_name));
    });
    for name in &names {
        if !injector.vars.iter().any(|(n, _)| n == name) {
            cmd.env_remove(name);
        }
    }
    for (name, value) in injector.vars {
        cmd.env(name, value);
    }
}

/// Like [`inject_into_command`], for a [`tokio::process::Command`].
pub fn inject_into_tokio_command(cx: &Context, cmd: &mut tokio::process::Command) {
    inject_into_command(cx, cmd.as_std_mut());
}

/// Extracts the context this process was started with from its environment,
/// using the global propagator.
///
/// The variables for the standard W3C fields and for every field the global
/// propagator declares are read once; the result builds on
/// [`Context::current`].
pub fn context_from_process_env() -> Context {
    let fields: Vec<String> = global::get_text_map_propagator(|propagator| {
        propagator.fields().map(str::to_owned).collect()
    });
    let extractor = EnvExtractor::from_process_env_fields(fields.iter().map(String::as_str));
    extract_context(&extractor)
}
