//! Misspelt variable names: a variable that is almost one trace-core reads is most
//! likely a typo, and would otherwise be ignored without a word.
//!
//! The rule (documented in `docs/configuration.md`): a variable is reported when its
//! name is not one trace-core reads, is not one OpenTelemetry defines for other
//! components ([`OTHER_OTEL_NAMES`], [`OTHER_OTEL_FAMILIES`]), and is at most two edits
//! away from a name trace-core reads (one edit for names under 16 characters, none under
//! 8), comparing without regard to case; a swap of two neighbouring characters is one
//! edit. Variables that start with the configured prefix exactly are configuration keys:
//! an unknown one is already an error, which names the closest key.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::otel_env;

/// Keys a prefixed variable can set, in `Config`'s order; nested keys joined by `__`.
pub(super) const KEYS: &[&str] = &[
    "ENABLED",
    "SERVICE_NAME",
    "SERVICE_VERSION",
    "SERVICE_NAMESPACE",
    "SERVICE_INSTANCE_ID",
    "ENVIRONMENT",
    "RESOURCE_ATTRIBUTES",
    "EXPORTERS",
    "ENDPOINT",
    "TRACES_ENDPOINT",
    "LOGS_ENDPOINT",
    "PROTOCOL",
    "HEADERS",
    "COMPRESSION",
    "INSECURE",
    "CERTIFICATE",
    "TIMEOUT_MS",
    "SAMPLER",
    "SAMPLE_RATE",
    "PROPAGATORS",
    "BATCH__MAX_QUEUE_SIZE",
    "BATCH__MAX_EXPORT_BATCH_SIZE",
    "BATCH__SCHEDULED_DELAY_MS",
    "BATCH__EXPORT_TIMEOUT_MS",
    "BATCH__MAX_CONCURRENT_EXPORTS",
    "JSON_FILE_PATH",
    "HTML_FILE_PATH",
    "CONSOLE_VERBOSE",
    "SHUTDOWN_TIMEOUT_MS",
];

/// Variables of the OpenTelemetry specification (and common SDKs) that trace-core does
/// not read but other components do: never reported, however close to a name we read.
const OTHER_OTEL_NAMES: &[&str] = &[
    "OTEL_LOG_LEVEL",
    "OTEL_ENTITIES",
    "OTEL_CONFIG_FILE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_SPAN_INSECURE",
    "OTEL_RESOURCE_DETECTORS",
];

/// Families of OpenTelemetry variables for other signals, processors, limits, exporters
/// and language SDKs: a name starting with one of these is never reported.
const OTHER_OTEL_FAMILIES: &[&str] = &[
    "OTEL_LOGS_",
    "OTEL_METRICS_",
    "OTEL_METRIC_",
    "OTEL_PROFILES_",
    "OTEL_EXPORTER_OTLP_LOGS_",
    "OTEL_EXPORTER_OTLP_METRICS_",
    "OTEL_EXPORTER_OTLP_PROFILES_",
    "OTEL_EXPORTER_ZIPKIN_",
    "OTEL_EXPORTER_JAEGER_",
    "OTEL_EXPORTER_PROMETHEUS_",
    "OTEL_EXPORTER_CONSOLE_",
    "OTEL_BLRP_",
    "OTEL_ATTRIBUTE_",
    "OTEL_SPAN_",
    "OTEL_EVENT_",
    "OTEL_LINK_",
    "OTEL_LOGRECORD_",
    "OTEL_EXPERIMENTAL_",
    "OTEL_INSTRUMENTATION_",
    "OTEL_SEMCONV_",
    "OTEL_PYTHON_",
    "OTEL_JAVA_",
    "OTEL_JAVAAGENT_",
    "OTEL_NODE_",
    "OTEL_DOTNET_",
    "OTEL_GO_",
    "OTEL_PHP_",
    "OTEL_RUBY_",
    "OTEL_RUST_",
    "OTEL_CPP_",
    "OTEL_ERLANG_",
    "OTEL_SWIFT_",
];

/// A variable that is probably a misspelling of `meant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Misspelt {
    pub(super) name: String,
    pub(super) meant: String,
}

