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
        ("logs_endpoint", &config.logs_endpoint),
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
    if batch.max_concurrent_exports == 0 {
        return fail(
            "batch.max_concurrent_exports",
            "0".into(),
            "a whole number greater than zero",
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
    if config.exporters.contains(&ExporterKind::Html) {
        if !cfg!(feature = "html") {
            return fail(
                "exporters",
                "html".into(),
                "`otlp`, `console`, `json-file` or `none`: the `html` exporter needs \
                 trace-core's `html` feature",
            );
        }
        if config.html_file_path.as_deref().is_none_or(str::is_empty) {
            return Err(ConfigError::new(
                "html_file_path",
                source_of("exporters"),
                None,
                "a file path, required when `exporters` contains `html`",
            ));
        }
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

/// What an endpoint must look like, for error messages.
const ENDPOINT_EXPECTED: &str =
    "an http:// or https:// URL with a host, such as http://localhost:4318";

/// Adds a scheme to a bare `host:port` and checks that the result is a usable URL.
///
/// Allowed: `http://host[:port][/path]`, `https://host[:port][/path]`, and a bare
/// `host[:port][/path]` (the scheme then follows `insecure`). A scheme whose `://` was
/// mistyped (`http//collector:4318`, `http:/collector`, `https:collector:4318`) is an
/// error naming the URL that was probably meant, never a host called `http`.
pub(crate) fn normalize_endpoint(endpoint: &str, insecure: bool) -> Result<String, String> {
    let endpoint = endpoint.trim();
    let with_scheme = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        if let Some(mistyped) = mistyped_scheme(endpoint) {
            return Err(match mistyped {
                Some(meant) => format!("{ENDPOINT_EXPECTED}; did you mean {meant}?"),
                None => ENDPOINT_EXPECTED.to_owned(),
            });
        }
        // A bare `host:port/path` has no `//`; one here is a mangled scheme
        // (`htp//collector`) or path, and would be sent somewhere unintended.
        if endpoint.contains("//") || endpoint.contains('\\') {
            return Err(ENDPOINT_EXPECTED.to_owned());
        }
        if insecure {
            format!("http://{endpoint}")
        } else {
            format!("https://{endpoint}")
        }
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|_| ENDPOINT_EXPECTED.to_owned())?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(ENDPOINT_EXPECTED.to_owned()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(ENDPOINT_EXPECTED.to_owned());
    }
    // `http::Uri` takes any digits as a port; the connection would fail at every export.
    let port = uri
        .authority()
        .and_then(|authority| authority.as_str().rsplit_once(':'))
        .map(|(_, port)| port)
        .filter(|port| !port.is_empty() && !port.contains(']'));
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|port| port > 0)
    {
        return Err(format!(
            "{ENDPOINT_EXPECTED}; the port must be a number from 1 to 65535"
        ));
    }
    Ok(with_scheme)
}

/// A scheme-less endpoint that starts with `http` or `https` followed by `:`, `/` or
/// `\` is a URL whose `://` was mistyped: `Some(Some(meant))` with the URL that was
/// probably meant, `Some(None)` when there is no host to suggest one with, `None` for
/// an ordinary `host:port` (including hosts such as `httpbin` or `http-collector`).
fn mistyped_scheme(endpoint: &str) -> Option<Option<String>> {
    let lower = endpoint.to_ascii_lowercase();
    let scheme = ["https", "http"]
        .into_iter()
        .find(|scheme| lower.starts_with(scheme))?;
    let rest = &endpoint[scheme.len()..];
    let host = rest.trim_start_matches([':', '/', '\\']);
    if host.len() == rest.len() {
        return None;
    }
    let has_host = host
        .split([':', '/'])
        .next()
        .is_some_and(|name| !name.is_empty() && !name.bytes().all(|b| b.is_ascii_digit()));
    Some(has_host.then(|| format!("{scheme}://{host}")))
}

/// The endpoint of one signal: its own key (`signal_endpoint`) as is, else `endpoint`
/// plus `path` for HTTP (as is for gRPC), else the default.
pub(super) fn resolved_endpoint(
    config: &Config,
    signal_endpoint: &Option<String>,
    path: &str,
) -> String {
    let normalize = |endpoint: &str| {
        normalize_endpoint(endpoint, config.insecure).unwrap_or_else(|_| endpoint.to_owned())
    };
    if let Some(endpoint) = signal_endpoint {
        return normalize(endpoint);
    }
    match (&config.endpoint, config.protocol) {
        (Some(base), Protocol::Grpc) => normalize(base),
        (Some(base), _) => format!("{}{path}", normalize(base).trim_end_matches('/')),
        (None, Protocol::Grpc) => "http://localhost:4317".to_owned(),
        (None, _) => format!("http://localhost:4318{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_endpoint;

    #[test]
    fn urls_and_bare_host_ports_are_accepted() {
        for (endpoint, insecure, normalized) in [
            ("http://collector:4318", false, "http://collector:4318"),
            ("https://collector:4318/", false, "https://collector:4318/"),
            (" http://[::1]:4318 ", false, "http://[::1]:4318"),
            ("collector:4318", false, "https://collector:4318"),
            ("collector:4318", true, "http://collector:4318"),
            (
                "httpbin:4318/v1/traces",
                true,
                "http://httpbin:4318/v1/traces",
            ),
            ("http-collector:4318", true, "http://http-collector:4318"),
        ] {
            assert_eq!(
                normalize_endpoint(endpoint, insecure).as_deref(),
                Ok(normalized),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn a_mistyped_scheme_is_rejected_with_the_url_meant() {
        for (endpoint, meant) in [
            ("http//collector:4318", "http://collector:4318"),
            ("http:/collector:4318", "http://collector:4318"),
            ("https:collector:4318", "https://collector:4318"),
            (
                "https//collector:4318/v1/traces",
                "https://collector:4318/v1/traces",
            ),
            ("HTTP//collector:4318", "http://collector:4318"),
            ("http:\\\\collector:4318", "http://collector:4318"),
        ] {
            assert_eq!(
                normalize_endpoint(endpoint, true),
                Err(format!(
                    "an http:// or https:// URL with a host, such as http://localhost:4318; \
                     did you mean {meant}?"
                )),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn urls_without_a_usable_scheme_or_host_are_rejected() {
        for endpoint in [
            "",
            "http://",
            "http:4318",
            "http//",
            "htp//collector:4318",
            "htp://collector:4318",
            "ftp://collector:21",
            "http://:4318",
            "collector//v1/traces",
        ] {
            assert_eq!(
                normalize_endpoint(endpoint, true),
                Err(
                    "an http:// or https:// URL with a host, such as http://localhost:4318"
                        .to_owned()
                ),
                "{endpoint:?}"
            );
        }
    }

    #[test]
    fn a_port_out_of_range_is_rejected() {
        for endpoint in [
            "http://collector:99999",
            "collector:0",
            "http://[::1]:65536/",
        ] {
            assert_eq!(
                normalize_endpoint(endpoint, true),
                Err(
                    "an http:// or https:// URL with a host, such as http://localhost:4318; \
                     the port must be a number from 1 to 65535"
                        .to_owned()
                ),
                "{endpoint}"
            );
        }
    }
}
