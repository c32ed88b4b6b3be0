//! In-memory span capture for tests (feature `testing`), and trace-core's OTLP encoder
//! for tests and benchmarks that check or measure it (`OtlpTraceEncoder`, with
//! `otlp-http` or `otlp-grpc` too).
//!
//! ```
//! use opentelemetry::trace::SpanKind;
//! use trace_core::testing::SpanCapture;
//! use trace_core::{ScopedTracer, SpanStart};
//!
//! static TRACER: ScopedTracer = ScopedTracer::new("example", "0.1.0");
//!
//! let capture = SpanCapture::install(); // this thread's spans, no lock
//! let parent = TRACER.start(SpanKind::Server, || SpanStart::new("GET /users/{id}"));
//! TRACER
//!     .start_with_parent(parent.context(), SpanKind::Client, || SpanStart::new("SELECT users"))
//!     .end();
//! parent.end();
//! assert_eq!(capture.outline(), "Server GET /users/{id}\n  Client SELECT users\n");
//! capture.find("SELECT users").assert_child_of(&capture.find("GET /users/{id}"));
//! ```
//!
//! ## Which spans a capture sees
//!
//! [`SpanCapture::install`] makes a **per-thread** capture, with a provider of its own
//! and no lock, so tests run in parallel under `cargo test` without seeing each other's
//! spans. A span that trace-core instrumentation (or its `tracing` bridge) starts goes
//! to it when
//!
//! 1. its parent context comes from a span this capture recorded: the span's
//!    `context()`, `Context::current()` inside it, and what carries that on
//!    ([`in_context`](crate::in_context), [`spawn_in_current_context`](crate::spawn_in_current_context),
//!    `FutureExt::with_context`, a clone moved to another thread), **on any thread**; or
//! 2. it starts **on the thread that installed the capture**, whatever its parent (a new
//!    root, a parent extracted from incoming headers).
//!
//! So, in practice:
//!
//! - `#[test]` and `#[tokio::test]` (a current-thread runtime): everything runs on the
//!   test's thread: tasks from `tokio::spawn`, an axum or hyper server spawned by the
//!   test and its connection tasks, reqwest's connections, fred's tasks, `tracing`
//!   spans (`#[instrument]`) through the bridge. All are captured.
//! - `#[tokio::test(flavor = "multi_thread")]`: the test's body runs on the test's
//!   thread (`block_on`), spawned tasks on worker threads. Work that carries a captured
//!   span's context to a worker (`spawn_in_current_context`, `with_context`) is captured
//!   (rule 1). A span a worker starts without it is not: a root started in a plain
//!   `tokio::spawn`, or a server on a worker whose request span's parent comes from
//!   headers (a remote parent carries no capture). Such tests use a process-wide
//!   capture.
//! - `spawn_blocking` and `std::thread::spawn` follow rule 1 likewise.
//! - `tracing` bridge spans are captured by both rules, but the bridge builds their
//!   contexts itself: a `tracing` root span started on the capture's thread is
//!   captured, a child of it started on another thread is not (a child of a trace-core
//!   span is).
//! - The process-wide state does not apply: spans a per-thread capture takes are
//!   recorded even while another test of the process has called
//!   [`init`](crate::init) with `enabled: false`, dropped a
//!   [`TracingGuard`](crate::TracingGuard) or handed trace-core another provider, and
//!   those tests never see them.
//! - Code that calls `opentelemetry::global::tracer` itself is not captured per thread;
//!   hand it [`SpanCapture::provider`].
//! - Installing a second per-thread capture on the same thread takes over rule 2 until
//!   it is dropped; traces the first one began stay with it.
//!
//! [`SpanCapture::install_process_wide`] makes a **process-wide** capture: trace-core's
//! provider (as [`set_provider`](crate::set_provider)) and `opentelemetry::global`'s,
//! which sees every span of the process that no per-thread capture takes, on any
//! thread. It takes a process-wide lock, so such tests run one at a time, and its drop
//! puts the previous state back. Tests in the same test binary that call `init` or
//! `set_provider`, or drop a `TracingGuard`, would change that state under it: they
//! hold [`ProcessWide::lock`] while they do. `cargo nextest` runs each test in a
//! process of its own, where neither matters.
//!
//! Either way the W3C trace-context and baggage propagators are installed as the global
//! propagator, once per process: it is process-wide, and the same for every test.
//!
//! The per-thread checks exist only with the `testing` feature (a dev-dependency
//! feature, so never in a service's build): without it, starting a span checks
//! nothing more. With it, until the first per-thread capture is installed in a
//! process, a span start checks one relaxed atomic flag more.

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
mod otlp;
pub(crate) mod route;
mod span;

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use opentelemetry::global::GlobalTracerProvider;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider, ShouldSample, SimpleSpanProcessor, SpanData,
};

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub use otlp::{OtlpTraceEncoder, grpc_message_prefix};
pub use span::CapturedSpan;

