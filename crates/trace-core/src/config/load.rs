//! Assembling a [`Config`] from defaults, a file, prefixed variables and `OTEL_*`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::error::Kind;
use figment::providers::{Format, Serialized, Toml, Yaml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::Config;
use super::env_names;
use super::otel_env::OtelLayer;
use super::validate;
use crate::error::{ConfigError, FileFormat};

/// The default prefix of the service's own tracing variables.
pub const DEFAULT_ENV_PREFIX: &str = "APP_TRACING_";

/// Loads a [`Config`] from layered sources; see the [module docs](super) for the order.
///
/// ```
/// use trace_core::config::ConfigLoader;
///
/// let config = ConfigLoader::new()
///     .env_prefix("CHECKOUT_TRACING_")
///     .env_vars([("OTEL_SERVICE_NAME", "checkout"), ("CHECKOUT_TRACING_SAMPLE_RATE", "0.25")])
///     .load()
///     .unwrap();
/// assert_eq!(config.service_name.as_deref(), Some("checkout"));
/// assert_eq!(config.sample_rate, 0.25);
/// ```
#[derive(Debug, Clone)]
pub struct ConfigLoader {
    base: Config,
    file: Option<PathBuf>,
    file_section: Option<String>,
    env_prefix: String,
    env: Option<BTreeMap<String, String>>,
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigLoader {
    /// Starts from [`Config::default`], no file, prefix `APP_TRACING_` and the process
    /// environment.
    pub fn new() -> Self {
        Self {
            base: Config::default(),
            file: None,
            file_section: None,
            env_prefix: DEFAULT_ENV_PREFIX.to_owned(),
            env: None,
        }
    }

    /// Uses `config` instead of the built-in defaults as the lowest layer.
    pub fn defaults(mut self, config: Config) -> Self {
        self.base = config;
        self
    }

    /// Reads a YAML (`.yaml`, `.yml`) or TOML (`.toml`) file; it must exist.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Reads the tracing keys from one table of the file, such as `tracing` in a
    /// service's main configuration file.
    pub fn file_section(mut self, section: impl Into<String>) -> Self {
        self.file_section = Some(section.into());
        self
    }

    /// Sets the prefix of the service's own variables (default `APP_TRACING_`).
    pub fn env_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.env_prefix = prefix.into();
        self
    }

    /// Reads variables from `vars` instead of the process environment (for tests, or
    /// for services that keep their environment elsewhere).
    pub fn env_vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Layers the sources, deserializes and validates.
    ///
    /// A variable whose name is almost one trace-core reads (`OTEL_EXPORTER_OTLP_ENDPIONT`,
    /// `APP_TRACNG_SAMPLE_RATE`) is logged once as a warning naming the closest known
    /// name: through `tracing` at `warn` (target `trace_core`), or on stderr when no
    /// subscriber is set yet. The rule is in `docs/configuration.md`.
    pub fn load(self) -> Result<Config, ConfigError> {
        let env = self.env.unwrap_or_else(|| {
            // `std::env::vars` panics on a name or value that is not UTF-8.
            std::env::vars_os()
                .map(|(name, value)| {
                    (
                        name.to_string_lossy().into_owned(),
                        value.to_string_lossy().into_owned(),
                    )
                })
                .collect()
        });
        env_names::warn_once(&env_names::misspelt(&env, &self.env_prefix));
        let otel = OtelLayer::parse(&env)?;
        let mut figment = Figment::from(Serialized::defaults(&self.base));
        if let Some(path) = &self.file {
            figment = figment.merge(file_provider(path, self.file_section.as_deref())?);
        }
        figment = figment
            .merge(PrefixedEnv::new(&self.env_prefix, &env))
            .merge(OtelProvider(otel));
        let config: Config = figment
            .extract()
            .map_err(|error| convert(&error, &self.env_prefix))?;
        validate::validate(&config, &|key| describe_source(&figment, key))?;
        Ok(config)
    }
}

/// Reads and parses the configuration file: a file that cannot be read is named with
/// the OS's reason, one that cannot be parsed with the line and column of the problem.
fn file_provider(path: &Path, section: Option<&str>) -> Result<Figment, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| ConfigError::unreadable_file(path, error))?;
    let (format, values) = match path.extension().and_then(|ext| ext.to_str()) {
        Some("yaml" | "yml") => (FileFormat::Yaml, parse_yaml(path, &text)?),
        Some("toml") => (FileFormat::Toml, parse_toml(path, &text)?),
        _ => {
            return Err(ConfigError::new(
                "file",
                format!("file {}", path.display()),
                None,
                "a file name ending in .yaml, .yml or .toml",
            ));
        }
    };
    let figment = Figment::from(FileValues {
        name: format!("{format} file"),
        path: path.to_owned(),
        values,
    });
    Ok(match section {
        Some(section) => figment.focus(section),
        None => figment,
    })
}

fn parse_yaml(path: &Path, text: &str) -> Result<Dict, ConfigError> {
    // A file that is empty or holds only comments (`null`) sets nothing.
    match <Yaml as Format>::from_str::<Option<Dict>>(text) {
        Ok(values) => Ok(values.unwrap_or_default()),
        Err(error) => {
            let location = error.location().map(|at| (at.line(), at.column()));
            // serde_yaml puts the location in its message; it is said once, in front.
            let mut message = error.to_string();
            if let Some((line, column)) = location {
                message = message.replacen(&format!(" at line {line} column {column}"), "", 1);
            }
            Err(ConfigError::unparsable_file(
                path,
                FileFormat::Yaml,
                location,
                message,
            ))
        }
    }
}

