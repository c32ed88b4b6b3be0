//! The `tracing` bridge: either order of subscriber and `init`, a new provider picked
//! up, the global provider, and the default filter.

use std::sync::{Arc, Mutex, MutexGuard};

use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
use trace_core::config::ExporterKind;
use trace_core::testing::CapturedSpan;
use trace_core::tracing_bridge::{self, BridgeFilter};
use trace_core::{Config, ScopedTracer, SpanStart, TracingBuilder, TracingGuard};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

static TRACER: ScopedTracer = ScopedTracer::new("bridge-test", "0.0.0");

/// trace-core's provider is process-wide: these tests take turns.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `trace_core::init` with spans kept in memory.
fn init_in_memory() -> (TracingGuard, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let config = Config {
        exporters: vec![ExporterKind::None],
        ..Config::default()
    };
    let guard = TracingBuilder::new(&config)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .init()
        .expect("valid config");
    (guard, exporter)
}

fn finished(exporter: &InMemorySpanExporter) -> Vec<CapturedSpan> {
    exporter
        .get_finished_spans()
        .unwrap_or_default()
        .into_iter()
        .map(CapturedSpan::from)
        .collect()
}

fn find(spans: &[CapturedSpan], name: &str) -> CapturedSpan {
    let found: Vec<&CapturedSpan> = spans.iter().filter(|s| s.name() == name).collect();
    assert_eq!(found.len(), 1, "one {name:?} in {:#?}", names(spans));
    found[0].clone()
}

fn names(spans: &[CapturedSpan]) -> Vec<&str> {
    spans.iter().map(CapturedSpan::name).collect()
}

#[tracing::instrument]
fn instrumented_child() {}

#[tracing::instrument]
fn instrumented_parent() {
    TRACER
        .start(SpanKind::Internal, || SpanStart::new("native child"))
        .end();
}

/// A native span with an `#[instrument]` child, then an `#[instrument]` span with a
/// native child.
fn nest_both_ways() {
    let native = TRACER.start(SpanKind::Server, || SpanStart::new("native parent"));
    {
        let _attached = native.context().clone().attach();
        instrumented_child();
    }
    native.end();
    instrumented_parent();
}

fn assert_nested_both_ways(spans: &[CapturedSpan]) {
    let child = find(spans, "instrumented_child");
    child.assert_child_of(&find(spans, "native parent"));
    let parent = find(spans, "instrumented_parent");
    find(spans, "native child").assert_child_of(&parent);
    assert_eq!(
        parent.instrumentation_scope.name(),
        tracing_bridge::TRACING_SCOPE
    );
    assert_eq!(parent.instrumentation_scope.version(), None);
    assert_eq!(spans.len(), 4, "{:#?}", names(spans));
}

#[test]
fn a_subscriber_installed_before_init_bridges_instrument_spans_both_ways() {
    let _turn = turn();
    let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer());
    tracing::subscriber::with_default(subscriber, || {
        let (guard, exporter) = init_in_memory();
        nest_both_ways();
        assert_nested_both_ways(&finished(&exporter));
        guard.shutdown().expect("shut down");
    });
}

#[test]
fn a_subscriber_installed_after_init_bridges_instrument_spans_both_ways() {
    let _turn = turn();
    let (guard, exporter) = init_in_memory();
    let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer());
    tracing::subscriber::with_default(subscriber, nest_both_ways);
    assert_nested_both_ways(&finished(&exporter));
    guard.shutdown().expect("shut down");
}

#[test]
fn a_second_init_is_picked_up_by_the_installed_bridge() {
    let _turn = turn();
    let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer());
    tracing::subscriber::with_default(subscriber, || {
        let (first_guard, first) = init_in_memory();
        tracing::info_span!("under the first").in_scope(|| {});
        let (second_guard, second) = init_in_memory();
        tracing::info_span!("under the second").in_scope(|| {});
        assert_eq!(names(&finished(&first)), ["under the first"]);
        assert_eq!(names(&finished(&second)), ["under the second"]);
        second_guard.shutdown().expect("shut down");
        first_guard.shutdown().expect("shut down");
    });
}

#[test]
fn a_provider_handed_over_is_used_with_its_sampler() {
    let _turn = turn();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
        .build();
    trace_core::set_provider(provider.clone());
    let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("dropped by the sampler").in_scope(|| {
            let current = Context::current();
            let span = current.span();
            let own = span.span_context();
            assert!(own.is_valid(), "an unsampled span has a span context");
            assert!(!own.is_sampled());
        });
    });
    assert!(finished(&exporter).is_empty());
    provider.shutdown().expect("shut down");
}

#[test]
fn without_a_provider_of_its_own_the_bridge_uses_the_global_one() {
    let _turn = turn();
    // Back to the start state: trace-core has no provider of its own.
    trace_core::testing::reset();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer());
    tracing::subscriber::with_default(subscriber, nest_both_ways);
    assert_nested_both_ways(&finished(&exporter));
    opentelemetry::global::set_tracer_provider(
        opentelemetry::trace::noop::NoopTracerProvider::new(),
    );
    provider.shutdown().expect("shut down");
}

