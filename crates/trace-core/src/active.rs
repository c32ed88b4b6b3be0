//! The tracer provider that trace-core's instrumentation currently reports to.
//!
//! `init` and the test capture install one; [`ScopedTracer`](crate::ScopedTracer)s read
//! it. The enabled flag and the sampling policy are atomics so the disabled and
//! unsampled paths never take a lock.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::sampling::{self, Sampling};

static ENABLED: AtomicBool = AtomicBool::new(false);
static GENERATION: AtomicU64 = AtomicU64::new(1);
static PROVIDER: RwLock<Option<SdkTracerProvider>> = RwLock::new(None);

/// Makes `provider` the target of all trace-core instrumentation, sampled by `policy`.
pub(crate) fn install(provider: SdkTracerProvider, policy: Sampling) {
    sampling::store(policy);
    *PROVIDER
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(provider);
    GENERATION.fetch_add(1, Ordering::AcqRel);
    ENABLED.store(true, Ordering::Release);
}

/// Switches instrumentation off; spans started afterwards are no-ops.
pub(crate) fn uninstall() {
    ENABLED.store(false, Ordering::Release);
    *PROVIDER
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Whether a provider is installed: the first check of every span start.
#[inline]
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

#[inline]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

pub(crate) fn provider() -> Option<SdkTracerProvider> {
    PROVIDER
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}
