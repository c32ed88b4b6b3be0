//! The resource that describes this service on every exported span (and log record).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::{ResourceDetector, TelemetryResourceDetector};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use opentelemetry_semantic_conventions::resource::{
    DEPLOYMENT_ENVIRONMENT_NAME, SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE,
    SERVICE_VERSION,
};

use crate::Config;

/// The resource [`init`](crate::init) gives the spans of `config`, for other signals of
/// the same process (trace-log's OTLP log records, metrics of your own) to describe the
/// service exactly as the traces do.
///
/// It holds the `telemetry.sdk.*` attributes, then `resource_attributes` (including
/// `OTEL_RESOURCE_ATTRIBUTES`), then the explicit keys `service_name`,
/// `service_version`, `service_namespace`, `service_instance_id` and `environment` on
/// top. When none of these sets `service.name`, it is `unknown_service:<executable>`.
/// When none sets `service.instance.id`, it is a random UUID v4 chosen once per
/// process: every call, and every `init`, in one process gives the same one, so spans
/// and log records of one process carry the same `service.instance.id`.
///
/// Resource detectors added with
/// [`TracingBuilder::with_resource_detector`](crate::TracingBuilder::with_resource_detector)
/// are not run here; [`TracingGuard::resource`](crate::TracingGuard::resource) is the
/// resource `init` built, detectors included.
///
/// ```
/// use opentelemetry::Key;
///
/// let config = trace_core::Config {
///     service_name: Some("checkout".into()),
///     ..Default::default()
/// };
/// let resource = trace_core::resource(&config);
/// assert_eq!(resource.get(&Key::new("service.name")).unwrap().as_str(), "checkout");
/// let instance = Key::new("service.instance.id");
/// assert_eq!(resource.get(&instance), trace_core::resource(&config).get(&instance));
/// ```
pub fn resource(config: &Config) -> Resource {
    build(config, &[])
}

/// Builds the resource: the `telemetry.sdk.*` attributes, then what `detectors` find,
/// then `resource_attributes` (incl. `OTEL_RESOURCE_ATTRIBUTES`) and the explicit
/// service keys on top; `service.name` and `service.instance.id` get defaults when
/// none of these set them.
pub(crate) fn build(config: &Config, detectors: &[Box<dyn ResourceDetector>]) -> Resource {
    let mut attributes: BTreeMap<String, String> = config.resource_attributes.clone();
    let explicit = [
        (SERVICE_NAME, &config.service_name),
        (SERVICE_VERSION, &config.service_version),
        (SERVICE_NAMESPACE, &config.service_namespace),
        (SERVICE_INSTANCE_ID, &config.service_instance_id),
        (DEPLOYMENT_ENVIRONMENT_NAME, &config.environment),
    ];
    for (key, value) in explicit {
        if let Some(value) = value {
            attributes.insert(key.to_owned(), value.clone());
        }
    }
    let detected = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_detectors(detectors)
        .build();
    let detected_has = |key: &'static str| detected.get(&Key::from_static_str(key)).is_some();
    if !detected_has(SERVICE_NAME) {
        attributes
            .entry(SERVICE_NAME.to_owned())
            .or_insert_with(default_service_name);
    }
    if !detected_has(SERVICE_INSTANCE_ID) {
        attributes
            .entry(SERVICE_INSTANCE_ID.to_owned())
            .or_insert_with(|| process_instance_id().to_owned());
    }
    let mut builder = Resource::builder_empty().with_attributes(
        detected
            .iter()
            .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
    );
    if let Some(schema_url) = detected.schema_url() {
        builder = builder.with_schema_url(Vec::<KeyValue>::new(), schema_url.to_owned());
    }
    builder
        .with_attributes(
            attributes
                .into_iter()
                .map(|(key, value)| KeyValue::new(key, value)),
        )
        .build()
}

/// `unknown_service:<executable>`, as the OpenTelemetry specification asks.
fn default_service_name() -> String {
    let executable = std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()));
    match executable {
        Some(name) => format!("unknown_service:{name}"),
        None => "unknown_service".to_owned(),
    }
}

/// This process's default `service.instance.id`: one random id for every resource
/// built in the process, so all its signals agree.
fn process_instance_id() -> &'static str {
    static INSTANCE_ID: OnceLock<String> = OnceLock::new();
    INSTANCE_ID.get_or_init(random_instance_id)
}

/// A random version-4 UUID, the recommended form of `service.instance.id`.
fn random_instance_id() -> String {
    let mut bytes = RandomIdGenerator::default().new_trace_id().to_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
