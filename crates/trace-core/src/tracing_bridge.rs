//! Spans from the `tracing` crate in the same traces (feature `tracing`).
//!
//! [`layer`] builds a `tracing-opentelemetry` layer on the provider that
//! [`init`](crate::init) installed, with context activation on: entering a `tracing`
//! span makes its OpenTelemetry context [`Context::current`](opentelemetry::Context::current),
//! so `#[instrument]` functions and trace-core spans nest in both directions.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! let _guard = trace_core::init(&trace_core::Config::default()).unwrap();
//! tracing_subscriber::registry()
//!     .with(trace_core::tracing_bridge::layer())
//!     .init();
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracer;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

use crate::active;

/// The instrumentation scope name of spans that come from `tracing`.
pub const TRACING_SCOPE: &str = "tracing";

/// A `tracing-opentelemetry` layer for the installed provider, or `None` when tracing
/// is disabled (an `Option<Layer>` is itself a layer, so it can be added either way).
pub fn layer<S>() -> Option<OpenTelemetryLayer<S, SdkTracer>>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let provider = active::provider()?;
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(TRACING_SCOPE))
            .with_context_activation(true),
    )
}
