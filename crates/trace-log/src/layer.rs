//! Ready-made `fmt` layers writing to stdout.

use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::{JsonFormat, WithTraceIds};

/// A tracing-subscriber `fmt` layer writing [`JsonFormat`] lines to stdout (plus, with
/// feature `tracing`, its [`TracingSpanLookup`](crate::TracingSpanLookup)).
///
/// For another writer or options, build the layer yourself:
/// `tracing_subscriber::fmt::layer().event_format(JsonFormat::new()).with_writer(...)`.
pub fn json_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let format = JsonFormat::new();
    #[cfg(feature = "tracing")]
    let lookup = format.tracing_span_lookup();
    let layer = tracing_subscriber::fmt::layer().event_format(format);
    #[cfg(feature = "tracing")]
    let layer = layer.and_then(lookup);
    layer
}

/// A tracing-subscriber `fmt` layer writing human-readable lines ([`WithTraceIds`]
/// around the default `Full` format) to stdout (plus, with feature `tracing`, its
/// [`TracingSpanLookup`](crate::TracingSpanLookup)).
pub fn text_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let format = WithTraceIds::default();
    #[cfg(feature = "tracing")]
    let lookup = format.tracing_span_lookup();
    let layer = tracing_subscriber::fmt::layer().event_format(format);
    #[cfg(feature = "tracing")]
    let layer = layer.and_then(lookup);
    layer
}
