//! Config: layering of defaults, file, prefixed variables and `OTEL_*`, and the errors
//! a bad value gives.

use std::io::Write as _;

use trace_core::config::{Compression, ExporterKind, Protocol, SamplerKind};
use trace_core::propagation::PropagatorKind;
use trace_core::{Config, ConfigLoader};

fn yaml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

#[test]
fn defaults_export_http_protobuf_to_localhost_and_sample_everything() {
    let config = ConfigLoader::new()
        .env_vars::<&str, &str>([])
        .load()
        .unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.protocol, Protocol::HttpProtobuf);
    assert_eq!(
        config.resolved_traces_endpoint(),
        "http://localhost:4318/v1/traces"
    );
    assert_eq!(config.sampler, SamplerKind::ParentBasedTraceIdRatio);
    assert_eq!(config.sample_rate, 1.0);
    assert_eq!(
        config.propagators,
        vec![PropagatorKind::TraceContext, PropagatorKind::Baggage]
    );
}

#[test]
fn file_then_prefixed_env_then_otel_variables_win_in_that_order() {
    let file = yaml_file(
        "service_name: from-file\n\
         service_version: 1.0.0\n\
         sample_rate: 0.1\n\
         endpoint: http://file-collector:4318\n\
         headers: { x-tenant: file }\n\
         batch: { max_queue_size: 100, max_export_batch_size: 10 }\n",
    );
    let config = ConfigLoader::new()
        .file(file.path())
        .env_vars([
            ("APP_TRACING_SERVICE_NAME", "from-prefixed-env"),
            ("APP_TRACING_SAMPLE_RATE", "0.2"),
            ("APP_TRACING_BATCH__MAX_QUEUE_SIZE", "200"),
            ("OTEL_SERVICE_NAME", "from-otel"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .load()
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("from-otel"));
    assert_eq!(config.service_version.as_deref(), Some("1.0.0"));
    assert_eq!(config.sample_rate, 0.2);
    assert_eq!(config.batch.max_queue_size, 200);
    assert_eq!(config.batch.max_export_batch_size, 10);
    assert_eq!(config.protocol, Protocol::Grpc);
    assert_eq!(config.headers["x-tenant"], "file");
    assert_eq!(config.headers["x-api-key"], "secret");
    assert_eq!(
        config.resolved_traces_endpoint(),
        "http://file-collector:4318"
    );
}

#[test]
fn every_standard_otel_variable_is_read() {
    let config = ConfigLoader::new()
        .env_vars([
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_SERVICE_NAME", "svc"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.namespace=shop,team=a%2Cb",
            ),
            ("OTEL_PROPAGATORS", "tracecontext"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
            ("OTEL_TRACES_EXPORTER", "otlp,console"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256"),
            ("OTEL_BSP_SCHEDULE_DELAY", "1000"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "3000"),
            ("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "2"),
        ])
        .load()
        .unwrap();
    assert!(!config.enabled);
    assert_eq!(config.service_name.as_deref(), Some("svc"));
    assert_eq!(config.resource_attributes["service.namespace"], "shop");
    assert_eq!(config.resource_attributes["team"], "a,b");
    assert_eq!(config.propagators, vec![PropagatorKind::TraceContext]);
    assert_eq!(config.sampler, SamplerKind::TraceIdRatio);
    assert_eq!(config.sample_rate, 0.5);
    assert_eq!(
        config.exporters,
        vec![ExporterKind::Otlp, ExporterKind::Console]
    );
    assert_eq!(config.resolved_traces_endpoint(), "http://c:4318/custom");
    assert_eq!(config.protocol, Protocol::HttpJson);
    assert_eq!(config.timeout_ms, 2500);
    assert_eq!(config.compression, Compression::Gzip);
    assert!(config.insecure);
    assert_eq!(config.batch.max_queue_size, 4096);
    assert_eq!(config.batch.max_export_batch_size, 256);
    assert_eq!(config.batch.scheduled_delay_ms, 1000);
    assert_eq!(config.batch.export_timeout_ms, 3000);
    assert_eq!(config.batch.max_concurrent_exports, 2);
}

#[test]
fn the_logs_endpoint_follows_the_traces_rules_with_its_own_path_and_key() {
    let config = |endpoint: Option<&str>, logs: Option<&str>, protocol| Config {
        endpoint: endpoint.map(str::to_owned),
        logs_endpoint: logs.map(str::to_owned),
        protocol,
        insecure: true,
        ..Config::default()
    };
    for (endpoint, logs, protocol, resolved) in [
        (
            None,
            None,
            Protocol::HttpProtobuf,
            "http://localhost:4318/v1/logs",
        ),
        (None, None, Protocol::Grpc, "http://localhost:4317"),
        (
            Some("http://c:4318/"),
            None,
            Protocol::HttpJson,
            "http://c:4318/v1/logs",
        ),
        (
            Some("c:4318"),
            None,
            Protocol::HttpProtobuf,
            "http://c:4318/v1/logs",
        ),
        (Some("http://c:4317"), None, Protocol::Grpc, "http://c:4317"),
        (
            Some("http://c:4318"),
            Some("http://l:9/in"),
            Protocol::HttpProtobuf,
            "http://l:9/in",
        ),
    ] {
        let config = config(endpoint, logs, protocol);
        assert_eq!(config.resolved_logs_endpoint(), resolved, "{config:?}");
        assert!(config.validate().is_ok());
    }
    let config = ConfigLoader::new()
        .env_vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://logs:4318/v1/logs",
            ),
        ])
        .load()
        .unwrap();
    assert_eq!(config.resolved_logs_endpoint(), "http://logs:4318/v1/logs");
    assert_eq!(config.resolved_traces_endpoint(), "http://c:4318/v1/traces");
    assert_eq!(
        load_error(&[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http//logs:4318")]),
        "invalid tracing config: `logs_endpoint` = http//logs:4318 (from environment \
         variable OTEL_EXPORTER_OTLP_LOGS_ENDPOINT): an http:// or https:// URL with a host, \
         such as http://localhost:4318; did you mean http://logs:4318?"
    );
}

#[test]
fn toml_files_and_file_sections_are_supported() {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(b"[server]\nport = 8080\n\n[tracing]\nservice_name = \"toml-svc\"\nexporters = [\"console\"]\n")
        .unwrap();
    let config = ConfigLoader::new()
        .file(file.path())
        .file_section("tracing")
        .env_vars::<&str, &str>([])
        .load()
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("toml-svc"));
    assert_eq!(config.exporters, vec![ExporterKind::Console]);
}

fn file_error(suffix: &str, text: &str) -> (tempfile::NamedTempFile, trace_core::ConfigError) {
    let mut file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let error = ConfigLoader::new()
        .file(file.path())
        .env_vars::<&str, &str>([])
        .load()
        .unwrap_err();
    (file, error)
}

#[test]
fn a_yaml_syntax_error_names_the_file_line_and_column() {
    let (file, error) = file_error(
        ".yaml",
        "service_name: checkout\n\
         sample_rate: 0.5\n  \
         endpoint: http://collector:4318\n",
    );
    assert_eq!(
        error.to_string(),
        format!(
            "invalid tracing config: cannot parse YAML file {} at line 3, column 11: \
             mapping values are not allowed in this context",
            file.path().display()
        )
    );
    assert_eq!(error.file_location(), Some((3, 11)));
    assert_eq!(
        error.source_name(),
        format!("file {}", file.path().display())
    );

    let (file, error) = file_error(".yml", "tracing:\n  exporters: [otlp, console\n");
    assert_eq!(
        error.to_string(),
        format!(
            "invalid tracing config: cannot parse YAML file {} at line 3, column 1: \
             did not find expected ',' or ']', while parsing a flow sequence at line 2 column 14",
            file.path().display()
        )
    );
}

#[test]
fn a_toml_syntax_error_names_the_file_line_and_column() {
    let (file, error) = file_error(".toml", "[tracing\nservice_name = \"checkout\"\n");
    assert_eq!(
        error.to_string(),
        format!(
            "invalid tracing config: cannot parse TOML file {} at line 1, column 9: \
             invalid table header; expected `.`, `]`",
            file.path().display()
        )
    );
    let (file, error) = file_error(".toml", "[tracing]\nservice_name = checkout\n");
    assert_eq!(
        error.to_string(),
        format!(
            "invalid tracing config: cannot parse TOML file {} at line 2, column 16: \
             invalid string; expected `\"`, `'`",
            file.path().display()
        )
    );
}

#[test]
fn a_file_that_is_not_a_map_of_keys_is_an_error_and_an_empty_one_sets_nothing() {
    let (file, error) = file_error(".yaml", "- service_name\n- checkout\n");
    assert_eq!(
        error.to_string(),
        format!(
            "invalid tracing config: cannot parse YAML file {} at line 1, column 1: \
             invalid type: sequence, expected a map",
            file.path().display()
        )
    );
    for text in ["", "# tracing: nothing set here yet\n"] {
        let file = yaml_file(text);
        let config = ConfigLoader::new()
            .file(file.path())
            .env_vars::<&str, &str>([])
            .load()
            .unwrap();
        assert_eq!(config, Config::default());
    }
}

#[test]
fn a_value_of_the_wrong_type_says_what_to_write() {
    let file = yaml_file("sample_rate: abc\n");
    let error = ConfigLoader::new()
        .file(file.path())
        .env_vars::<&str, &str>([])
        .load()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "invalid tracing config: `sample_rate` = string \"abc\" (from file {}): a number",
            file.path().display()
        )
    );
    assert_eq!(
        load_error(&[("APP_TRACING_BATCH__MAX_QUEUE_SIZE", "lots")]),
        "invalid tracing config: `batch.max_queue_size` = string \"lots\" (from environment \
         variable APP_TRACING_BATCH__MAX_QUEUE_SIZE): a whole number, 0 or more"
    );
    assert_eq!(
        load_error(&[("APP_TRACING_INSECURE", "yes")]),
        "invalid tracing config: `insecure` = string \"yes\" (from environment variable \
         APP_TRACING_INSECURE): `true` or `false`"
    );
}

