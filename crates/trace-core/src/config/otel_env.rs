//! The standard `OTEL_*` environment variables, mapped onto [`Config`](super::Config) keys.

use std::collections::BTreeMap;

use figment::value::{Dict, Value};

use crate::error::ConfigError;

/// A parsed `OTEL_*` layer: the values by config key, and which variable set each key.
#[derive(Debug, Default)]
pub(super) struct OtelLayer {
    pub(super) values: Dict,
    pub(super) origins: BTreeMap<String, &'static str>,
}

/// Variables that map one to one onto a key, in the order they are applied: a
/// traces-specific variable comes after its generic twin so that it wins.
const PLAIN_VARS: &[(&str, &str, Kind)] = &[
    ("OTEL_SERVICE_NAME", "service_name", Kind::Text),
    ("OTEL_TRACES_SAMPLER", "sampler", Kind::Text),
    ("OTEL_TRACES_SAMPLER_ARG", "sample_rate", Kind::Ratio),
    ("OTEL_PROPAGATORS", "propagators", Kind::List),
    ("OTEL_TRACES_EXPORTER", "exporters", Kind::List),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "endpoint", Kind::Text),
    (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "traces_endpoint",
        Kind::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "logs_endpoint",
        Kind::Text,
    ),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "protocol", Kind::Text),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "protocol", Kind::Text),
    ("OTEL_EXPORTER_OTLP_HEADERS", "headers", Kind::Pairs),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "headers", Kind::Pairs),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "timeout_ms", Kind::Millis),
    (
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "timeout_ms",
        Kind::Millis,
    ),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "compression", Kind::Text),
    (
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "compression",
        Kind::Text,
    ),
    ("OTEL_EXPORTER_OTLP_INSECURE", "insecure", Kind::Bool),
    ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "insecure", Kind::Bool),
    ("OTEL_EXPORTER_OTLP_CERTIFICATE", "certificate", Kind::Text),
    (
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        "certificate",
        Kind::Text,
    ),
    (
        "OTEL_RESOURCE_ATTRIBUTES",
        "resource_attributes",
        Kind::Pairs,
    ),
    (
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "batch.max_queue_size",
        Kind::Count,
    ),
    (
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "batch.max_export_batch_size",
        Kind::Count,
    ),
    (
        "OTEL_BSP_SCHEDULE_DELAY",
        "batch.scheduled_delay_ms",
        Kind::Millis,
    ),
    (
        "OTEL_BSP_EXPORT_TIMEOUT",
        "batch.export_timeout_ms",
        Kind::Millis,
    ),
    (
        "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
        "batch.max_concurrent_exports",
        Kind::Count,
    ),
];

/// Every `OTEL_*` variable trace-core reads.
pub(super) fn variable_names() -> impl Iterator<Item = &'static str> {
    std::iter::once("OTEL_SDK_DISABLED").chain(PLAIN_VARS.iter().map(|(var, _, _)| *var))
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Bool,
    Ratio,
    Millis,
    Count,
    List,
    Pairs,
}

impl OtelLayer {
    /// Parses the `OTEL_*` variables of `env`; an empty variable counts as unset.
    pub(super) fn parse(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut layer = OtelLayer::default();
        if let Some(raw) = non_empty(env, "OTEL_SDK_DISABLED")
            && parse_bool("OTEL_SDK_DISABLED", "enabled", raw)?
        {
            layer.set("enabled", Value::from(false), "OTEL_SDK_DISABLED");
        }
        for &(var, key, kind) in PLAIN_VARS {
            let Some(raw) = non_empty(env, var) else {
                continue;
            };
            let value = match kind {
                Kind::Text => Value::from(raw.trim().to_owned()),
                Kind::Bool => Value::from(parse_bool(var, key, raw)?),
                Kind::Ratio => Value::from(parse_number::<f64>(
                    var,
                    key,
                    raw,
                    "a number from 0.0 to 1.0",
                )?),
                Kind::Millis => Value::from(parse_number::<u64>(
                    var,
                    key,
                    raw,
                    "a whole number of milliseconds",
                )?),
                Kind::Count => Value::from(parse_number::<u64>(
                    var,
                    key,
                    raw,
                    "a whole number greater than zero",
                )?),
                Kind::List => Value::from(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect::<Vec<_>>(),
                ),
                Kind::Pairs => {
                    let mut merged = match layer.values.get(key) {
                        Some(Value::Dict(_, existing)) => existing.clone(),
                        _ => Dict::new(),
                    };
                    for (name, value) in parse_pairs(var, key, raw)? {
                        merged.insert(name, Value::from(value));
                    }
                    Value::from(merged)
                }
            };
            layer.set(key, value, var);
        }
        Ok(layer)
    }

