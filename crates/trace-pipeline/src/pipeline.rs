//! Pipeline runs, their steps and the capability calls inside them.

use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use trace_core::SpanStart;

use crate::TRACER;
use crate::attributes::{
    CAPABILITY_NAME, CAPABILITY_OPERATION, CAPABILITY_OUTCOME, CAPABILITY_SKIP_REASON, EVENT_ID,
    EVENT_TYPE, PIPELINE_NAME, PIPELINE_OUTCOME, PIPELINE_SKIP_REASON, STEP_CAPABILITY, STEP_NAME,
    STEP_OPERATION, STEP_OUTCOME, STEP_SKIP_REASON,
};
use crate::handle::{Continuation, PickUp, TraceHandle, pick_up};
use crate::handle_methods::handle_methods;
use crate::tracked::{OutcomeKeys, Tracked, bounded};

static PIPELINE_KEYS: OutcomeKeys = OutcomeKeys {
    outcome: PIPELINE_OUTCOME,
    skip_reason: PIPELINE_SKIP_REASON,
    success: "success",
    error: "error",
};
static STEP_KEYS: OutcomeKeys = OutcomeKeys {
    outcome: STEP_OUTCOME,
    skip_reason: STEP_SKIP_REASON,
    success: "success",
    error: "error",
};
static CAPABILITY_KEYS: OutcomeKeys = OutcomeKeys {
    outcome: CAPABILITY_OUTCOME,
    skip_reason: CAPABILITY_SKIP_REASON,
    success: "success",
    error: "error",
};

/// The event that triggered a pipeline run: its id and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// `trace_rs.pipeline.event.id`, e.g. the message or row id.
    pub id: &'a str,
    /// `trace_rs.pipeline.event.type`, e.g. `pipeline:data_event`.
    pub event_type: &'a str,
}

impl<'a> Event<'a> {
    /// An event with `id` and `event_type`.
    pub fn new(id: &'a str, event_type: &'a str) -> Self {
        Self { id, event_type }
    }
}

/// One pipeline execution: the `pipeline.{name}.execute` span (INTERNAL).
///
/// Start it where the engine begins a run, run the run's work inside it with
/// [`instrument`](Self::instrument), open steps with [`step`](Self::step), and end it
/// with [`finish`](Self::finish). Dropping it unfinished records `cancelled`.
#[derive(Debug)]
#[must_use = "the run's span ends when it is finished or dropped"]
pub struct PipelineRun {
    tracked: Tracked,
    /// The pipeline's name for step span names; `None` only when tracing is disabled.
    name: Option<Box<str>>,
}

handle_methods!(PipelineRun, finish);

impl PipelineRun {
    /// Starts a run of pipeline `name` for `event` as a child of [`Context::current`]
    /// (typically the consumer span of the message that carried the event).
    pub fn start(name: &str, event: Event<'_>) -> Self {
        Self::start_with_parent(&Context::current(), name, event)
    }

    /// Starts a run as a child of `parent`.
    pub fn start_with_parent(parent: &Context, name: &str, event: Event<'_>) -> Self {
        Self::start_inner(parent, None, name, event)
    }

    /// Starts a run picked up from a queue or a database row: continues the trace in
    /// `handle` or starts a new one linked to it, as `continuation` says. A missing or
    /// invalid handle starts a new trace.
    pub fn start_from(
        handle: Option<&TraceHandle>,
        continuation: Continuation,
        name: &str,
        event: Event<'_>,
    ) -> Self {
        let pick_up = pick_up(handle, continuation);
        Self::start_inner(&pick_up.parent, Some(&pick_up), name, event)
    }

