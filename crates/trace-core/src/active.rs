//! Which tracer provider trace-core's instrumentation starts its spans with.
//!
//! Three states, read with one atomic load on every span start:
//! - **global** (the start state): spans go through `opentelemetry::global`'s provider,
//!   whoever installed it, with the OpenTelemetry API's boxed tracer;
//! - **provider**: [`init`](crate::init) or [`set_provider`] handed trace-core an
//!   `SdkTracerProvider`, whose concrete tracer is used (no boxing, cached per thread);
//! - **disabled**: configuration turned tracing off; spans are no-ops.
//!
//! With the `testing` feature only, a per-thread `SpanCapture` overrides all three for
//! the spans it routes (`testing/route.rs`); without the feature those checks are not
//! compiled at all.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::known_sampler::KnownSampler;

const GLOBAL: u8 = 0;
const DISABLED: u8 = 1;
const PROVIDER: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(GLOBAL);
static GENERATION: AtomicU64 = AtomicU64::new(1);
static PROVIDER_SET: RwLock<Option<(SdkTracerProvider, Option<KnownSampler>)>> = RwLock::new(None);

/// Where a span is started, as decided by the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Disabled,
    Global,
    Provider,
}

/// The instrumentation scope of a [`ScopedTracer`](crate::ScopedTracer) or of the
/// `tracing` bridge's spans.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope {
    pub(crate) name: &'static str,
    pub(crate) version: &'static str,
}

impl Scope {
    /// The scope, without a version when `version` is empty.
    pub(crate) fn instrumentation_scope(self) -> InstrumentationScope {
        let builder = InstrumentationScope::builder(self.name);
        if self.version.is_empty() {
            builder.build()
        } else {
            builder.with_version(self.version).build()
        }
    }

    #[inline]
    fn is(self, other: Scope) -> bool {
        // The same `static` tracer gives the same pointers: no string comparison then.
        let same = |a: &'static str, b: &'static str| std::ptr::eq(a, b) || a == b;
        same(self.name, other.name) && same(self.version, other.version)
    }
}

/// This thread's tracers of the provider in use, one per scope, and a copy of its known
/// sampler, tagged with the generation they belong to: making a tracer allocates, and
/// a shared map would be a lock every thread takes on every span.
struct Tracers {
    generation: u64,
    tracers: Vec<(Scope, SdkTracer)>,
    known: Option<KnownSampler>,
}

thread_local! {
    static TRACERS: RefCell<Tracers> = const {
        RefCell::new(Tracers { generation: 0, tracers: Vec::new(), known: None })
    };
}

/// Makes `provider` the one trace-core's instrumentation starts spans with.
///
/// For a provider built outside trace-core: trace-core then uses its concrete tracer
/// instead of going through `opentelemetry::global`, which boxes every tracer and
/// span. The caller keeps the provider's lifecycle: flush and shut it down as usual.
/// [`init`](crate::init) calls this for the provider it builds. This does not make
/// `provider` the global provider; call `opentelemetry::global::set_tracer_provider`
/// as well if other instrumentation should use it.
///
/// ```
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(exporter.clone())
///     .build();
/// opentelemetry::global::set_tracer_provider(provider.clone());
/// trace_core::set_provider(provider.clone());
/// // ... serve; trace-core's spans reach `exporter` ...
/// provider.shutdown().unwrap();
/// ```
pub fn set_provider(provider: SdkTracerProvider) {
    set_built_provider(provider, None);
}

/// Makes `provider` the one in use; `known` is its sampler and ID generator when
/// trace-core built them.
pub(crate) fn set_built_provider(provider: SdkTracerProvider, known: Option<KnownSampler>) {
    *PROVIDER_SET.write().unwrap_or_else(PoisonError::into_inner) = Some((provider, known));
    GENERATION.fetch_add(1, Ordering::AcqRel);
    MODE.store(PROVIDER, Ordering::Release);
}

/// Switches instrumentation off: spans started afterwards are no-ops.
pub(crate) fn disable() {
    MODE.store(DISABLED, Ordering::Release);
    forget_provider();
}