use crate::active;
use crate::propagation::{PropagatorKind, build_propagator};
use route::Route;

/// Serializes process-wide captures (and [`ProcessWide`] holders): trace-core's
/// process-wide provider is one, so two tests capturing that way at once would see each
/// other's spans.
static PROCESS_WIDE: Mutex<()> = Mutex::new(());

/// Captures the spans trace-core instrumentation finishes while it is alive, in memory,
/// with assertions on the span tree.
///
/// Two kinds, see the [module docs](self) for which spans each sees:
/// - [`install`](Self::install): **per thread**, no lock. The spans started on the
///   calling thread, and under the contexts of the spans it captured (on any thread),
///   go to this capture's own provider. Tests on current-thread runtimes
///   (`#[test]`, `#[tokio::test]`) run in parallel, each with its own capture.
/// - [`install_process_wide`](Self::install_process_wide): every span of the process
///   that no per-thread capture takes, as trace-core's (and `opentelemetry::global`'s)
///   provider. Takes a process-wide lock, so such tests run one at a time.
///
/// Dropping the capture uninstalls it and restores what was there before: the capture
/// installed before it on the thread, or the process-wide provider and state. The
/// capture stays on the thread that installed it (it is not `Send`).
#[derive(Debug)]
pub struct SpanCapture {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    installed: Installed,
}

#[derive(Debug)]
enum Installed {
    Thread {
        route: Route,
        /// Not `Send`: the route is on this thread's stack, and comes off it on drop.
        _here: PhantomData<MutexGuard<'static, ()>>,
    },
    /// Taken on drop, to restore the state before the provider shuts down.
    Process(Option<ProcessWide>),
}

/// What every capture needs once per process:
/// - the W3C trace-context and baggage propagators as the global propagator, which is
///   process-wide and the same for every test;
/// - a `tracing` dispatcher that lives as long as the process and enables nothing.
///   tracing-core caches each callsite's interest process-wide, and while only one
///   dispatcher is registered it takes the interest of the callsite's first user from
///   *that thread's* default subscriber: a library's event first hit by a test without a
///   subscriber would then be cached as `never` for a test running beside it with one
///   (a scoped `with_default` or `with_subscriber`). With a second dispatcher always
///   registered, interests are combined over every registered dispatcher instead.
fn process_setup() {
    static ONCE: Once = Once::new();
    static DISPATCH: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    ONCE.call_once(|| {
        opentelemetry::global::set_text_map_propagator(build_propagator(&[
            PropagatorKind::TraceContext,
            PropagatorKind::Baggage,
        ]));
        DISPATCH.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::new()));
    });
}

fn capture_provider(
    sampler: impl ShouldSample + 'static,
) -> (InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build();
    (exporter, provider)
}

impl SpanCapture {
    /// Installs a per-thread capture that samples every span (see the
    /// [module docs](self) for which spans it sees). The W3C trace-context and baggage
    /// propagators are installed globally, once per process.
    pub fn install() -> Self {
        Self::install_with(Sampler::AlwaysOn)
    }

    /// Installs a per-thread capture whose provider samples with `sampler` (for
    /// example a [`Sampling`](crate::Sampling) from configuration).
    pub fn install_with(sampler: impl ShouldSample + 'static) -> Self {
        process_setup();
        let (exporter, provider) = capture_provider(sampler);
        let route = Route::install(provider.clone());
        Self {
            exporter,
            provider,
            installed: Installed::Thread {
                route,
                _here: PhantomData,
            },
        }
    }

    /// Installs a process-wide capture that samples every span: for tests whose spans
    /// start on threads they do not control (a multi-thread runtime's workers, a
    /// server's tasks, a client library's threads) without a captured parent. Waits
    /// for any other process-wide capture to be dropped first.
    pub fn install_process_wide() -> Self {
        Self::install_process_wide_with(Sampler::AlwaysOn)
    }

    /// [`install_process_wide`](Self::install_process_wide) with `sampler`.
    pub fn install_process_wide_with(sampler: impl ShouldSample + 'static) -> Self {
        let process_wide = ProcessWide::lock();
        process_setup();
        let (exporter, provider) = capture_provider(sampler);
        opentelemetry::global::set_tracer_provider(provider.clone());
        active::set_provider(provider.clone());
        Self {
            exporter,
            provider,
            installed: Installed::Process(Some(process_wide)),
        }
    }

