//! The methods every handle shares: context, running work inside the span, retries.

/// Implements the shared methods on a handle type with a `tracked: Tracked` field; with
/// `finish`, also `finish` and `run` for handles that record nothing more at the end.
macro_rules! handle_methods {
    ($handle:ident, finish) => {
        handle_methods!($handle);

        impl $handle {
            /// Ends the span with `outcome`.
            pub fn finish(self, outcome: crate::Outcome) {
                self.tracked.finish_with(|| outcome, |_| {});
            }

            /// Runs `work` inside this span, then finishes with its result: `Ok` is
            /// success, `Err` an error whose `error.type` is the error's type name.
            pub async fn run<T, E, F>(self, work: F) -> Result<T, E>
            where
                F: ::std::future::Future<Output = Result<T, E>>,
                E: ::std::error::Error,
            {
                let result = self.instrument(work).await;
                self.tracked
                    .finish_with(|| crate::Outcome::from_result(&result), |_| {});
                result
            }
        }
    };
    ($handle:ident) => {
        impl $handle {
            /// The context to run child work in and to propagate: this span's, recording
            /// or not (an unsampled span has a span context of its own, so children
            /// follow its decision). The parent's, unchanged, when the provider made no
            /// span; empty when tracing is disabled.
            pub fn context(&self) -> &::opentelemetry::Context {
                self.tracked.context()
            }

            /// Whether this span records (tracing is on and the span was sampled).
            pub fn is_recording(&self) -> bool {
                self.tracked.is_recording()
            }

            /// Wraps `future` so this span is the active context at every poll; spans
            /// started inside it become children. No guard is held across `.await`.
            /// With tracing disabled the future keeps the caller's context (and baggage).
            pub fn instrument<F: ::std::future::Future>(
                &self,
                future: F,
            ) -> ::opentelemetry::context::WithContext<F> {
                let cx = if ::trace_core::is_enabled() {
                    self.context().clone()
                } else {
                    ::opentelemetry::Context::current()
                };
                ::opentelemetry::context::FutureExt::with_context(future, cx)
            }

            /// Runs the synchronous `work` with this span as the active context (with
            /// tracing disabled, in the caller's context, untouched).
            pub fn in_scope<R>(&self, work: impl FnOnce() -> R) -> R {
                if !::trace_core::is_enabled() {
                    return work();
                }
                let _active = self.context().clone().attach();
                work()
            }

            /// Records a `trace_rs.retry` event: `attempt` is the attempt about to start
            /// (the first retry is attempt 2), `reason` why the previous one is retried.
            pub fn retry(&self, attempt: u32, reason: &str) {
                self.tracked.retry(attempt, reason);
            }

            /// A [`TraceHandle`](crate::TraceHandle) of [`context`](Self::context), to
            /// store with work that continues elsewhere: this span's, with the sampled
            /// flag off when it does not record (keeping the unsampled decision); `None`
            /// when there is no valid context at all (tracing disabled, or neither a
            /// span nor a parent).
            pub fn trace_handle(&self) -> Option<crate::TraceHandle> {
                crate::TraceHandle::from_context(self.context())
            }
        }
    };
}

pub(crate) use handle_methods;