#[test]
fn with_tracing_disabled_the_bridge_makes_no_spans() {
    let _turn = turn();
    let config = Config {
        enabled: false,
        ..Config::default()
    };
    let guard = trace_core::init(&config).expect("valid config");
    let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("off").in_scope(|| {
            assert!(!Context::current().span().span_context().is_valid());
        });
    });
    guard.shutdown().expect("shut down");
}

/// The names of the spans a layer beside the bridge sees, and events' targets.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl<S> tracing_subscriber::Layer<S> for Seen
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: LayerContext<'_, S>,
    ) {
        let name = attrs.metadata().name().to_owned();
        self.0.lock().unwrap().push(name);
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        let target = format!("event {}", event.metadata().target());
        self.0.lock().unwrap().push(target);
    }
}

/// What a database library traces through `tracing` inside a user's span.
fn library_spans_inside_a_user_span() {
    tracing::info_span!("user work").in_scope(|| {
        tracing::trace_span!(target: "sea_orm::driver::sqlx_sqlite", "query_all", "self" = "SqlxSqlitePoolConnection { .. }").in_scope(|| {
            tracing::info!(target: "sqlx::query", summary = "SELECT 1", "statement");
        });
        tracing::info_span!(target: "fred::trace", "fred.command").in_scope(|| {});
        tracing::info_span!(target: "sqlx_extra", "not sqlx").in_scope(|| {});
    });
}

#[test]
fn the_default_filter_drops_sea_orm_sqlx_and_fred_for_the_bridge_only() {
    let _turn = turn();
    let (guard, exporter) = init_in_memory();
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_bridge::layer())
        .with(seen.clone());
    tracing::subscriber::with_default(subscriber, library_spans_inside_a_user_span);

    let spans = finished(&exporter);
    assert_eq!(names(&spans), ["not sqlx", "user work"]);
    let user = find(&spans, "user work");
    assert!(user.events.is_empty(), "{:?}", user.events);
    // Other layers still see everything.
    assert_eq!(
        *seen.0.lock().unwrap(),
        [
            "user work",
            "query_all",
            "event sqlx::query",
            "fred.command",
            "not sqlx"
        ]
    );
    guard.shutdown().expect("shut down");
}

#[test]
fn a_filter_of_ones_own_replaces_the_default() {
    let _turn = turn();
    let (guard, exporter) = init_in_memory();
    let filter = BridgeFilter::default()
        .include("sqlx")
        .exclude("sqlx_extra");
    let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer_with_filter(filter));
    tracing::subscriber::with_default(subscriber, library_spans_inside_a_user_span);
    let spans = finished(&exporter);
    assert_eq!(names(&spans), ["user work"]);
    assert_eq!(find(&spans, "user work").event_names(), ["statement"]);
    exporter.reset();

    let subscriber = tracing_subscriber::registry()
        .with(tracing_bridge::layer_with_filter(BridgeFilter::keep_all()));
    tracing::subscriber::with_default(subscriber, library_spans_inside_a_user_span);
    let spans = finished(&exporter);
    let query = find(&spans, "query_all");
    query.assert_child_of(&find(&spans, "user work"));
    assert_eq!(query.attr("self"), "SqlxSqlitePoolConnection { .. }");
    assert_eq!(spans.len(), 4, "{:#?}", names(&spans));
    guard.shutdown().expect("shut down");
}

#[test]
fn a_bridged_span_passes_a_remote_parents_random_flag_on_sampled_or_not() {
    let _turn = turn();
    let (guard, _exporter) = init_in_memory();
    let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer());
    tracing::subscriber::with_default(subscriber, || {
        for flags in ["03", "02"] {
            let remote = trace_core::propagation::parse_traceparent(&format!(
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-{flags}"
            ))
            .unwrap();
            let remote = opentelemetry::trace::SpanContext::new(
                remote.trace_id(),
                remote.span_id(),
                remote.trace_flags(),
                true,
                Default::default(),
            );
            let _parent = Context::new().with_remote_span_context(remote).attach();
            tracing::info_span!("handler").in_scope(|| {
                let mut headers = std::collections::HashMap::new();
                trace_core::propagation::inject_context(&Context::current(), &mut headers);
                let sent = headers.remove("traceparent").unwrap_or_default();
                assert!(
                    sent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
                    "{flags} -> {sent}"
                );
                assert!(
                    !sent.contains("b7ad6b7169203331"),
                    "a span of its own: {sent}"
                );
                assert!(sent.ends_with(&format!("-{flags}")), "{flags} -> {sent}");
            });
        }
    });
    guard.shutdown().expect("shut down");
}

#[test]
fn the_default_filter_combines_with_another() {
    use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};

    let _turn = turn();
    let (guard, exporter) = init_in_memory();
    let infos = Targets::new().with_default(LevelFilter::INFO);
    let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer_with_filter(
        BridgeFilter::default().and(infos),
    ));
    tracing::subscriber::with_default(subscriber, || {
        tracing::debug_span!("debug work").in_scope(|| {});
        library_spans_inside_a_user_span();
    });
    assert_eq!(names(&finished(&exporter)), ["not sqlx", "user work"]);
    guard.shutdown().expect("shut down");
}