    /// The provider behind the capture, for code that takes one explicitly (such as
    /// a `tracing-opentelemetry` layer).
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Every span finished so far, in the order they ended.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        self.raw_spans()
            .into_iter()
            .map(CapturedSpan::from)
            .collect()
    }

    fn raw_spans(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().unwrap_or_default()
    }

    /// Waits (sleeping, without blocking a Tokio worker for long) until at least `count`
    /// spans have finished, and returns them; panics after `timeout` with what it saw.
    pub async fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<CapturedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= count {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} spans within {timeout:?}, got {}:\n{}",
                spans.len(),
                self.outline()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The finished span named `name`; panics listing every span when there is not
    /// exactly one.
    pub fn find(&self, name: &str) -> CapturedSpan {
        let mut matches: Vec<CapturedSpan> = self
            .spans()
            .into_iter()
            .filter(|s| s.name() == name)
            .collect();
        match matches.len() {
            1 => matches.remove(0),
            n => panic!(
                "expected exactly one span named {name:?}, found {n}; captured:\n{}",
                self.outline()
            ),
        }
    }

    /// All finished spans named `name`.
    pub fn find_all(&self, name: &str) -> Vec<CapturedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name() == name)
            .collect()
    }

    /// The span tree as text: one line per span, `{kind} {name}`, children indented by
    /// two spaces under their parent and ordered by start time. Spans whose parent was
    /// not captured start a tree of their own.
    pub fn outline(&self) -> String {
        span::outline(&self.raw_spans())
    }

    /// Forgets the spans captured so far.
    pub fn clear(&self) {
        self.exporter.reset();
    }
}

impl Drop for SpanCapture {
    fn drop(&mut self) {
        match &mut self.installed {
            Installed::Thread { route, .. } => route.uninstall(),
            // Restores what was there, then lets the next process-wide test go.
            Installed::Process(process_wide) => drop(process_wide.take()),
        }
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(1));
    }
}

/// Exclusive use of trace-core's process-wide state for one test, given back as it was
/// found: see [`ProcessWide::lock`].
#[derive(Debug)]
#[must_use = "the state is given back when this is dropped"]
pub struct ProcessWide {
    saved: Option<active::Saved>,
    global: Option<GlobalTracerProvider>,
    /// `None` when this thread held the lock already (a nested `ProcessWide`).
    _exclusive: Option<MutexGuard<'static, ()>>,
}

thread_local! {
    /// How many `ProcessWide`s this thread holds: the lock is taken by the first.
    static HELD: Cell<usize> = const { Cell::new(0) };
}

impl ProcessWide {
    /// Waits until no other test holds trace-core's process-wide state (a process-wide
    /// [`SpanCapture`], or another `ProcessWide`), then holds it until dropped, when
    /// the state is put back as it was: trace-core's provider (or the global, or the
    /// disabled state) and `opentelemetry::global`'s tracer provider.
    ///
    /// For a test that calls [`init`](crate::init) or [`set_provider`](crate::set_provider),
    /// or drops a [`TracingGuard`](crate::TracingGuard), in a test binary that also has
    /// process-wide captures: without it, `init` with `enabled: false` or a guard's
    /// shutdown would switch tracing off under a process-wide capture running at the
    /// same time. Per-thread captures need none of this.
    ///
    /// Nests on one thread: a process-wide capture installed while this is held (or a
    /// second `ProcessWide`) does not wait for it, and gives back what was there when it
    /// was installed.
    pub fn lock() -> Self {
        let exclusive = (HELD.get() == 0).then(|| {
            PROCESS_WIDE
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        });
        HELD.set(HELD.get() + 1);
        Self {
            saved: Some(active::save()),
            global: Some(opentelemetry::global::tracer_provider()),
            _exclusive: exclusive,
        }
    }
}

impl Drop for ProcessWide {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            active::restore(saved);
        }
        if let Some(global) = self.global.take() {
            opentelemetry::global::set_tracer_provider(global);
        }
        HELD.set(HELD.get().saturating_sub(1));
    }
}

/// Puts trace-core's process-wide state back to the start: no provider of its own
/// (spans go to `opentelemetry::global`'s provider) and not disabled, as in a process
/// that never called [`init`](crate::init) or [`set_provider`](crate::set_provider).
/// For tests of the global-provider path; per-thread captures are not affected. Hold
/// [`ProcessWide::lock`] around it in a test binary with process-wide captures.
pub fn reset() {
    active::use_global();
}