#[test]
#[cfg(unix)]
fn a_missing_or_unreadable_file_names_the_path_and_the_os_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("tracing.yaml");
    let error = ConfigLoader::new()
        .file(&missing)
        .env_vars::<&str, &str>([])
        .load()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "invalid tracing config: cannot read file {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    let error = ConfigLoader::new()
        .file(dir.path())
        .env_vars::<&str, &str>([])
        .load()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "invalid tracing config: cannot read file {}: Is a directory (os error 21)",
            dir.path().display()
        )
    );
}

fn load_error(vars: &[(&str, &str)]) -> String {
    ConfigLoader::new()
        .env_vars(vars.iter().copied())
        .load()
        .unwrap_err()
        .to_string()
}

#[test]
fn a_sample_rate_out_of_range_names_key_source_and_range() {
    let message = load_error(&[("OTEL_TRACES_SAMPLER_ARG", "1.5")]);
    assert_eq!(
        message,
        "invalid tracing config: `sample_rate` = 1.5 (from environment variable \
         OTEL_TRACES_SAMPLER_ARG): a number from 0.0 to 1.0"
    );
    let message = load_error(&[("APP_TRACING_SAMPLE_RATE", "-0.1")]);
    assert!(
        message.contains("`sample_rate`")
            && message.contains("environment variable APP_TRACING_SAMPLE_RATE")
            && message.contains("0.0 to 1.0"),
        "{message}"
    );
    let message = load_error(&[("OTEL_TRACES_SAMPLER_ARG", "half")]);
    assert!(message.contains("OTEL_TRACES_SAMPLER_ARG"), "{message}");
}