    fn set(&mut self, key: &str, value: Value, var: &'static str) {
        match key.split_once('.') {
            Some((table, field)) => {
                let entry = self
                    .values
                    .entry(table.to_owned())
                    .or_insert_with(|| Value::from(Dict::new()));
                if let Value::Dict(_, dict) = entry {
                    dict.insert(field.to_owned(), value);
                }
            }
            None => {
                self.values.insert(key.to_owned(), value);
            }
        }
        self.origins.insert(key.to_owned(), var);
    }
}

fn non_empty<'a>(env: &'a BTreeMap<String, String>, var: &str) -> Option<&'a str> {
    env.get(var)
        .map(String::as_str)
        .filter(|raw| !raw.trim().is_empty())
}

fn invalid(var: &str, key: &str, raw: &str, expected: &str) -> ConfigError {
    ConfigError::new(
        key,
        format!("environment variable {var}"),
        Some(raw.to_owned()),
        expected,
    )
}

fn parse_bool(var: &str, key: &str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(var, key, raw, "`true` or `false`")),
    }
}

fn parse_number<T: std::str::FromStr>(
    var: &str,
    key: &str,
    raw: &str,
    expected: &str,
) -> Result<T, ConfigError> {
    raw.trim()
        .parse()
        .map_err(|_| invalid(var, key, raw, expected))
}

/// Parses the W3C-Baggage-like `key=value,key2=value2` format of
/// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES`, percent-decoding values.
fn parse_pairs(var: &str, key: &str, raw: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let expected = "comma-separated `name=value` pairs with a non-empty name and \
                    percent-encoded values";
    // Header values are often credentials: never echo them in an error.
    let raw_for_errors = if key == "headers" {
        "<value withheld>"
    } else {
        raw
    };
    raw.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| invalid(var, key, raw_for_errors, expected))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(invalid(var, key, raw_for_errors, expected));
            }
            let value = percent_decode(value.trim())
                .ok_or_else(|| invalid(var, key, raw_for_errors, expected))?;
            Ok((name.to_owned(), value))
        })
        .collect()
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = value.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn traces_specific_variables_win_over_generic_ones() {
        let layer = OtelLayer::parse(&env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ]))
        .unwrap();
        assert_eq!(
            layer.values.get("protocol").and_then(|v| v.as_str()),
            Some("http/json")
        );
        assert_eq!(
            layer.origins.get("protocol"),
            Some(&"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        );
    }

    #[test]
    fn pairs_are_percent_decoded_and_merged() {
        let layer = OtelLayer::parse(&env(&[
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, tenant=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "tenant=2"),
        ]))
        .unwrap();
        let headers: BTreeMap<String, String> =
            layer.values.get("headers").unwrap().deserialize().unwrap();
        assert_eq!(headers["api-key"], "a b");
        assert_eq!(headers["tenant"], "2");
    }

    #[test]
    fn malformed_pairs_name_the_variable() {
        let error =
            OtelLayer::parse(&env(&[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")])).unwrap_err();
        assert_eq!(error.key(), "headers");
        assert_eq!(
            error.source_name(),
            "environment variable OTEL_EXPORTER_OTLP_HEADERS"
        );
        let error = OtelLayer::parse(&env(&[("OTEL_RESOURCE_ATTRIBUTES", "a=%zz")])).unwrap_err();
        assert_eq!(error.key(), "resource_attributes");
    }

    #[test]
    fn sdk_disabled_accepts_only_booleans() {
        let layer = OtelLayer::parse(&env(&[("OTEL_SDK_DISABLED", "TRUE")])).unwrap();
        assert_eq!(layer.values.get("enabled"), Some(&Value::from(false)));
        let layer = OtelLayer::parse(&env(&[("OTEL_SDK_DISABLED", "false")])).unwrap();
        assert!(!layer.values.contains_key("enabled"));
        let error = OtelLayer::parse(&env(&[("OTEL_SDK_DISABLED", "yes")])).unwrap_err();
        assert!(error.to_string().contains("`true` or `false`"), "{error}");
    }
}
