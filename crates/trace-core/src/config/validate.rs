//! Checks that serde alone cannot express, with errors attributed to their source.

use super::{Config, ExporterKind, Protocol};
use crate::error::ConfigError;

/// Resolves which source a key came from, for error messages.
pub(super) type SourceOf<'a> = &'a dyn Fn(&str) -> String;

pub(super) fn validate(config: &Config, source_of: SourceOf<'_>) -> Result<(), ConfigError> {
    let fail = |key: &str, value: String, expected: &str| {
        Err(ConfigError::new(key, source_of(key), Some(value), expected))
    };
    if !(config.sample_rate.is_finite() && (0.0..=1.0).contains(&config.sample_rate)) {
        return fail(
            "sample_rate",
            config.sample_rate.to_string(),
            "a number from 0.0 to 1.0",
        );
    }
    for (key, endpoint) in [
        ("endpoint", &config.endpoint),
        ("traces_endpoint", &config.traces_endpoint),
    ] {
        if let Some(endpoint) = endpoint
            && let Err(problem) = normalize_endpoint(endpoint, config.insecure)
        {
            return fail(key, endpoint.clone(), &problem);
        }
    }
    for (name, value) in &config.headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return fail(
                "headers",
                name.clone(),
                "header names made of letters, digits and `-` (RFC 9110 tokens)",
            );
        }
        if http::HeaderValue::from_str(value).is_err() {
            return fail(
                "headers",
                format!("{name}=<value withheld>"),
                "header values of visible ASCII characters and spaces",
            );
        }
    }
    for (key, millis) in [
        ("timeout_ms", config.timeout_ms),
        ("shutdown_timeout_ms", config.shutdown_timeout_ms),
        ("batch.scheduled_delay_ms", config.batch.scheduled_delay_ms),
        ("batch.export_timeout_ms", config.batch.export_timeout_ms),
    ] {
        if millis == 0 {
            return fail(key, "0".into(), "a whole number of milliseconds above zero");
        }
    }
    let batch = &config.batch;
    if batch.max_queue_size == 0 {
        return fail(
            "batch.max_queue_size",
            "0".into(),
            "a whole number greater than zero",
        );
    }
    if batch.max_export_batch_size == 0 || batch.max_export_batch_size > batch.max_queue_size {
        return fail(
            "batch.max_export_batch_size",
            batch.max_export_batch_size.to_string(),
            &format!(
                "a whole number from 1 to batch.max_queue_size ({})",
                batch.max_queue_size
            ),
        );
    }
    if config.exporters.contains(&ExporterKind::JsonFile)
        && config.json_file_path.as_deref().is_none_or(str::is_empty)
    {
        return Err(ConfigError::new(
            "json_file_path",
            source_of("exporters"),
            None,
            "a file path, required when `exporters` contains `json-file`",
        ));
    }
    if let Some(name) = &config.service_name
        && name.trim().is_empty()
    {
        return fail("service_name", String::new(), "a non-empty service name");
    }
    if config
        .resource_attributes
        .keys()
        .any(|key| key.trim().is_empty())
    {
        return fail(
            "resource_attributes",
            "<empty key>".into(),
            "attribute keys that are not empty",
        );
    }
    Ok(())
}

/// Adds a scheme to a bare `host:port` and checks that the result is a usable URL.
pub(crate) fn normalize_endpoint(endpoint: &str, insecure: bool) -> Result<String, String> {
    let endpoint = endpoint.trim();
    let with_scheme = if endpoint.contains("://") {
        endpoint.to_owned()
    } else if insecure {
        format!("http://{endpoint}")
    } else {
        format!("https://{endpoint}")
    };
    let expected = "an http:// or https:// URL with a host, such as http://localhost:4318";
    let uri: http::Uri = with_scheme.parse().map_err(|_| expected.to_owned())?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(expected.to_owned()),
    }
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(with_scheme),
        _ => Err(expected.to_owned()),
    }
}

pub(super) fn resolved_traces_endpoint(config: &Config) -> String {
    let normalize = |endpoint: &str| {
        normalize_endpoint(endpoint, config.insecure).unwrap_or_else(|_| endpoint.to_owned())
    };
    if let Some(endpoint) = &config.traces_endpoint {
        return normalize(endpoint);
    }
    match (&config.endpoint, config.protocol) {
        (Some(base), Protocol::Grpc) => normalize(base),
        (Some(base), _) => format!("{}/v1/traces", normalize(base).trim_end_matches('/')),
        (None, Protocol::Grpc) => "http://localhost:4317".to_owned(),
        (None, _) => "http://localhost:4318/v1/traces".to_owned(),
    }
}
