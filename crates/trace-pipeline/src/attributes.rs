//! Attribute and event names this crate emits that OpenTelemetry's semantic
//! conventions do not define, all under `trace_rs.*` so none looks like a standard
//! name. `error.type` and `enduser.id` are semantic conventions and come from
//! `opentelemetry_semantic_conventions`. `docs/conventions.md` at the repository root
//! lists each with its type.

/// `trace_rs.pipeline.name`: the pipeline's name, e.g. `digest` (on
/// `pipeline.{name}.execute`).
pub const PIPELINE_NAME: &str = "trace_rs.pipeline.name";
/// `trace_rs.pipeline.event.id`: the id of the event that triggered the run.
pub const EVENT_ID: &str = "trace_rs.pipeline.event.id";
/// `trace_rs.pipeline.event.type`: the type of the triggering event, e.g.
/// `pipeline:data_event`.
pub const EVENT_TYPE: &str = "trace_rs.pipeline.event.type";
/// `trace_rs.pipeline.outcome`: `success`, `error`, `skipped` or `cancelled`.
pub const PIPELINE_OUTCOME: &str = "trace_rs.pipeline.outcome";
/// `trace_rs.pipeline.skip_reason`: why a run was skipped (only when skipped).
pub const PIPELINE_SKIP_REASON: &str = "trace_rs.pipeline.skip_reason";

/// `trace_rs.pipeline.step.name`: the step's name (on `pipeline.{pipeline}.step.{step}`).
pub const STEP_NAME: &str = "trace_rs.pipeline.step.name";
/// `trace_rs.pipeline.step.capability`: the capability the step invokes.
pub const STEP_CAPABILITY: &str = "trace_rs.pipeline.step.capability";
/// `trace_rs.pipeline.step.operation`: the capability operation the step invokes.
pub const STEP_OPERATION: &str = "trace_rs.pipeline.step.operation";
/// `trace_rs.pipeline.step.outcome`: `success`, `error`, `skipped` or `cancelled`.
pub const STEP_OUTCOME: &str = "trace_rs.pipeline.step.outcome";
/// `trace_rs.pipeline.step.skip_reason`: why a step was skipped (only when skipped).
pub const STEP_SKIP_REASON: &str = "trace_rs.pipeline.step.skip_reason";

/// `trace_rs.capability.name`: the invoked capability (on
/// `ability.{capability}.{operation}`).
pub const CAPABILITY_NAME: &str = "trace_rs.capability.name";
/// `trace_rs.capability.operation`: the invoked operation.
pub const CAPABILITY_OPERATION: &str = "trace_rs.capability.operation";
/// `trace_rs.capability.outcome`: `success`, `error`, `skipped` or `cancelled`.
pub const CAPABILITY_OUTCOME: &str = "trace_rs.capability.outcome";
/// `trace_rs.capability.skip_reason`: why an invocation was skipped (only when skipped).
pub const CAPABILITY_SKIP_REASON: &str = "trace_rs.capability.skip_reason";

/// `trace_rs.job.id`: the job's id.
pub const JOB_ID: &str = "trace_rs.job.id";
/// `trace_rs.job.name`: the job's name, e.g. `send-email`.
pub const JOB_NAME: &str = "trace_rs.job.name";
/// `trace_rs.job.namespace`: the job's namespace or queue, e.g. `notifications`.
pub const JOB_NAMESPACE: &str = "trace_rs.job.namespace";
/// `trace_rs.job.priority`: the job's priority as an integer.
pub const JOB_PRIORITY: &str = "trace_rs.job.priority";
/// `trace_rs.job.scheduled_at`: when the job was due, RFC 3339 UTC with milliseconds.
pub const JOB_SCHEDULED_AT: &str = "trace_rs.job.scheduled_at";
/// `trace_rs.job.queue_wait_ms`: milliseconds from `trace_rs.job.scheduled_at` to the
/// start of the job span; `0` when the job started early.
pub const JOB_QUEUE_WAIT_MS: &str = "trace_rs.job.queue_wait_ms";
/// `trace_rs.job.worker.id`: the id of the worker running the job.
pub const JOB_WORKER_ID: &str = "trace_rs.job.worker.id";
/// `trace_rs.job.worker.name`: the name of the worker running the job.
pub const JOB_WORKER_NAME: &str = "trace_rs.job.worker.name";
/// `trace_rs.job.result`: `completed`, `failed`, `skipped` or `cancelled`.
pub const JOB_RESULT: &str = "trace_rs.job.result";
/// `trace_rs.job.skip_reason`: why a job was skipped (only when skipped).
pub const JOB_SKIP_REASON: &str = "trace_rs.job.skip_reason";
/// `trace_rs.job.duration_ms`: the job's run time in milliseconds.
pub const JOB_DURATION_MS: &str = "trace_rs.job.duration_ms";

/// `trace_rs.job.progress`: the name of a progress event.
pub const JOB_PROGRESS_EVENT: &str = "trace_rs.job.progress";
/// `trace_rs.job.progress.percent`: integer 0 to 100 on a `trace_rs.job.progress` event.
pub const JOB_PROGRESS_PERCENT: &str = "trace_rs.job.progress.percent";
/// `trace_rs.job.progress.message`: the progress message on a `trace_rs.job.progress`
/// event.
pub const JOB_PROGRESS_MESSAGE: &str = "trace_rs.job.progress.message";

/// `trace_rs.retry`: the name of the event recorded each time work is retried.
pub const RETRY_EVENT: &str = "trace_rs.retry";
/// `trace_rs.retry.attempt`: the attempt about to start (the first retry is attempt 2).
pub const RETRY_ATTEMPT: &str = "trace_rs.retry.attempt";
/// `trace_rs.retry.reason`: why the previous attempt is retried, e.g. `timeout`.
pub const RETRY_REASON: &str = "trace_rs.retry.reason";