#[test]
fn an_unknown_protocol_lists_the_allowed_ones() {
    let message = load_error(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml")]);
    assert!(message.contains("`protocol` = http/xml"), "{message}");
    assert!(
        message.contains("environment variable OTEL_EXPORTER_OTLP_PROTOCOL"),
        "{message}"
    );
    assert!(
        message.contains("`http/protobuf`, `http/json`, `grpc`"),
        "{message}"
    );
}

#[test]
fn a_malformed_endpoint_is_rejected_with_its_source() {
    let file = yaml_file("endpoint: \"http://\"\n");
    let error = ConfigLoader::new()
        .file(file.path())
        .env_vars::<&str, &str>([])
        .load()
        .unwrap_err();
    assert_eq!(error.key(), "endpoint");
    assert_eq!(
        error.source_name(),
        format!("file {}", file.path().display())
    );
    assert!(
        error.expected().contains("http:// or https:// URL"),
        "{error}"
    );
    let message = load_error(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:21")]);
    assert!(message.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{message}");
}

#[test]
fn an_endpoint_missing_the_colon_after_http_is_rejected_wherever_it_comes_from() {
    let allowed = "an http:// or https:// URL with a host, such as http://localhost:4318; \
                   did you mean http://collector:4318?";
    for (var, key) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "endpoint"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "traces_endpoint"),
        ("APP_TRACING_ENDPOINT", "endpoint"),
        ("APP_TRACING_TRACES_ENDPOINT", "traces_endpoint"),
    ] {
        assert_eq!(
            load_error(&[(var, "http//collector:4318")]),
            format!(
                "invalid tracing config: `{key}` = http//collector:4318 \
                 (from environment variable {var}): {allowed}"
            )
        );
    }
    for key in ["endpoint", "traces_endpoint"] {
        let file = yaml_file(&format!("{key}: http//collector:4318\n"));
        let error = ConfigLoader::new()
            .file(file.path())
            .env_vars::<&str, &str>([])
            .load()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "invalid tracing config: `{key}` = http//collector:4318 (from file {}): {allowed}",
                file.path().display()
            )
        );
    }
    let config = Config {
        endpoint: Some("http//collector:4318".into()),
        ..Default::default()
    };
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        format!("invalid tracing config: `endpoint` = http//collector:4318 (from code): {allowed}")
    );
    assert_eq!(
        trace_core::init(&config).unwrap_err().to_string(),
        format!(
            "tracing not started: invalid tracing config: `endpoint` = http//collector:4318 \
             (from code): {allowed}"
        )
    );
}

