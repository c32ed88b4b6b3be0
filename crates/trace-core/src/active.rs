//! The tracer provider that trace-core's instrumentation currently reports to.
//!
//! `init` and the test capture install one; [`ScopedTracer`](crate::ScopedTracer)s read
//! it. The enabled flag and the sampling policy are atomics so the disabled and
//! unsampled paths never take a lock.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::pipeline::{Pipeline, PipelineHandle};
use crate::sampling::{self, Sampling};

static ENABLED: AtomicBool = AtomicBool::new(false);
static GENERATION: AtomicU64 = AtomicU64::new(1);
static INSTALLED: RwLock<Option<(SdkTracerProvider, Arc<Pipeline>)>> = RwLock::new(None);

thread_local! {
    /// This thread's copy of the installed pipeline, tagged with the generation it
    /// belongs to: a shared `RwLock` costs two atomic read-modify-writes per span.
    static PIPELINE: RefCell<Option<(u64, Arc<PipelineHandle>)>> = const { RefCell::new(None) };
}

/// Makes `provider` the target of all trace-core instrumentation, sampled by `policy`;
/// trace-core's own spans end in `pipeline`, the provider's processors.
pub(crate) fn install(provider: SdkTracerProvider, policy: Sampling, pipeline: Arc<Pipeline>) {
    sampling::store(policy);
    *INSTALLED
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((provider, pipeline));
    GENERATION.fetch_add(1, Ordering::AcqRel);
    ENABLED.store(true, Ordering::Release);
}

/// Switches instrumentation off; spans started afterwards are no-ops.
pub(crate) fn uninstall() {
    ENABLED.store(false, Ordering::Release);
    *INSTALLED
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Whether a provider is installed: the first check of every span start.
#[inline]
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The installed provider, for the `tracing` bridge's SDK tracer.
#[cfg(feature = "tracing")]
pub(crate) fn provider() -> Option<SdkTracerProvider> {
    INSTALLED
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .as_ref()
        .map(|(provider, _)| provider.clone())
}

/// This thread's handle on the installed pipeline, made again after each install.
#[inline]
pub(crate) fn pipeline() -> Option<Arc<PipelineHandle>> {
    let generation = GENERATION.load(Ordering::Acquire);
    let cached = PIPELINE.try_with(|cached| match &*cached.borrow() {
        Some((tag, pipeline)) if *tag == generation => Some(Arc::clone(pipeline)),
        _ => None,
    });
    if let Ok(Some(pipeline)) = cached {
        return Some(pipeline);
    }
    let shared = INSTALLED
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .as_ref()
        .map(|(_, pipeline)| Arc::clone(pipeline))?;
    let pipeline = Arc::new(PipelineHandle(shared));
    // Not cached while the thread is exiting.
    let _ = PIPELINE.try_with(|cached| {
        *cached.borrow_mut() = Some((generation, Arc::clone(&pipeline)));
    });
    Some(pipeline)
}
