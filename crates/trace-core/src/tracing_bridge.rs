//! Spans from the `tracing` crate in the same traces (feature `tracing`).
//!
//! [`layer`] is a `tracing-opentelemetry` layer with context activation on: entering a
//! `tracing` span makes its OpenTelemetry context
//! [`Context::current`](opentelemetry::Context::current), so `#[instrument]` functions
//! and trace-core spans nest in both directions.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Before or after `init`: either order works.
//! tracing_subscriber::registry()
//!     .with(trace_core::tracing_bridge::layer())
//!     .init();
//! let guard = trace_core::init(&trace_core::Config::from_env()?)?;
//! # guard.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Which provider
//!
//! The layer holds no tracer of its own. Each `tracing` span starts through an
//! `opentelemetry_sdk` tracer of the provider trace-core uses *when the span starts*
//! (instrumentation scope [`TRACING_SCOPE`]), like every other trace-core span: the one
//! [`init`](crate::init) built, one handed over with [`set_provider`](crate::set_provider),
//! or else `opentelemetry::global`'s. So the subscriber can be installed before or after
//! `init`, a second `init` (or `set_provider`) is picked up by the next span, and the
//! provider's sampler, ID generator, span limits and processors apply to these spans
//! too. Spans started before any provider is set go to `opentelemetry::global`'s
//! provider, a no-op until something installs one. When configuration disabled tracing,
//! the layer skips every span and event (one atomic load each).
//!
//! ## The default filter
//!
//! Libraries that trace-rs already instruments also emit `tracing` spans of their own:
//! sea-orm opens a `trace`-level span for every statement (with `self=...Pool...` debug
//! dumps as fields), sqlx logs every statement as an event, and fred opens a
//! `fred.command` span for every command. trace-db and trace-redis turn those operations
//! into semantic-convention CLIENT spans; bridged as well, each would appear twice, once
//! with a debug dump for attributes. So [`layer`] drops spans and events whose target is
//! one of [`DEFAULT_EXCLUDED_TARGETS`] (`sea_orm`, `sqlx`, `fred`, and every target
//! under them, such as `sqlx::query`), for this layer only: log layers still see them.
//! Change it with [`BridgeFilter`] and [`layer_with_filter`]:
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! use trace_core::tracing_bridge::{self, BridgeFilter};
//!
//! // Keep sqlx's events, also drop hyper's spans.
//! let filter = BridgeFilter::default().include("sqlx").exclude("hyper");
//! let subscriber = tracing_subscriber::registry().with(tracing_bridge::layer_with_filter(filter));
//! # drop(subscriber);
//! ```
//!
//! Any tracing-subscriber [`Filter`] works in its place (a `Targets`, an `EnvFilter`, or
//! `BridgeFilter::default().and(...)` through `tracing_subscriber::filter::FilterExt`);
//! [`BridgeFilter::keep_all`] bridges everything. To tune the layer itself (location
//! fields, thread names, ...), build it from [`tracer`]:
//! `tracing_opentelemetry::layer().with_tracer(tracing_bridge::tracer())` and keep
//! `with_context_activation(true)`.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{
    self as otel, Span as _, SpanBuilder, SpanContext, Status, TraceContextExt as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, global};
use tracing::Metadata;
use tracing::subscriber::Interest;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Context as LayerContext, Filter};
use tracing_subscriber::registry::LookupSpan;

use crate::active::{self, Scope, Target};
use crate::traced_span::not_recording_span_context;

/// The instrumentation scope name of spans that come from `tracing`.
pub const TRACING_SCOPE: &str = "tracing";

/// The scope of bridged spans: no version, as `tracing` spans come from any library.
const SCOPE: Scope = Scope {
    name: TRACING_SCOPE,
    version: "",
};

/// Targets whose spans and events [`layer`] does not bridge, each with every target
/// under it (`sqlx` covers `sqlx::query`): trace-db and trace-redis already make
/// semantic-convention spans of what these libraries trace.
pub const DEFAULT_EXCLUDED_TARGETS: &[&str] = &["sea_orm", "sqlx", "fred"];

/// The layer [`layer`] and [`layer_with_filter`] return: tracing-opentelemetry's layer
/// on a [`BridgeTracer`], behind the per-layer filter `F`.
pub type BridgeSubscriberLayer<S, F = BridgeFilter> =
    Filtered<OpenTelemetryLayer<S, BridgeTracer>, F, S>;