impl Misspelt {
    pub(super) fn message(&self) -> String {
        format!(
            "unknown environment variable {} is ignored; did you mean {}?",
            self.name, self.meant
        )
    }
}

/// The variables of `env` that look like misspellings of a name trace-core reads with
/// `prefix`, in name order. Empty values count as unset and are skipped.
pub(super) fn misspelt(env: &BTreeMap<String, String>, prefix: &str) -> Vec<Misspelt> {
    let known: Vec<String> = otel_env::variable_names()
        .map(str::to_owned)
        .chain(KEYS.iter().map(|key| format!("{prefix}{key}")))
        .collect();
    let known_upper: Vec<String> = known.iter().map(|name| name.to_ascii_uppercase()).collect();
    env.iter()
        .filter(|(name, value)| {
            !value.trim().is_empty()
                && !name.starts_with(prefix)
                && !known.contains(name)
                && !is_other_otel_name(name)
        })
        .filter_map(|(name, _)| {
            let upper = name.to_ascii_uppercase();
            let allowed = match upper.len() {
                0..8 => 0,
                8..16 => 1,
                _ => 2,
            };
            known_upper
                .iter()
                .zip(&known)
                .filter(|(candidate, _)| candidate.len().abs_diff(upper.len()) <= allowed)
                .map(|(candidate, meant)| (edit_distance(&upper, candidate), meant))
                .filter(|(distance, _)| *distance <= allowed)
                .min_by_key(|(distance, _)| *distance)
                .map(|(_, meant)| Misspelt {
                    name: name.clone(),
                    meant: meant.clone(),
                })
        })
        .collect()
}

fn is_other_otel_name(name: &str) -> bool {
    OTHER_OTEL_NAMES.contains(&name)
        || OTHER_OTEL_FAMILIES
            .iter()
            .any(|family| name.starts_with(family))
}

/// Logs each misspelt variable once per process: through `tracing` at `warn` (target
/// `trace_core`), or on stderr when no subscriber is set yet, as the start-up line is.
pub(super) fn warn_once(misspelt: &[Misspelt]) {
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    for variable in misspelt {
        let first = WARNED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(variable.name.clone());
        if !first {
            continue;
        }
        let message = variable.message();
        if tracing::dispatcher::has_been_set() {
            tracing::warn!(target: "trace_core", "{message}");
        } else {
            eprintln!("trace-core: warning: {message}");
        }
    }
}

