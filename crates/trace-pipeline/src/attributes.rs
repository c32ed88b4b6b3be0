//! Attribute and event names this crate emits that OpenTelemetry's semantic
//! conventions do not define.
//!
//! Pipeline, step and capability names follow the seed service's design (section 6 of
//! the project's design document); job names map the seed's `JobSpanConfig` fields into
//! one `job.*` namespace. `error.type` and `enduser.id` come from
//! `opentelemetry_semantic_conventions`.

/// `pipeline.name`: the pipeline's name, e.g. `digest` (on `pipeline.{name}.execute`).
pub const PIPELINE_NAME: &str = "pipeline.name";
/// `event.id`: the id of the event that triggered the run.
pub const EVENT_ID: &str = "event.id";
/// `event.type`: the type of the triggering event, e.g. `pipeline:data_event`.
pub const EVENT_TYPE: &str = "event.type";
/// `pipeline.outcome`: `success`, `error`, `skipped` or `cancelled`.
pub const PIPELINE_OUTCOME: &str = "pipeline.outcome";
/// `pipeline.skip_reason`: why a run was skipped (only when skipped).
pub const PIPELINE_SKIP_REASON: &str = "pipeline.skip_reason";

/// `pipeline.step.name`: the step's name (on `pipeline.{pipeline}.step.{step}`).
pub const STEP_NAME: &str = "pipeline.step.name";
/// `pipeline.step.capability`: the capability the step invokes.
pub const STEP_CAPABILITY: &str = "pipeline.step.capability";
/// `pipeline.step.operation`: the capability operation the step invokes.
pub const STEP_OPERATION: &str = "pipeline.step.operation";
/// `pipeline.step.outcome`: `success`, `error`, `skipped` or `cancelled`.
pub const STEP_OUTCOME: &str = "pipeline.step.outcome";
/// `pipeline.step.skip_reason`: why a step was skipped (only when skipped).
pub const STEP_SKIP_REASON: &str = "pipeline.step.skip_reason";

/// `capability.name`: the invoked capability (on `ability.{capability}.{operation}`).
pub const CAPABILITY_NAME: &str = "capability.name";
/// `capability.operation`: the invoked operation.
pub const CAPABILITY_OPERATION: &str = "capability.operation";
/// `capability.outcome`: `success`, `error`, `skipped` or `cancelled`.
pub const CAPABILITY_OUTCOME: &str = "capability.outcome";
/// `capability.skip_reason`: why an invocation was skipped (only when skipped).
pub const CAPABILITY_SKIP_REASON: &str = "capability.skip_reason";

/// `job.id`: the job's id (seed: `JobID`).
pub const JOB_ID: &str = "job.id";
/// `job.name`: the job's name, e.g. `send-email` (seed: `JobName`).
pub const JOB_NAME: &str = "job.name";
/// `job.namespace`: the job's namespace or queue, e.g. `notifications` (seed: `Namespace`).
pub const JOB_NAMESPACE: &str = "job.namespace";
/// `job.priority`: the job's priority as an integer (seed: `Priority`).
pub const JOB_PRIORITY: &str = "job.priority";
/// `job.scheduled_at`: when the job was due, RFC 3339 UTC with milliseconds (seed: `ScheduledAt`).
pub const JOB_SCHEDULED_AT: &str = "job.scheduled_at";
/// `job.queue_wait_ms`: milliseconds from `job.scheduled_at` to the start of the job
/// span; `0` when the job started early.
pub const JOB_QUEUE_WAIT_MS: &str = "job.queue_wait_ms";
/// `job.worker.id`: the id of the worker running the job (seed: `WorkerID`).
pub const JOB_WORKER_ID: &str = "job.worker.id";
/// `job.worker.name`: the name of the worker running the job (seed: `WorkerName`).
pub const JOB_WORKER_NAME: &str = "job.worker.name";
/// `job.result`: `completed`, `failed`, `skipped` or `cancelled` (seed: `SetJobResult` status).
pub const JOB_RESULT: &str = "job.result";
/// `job.skip_reason`: why a job was skipped (only when skipped).
pub const JOB_SKIP_REASON: &str = "job.skip_reason";
/// `job.duration_ms`: the job's run time in milliseconds (seed: `SetJobResult` duration).
pub const JOB_DURATION_MS: &str = "job.duration_ms";

/// `job.progress`: the name of a progress event (seed: `SetJobProgress`).
pub const JOB_PROGRESS_EVENT: &str = "job.progress";
/// `job.progress.percent`: integer 0 to 100 on a `job.progress` event.
pub const JOB_PROGRESS_PERCENT: &str = "job.progress.percent";
/// `job.progress.message`: the progress message on a `job.progress` event.
pub const JOB_PROGRESS_MESSAGE: &str = "job.progress.message";

/// `retry`: the name of the event recorded each time work is retried.
pub const RETRY_EVENT: &str = "retry";
/// `retry.attempt`: the attempt about to start (the first retry is attempt 2).
pub const RETRY_ATTEMPT: &str = "retry.attempt";
/// `retry.reason`: why the previous attempt is retried, e.g. `timeout`.
pub const RETRY_REASON: &str = "retry.reason";