/// The `tracing` bridge with the default filter (no spans or events from
/// [`DEFAULT_EXCLUDED_TARGETS`]), for any subscriber built on tracing-subscriber's
/// `Registry`: `tracing_subscriber::registry().with(trace_core::tracing_bridge::layer())`.
///
/// Install it before or after [`init`](crate::init); each span goes to the provider
/// in use when it starts (see the [module docs](self)).
pub fn layer<S>() -> BridgeSubscriberLayer<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    layer_with_filter(BridgeFilter::default())
}

/// The `tracing` bridge behind the per-layer filter `filter` instead of the default one,
/// for example `BridgeFilter::default().include("sqlx")` or a tracing-subscriber
/// `Targets`. Only what `filter` enables is bridged; other layers are unaffected.
///
/// A [`BridgeFilter`] also skips everything while configuration disables tracing.
/// With another filter, spans are then still handed to the layer, which makes them
/// non-recording (nothing is exported); `BridgeFilter::default().and(filter)`
/// (`tracing_subscriber::filter::FilterExt`) keeps both.
pub fn layer_with_filter<S, F>(filter: F) -> BridgeSubscriberLayer<S, F>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    F: Filter<S> + 'static,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer())
        .with_context_activation(true)
        .with_filter(filter)
}

/// The tracer the bridge starts spans with, for a tracing-opentelemetry layer built by
/// hand: `tracing_opentelemetry::layer().with_tracer(tracer()).with_context_activation(true)`.
pub fn tracer() -> BridgeTracer {
    BridgeTracer { _private: () }
}

/// Which `tracing` targets the bridge turns into OpenTelemetry spans (and span events).
///
/// [`Default`] excludes [`DEFAULT_EXCLUDED_TARGETS`]; [`keep_all`](Self::keep_all)
/// excludes nothing. A rule for a target covers every target under it (`sqlx` covers
/// `sqlx::query`, not `sqlx_extra`), and the most specific rule wins, so
/// `exclude("sqlx").include("sqlx::query")` keeps only sqlx's statement events. The
/// filter also drops everything while configuration disables tracing.
#[derive(Debug, Clone)]
pub struct BridgeFilter {
    /// `(target, bridged)`, one per target.
    rules: Vec<(Cow<'static, str>, bool)>,
}

impl Default for BridgeFilter {
    fn default() -> Self {
        DEFAULT_EXCLUDED_TARGETS
            .iter()
            .fold(Self::keep_all(), |filter, target| filter.exclude(*target))
    }
}

impl BridgeFilter {
    /// A filter that bridges every target.
    pub fn keep_all() -> Self {
        Self { rules: Vec::new() }
    }

    /// Drops spans and events of `target` and the targets under it.
    pub fn exclude(self, target: impl Into<Cow<'static, str>>) -> Self {
        self.rule(target.into(), false)
    }

    /// Bridges spans and events of `target` and the targets under it, overriding an
    /// exclusion of `target` or of a target above it.
    pub fn include(self, target: impl Into<Cow<'static, str>>) -> Self {
        self.rule(target.into(), true)
    }

    fn rule(mut self, target: Cow<'static, str>, bridged: bool) -> Self {
        match self.rules.iter_mut().find(|(t, _)| *t == target) {
            Some(rule) => rule.1 = bridged,
            None => self.rules.push((target, bridged)),
        }
        self
    }

