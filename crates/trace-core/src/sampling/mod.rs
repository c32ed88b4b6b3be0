//! [`Sampling`]: the sampler a [`Config`](crate::Config) names, built from the SDK's
//! samplers.

use std::fmt;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{ParentBasedSampler, Sampler, SamplingResult, ShouldSample};

use crate::config::SamplerKind;
use crate::known_sampler::{RootRule, Rule};

mod ot;
mod probability;

pub use probability::ProbabilitySampler;

/// The sampler named by `sampler` and `sample_rate` in the configuration (or
/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`), as an SDK [`ShouldSample`].
///
/// `traceidratio` is the specification's consistent [`ProbabilitySampler`] (the
/// successor of `TraceIdRatioBased`, which the SDK specification now defines the same
/// way): its decision follows the trace's W3C Level 2 randomness, so services with
/// different ratios keep consistent traces, and it records its threshold in the `ot`
/// tracestate member. A rate of 1.0 (the default) is the SDK's `AlwaysOn` and 0.0 its
/// `AlwaysOff`, which write no threshold. It differs from opentelemetry-rust's
/// `Sampler::TraceIdRatioBased`, which compares other bits of the trace id; a service
/// that must match that sampler's decisions passes it to
/// [`TracingBuilder::with_sampler`](crate::TracingBuilder::with_sampler).
///
/// `parentbased_*` kinds are the SDK's [`ParentBasedSampler`], which follows a valid
/// parent's decision, hands roots to the named root sampler and keeps the tracestate
/// that sampler writes. A service that needs another sampler passes its own
/// `ShouldSample` to `TracingBuilder::with_sampler` instead.
///
/// ```
/// use trace_core::config::SamplerKind;
/// use trace_core::Sampling;
///
/// let sampler = Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 0.25);
/// assert_eq!(sampler.to_string(), "parentbased_traceidratio(0.25)");
/// let default = Sampling::new(SamplerKind::ParentBasedTraceIdRatio, 1.0);
/// assert_eq!(default.to_string(), "parentbased_traceidratio(1.0)");
/// ```
#[derive(Debug, Clone)]
pub struct Sampling {
    kind: SamplerKind,
    ratio: f64,
    sampler: Box<dyn ShouldSample>,
}

impl Sampling {
    /// The sampler `kind`, with `ratio` for the ratio kinds (clamped to 0.0..=1.0).
    pub fn new(kind: SamplerKind, ratio: f64) -> Self {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        // A rate of 1 or 0 is always on or off: no threshold for every span to carry.
        let by_ratio = || -> Box<dyn ShouldSample> {
            if ratio >= 1.0 {
                Box::new(Sampler::AlwaysOn)
            } else if ratio <= 0.0 {
                Box::new(Sampler::AlwaysOff)
            } else {
                Box::new(ProbabilitySampler::new(ratio))
            }
        };
        let sampler: Box<dyn ShouldSample> = match kind {
            SamplerKind::AlwaysOn => Box::new(Sampler::AlwaysOn),
            SamplerKind::AlwaysOff => Box::new(Sampler::AlwaysOff),
            SamplerKind::TraceIdRatio => by_ratio(),
            SamplerKind::ParentBasedAlwaysOn => {
                Box::new(ParentBasedSampler::new(Sampler::AlwaysOn))
            }
            SamplerKind::ParentBasedAlwaysOff => {
                Box::new(ParentBasedSampler::new(Sampler::AlwaysOff))
            }
            SamplerKind::ParentBasedTraceIdRatio => Box::new(ParentBasedSampler::new(by_ratio())),
        };
        Self {
            kind,
            ratio,
            sampler,
        }
    }

    /// The configured kind.
    pub fn kind(&self) -> SamplerKind {
        self.kind
    }

    /// What the sampler does with roots, and whether it follows a parent.
    pub(crate) fn rule(&self) -> Rule {
        let by_ratio = if self.ratio >= 1.0 {
            RootRule::On
        } else if self.ratio <= 0.0 {
            RootRule::Off
        } else {
            RootRule::Ratio
        };
        let (root, parent_based) = match self.kind {
            SamplerKind::AlwaysOn => (RootRule::On, false),
            SamplerKind::AlwaysOff => (RootRule::Off, false),
            SamplerKind::TraceIdRatio => (by_ratio, false),
            SamplerKind::ParentBasedAlwaysOn => (RootRule::On, true),
            SamplerKind::ParentBasedAlwaysOff => (RootRule::Off, true),
            SamplerKind::ParentBasedTraceIdRatio => (by_ratio, true),
        };
        Rule { root, parent_based }
    }

    /// The SDK sampler itself, for a provider: one indirection fewer per span.
    pub(crate) fn into_sampler(self) -> Box<dyn ShouldSample> {
        self.sampler
    }
}

impl fmt::Display for Sampling {
    /// The kind as configured, with the ratio where it applies, for the start-up line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SamplerKind::TraceIdRatio | SamplerKind::ParentBasedTraceIdRatio => {
                write!(f, "{}({:?})", self.kind.as_str(), self.ratio)
            }
            _ => f.write_str(self.kind.as_str()),
        }
    }
}

impl ShouldSample for Sampling {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        self.sampler
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}