/// Back to the start state: spans go through `opentelemetry::global`'s provider.
#[cfg(feature = "testing")]
pub(crate) fn use_global() {
    MODE.store(GLOBAL, Ordering::Release);
    forget_provider();
}

/// The process-wide state, as a process-wide `SpanCapture` found it.
#[cfg(feature = "testing")]
pub(crate) struct Saved {
    mode: u8,
    provider: Option<(SdkTracerProvider, Option<KnownSampler>)>,
}

#[cfg(feature = "testing")]
impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved")
            .field("mode", &self.mode)
            .field("provider", &self.provider.is_some())
            .finish()
    }
}

/// The process-wide state now, for [`restore`].
#[cfg(feature = "testing")]
pub(crate) fn save() -> Saved {
    let provider = PROVIDER_SET
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Saved {
        mode: MODE.load(Ordering::Acquire),
        provider,
    }
}

/// Puts back the process-wide state [`save`] returned.
#[cfg(feature = "testing")]
pub(crate) fn restore(saved: Saved) {
    *PROVIDER_SET.write().unwrap_or_else(PoisonError::into_inner) = saved.provider;
    GENERATION.fetch_add(1, Ordering::AcqRel);
    MODE.store(saved.mode, Ordering::Release);
}

fn forget_provider() {
    *PROVIDER_SET.write().unwrap_or_else(PoisonError::into_inner) = None;
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Whether trace-core's instrumentation starts spans: false only when configuration
/// disabled tracing (`enabled: false`, `OTEL_SDK_DISABLED=true`). Instrumentation checks
/// it first, so a disabled service pays one atomic load per operation.
#[inline]
pub fn is_enabled() -> bool {
    MODE.load(Ordering::Relaxed) != DISABLED || routed_to_capture()
}

/// Whether a per-thread test capture takes the spans started here (feature `testing`):
/// they are recorded whatever the process-wide state.
#[cfg(feature = "testing")]
#[inline]
fn routed_to_capture() -> bool {
    crate::testing::route::routed_here()
}

/// Without the `testing` feature there are no per-thread captures: a constant the
/// compiler folds away, so `is_enabled` is the one atomic load.
#[cfg(not(feature = "testing"))]
#[inline(always)]
fn routed_to_capture() -> bool {
    false
}

#[inline]
pub(crate) fn target() -> Target {
    match MODE.load(Ordering::Acquire) {
        DISABLED => Target::Disabled,
        PROVIDER => Target::Provider,
        _ => Target::Global,
    }
}

/// Runs `start` with this thread's tracer for `scope` on the provider in use, and the
/// provider's known sampler if trace-core built it; `None` when no provider is set (it
/// was removed since the state was read).
#[inline]
pub(crate) fn with_tracer<R>(
    scope: Scope,
    start: impl FnOnce(&SdkTracer, Option<&KnownSampler>) -> R,
) -> Option<R> {
    let generation = GENERATION.load(Ordering::Acquire);
    let mut start = Some(start);
    let cached = TRACERS.try_with(|cell| {
        // Shared: a processor's `on_start` may start a span of its own in here.
        let tracers = cell.try_borrow().ok()?;
        if tracers.generation != generation {
            return None;
        }
        let (_, tracer) = tracers.tracers.iter().find(|(s, _)| s.is(scope))?;
        start
            .take()
            .map(|start| start(tracer, tracers.known.as_ref()))
    });
    if let Ok(Some(result)) = cached {
        return Some(result);
    }
    let (tracer, known) = {
        let set = PROVIDER_SET.read().unwrap_or_else(PoisonError::into_inner);
        let (provider, known) = set.as_ref()?;
        (
            provider.tracer_with_scope(scope.instrumentation_scope()),
            known.clone(),
        )
    };
    // Not cached while the thread exits, or while this thread is inside a span start.
    let _ = TRACERS.try_with(|cell| {
        if let Ok(mut tracers) = cell.try_borrow_mut() {
            if tracers.generation != generation {
                tracers.tracers.clear();
                tracers.generation = generation;
                tracers.known.clone_from(&known);
            }
            tracers.tracers.push((scope, tracer.clone()));
        }
    });
    start.take().map(|start| start(&tracer, known.as_ref()))
}