    /// Whether spans and events of `target` are bridged (tracing switched on or not).
    pub fn bridges(&self, target: &str) -> bool {
        self.rules
            .iter()
            .filter(|(rule, _)| covers(rule, target))
            .max_by_key(|(rule, _)| rule.len())
            .is_none_or(|(_, bridged)| *bridged)
    }
}

/// Whether the rule for `rule` applies to `target`: the same target or one under it.
fn covers(rule: &str, target: &str) -> bool {
    target
        .strip_prefix(rule)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

impl<S> Filter<S> for BridgeFilter {
    fn enabled(&self, metadata: &Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
        active::is_enabled() && self.bridges(metadata.target())
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.bridges(metadata.target()) {
            // Asked again per span: configuration may switch tracing off later.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }
}

/// The bridge's tracer: starts each span through the SDK tracer of the provider
/// trace-core uses at that moment (see the [module docs](self)), so it holds no
/// provider and can be built before [`init`](crate::init).
#[derive(Debug, Clone, Copy)]
pub struct BridgeTracer {
    _private: (),
}

impl otel::Tracer for BridgeTracer {
    type Span = BridgeSpan;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> BridgeSpan {
        // Per-thread test captures (feature `testing` only: not compiled otherwise).
        #[cfg(feature = "testing")]
        let builder = match crate::testing::route::route_for(parent_cx) {
            Some(route) => {
                let span = route.start_bridged(SCOPE, builder, parent_cx);
                return bridge_span(Some(Inner::Sdk(span)), parent_cx);
            }
            None => builder,
        };
        let span = match active::target() {
            Target::Disabled => None,
            Target::Provider => active::with_tracer(SCOPE, |tracer, _known| {
                Inner::Sdk(tracer.build_with_context(builder, parent_cx))
            }),
            Target::Global => Some(Inner::Boxed(
                global::tracer_provider()
                    .tracer_with_scope(SCOPE.instrumentation_scope())
                    .build_with_context(builder, parent_cx),
            )),
        };
        bridge_span(span, parent_cx)
    }
}

/// The bridge's span for what the provider made of it (`None`: no provider).
fn bridge_span(span: Option<Inner>, parent_cx: &Context) -> BridgeSpan {
    match span {
        Some(span) if span.is_recording() => BridgeSpan(span),
        // Dropped by the sampler: its span context is all that is left to keep.
        Some(span) => BridgeSpan(Inner::NotRecording(not_recording_span_context(
            parent_cx,
            span.span_context(),
        ))),
        // Disabled, or the provider was removed since the state was read: the
        // parent's span context is passed on.
        None => BridgeSpan(Inner::NotRecording(parent_cx.span().span_context().clone())),
    }
}

/// A span [`BridgeTracer`] started: the provider's SDK span or the global provider's
/// boxed span while it records, else only a span context.
#[derive(Debug)]
pub struct BridgeSpan(Inner);

#[derive(Debug)]
// Boxing the SDK's span would add an allocation to every span.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Sdk(opentelemetry_sdk::trace::Span),
    Boxed(global::BoxedSpan),
    /// Not sampled, or tracing disabled: nothing to record or end.
    NotRecording(SpanContext),
}

impl Inner {
    fn span_context(&self) -> &SpanContext {
        match self {
            Inner::Sdk(s) => s.span_context(),
            Inner::Boxed(s) => s.span_context(),
            Inner::NotRecording(span_context) => span_context,
        }
    }

    fn is_recording(&self) -> bool {
        match self {
            Inner::Sdk(s) => s.is_recording(),
            Inner::Boxed(s) => s.is_recording(),
            Inner::NotRecording(_) => false,
        }
    }
}

/// Runs one `opentelemetry::trace::Span` method on a recording span; nothing otherwise.
macro_rules! on_span {
    ($span:expr, $s:ident => $call:expr) => {
        match $span {
            Inner::Sdk($s) => $call,
            Inner::Boxed($s) => $call,
            Inner::NotRecording(_) => {}
        }
    };
}

impl otel::Span for BridgeSpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        on_span!(&mut self.0, s => s.add_event_with_timestamp(name, timestamp, attributes));
    }

    fn span_context(&self) -> &SpanContext {
        self.0.span_context()
    }

    fn is_recording(&self) -> bool {
        self.0.is_recording()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        on_span!(&mut self.0, s => s.set_attribute(attribute));
    }

    fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        on_span!(&mut self.0, s => s.set_attributes(attributes));
    }

    fn set_status(&mut self, status: Status) {
        on_span!(&mut self.0, s => s.set_status(status));
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        on_span!(&mut self.0, s => s.update_name(new_name));
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        on_span!(&mut self.0, s => s.add_link(span_context, attributes));
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        on_span!(&mut self.0, s => s.end_with_timestamp(timestamp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_cover_their_target_and_the_targets_under_it() {
        let filter = BridgeFilter::default();
        for target in [
            "sea_orm",
            "sea_orm::driver::sqlx_sqlite",
            "sqlx::query",
            "fred",
        ] {
            assert!(!filter.bridges(target), "{target}");
        }
        for target in ["sea_orm_migration", "sqlx_extra", "my_service", "tracing"] {
            assert!(filter.bridges(target), "{target}");
        }
    }

    #[test]
    fn the_most_specific_rule_wins_whatever_the_order() {
        let filter = BridgeFilter::default()
            .include("sqlx::query")
            .exclude("my_service::noisy");
        assert!(filter.bridges("sqlx::query"));
        assert!(!filter.bridges("sqlx::pool"));
        assert!(!filter.bridges("my_service::noisy::inner"));
        assert!(filter.bridges("my_service"));
        let filter = BridgeFilter::default().include("sqlx");
        assert!(filter.bridges("sqlx::query"));
        assert!(!filter.bridges("sea_orm"));
        assert!(BridgeFilter::keep_all().bridges("sea_orm"));
    }
}
