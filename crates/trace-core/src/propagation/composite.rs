//! Composing propagators, and choosing them by name (`OTEL_PROPAGATORS` style).

use std::fmt;
use std::str::FromStr;

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter},
};

use super::{BaggagePropagator, TraceContextPropagator};

/// A propagator that runs its members in order.
///
/// Injection lets every member write its fields; extraction feeds the context
/// returned by one member into the next. With no members it does nothing,
/// which is how propagation is switched off.
///
/// # Example
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use trace_core::propagation::{BaggagePropagator, CompositePropagator, TraceContextPropagator};
///
/// let composite = CompositePropagator::new(vec![
///     Box::new(TraceContextPropagator::new()),
///     Box::new(BaggagePropagator::new()),
/// ]);
/// let fields: Vec<&str> = composite.fields().collect();
/// assert_eq!(fields, ["traceparent", "tracestate", "baggage"]);
/// ```
#[derive(Debug)]
pub struct CompositePropagator {
    propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>>,
    fields: Vec<String>,
}

impl CompositePropagator {
    /// Builds a composite from `propagators`, run in the given order.
    pub fn new(propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>>) -> Self {
        let mut fields: Vec<String> = Vec::new();
        for field in propagators.iter().flat_map(|p| p.fields()) {
            if !fields.iter().any(|f| f.eq_ignore_ascii_case(field)) {
                fields.push(field.to_owned());
            }
        }
        Self {
            propagators,
            fields,
        }
    }

    /// Returns `true` when there are no members, i.e. propagation is off.
    pub fn is_empty(&self) -> bool {
        self.propagators.is_empty()
    }

    /// The number of member propagators.
    pub fn len(&self) -> usize {
        self.propagators.len()
    }
}

impl TextMapPropagator for CompositePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        for propagator in &self.propagators {
            propagator.inject_context(cx, injector);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.propagators
            .iter()
            .fold(cx.clone(), |acc, p| p.extract_with_context(&acc, extractor))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// A propagator this crate can build by name.
///
/// # Example
///
/// ```
/// use trace_core::propagation::PropagatorKind;
///
/// assert_eq!(" TraceContext ".parse(), Ok(PropagatorKind::TraceContext));
/// let err = "b3".parse::<PropagatorKind>().unwrap_err();
/// assert!(err.to_string().contains("tracecontext, baggage, none"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropagatorKind {
    /// W3C Trace Context: [`TraceContextPropagator`].
    TraceContext,
    /// W3C Baggage: [`BaggagePropagator`].
    Baggage,
    /// No propagation; wins over every other entry in a list.
    None,
}

impl PropagatorKind {
    /// The canonical lowercase name, as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TraceContext => "tracecontext",
            Self::Baggage => "baggage",
            Self::None => "none",
        }
    }
}

impl fmt::Display for PropagatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PropagatorKind {
    type Err = UnknownPropagator;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        [Self::TraceContext, Self::Baggage, Self::None]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownPropagator {
                name: name.to_owned(),
            })
    }
}

/// Error for a propagator name that is not `tracecontext`, `baggage` or `none`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPropagator {
    name: String,
}

impl UnknownPropagator {
    /// The rejected name, trimmed.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for UnknownPropagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported propagator {:?}; allowed values are: tracecontext, baggage, none",
            self.name
        )
    }
}

impl std::error::Error for UnknownPropagator {}

