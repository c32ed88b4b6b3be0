//! trace-pipeline: OpenTelemetry spans for pipeline runs, steps, capability
//! invocations and background jobs, and a serializable [`TraceHandle`] that keeps a
//! trace across a queue or a database row.
//!
//! It instruments your own pipeline engine and job workers: every handle wraps one span,
//! runs async work inside it with [`instrument`](PipelineRun::instrument) (no guard is
//! held across `.await`), records retries as events and ends with an [`Outcome`].
//! The optional `runner` feature adds a small engine for those who have none.
//!
//! ## Quick start
//!
//! ```
//! use trace_pipeline::{CapabilityCall, Event, Outcome, PipelineRun};
//!
//! # #[derive(Debug)] struct FetchError;
//! # impl std::fmt::Display for FetchError {
//! #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("fetch failed") }
//! # }
//! # impl std::error::Error for FetchError {}
//! async fn fetch_feed(url: &str) -> Result<Vec<String>, FetchError> {
//!     // `ability.Invoke`: works anywhere, nests under whatever span is current.
//!     CapabilityCall::start("rss", "fetch")
//!         .run(async { Ok(vec![format!("item from {url}")]) })
//!         .await
//! }
//!
//! async fn on_event(event_id: &str) -> Result<(), FetchError> {
//!     let run = PipelineRun::start("digest", Event::new(event_id, "pipeline:data_event"));
//!
//!     let step = run.step("fetch", "rss", "fetch");
//!     let items = step.run(fetch_feed("https://example.com/feed")).await?;
//!
//!     let step = run.step("notify", "slack", "post");
//!     if items.is_empty() {
//!         step.finish(Outcome::skipped("nothing new"));
//!     } else {
//!         step.instrument(async { /* post the digest */ }).await;
//!         step.finish(Outcome::Success);
//!     }
//!     run.finish(Outcome::Success);
//!     Ok(())
//! }
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(on_event("evt-1")).unwrap();
//! ```
//!
//! Run `cargo run -p trace-pipeline --example pipeline` to see a pipeline run from a
//! durable event and a background job printed as trace trees.
//!
//! ## Spans and attributes
//!
//! Every attribute and event name the semantic conventions do not define is under
//! `trace_rs.*` and is a constant in [`attributes`]; `error.type` and `enduser.id` are
//! semantic conventions.
//!
//! | Span | Kind | Started by | Attributes |
//! |---|---|---|---|
//! | `pipeline.{name}.execute` | INTERNAL | [`PipelineRun`] | `trace_rs.pipeline.name`, `trace_rs.pipeline.event.id`, `trace_rs.pipeline.event.type`; at the end `trace_rs.pipeline.outcome` (+ `trace_rs.pipeline.skip_reason`) |
//! | `pipeline.{pipeline}.step.{step}` | INTERNAL | [`PipelineRun::step`], [`StepRun`] | `trace_rs.pipeline.step.name`, `trace_rs.pipeline.step.capability`, `trace_rs.pipeline.step.operation`; at the end `trace_rs.pipeline.step.outcome` (+ `trace_rs.pipeline.step.skip_reason`) |
//! | `ability.{capability}.{operation}` | INTERNAL | [`StepRun::capability`], [`CapabilityCall`] | `trace_rs.capability.name`, `trace_rs.capability.operation`; at the end `trace_rs.capability.outcome` (+ `trace_rs.capability.skip_reason`) |
//! | `job.{name}` | CONSUMER (INTERNAL with [`Job::in_process`]) | [`Job::start`] | `trace_rs.job.name`, `trace_rs.job.id`, `trace_rs.job.namespace`, `trace_rs.job.priority`, `trace_rs.job.scheduled_at`, `trace_rs.job.queue_wait_ms`, `trace_rs.job.worker.id`, `trace_rs.job.worker.name`, `enduser.id` (each when given); at the end `trace_rs.job.result`, `trace_rs.job.duration_ms` (+ `trace_rs.job.skip_reason`) |
//!
//! | Event | On | Attributes |
//! |---|---|---|
//! | `trace_rs.retry` | any span, via `retry(attempt, reason)` | `trace_rs.retry.attempt` (the attempt about to start), `trace_rs.retry.reason` |
//! | `trace_rs.job.progress` | `job.{name}`, via [`JobRun::progress`] | `trace_rs.job.progress.percent` (0 to 100), `trace_rs.job.progress.message` |
//!
//! Outcomes: success leaves the status unset; [`Outcome::Error`] sets status `Error` with
//! the message and `error.type`; skipped and cancelled are not errors. `error.type` is
//! the class you give ([`Outcome::error`]) or the error's fully-qualified type name
//! ([`Outcome::from_error`], `run(..)`): trace-core's
//! [`ErrorType`](trace_core::ErrorType) rule. A handle dropped without `finish` (its
//! future was cancelled) ends its span with outcome `cancelled`. Durations are the
//! spans' own; jobs also record `trace_rs.job.duration_ms`. Free text
//! and ids from callers (messages, reasons, `trace_rs.pipeline.event.id`,
//! `trace_rs.pipeline.event.type`, `trace_rs.job.id`, `enduser.id`) are cut to 1 KiB,
//! so a hostile message cannot grow a span.
//!
//! `docs/conventions.md` at the repository root lists every name with its type, and the
//! Go services' names (`JobID`, `SetJobProgress`, ...) each replaces.
//!
//! ## Crossing a queue or a database row
//!
//! Store [`TraceHandle::current`] (or a handle's `trace_handle()`) with the job; it is
//! `{"traceparent": "...", "tracestate": "..."}` in JSON. When a worker picks the job up,
//! [`Job::picked_up`] or [`PipelineRun::start_from`] continues that trace
//! ([`Continuation::Parent`]) or starts a new one linked to it ([`Continuation::Link`]);
//! [`Continuation`] explains when each is right. A missing or invalid handle starts a
//! new trace. A [`TraceHandle`] is also an `opentelemetry` `Extractor`, so any
//! propagator can read it.
//!
//! ## Cost
//!
//! Every handle starts its span through trace-core's [`ScopedTracer`], so it goes
//! through the SDK tracer of the provider in use (`trace_core::init`'s, one handed over
//! with `trace_core::set_provider`, or `opentelemetry::global`'s). A disabled run
//! allocates nothing. Otherwise the span's name, start attributes and links are built
//! for the sampler, sampled or not; outcomes, retry and progress events and durations
//! only for spans that record. An unsampled span has a span context of its own: work run
//! with `instrument` or `in_scope` runs in it, so children follow the decision.
//! `cargo bench -p trace-pipeline --bench pipeline_spans` prints the per-step overhead
//! beside a bare future and the allocations per step.
//!
//! ## Feature flags
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `runner` | no | the `runner` module: declare a pipeline (name + ordered steps with capability and operation) and run it with all the spans above |
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.94 (the workspace's `rust-version`). CI builds
//! with the current stable toolchain.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attributes;
mod handle;
mod handle_methods;
mod job;
mod outcome;
mod pipeline;
#[cfg(feature = "runner")]
pub mod runner;
mod tracked;

use trace_core::ScopedTracer;

pub use handle::{Continuation, TraceHandle};
pub use job::{Job, JobRun};
pub use outcome::Outcome;
pub use pipeline::{CapabilityCall, Event, PipelineRun, StepRun};

/// The instrumentation scope of every span this crate starts.
static TRACER: ScopedTracer = ScopedTracer::new("trace-pipeline", env!("CARGO_PKG_VERSION"));