/// The closest of `candidates` to `name`, at most two edits away (one under 16
/// characters, none under 8), without regard to case.
pub(super) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let upper = name.to_ascii_uppercase();
    let allowed = match upper.len() {
        0..4 => 0,
        4..8 => 1,
        _ => 2,
    };
    candidates
        .into_iter()
        .map(|candidate| {
            (
                edit_distance(&upper, &candidate.to_ascii_uppercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// two neighbouring characters each count as one edit.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the (a.len() + 1) x (b.len() + 1) table: two back, one back, this one.
    let mut before_previous = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before_previous[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
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

    fn messages(pairs: &[(&str, &str)], prefix: &str) -> Vec<String> {
        misspelt(&env(pairs), prefix)
            .iter()
            .map(Misspelt::message)
            .collect()
    }

    #[test]
    fn edit_distance_counts_a_swap_as_one_edit() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("ENDPOINT", "ENDPOINT"), 0);
        assert_eq!(edit_distance("ENDPIONT", "ENDPOINT"), 1);
        assert_eq!(edit_distance("ENDPONT", "ENDPOINT"), 1);
        assert_eq!(edit_distance("ENDPOINTS", "ENDPOINT"), 1);
        assert_eq!(edit_distance("ENDPIONTS", "ENDPOINT"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn misspelt_names_are_reported_with_the_closest_known_name() {
        assert_eq!(
            messages(
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPIONT", "http://collector:4318"),
                    ("OTEL_EXPORTER_OTLP_TRACE_ENDPOINT", "http://collector:4318"),
                    ("OTEL_SERVICENAME", "checkout"),
                    ("OTEL_TRACES_SAMPLER_ARGS", "0.5"),
                    ("otel_service_name", "checkout"),
                    ("APP_TRACNG_SAMPLE_RATE", "0.5"),
                    ("app_tracing_endpoint", "http://collector:4318"),
                ],
                "APP_TRACING_",
            ),
            [
                "unknown environment variable APP_TRACNG_SAMPLE_RATE is ignored; \
                 did you mean APP_TRACING_SAMPLE_RATE?",
                "unknown environment variable OTEL_EXPORTER_OTLP_ENDPIONT is ignored; \
                 did you mean OTEL_EXPORTER_OTLP_ENDPOINT?",
                "unknown environment variable OTEL_EXPORTER_OTLP_TRACE_ENDPOINT is ignored; \
                 did you mean OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?",
                "unknown environment variable OTEL_SERVICENAME is ignored; \
                 did you mean OTEL_SERVICE_NAME?",
                "unknown environment variable OTEL_TRACES_SAMPLER_ARGS is ignored; \
                 did you mean OTEL_TRACES_SAMPLER_ARG?",
                "unknown environment variable app_tracing_endpoint is ignored; \
                 did you mean APP_TRACING_ENDPOINT?",
                "unknown environment variable otel_service_name is ignored; \
                 did you mean OTEL_SERVICE_NAME?",
            ]
        );
        assert_eq!(
            messages(&[("CHECKOUT_TRACNG_ENABLED", "false")], "CHECKOUT_TRACING_"),
            [
                "unknown environment variable CHECKOUT_TRACNG_ENABLED is ignored; \
              did you mean CHECKOUT_TRACING_ENABLED?"
            ]
        );
    }

    #[test]
    fn names_of_other_opentelemetry_components_are_left_alone() {
        let others = [
            "OTEL_LOGS_EXPORTER",
            "OTEL_METRICS_EXPORTER",
            "OTEL_METRIC_EXPORT_INTERVAL",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
            "OTEL_BLRP_SCHEDULE_DELAY",
            "OTEL_BLRP_EXPORT_TIMEOUT",
            "OTEL_BLRP_MAX_QUEUE_SIZE",
            "OTEL_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_SPAN_EVENT_COUNT_LIMIT",
            "OTEL_SPAN_LINK_COUNT_LIMIT",
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_LOG_LEVEL",
            "OTEL_ENTITIES",
            "OTEL_CONFIG_FILE",
            "OTEL_EXPERIMENTAL_CONFIG_FILE",
            "OTEL_PYTHON_LOG_CORRELATION",
            "OTEL_SEMCONV_STABILITY_OPT_IN",
        ];
        let vars: Vec<(&str, &str)> = others.iter().map(|name| (*name, "x")).collect();
        assert_eq!(messages(&vars, "APP_TRACING_"), Vec::<String>::new());
    }

    #[test]
    fn known_far_off_prefixed_and_empty_names_are_left_alone() {
        assert_eq!(
            messages(
                &[
                    // Read by trace-core.
                    ("OTEL_SERVICE_NAME", "checkout"),
                    ("OTEL_BSP_SCHEDULE_DELAY", "100"),
                    ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "true"),
                    // Prefixed: an unknown key is a load error, not a warning.
                    ("APP_TRACING_SAMPEL_RATE", "0.5"),
                    // Not close to anything trace-core reads.
                    ("OTEL_SERVICE_VERSION", "1.0"),
                    ("OTEL_VENDOR_TOKEN", "x"),
                    ("HOME", "/root"),
                    ("PATH", "/usr/bin"),
                    ("S3_ENDPOINT", "http://minio:9000"),
                    // Empty counts as unset.
                    ("OTEL_SERVICENAME", " "),
                ],
                "APP_TRACING_",
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_key_of_a_prefixed_variable_is_a_config_key() {
        let config = serde_json::to_value(super::super::Config::default()).unwrap();
        let mut keys: Vec<String> = Vec::new();
        for (key, value) in config.as_object().unwrap() {
            match value.as_object() {
                Some(nested) if key == "batch" => keys.extend(
                    nested
                        .keys()
                        .map(|field| format!("{key}__{field}").to_ascii_uppercase()),
                ),
                _ => keys.push(key.to_ascii_uppercase()),
            }
        }
        let mut listed: Vec<String> = KEYS.iter().map(|key| (*key).to_owned()).collect();
        keys.sort();
        listed.sort();
        assert_eq!(keys, listed);
    }
}