#[test]
fn malformed_headers_are_rejected_without_echoing_values() {
    let message = load_error(&[("OTEL_EXPORTER_OTLP_HEADERS", "api-key")]);
    assert!(message.contains("`headers`"), "{message}");
    assert!(message.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{message}");
    let message = load_error(&[("OTEL_EXPORTER_OTLP_HEADERS", "bad header=x")]);
    assert!(message.contains("RFC 9110"), "{message}");
    let message = load_error(&[("OTEL_EXPORTER_OTLP_HEADERS", "api-key:secret")]);
    assert!(!message.contains("secret"), "{message}");
    let message = load_error(&[("OTEL_EXPORTER_OTLP_HEADERS", "api-key=top%0Asecret")]);
    assert!(!message.contains("secret"), "{message}");
}

/// Collects `LEVEL target: message` of every event logged while `f` runs on this thread.
fn logged_while(f: impl FnOnce()) -> Vec<String> {
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<String>>>);
    struct Message(String);
    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }
    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let mut message = Message(String::new());
            event.record(&mut message);
            let meta = event.metadata();
            self.0.lock().unwrap().push(format!(
                "{} {}: {}",
                meta.level(),
                meta.target(),
                message.0
            ));
        }
    }
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    tracing::subscriber::with_default(subscriber, f);
    capture.0.lock().unwrap().clone()
}

#[test]
fn a_misspelt_variable_is_warned_about_once_with_the_name_meant() {
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPIONT", "http://collector:4318"),
        ("APP_TRACNG_SAMPLE_RATE", "0.25"),
        // Other OpenTelemetry components' variables are left alone.
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "1000"),
    ];
    let logged = logged_while(|| {
        for _ in 0..2 {
            let config = ConfigLoader::new().env_vars(vars).load().unwrap();
            // Ignored, as before; now with a warning.
            assert_eq!(config, Config::default());
        }
    });
    assert_eq!(
        logged,
        [
            "WARN trace_core: unknown environment variable APP_TRACNG_SAMPLE_RATE is ignored; \
             did you mean APP_TRACING_SAMPLE_RATE?",
            "WARN trace_core: unknown environment variable OTEL_EXPORTER_OTLP_ENDPIONT is \
             ignored; did you mean OTEL_EXPORTER_OTLP_ENDPOINT?",
        ]
    );
}

