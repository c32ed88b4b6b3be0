//! A small pipeline runner (feature `runner`) for services without an engine of their
//! own: declare a pipeline as a name and ordered steps, each invoking one capability
//! operation, and execute it with every span of this crate.
//!
//! Each step is an async function from the pipeline's state to the next state. A step
//! runs inside its `pipeline.{pipeline}.step.{step}` span and, within it, an
//! `ability.{capability}.{operation}` span per attempt. A step can be skipped by a
//! condition ([`Step::when`]) and retried ([`Step::retries`]); the first failure
//! that is not retried ends the run.
//!
//! ```
//! use trace_pipeline::runner::{Pipeline, Step, StepError};
//! use trace_pipeline::Event;
//!
//! #[derive(Clone, Default)]
//! struct Digest { items: Vec<String>, posted: bool }
//!
//! async fn fetch(mut digest: Digest) -> Result<Digest, StepError> {
//!     digest.items.push("new item".into());
//!     Ok(digest)
//! }
//!
//! async fn post(mut digest: Digest) -> Result<Digest, StepError> {
//!     digest.posted = true;
//!     Ok(digest)
//! }
//!
//! let pipeline = Pipeline::new("digest")
//!     .step(Step::new("fetch", "rss", "fetch", fetch).retries(2))
//!     .step(Step::new("notify", "slack", "post", post).when(|d: &Digest| !d.items.is_empty()));
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let digest = rt.block_on(pipeline.execute(Event::new("evt-1", "pipeline:data_event"), Digest::default()))?;
//! assert!(digest.posted);
//! # Ok::<(), trace_pipeline::runner::PipelineError>(())
//! ```

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::pin::Pin;

use trace_core::ErrorType;

use crate::handle::{Continuation, TraceHandle};
use crate::outcome::Outcome;
use crate::pipeline::{Event, PipelineRun, StepRun};

/// Any error a step's source can be.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

type StepFuture<S> = Pin<Box<dyn Future<Output = Result<S, StepError>> + Send>>;
type StepFn<S> = Box<dyn Fn(S) -> StepFuture<S> + Send + Sync>;
type Condition<S> = Box<dyn Fn(&S) -> bool + Send + Sync>;

/// Why a step failed: an `error.type` class and the error itself.
///
/// `?` converts any `std::error::Error + Send + Sync` into it, with the error's type
/// name as `error.type`; [`StepError::new`] chooses the class explicitly.
#[derive(Debug)]
pub struct StepError {
    error_type: ErrorType,
    source: BoxError,
}

impl StepError {
    /// A failure of class `error_type` (a code such as `timeout`; see [`ErrorType`])
    /// caused by `source`.
    pub fn new(error_type: impl Into<ErrorType>, source: impl Into<BoxError>) -> Self {
        Self {
            error_type: error_type.into(),
            source: source.into(),
        }
    }

    /// The `error.type` recorded for this failure.
    pub fn error_type(&self) -> &str {
        self.error_type.as_str()
    }

    fn outcome(&self) -> Outcome {
        Outcome::error(self.error_type.clone(), self.source.to_string())
    }
}

impl<E: Error + Send + Sync + 'static> From<E> for StepError {
    fn from(error: E) -> Self {
        Self::new(ErrorType::of::<E>(), error)
    }
}

/// A pipeline run that failed at a step.
#[derive(Debug)]
pub struct PipelineError {
    pipeline: String,
    step: String,
    cause: StepError,
}

impl PipelineError {
    /// The step that failed.
    pub fn step(&self) -> &str {
        &self.step
    }

    /// The `error.type` of the failure.
    pub fn error_type(&self) -> &str {
        self.cause.error_type()
    }
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pipeline {} failed at step {}: {}",
            self.pipeline, self.step, self.cause.source
        )
    }
}

impl Error for PipelineError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.cause.source)
    }
}

/// One declared step: its name, the capability operation it invokes, and the async
/// function that does the work.
pub struct Step<S> {
    name: Cow<'static, str>,
    capability: Cow<'static, str>,
    operation: Cow<'static, str>,
    run: StepFn<S>,
    when: Option<Condition<S>>,
    retries: u32,
    clone_state: Option<fn(&S) -> S>,
}