/// Parses a comma-separated list such as the `OTEL_PROPAGATORS` value.
///
/// Empty entries are ignored, so `""` yields an empty list (propagation off).
///
/// # Errors
///
/// Returns the first [`UnknownPropagator`] in the list.
pub fn parse_propagator_list(list: &str) -> Result<Vec<PropagatorKind>, UnknownPropagator> {
    list.split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// Builds the composite for `kinds`, in order and without repeats.
///
/// An empty list, or `none` anywhere in it, yields a composite with no members.
///
/// # Example
///
/// ```
/// use trace_core::propagation::{build_propagator, PropagatorKind};
///
/// assert_eq!(build_propagator(&[PropagatorKind::TraceContext, PropagatorKind::Baggage]).len(), 2);
/// assert!(build_propagator(&[PropagatorKind::TraceContext, PropagatorKind::None]).is_empty());
/// ```
pub fn build_propagator(kinds: &[PropagatorKind]) -> CompositePropagator {
    if kinds.contains(&PropagatorKind::None) {
        return CompositePropagator::new(Vec::new());
    }
    let mut seen: Vec<PropagatorKind> = Vec::with_capacity(kinds.len());
    let mut members: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    for &kind in kinds {
        if seen.contains(&kind) {
            continue;
        }
        seen.push(kind);
        match kind {
            PropagatorKind::TraceContext => members.push(Box::new(TraceContextPropagator::new())),
            PropagatorKind::Baggage => members.push(Box::new(BaggagePropagator::new())),
            PropagatorKind::None => {}
        }
    }
    CompositePropagator::new(members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::TraceContextExt;
    use std::collections::HashMap;

    #[test]
    fn kinds_parse_case_insensitively_and_trimmed() {
        assert_eq!("tracecontext".parse(), Ok(PropagatorKind::TraceContext));
        assert_eq!(" TraceContext\t".parse(), Ok(PropagatorKind::TraceContext));
        assert_eq!("BAGGAGE".parse(), Ok(PropagatorKind::Baggage));
        assert_eq!("None".parse(), Ok(PropagatorKind::None));
        for kind in [
            PropagatorKind::TraceContext,
            PropagatorKind::Baggage,
            PropagatorKind::None,
        ] {
            assert_eq!(kind.as_str().parse(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn unknown_kinds_name_the_value_and_the_allowed_ones() {
        for name in ["b3", "jaeger", "xray", ""] {
            let err = name.parse::<PropagatorKind>().expect_err(name);
            assert_eq!(err.name(), name);
            let message = err.to_string();
            assert!(message.contains(&format!("{name:?}")), "{message}");
            assert!(message.contains("tracecontext, baggage, none"), "{message}");
        }
    }

    #[test]
    fn lists_parse_and_report_the_first_unknown_entry() {
        assert_eq!(
            parse_propagator_list("tracecontext, baggage"),
            Ok(vec![PropagatorKind::TraceContext, PropagatorKind::Baggage])
        );
        assert_eq!(parse_propagator_list(" , "), Ok(vec![]));
        let err = parse_propagator_list("tracecontext,B3 ,jaeger").expect_err("b3");
        assert_eq!(err.name(), "B3");
    }

    #[test]
    fn none_or_empty_builds_an_empty_composite() {
        assert!(build_propagator(&[]).is_empty());
        assert!(build_propagator(&[PropagatorKind::None]).is_empty());
        assert!(build_propagator(&[PropagatorKind::Baggage, PropagatorKind::None]).is_empty());
        assert_eq!(build_propagator(&[]).fields().count(), 0);
    }

    #[test]
    fn repeated_kinds_are_built_once_in_order() {
        let composite = build_propagator(&[
            PropagatorKind::Baggage,
            PropagatorKind::TraceContext,
            PropagatorKind::Baggage,
        ]);
        assert_eq!(composite.len(), 2);
        let fields: Vec<&str> = composite.fields().collect();
        assert_eq!(fields, ["baggage", "traceparent", "tracestate"]);
    }

    #[test]
    fn composite_injects_all_and_extracts_in_order() {
        let composite = build_propagator(&[PropagatorKind::TraceContext, PropagatorKind::Baggage]);
        let mut headers = HashMap::new();
        headers.insert(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        );
        headers.insert("baggage".to_owned(), "k=v".to_owned());
        let cx = composite.extract_with_context(&Context::new(), &headers);
        assert!(cx.span().span_context().is_valid());
        assert_eq!(cx.baggage().get("k").map(|v| v.as_str()), Some("v"));

        let mut out = HashMap::new();
        composite.inject_context(&cx, &mut out);
        assert_eq!(out, headers);
    }

    #[test]
    fn empty_composite_does_nothing() {
        let composite = build_propagator(&[PropagatorKind::None]);
        let mut headers = HashMap::new();
        headers.insert("baggage".to_owned(), "k=v".to_owned());
        let cx = composite.extract_with_context(&Context::new(), &headers);
        assert!(cx.baggage().is_empty());
        let mut out: HashMap<String, String> = HashMap::new();
        composite.inject_context(
            &cx.with_baggage([opentelemetry::KeyValue::new("a", "1")]),
            &mut out,
        );
        assert!(out.is_empty());
    }
}