    fn start_inner(
        parent: &Context,
        pick_up: Option<&PickUp>,
        name: &str,
        event: Event<'_>,
    ) -> Self {
        let mut kept_name = None;
        let span = TRACER.start_with_parent(parent, SpanKind::Internal, || {
            kept_name = Some(Box::from(name));
            SpanStart::new(format!("pipeline.{name}.execute"))
                .with_attributes([
                    KeyValue::new(PIPELINE_NAME, name.to_owned()),
                    KeyValue::new(EVENT_ID, bounded(event.id)),
                    KeyValue::new(EVENT_TYPE, bounded(event.event_type)),
                ])
                .with_links(pick_up.and_then(PickUp::links))
        });
        Self {
            tracked: Tracked::new(span, &PIPELINE_KEYS),
            name: kept_name,
        }
    }

    /// Opens step `step` of this run, invoking `capability`.`operation`:
    /// the `pipeline.{pipeline}.step.{step}` span, a child of this run.
    pub fn step(&self, step: &str, capability: &str, operation: &str) -> StepRun {
        // Without a name tracing is disabled, and the steps build no name either.
        let pipeline = self.name.as_deref().unwrap_or_default();
        StepRun::start_with_parent(self.context(), pipeline, step, capability, operation)
    }
}

/// One step of a pipeline run: the `pipeline.{pipeline}.step.{step}` span (INTERNAL).
#[derive(Debug)]
#[must_use = "the step's span ends when it is finished or dropped"]
pub struct StepRun {
    tracked: Tracked,
}

handle_methods!(StepRun, finish);

impl StepRun {
    /// Starts step `step` of pipeline `pipeline` as a child of [`Context::current`],
    /// for engines that do not pass the [`PipelineRun`] down to their steps.
    pub fn start(pipeline: &str, step: &str, capability: &str, operation: &str) -> Self {
        Self::start_with_parent(&Context::current(), pipeline, step, capability, operation)
    }

    /// Starts a step as a child of `parent`.
    pub fn start_with_parent(
        parent: &Context,
        pipeline: &str,
        step: &str,
        capability: &str,
        operation: &str,
    ) -> Self {
        let span = TRACER.start_with_parent(parent, SpanKind::Internal, || {
            SpanStart::new(format!("pipeline.{pipeline}.step.{step}")).with_attributes([
                KeyValue::new(STEP_NAME, step.to_owned()),
                KeyValue::new(STEP_CAPABILITY, capability.to_owned()),
                KeyValue::new(STEP_OPERATION, operation.to_owned()),
            ])
        });
        Self {
            tracked: Tracked::new(span, &STEP_KEYS),
        }
    }

    /// Opens the invocation of `capability`.`operation` inside this step:
    /// the `ability.{capability}.{operation}` span, a child of this step.
    pub fn capability(&self, capability: &str, operation: &str) -> CapabilityCall {
        CapabilityCall::start_with_parent(self.context(), capability, operation)
    }
}

/// One capability invocation: the `ability.{capability}.{operation}` span
/// (INTERNAL).
#[derive(Debug)]
#[must_use = "the call's span ends when it is finished or dropped"]
pub struct CapabilityCall {
    tracked: Tracked,
}

handle_methods!(CapabilityCall, finish);

impl CapabilityCall {
    /// Starts an invocation of `capability`.`operation` as a child of
    /// [`Context::current`]: inside a step, or directly under an HTTP request.
    pub fn start(capability: &str, operation: &str) -> Self {
        Self::start_with_parent(&Context::current(), capability, operation)
    }

    /// Starts an invocation as a child of `parent`.
    pub fn start_with_parent(parent: &Context, capability: &str, operation: &str) -> Self {
        let span = TRACER.start_with_parent(parent, SpanKind::Internal, || {
            SpanStart::new(format!("ability.{capability}.{operation}")).with_attributes([
                KeyValue::new(CAPABILITY_NAME, capability.to_owned()),
                KeyValue::new(CAPABILITY_OPERATION, operation.to_owned()),
            ])
        });
        Self {
            tracked: Tracked::new(span, &CAPABILITY_KEYS),
        }
    }
}