impl<S> fmt::Debug for Step<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("name", &self.name)
            .field("capability", &self.capability)
            .field("operation", &self.operation)
            .field("conditional", &self.when.is_some())
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl<S: Send + 'static> Step<S> {
    /// Step `name` invoking `capability`.`operation` by running `run` on the state.
    pub fn new<F, Fut>(
        name: impl Into<Cow<'static, str>>,
        capability: impl Into<Cow<'static, str>>,
        operation: impl Into<Cow<'static, str>>,
        run: F,
    ) -> Self
    where
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, StepError>> + Send + 'static,
    {
        Self {
            name: name.into(),
            capability: capability.into(),
            operation: operation.into(),
            run: Box::new(move |state| Box::pin(run(state))),
            when: None,
            retries: 0,
            clone_state: None,
        }
    }

    /// Runs the step only when `condition` holds for the state; otherwise the step's
    /// span records `skipped` with reason `condition not met`.
    pub fn when(mut self, condition: impl Fn(&S) -> bool + Send + Sync + 'static) -> Self {
        self.when = Some(Box::new(condition));
        self
    }

    /// Retries a failed attempt up to `retries` times, at once, each on a copy of the
    /// state the step started with, recording a `trace_rs.retry` event per retry. Put any
    /// backoff inside the step's function.
    pub fn retries(mut self, retries: u32) -> Self
    where
        S: Clone,
    {
        self.retries = retries;
        self.clone_state = Some(S::clone);
        self
    }
}

/// A declared pipeline: a name and ordered steps over a state `S`.
#[derive(Debug)]
pub struct Pipeline<S> {
    name: Cow<'static, str>,
    steps: Vec<Step<S>>,
}

impl<S: Send + 'static> Pipeline<S> {
    /// An empty pipeline named `name`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            steps: Vec::new(),
        }
    }

    /// Appends `step`.
    pub fn step(mut self, step: Step<S>) -> Self {
        self.steps.push(step);
        self
    }

    /// The pipeline's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs every step in order on `state` for `event`, under a
    /// `pipeline.{name}.execute` span that is a child of the current context.
    pub async fn execute(&self, event: Event<'_>, state: S) -> Result<S, PipelineError> {
        self.execute_in(PipelineRun::start(&self.name, event), state)
            .await
    }

    /// Like [`execute`](Self::execute) for a run picked up with a stored
    /// [`TraceHandle`], continued or linked as `continuation` says.
    pub async fn execute_from(
        &self,
        handle: Option<&TraceHandle>,
        continuation: Continuation,
        event: Event<'_>,
        state: S,
    ) -> Result<S, PipelineError> {
        let run = PipelineRun::start_from(handle, continuation, &self.name, event);
        self.execute_in(run, state).await
    }

    async fn execute_in(&self, run: PipelineRun, mut state: S) -> Result<S, PipelineError> {
        for step in &self.steps {
            let step_run = run.step(&step.name, &step.capability, &step.operation);
            state = match run_step(step, step_run, state).await {
                Ok(next) => next,
                Err(cause) => {
                    run.finish(Outcome::error(
                        cause.error_type.clone(),
                        format!("step {} failed: {}", step.name, cause.source),
                    ));
                    return Err(PipelineError {
                        pipeline: self.name.to_string(),
                        step: step.name.to_string(),
                        cause,
                    });
                }
            };
        }
        run.finish(Outcome::Success);
        Ok(state)
    }
}

async fn run_step<S>(step: &Step<S>, span: StepRun, mut state: S) -> Result<S, StepError> {
    if step.when.as_ref().is_some_and(|when| !when(&state)) {
        span.finish(Outcome::skipped("condition not met"));
        return Ok(state);
    }
    let mut attempt: u32 = 1;
    loop {
        // Keep the state for another attempt only while retries remain.
        let (input, kept) = match step.clone_state {
            Some(clone) if attempt <= step.retries => (clone(&state), Some(state)),
            _ => (state, None),
        };
        let call = span.capability(&step.capability, &step.operation);
        let result = call.instrument((step.run)(input)).await;
        match (result, kept) {
            (Ok(next), _) => {
                call.finish(Outcome::Success);
                span.finish(Outcome::Success);
                return Ok(next);
            }
            (Err(error), Some(kept)) => {
                call.finish(error.outcome());
                attempt += 1;
                span.retry(attempt, error.error_type());
                state = kept;
            }
            (Err(error), None) => {
                call.finish(error.outcome());
                span.finish(error.outcome());
                return Err(error);
            }
        }
    }
}
