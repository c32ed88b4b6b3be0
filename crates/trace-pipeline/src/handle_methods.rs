//! The methods every handle shares: context, running work inside the span, retries.

/// Implements the shared methods on a handle type with a `tracked: Tracked` field.
macro_rules! handle_methods {
    ($handle:ident) => {
        impl $handle {
            /// The context to run child work in and to propagate: this span's when it
            /// records, otherwise the parent's unchanged.
            pub fn context(&self) -> &::opentelemetry::Context {
                self.tracked.context()
            }

            /// Whether this span records (tracing is on and the span was sampled).
            pub fn is_recording(&self) -> bool {
                self.tracked.is_recording()
            }

            /// Wraps `future` so this span is the active context at every poll; spans
            /// started inside it become children. No guard is held across `.await`.
            pub fn instrument<F: ::std::future::Future>(
                &self,
                future: F,
            ) -> ::opentelemetry::context::WithContext<F> {
                ::opentelemetry::context::FutureExt::with_context(future, self.context().clone())
            }

            /// Runs the synchronous `work` with this span as the active context.
            pub fn in_scope<R>(&self, work: impl FnOnce() -> R) -> R {
                let _active = self.context().clone().attach();
                work()
            }

            /// Records a `retry` event: `attempt` is the attempt about to start (the
            /// first retry is attempt 2), `reason` why the previous one is retried.
            pub fn retry(&self, attempt: u32, reason: &str) {
                self.tracked.retry(attempt, reason);
            }

            /// A [`TraceHandle`](crate::TraceHandle) of this span, to store with work
            /// that continues elsewhere; `None` when the span does not record.
            pub fn trace_handle(&self) -> Option<crate::TraceHandle> {
                self.is_recording()
                    .then(|| crate::TraceHandle::from_context(self.context()))
                    .flatten()
            }
        }
    };
}

pub(crate) use handle_methods;