fn parse_toml(path: &Path, text: &str) -> Result<Dict, ConfigError> {
    <Toml as Format>::from_str::<Dict>(text).map_err(|error| {
        let location = error.span().map(|span| line_and_column(text, span.start));
        let message = error
            .message()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        ConfigError::unparsable_file(path, FileFormat::Toml, location, message)
    })
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = (0..=offset.min(text.len()))
        .rev()
        .find(|&at| text.is_char_boundary(at))
        .unwrap_or(0);
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// The parsed file, with metadata naming its path so that errors about its values say
/// `file <path>`.
struct FileValues {
    name: String,
    path: PathBuf,
    values: Dict,
}

impl Provider for FileValues {
    fn metadata(&self) -> Metadata {
        Metadata::from(self.name.clone(), self.path.as_path())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// The service's own variables: `{prefix}SAMPLE_RATE`, `{prefix}BATCH__MAX_QUEUE_SIZE`.
struct PrefixedEnv {
    prefix: String,
    values: Dict,
}

impl PrefixedEnv {
    fn new(prefix: &str, env: &BTreeMap<String, String>) -> Self {
        let mut values = Dict::new();
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(prefix) else {
                continue;
            };
            if rest.is_empty() || raw.is_empty() {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
            insert_path(&mut values, &path, value);
        }
        Self {
            prefix: prefix.to_owned(),
            values,
        }
    }
}

fn insert_path(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

impl Provider for PrefixedEnv {
    fn metadata(&self) -> Metadata {
        let prefix = self.prefix.clone();
        Metadata::named("environment variable").interpolater(move |_: &Profile, keys: &[&str]| {
            format!("{prefix}{}", keys.join("__").to_ascii_uppercase())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

struct OtelProvider(OtelLayer);

impl Provider for OtelProvider {
    fn metadata(&self) -> Metadata {
        let origins = self.0.origins.clone();
        Metadata::named("environment variable").interpolater(move |_: &Profile, keys: &[&str]| {
            let key = keys.join(".");
            let top = keys.first().copied().unwrap_or_default();
            origins
                .get(&key)
                .or_else(|| origins.get(top))
                .map(|var| (*var).to_owned())
                .unwrap_or_else(|| "OTEL_*".to_owned())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.values.clone()))
    }
}

/// Names the source of `key` the way an operator would look for it.
fn describe_source(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(metadata) => describe(metadata, key),
        None => "default".to_owned(),
    }
}

fn describe(metadata: &Metadata, key: &str) -> String {
    if let Some(path) = metadata.source.as_ref().and_then(|s| s.file_path()) {
        return format!("file {}", path.display());
    }
    if metadata.name == "environment variable" {
        let keys: Vec<&str> = key.split('.').collect();
        return format!(
            "environment variable {}",
            metadata.interpolate(&Profile::Default, &keys)
        );
    }
    // The only other layer is the serialized defaults (built in, or given in code).
    "default".to_owned()
}

/// Turns figment's error into one that names key, source and allowed values.
fn convert(error: &figment::Error, env_prefix: &str) -> ConfigError {
    let mut key = error.path.join(".");
    let (value, expected) = match &error.kind {
        Kind::UnknownVariant(actual, allowed) => (
            Some(actual.clone()),
            format!("one of {}", quoted_list(allowed)),
        ),
        Kind::UnknownField(field, allowed) => {
            // figment's path usually ends with the unknown field already.
            if error.path.last() != Some(field) {
                key = if key.is_empty() {
                    field.clone()
                } else {
                    format!("{key}.{field}")
                };
            }
            let suggestion = env_names::closest(field, allowed.iter().copied()).map(|meant| {
                let mut path: Vec<&str> = key.split('.').collect();
                path.pop();
                path.push(meant);
                if error
                    .metadata
                    .as_ref()
                    .is_some_and(|m| m.name == "environment variable")
                {
                    format!(
                        " (did you mean {env_prefix}{}?)",
                        path.join("__").to_ascii_uppercase()
                    )
                } else {
                    format!(" (did you mean `{}`?)", path.join("."))
                }
            });
            (
                None,
                format!(
                    "no such key{}; known keys are {}",
                    suggestion.unwrap_or_default(),
                    quoted_list(allowed)
                ),
            )
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            (Some(actual.to_string()), plain_expected(expected))
        }
        Kind::Message(message) => (None, message.clone()),
        other => (None, other.to_string()),
    };
    let source = match &error.metadata {
        Some(metadata) => describe(metadata, &key),
        None => "configuration".to_owned(),
    };
    ConfigError::new(
        if key.is_empty() { "(root)".into() } else { key },
        source,
        value,
        expected,
    )
}

/// serde names numbers by their Rust type (`f64`, `u64`); say what to write instead.
fn plain_expected(expected: &str) -> String {
    match expected {
        "f32" | "f64" => "a number".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".to_owned(),
        "a boolean" => "`true` or `false`".to_owned(),
        other => other.to_owned(),
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
