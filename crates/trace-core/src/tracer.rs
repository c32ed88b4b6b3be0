//! [`ScopedTracer`]: starts spans through the provider in use, with the disabled case
//! decided before anything is built.

use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, Tracer as _, TracerProvider as _};

use crate::active::{self, Scope, Target};
use crate::known_sampler::{Decided, ProviderIds};
use crate::span_start::SpanStart;
use crate::traced_span::{ProviderSpan, TracedSpan};

/// A tracer for one instrumentation scope, started through whichever provider the
/// service uses.
///
/// Declare one per crate or module as a `static`. Spans go through the OpenTelemetry
/// SDK pipeline of that provider: its sampler decides, its ID generator makes the
/// ids, its span limits apply, and its processors see `on_start` and `on_end`. The
/// provider is, in this order:
/// - the one [`init`](crate::init) built, or one handed over with
///   [`set_provider`](crate::set_provider): its concrete SDK tracer is used;
/// - otherwise `opentelemetry::global`'s provider, whoever installed it, through the
///   OpenTelemetry API (boxed, so a little slower).
///
/// When configuration disabled tracing, spans are no-ops that cost one atomic load.
///
/// ```
/// use opentelemetry::trace::SpanKind;
/// use opentelemetry::KeyValue;
/// use trace_core::{ScopedTracer, SpanStart};
///
/// static TRACER: ScopedTracer = ScopedTracer::new("my-crate", env!("CARGO_PKG_VERSION"));
///
/// let span = TRACER.start(SpanKind::Internal, || {
///     SpanStart::new("load profile").with_attribute(KeyValue::new("user.id", 42))
/// });
/// // Built only when the span records.
/// span.set_attributes(|| [KeyValue::new("profile.cached", false)]);
/// // ... do the work ...
/// span.end();
/// ```
#[derive(Debug)]
pub struct ScopedTracer {
    scope: Scope,
}

impl ScopedTracer {
    /// A tracer for the scope `name` (usually the crate name) at `version`.
    pub const fn new(name: &'static str, version: &'static str) -> Self {
        Self {
            scope: Scope { name, version },
        }
    }

    /// Starts a span whose parent is [`Context::current`].
    ///
    /// `build` gives the span's name and the attributes its sampler sees; it runs
    /// unless tracing is disabled. Add attributes the sampler does not need with
    /// [`TracedSpan::set_attributes`], which builds them only for a recording span.
    #[inline]
    pub fn start(&self, kind: SpanKind, build: impl FnOnce() -> SpanStart) -> TracedSpan {
        if !active::is_enabled() {
            return TracedSpan::disabled();
        }
        self.start_in(&Context::current(), kind, build)
    }

    /// Starts a span as a child of `parent` (for example a context extracted from
    /// incoming headers).
    #[inline]
    pub fn start_with_parent(
        &self,
        parent: &Context,
        kind: SpanKind,
        build: impl FnOnce() -> SpanStart,
    ) -> TracedSpan {
        if !active::is_enabled() {
            return TracedSpan::disabled();
        }
        self.start_in(parent, kind, build)
    }

    fn start_in(
        &self,
        parent: &Context,
        kind: SpanKind,
        build: impl FnOnce() -> SpanStart,
    ) -> TracedSpan {
        // Per-thread test captures (feature `testing` only: not compiled otherwise).
        #[cfg(feature = "testing")]
        if let Some(route) = crate::testing::route::route_for(parent) {
            return route.start(self.scope, parent, kind, build);
        }
        match active::target() {
            Target::Disabled => TracedSpan::disabled(),
            // The span is wrapped where the SDK returns it: a bare SDK span is a few
            // hundred bytes, and every move of it is a copy.
            Target::Provider => active::with_tracer(self.scope, |tracer, known| {
                // The sampler trace-core built may decide before the SDK is called
                // (known_sampler.rs): a span it drops is the SDK's non-recording span
                // without the SDK's detour.
                let decided = known.map_or(Decided::Undecided, |known| known.decide(parent));
                let ids_drawn = match decided {
                    Decided::Dropped(span_context) => {
                        return TracedSpan::not_recording(parent, &span_context);
                    }
                    Decided::IdsDrawn => true,
                    Decided::Undecided => false,
                };
                let span = TracedSpan::build(parent, || {
                    ProviderSpan::Sdk(tracer.build_with_context(build().into_builder(kind), parent))
                });
                if ids_drawn {
                    ProviderIds::forget_pending();
                }
                span
            })
            // The provider was removed between the two reads: as if disabled.
            .unwrap_or_else(TracedSpan::disabled),
            Target::Global => {
                let tracer = opentelemetry::global::tracer_provider()
                    .tracer_with_scope(self.scope.instrumentation_scope());
                let span = tracer.build_with_context(build().into_builder(kind), parent);
                TracedSpan::new(parent, ProviderSpan::Boxed(span))
            }
        }
    }
}
