//! How a pipeline run, step, capability call or job ended.

use std::borrow::Cow;
use std::error::Error;

use trace_core::ErrorType;

/// How a unit of work ended; passed to `finish` on every handle of this crate.
///
/// | Outcome | Status | Attributes |
/// |---|---|---|
/// | [`Success`](Self::Success) | unset | `trace_rs.*.outcome = success` (`trace_rs.job.result = completed`) |
/// | [`Skipped`](Self::Skipped) | unset: skipping is a decision, not a failure | `trace_rs.*.outcome = skipped`, `trace_rs.*.skip_reason` |
/// | [`Cancelled`](Self::Cancelled) | unset: the caller gave up, the work did not fail | `trace_rs.*.outcome = cancelled` |
/// | [`Error`](Self::Error) | `Error` with the message (at most 1 KiB) | `trace_rs.*.outcome = error` (`trace_rs.job.result = failed`), `error.type` |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The work completed.
    Success,
    /// The work was deliberately not done (a condition was not met, nothing to do).
    Skipped {
        /// Why, e.g. `no new items`; keep it low-cardinality.
        reason: Cow<'static, str>,
    },
    /// The caller stopped waiting (timeout of an outer call, shutdown). A handle dropped
    /// before `finish` records this outcome.
    Cancelled,
    /// The work failed.
    Error {
        /// `error.type`, by [`ErrorType`]'s rule: a low-cardinality code such as
        /// `timeout`, else the error's type name.
        error_type: ErrorType,
        /// A human-readable description for the span status.
        message: Cow<'static, str>,
    },
}

impl Outcome {
    /// A skipped outcome with `reason`.
    pub fn skipped(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Skipped {
            reason: reason.into(),
        }
    }

    /// A failure with `error_type` (for `error.type`; a string is taken as a code) and
    /// `message` (for the status).
    pub fn error(error_type: impl Into<ErrorType>, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Error {
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    /// A failure described by `error`: `error.type` is the error's fully-qualified
    /// type name ([`ErrorType::of`]), the message its `Display` text.
    pub fn from_error<E: Error + ?Sized>(error: &E) -> Self {
        Self::error(ErrorType::of::<E>(), error.to_string())
    }

    /// [`Success`](Self::Success) for `Ok`, [`from_error`](Self::from_error) for `Err`.
    pub fn from_result<T, E: Error>(result: &Result<T, E>) -> Self {
        match result {
            Ok(_) => Self::Success,
            Err(error) => Self::from_error(error),
        }
    }

    /// Whether this outcome marks the span as failed.
    pub fn is_error(&self) -> bool {
        matches!(self, Self::Error { .. })
    }
}
