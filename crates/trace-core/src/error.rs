//! Errors, each scoped to the operation that failed.

use std::fmt;

use crate::export::ExportReport;

/// A configuration value that does not fit, or a source that could not be read.
///
/// The message names the key, where the value came from (default, file, environment
/// variable) and what is allowed, for example:
///
/// ```text
/// invalid tracing config: `sample_rate` = 1.5 (from environment variable OTEL_TRACES_SAMPLER_ARG): a number from 0.0 to 1.0
/// ```
///
/// A configuration file that cannot be used is named with the OS's reason, or with the
/// line and column of the problem:
///
/// ```text
/// invalid tracing config: cannot read file /etc/app/tracing.yaml: No such file or directory (os error 2)
/// invalid tracing config: cannot parse YAML file /etc/app/tracing.yaml at line 3, column 11: mapping values are not allowed in this context
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    key: String,
    source: String,
    value: Option<String>,
    expected: String,
    form: Form,
}

/// How the message reads: a value that does not fit, or a file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Form {
    /// ``invalid tracing config: `KEY` = VALUE (from SOURCE): EXPECTED``.
    Value,
    /// `invalid tracing config: cannot read SOURCE: EXPECTED` (the OS's reason).
    Unreadable,
    /// `invalid tracing config: cannot parse FORMAT SOURCE at line L, column C: EXPECTED`
    /// (the parser's message).
    Unparsable {
        format: FileFormat,
        location: Option<(u32, u32)>,
    },
}

/// The format of a configuration file, as named in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    Yaml,
    Toml,
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::Yaml => "YAML",
            FileFormat::Toml => "TOML",
        })
    }
}

impl ConfigError {
    pub(crate) fn new(
        key: impl Into<String>,
        source: impl Into<String>,
        value: Option<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            key: key.into(),
            source: source.into(),
            value,
            expected: expected.into(),
            form: Form::Value,
        }
    }

    /// The configuration file `path` could not be read; `reason` is the OS's.
    pub(crate) fn unreadable_file(path: &std::path::Path, reason: impl fmt::Display) -> Self {
        Self {
            form: Form::Unreadable,
            ..Self::new(
                "file",
                format!("file {}", path.display()),
                None,
                reason.to_string(),
            )
        }
    }

    /// The configuration file `path` is not valid `format`: `message` is the parser's,
    /// `location` the 1-based line and column.
    pub(crate) fn unparsable_file(
        path: &std::path::Path,
        format: FileFormat,
        location: Option<(usize, usize)>,
        message: impl Into<String>,
    ) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            form: Form::Unparsable {
                format,
                location: location.map(|(line, column)| (clamp(line), clamp(column))),
            },
            ..Self::new("file", format!("file {}", path.display()), None, message)
        }
    }

    /// The configuration key, such as `sample_rate` or `batch.max_queue_size`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Where the value came from, such as `environment variable OTEL_TRACES_SAMPLER_ARG`
    /// or `file /etc/app/tracing.yaml`.
    pub fn source_name(&self) -> &str {
        &self.source
    }

    /// What the key allows; for a file that cannot be read or parsed, the reason.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// For a configuration file that cannot be parsed: the 1-based line and column of
    /// the problem, when the parser reports one.
    pub fn file_location(&self) -> Option<(usize, usize)> {
        match self.form {
            Form::Unparsable { location, .. } => {
                location.map(|(line, column)| (line as usize, column as usize))
            }
            Form::Value | Form::Unreadable => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.form {
            Form::Value => {
                write!(f, "invalid tracing config: `{}`", self.key)?;
                if let Some(value) = &self.value {
                    write!(f, " = {value}")?;
                }
                write!(f, " (from {}): {}", self.source, self.expected)
            }
            Form::Unreadable => write!(
                f,
                "invalid tracing config: cannot read {}: {}",
                self.source, self.expected
            ),
            Form::Unparsable { format, location } => {
                write!(
                    f,
                    "invalid tracing config: cannot parse {format} {}",
                    self.source
                )?;
                if let Some((line, column)) = location {
                    write!(f, " at line {line}, column {column}")?;
                }
                write!(f, ": {}", self.expected)
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Tracing (or, from [`export::otlp_log_exporter`](crate::export), log export) could not
/// be started; nothing was installed.
#[derive(Debug)]
pub struct InitError {
    /// What did not start: tracing, or log export.
    logs: bool,
    kind: InitErrorKind,
}

#[derive(Debug)]
enum InitErrorKind {
    Config(ConfigError),
    Exporter { what: &'static str, detail: String },
}

impl InitError {
    pub(crate) fn exporter(what: &'static str, detail: impl fmt::Display) -> Self {
        Self {
            logs: false,
            kind: InitErrorKind::Exporter {
                what,
                detail: detail.to_string(),
            },
        }
    }

    /// The same failure, for log export instead of tracing.
    #[cfg_attr(not(feature = "otlp-logs"), allow(dead_code))]
    pub(crate) fn for_logs(mut self) -> Self {
        self.logs = true;
        self
    }

    /// The configuration error behind this failure, if that was the cause.
    pub fn config_error(&self) -> Option<&ConfigError> {
        match &self.kind {
            InitErrorKind::Config(error) => Some(error),
            InitErrorKind::Exporter { .. } => None,
        }
    }
}

impl From<ConfigError> for InitError {
    fn from(error: ConfigError) -> Self {
        Self {
            logs: false,
            kind: InitErrorKind::Config(error),
        }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let started = if self.logs { "log export" } else { "tracing" };
        match &self.kind {
            InitErrorKind::Config(error) => write!(f, "{started} not started: {error}"),
            InitErrorKind::Exporter { what, detail } => {
                write!(
                    f,
                    "{started} not started: cannot build the {what}: {detail}"
                )
            }
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            InitErrorKind::Config(error) => Some(error),
            InitErrorKind::Exporter { .. } => None,
        }
    }
}

/// Flushing or shutting down did not complete cleanly (for example the collector is
/// down or did not answer in time).
///
/// [`report`](Self::report) counts what was exported and what was lost.
#[derive(Debug, Clone)]
pub struct ShutdownError {
    message: String,
    report: ExportReport,
}

impl ShutdownError {
    pub(crate) fn new(message: impl Into<String>, report: ExportReport) -> Self {
        Self {
            message: message.into(),
            report,
        }
    }

    /// Span counts at the time of the failure.
    pub fn report(&self) -> ExportReport {
        self.report
    }
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tracing {}; {} of {} spans exported, {} lost",
            self.message,
            self.report.exported,
            self.report.ended,
            self.report.lost()
        )
    }
}

impl std::error::Error for ShutdownError {}