const KNOWN_KEYS: &str = "`enabled`, `service_name`, `service_version`, `service_namespace`, \
    `service_instance_id`, `environment`, `resource_attributes`, `exporters`, `endpoint`, \
    `traces_endpoint`, `logs_endpoint`, `protocol`, `headers`, `compression`, `insecure`, `certificate`, \
    `timeout_ms`, `sampler`, `sample_rate`, `propagators`, `batch`, `json_file_path`, \
    `html_file_path`, `console_verbose`, `shutdown_timeout_ms`";

#[test]
fn an_unknown_key_names_the_closest_known_one() {
    assert_eq!(
        load_error(&[("APP_TRACING_SAMPEL_RATE", "0.5")]),
        format!(
            "invalid tracing config: `sampel_rate` (from environment variable \
             APP_TRACING_SAMPEL_RATE): no such key (did you mean APP_TRACING_SAMPLE_RATE?); \
             known keys are {KNOWN_KEYS}"
        )
    );
    assert_eq!(
        load_error(&[("APP_TRACING_BATCH__MAX_QUEUE_SIZ", "10")]),
        "invalid tracing config: `batch.max_queue_siz` (from environment variable \
         APP_TRACING_BATCH__MAX_QUEUE_SIZ): no such key (did you mean \
         APP_TRACING_BATCH__MAX_QUEUE_SIZE?); known keys are `max_queue_size`, \
         `max_export_batch_size`, `scheduled_delay_ms`, `export_timeout_ms`, \
         `max_concurrent_exports`"
    );
    let file = yaml_file("servce_name: checkout\n");
    let error = ConfigLoader::new()
        .file(file.path())
        .env_vars::<&str, &str>([])
        .load()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "invalid tracing config: `servce_name` (from file {}): no such key (did you mean \
             `service_name`?); known keys are {KNOWN_KEYS}",
            file.path().display()
        )
    );
    // Nothing close: no guess.
    let message = load_error(&[("APP_TRACING_COLOUR", "blue")]);
    assert!(
        message.ends_with(&format!("no such key; known keys are {KNOWN_KEYS}")),
        "{message}"
    );
}

#[test]
fn unknown_keys_unknown_samplers_and_propagators_are_errors() {
    let message = load_error(&[("APP_TRACING_SAMPEL_RATE", "0.5")]);
    assert!(message.contains("`sampel_rate`"), "{message}");
    assert!(message.contains("no such key"), "{message}");
    let message = load_error(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")]);
    assert!(message.contains("parentbased_traceidratio"), "{message}");
    let message = load_error(&[("OTEL_PROPAGATORS", "tracecontext,b3")]);
    assert!(message.contains("b3"), "{message}");
    assert!(message.contains("tracecontext, baggage, none"), "{message}");
}

#[test]
fn inconsistent_batch_settings_and_missing_files_are_errors() {
    let message = load_error(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20"),
    ]);
    assert!(message.contains("batch.max_export_batch_size"), "{message}");
    assert_eq!(
        load_error(&[("APP_TRACING_BATCH__MAX_CONCURRENT_EXPORTS", "0")]),
        "invalid tracing config: `batch.max_concurrent_exports` = 0 (from environment \
         variable APP_TRACING_BATCH__MAX_CONCURRENT_EXPORTS): a whole number greater than zero"
    );
    let error = ConfigLoader::new()
        .file("/nonexistent/tracing.yaml")
        .env_vars::<&str, &str>([])
        .load()
        .unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/tracing.yaml"),
        "{error}"
    );
    let message = load_error(&[("OTEL_TRACES_EXPORTER", "json-file")]);
    assert!(message.contains("json_file_path"), "{message}");
}
