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
//! All attribute names without a semantic-conventions equivalent are constants in
//! [`attributes`].
//!
//! | Span | Kind | Started by | Attributes |
//! |---|---|---|---|
//! | `pipeline.{name}.execute` | INTERNAL | [`PipelineRun`] | `pipeline.name`, `event.id`, `event.type`; at the end `pipeline.outcome` (+ `pipeline.skip_reason`) |
//! | `pipeline.{pipeline}.step.{step}` | INTERNAL | [`PipelineRun::step`], [`StepRun`] | `pipeline.step.name`, `pipeline.step.capability`, `pipeline.step.operation`; at the end `pipeline.step.outcome` (+ `pipeline.step.skip_reason`) |
//! | `ability.{capability}.{operation}` | INTERNAL | [`StepRun::capability`], [`CapabilityCall`] | `capability.name`, `capability.operation`; at the end `capability.outcome` (+ `capability.skip_reason`) |
//! | `job.{name}` | CONSUMER (INTERNAL with [`Job::in_process`]) | [`Job::start`] | `job.name`, `job.id`, `job.namespace`, `job.priority`, `job.scheduled_at`, `job.queue_wait_ms`, `job.worker.id`, `job.worker.name`, `enduser.id` (each when given); at the end `job.result`, `job.duration_ms` (+ `job.skip_reason`) |
//!
//! | Event | On | Attributes |
//! |---|---|---|
//! | `retry` | any span, via `retry(attempt, reason)` | `retry.attempt` (the attempt about to start), `retry.reason` |
//! | `job.progress` | `job.{name}`, via [`JobRun::progress`] | `job.progress.percent` (0 to 100), `job.progress.message` |
//!
//! Outcomes: success leaves the status unset; [`Outcome::Error`] sets status `Error` with
//! the message and `error.type`; skipped and cancelled are not errors. A handle dropped
//! without `finish` (its future was cancelled) ends its span with outcome `cancelled`.
//! Durations are the spans' own; jobs also record `job.duration_ms` as the seed did.
//! Free text and ids from callers (messages, reasons, `event.id`, `event.type`,
//! `job.id`, `enduser.id`) are cut to 1 KiB, so a hostile message cannot grow a span.
//!
//! Seed 001's job fields map as: `JobID` → `job.id`, `JobName` → `job.name`,
//! `Namespace` → `job.namespace`, `Priority` → `job.priority`, `ScheduledAt` →
//! `job.scheduled_at`, `WorkerID` → `job.worker.id`, `WorkerName` → `job.worker.name`,
//! `UserID` → `enduser.id`; `SetJobProgress` → `job.progress` events; `SetJobResult`
//! → `job.result` and `job.duration_ms`.
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
