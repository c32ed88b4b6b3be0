//! Routing spans to per-thread captures (feature `testing` only).
//!
//! A per-thread [`SpanCapture`](super::SpanCapture) pushes a [`Route`] onto its thread's
//! stack. A span goes to a route when
//! 1. its parent context carries a live route's [`Marker`] (the parent is a span that
//!    route captured, or a context derived from one, on whatever thread), else
//! 2. it starts on a thread whose stack has a live route (the innermost one).
//!
//! Spans a route takes are started under a parent context carrying its marker, so the
//! marker travels with the context to tasks and threads the test hands it to. Nothing
//! here is shared between two routes: each has its own provider, and a thread's stack
//! is its own. The only process-wide value is [`INSTALLED`], a switch that stays off
//! until the first per-thread capture, so processes that never install one (a
//! benchmark, say) skip these checks after one relaxed load.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::active::Scope;
use crate::span_start::SpanStart;
use crate::traced_span::{ProviderSpan, TracedSpan};

/// Whether a per-thread capture was ever installed in this process. Set once, never
/// cleared: it only says whether the checks below can find anything.
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's per-thread captures, innermost last.
    static ROUTES: RefCell<Vec<Route>> = const { RefCell::new(Vec::new()) };
}

/// Where a per-thread capture's spans go: its own provider.
#[derive(Debug, Clone)]
pub(crate) struct Route(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    provider: SdkTracerProvider,
    /// False once the capture is dropped: its markers, wherever they are, stop routing.
    live: AtomicBool,
}

/// The context value that ties a trace to the capture its span was routed to.
#[derive(Debug, Clone)]
struct Marker(Route);

impl Route {
    /// Routes the spans started on this thread (and under its spans' contexts) to
    /// `provider`, until [`uninstall`](Self::uninstall).
    pub(crate) fn install(provider: SdkTracerProvider) -> Self {
        let route = Route(Arc::new(Inner {
            provider,
            live: AtomicBool::new(true),
        }));
        INSTALLED.store(true, Ordering::Relaxed);
        ROUTES.with_borrow_mut(|routes| routes.push(route.clone()));
        route
    }

    /// Stops routing to this capture: its markers go dead, and this thread's stack
    /// drops it, so the capture installed before it (if any) routes again.
    pub(crate) fn uninstall(&self) {
        self.0.live.store(false, Ordering::Release);
        let _ = ROUTES.try_with(|routes| {
            if let Ok(mut routes) = routes.try_borrow_mut() {
                routes.retain(|route| !Arc::ptr_eq(&route.0, &self.0));
            }
        });
    }

    fn is_live(&self) -> bool {
        self.0.live.load(Ordering::Acquire)
    }

    /// Starts a span of `scope` through this capture's provider, under `parent` with
    /// this route's marker added.
    pub(crate) fn start(
        &self,
        scope: Scope,
        parent: &Context,
        kind: SpanKind,
        build: impl FnOnce() -> SpanStart,
    ) -> TracedSpan {
        let marked;
        let parent = match parent.get::<Marker>() {
            Some(Marker(route)) if Arc::ptr_eq(&route.0, &self.0) => parent,
            _ => {
                marked = parent.with_value(Marker(self.clone()));
                &marked
            }
        };
        let tracer = self
            .0
            .provider
            .tracer_with_scope(scope.instrumentation_scope());
        TracedSpan::build(parent, || {
            ProviderSpan::Sdk(tracer.build_with_context(build().into_builder(kind), parent))
        })
    }

    /// Starts a `tracing` bridge span through this capture's provider. The bridge
    /// builds the span's context itself, from `parent`: a marker there is kept.
    #[cfg(feature = "tracing")]
    pub(crate) fn start_bridged(
        &self,
        scope: Scope,
        builder: opentelemetry::trace::SpanBuilder,
        parent: &Context,
    ) -> opentelemetry_sdk::trace::Span {
        self.0
            .provider
            .tracer_with_scope(scope.instrumentation_scope())
            .build_with_context(builder, parent)
    }
}

/// The route of a span started under `parent` on this thread, if any: the parent's
/// capture, else this thread's innermost one.
#[inline]
pub(crate) fn route_for(parent: &Context) -> Option<Route> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    marked(parent).or_else(this_thread)
}

/// Whether a span started here, under the current context, would be routed to a
/// per-thread capture: such spans are recorded even when trace-core's process-wide
/// state is disabled (another test may have called `init` with `enabled: false`).
#[inline]
pub(crate) fn routed_here() -> bool {
    INSTALLED.load(Ordering::Relaxed)
        && (thread_has_route() || Context::map_current(|cx| live_marker(cx).is_some()))
}

fn live_marker(cx: &Context) -> Option<&Route> {
    match cx.get::<Marker>() {
        Some(Marker(route)) if route.is_live() => Some(route),
        _ => None,
    }
}

fn marked(cx: &Context) -> Option<Route> {
    live_marker(cx).cloned()
}

fn thread_has_route() -> bool {
    ROUTES
        .try_with(|routes| {
            routes
                .try_borrow()
                .is_ok_and(|routes| routes.iter().any(Route::is_live))
        })
        .unwrap_or(false)
}

fn this_thread() -> Option<Route> {
    ROUTES
        .try_with(|routes| {
            let routes = routes.try_borrow().ok()?;
            routes.iter().rev().find(|route| route.is_live()).cloned()
        })
        .ok()
        .flatten()
}
