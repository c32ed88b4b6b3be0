//! Carriers over [`http::HeaderMap`].

use http::header::GetAll;
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};

/// Reads propagation fields from an [`HeaderMap`].
///
/// Header names are matched case-insensitively. Values that are not visible
/// ASCII (for example raw UTF-8 or other bytes) are skipped, never a panic.
/// [`Extractor::get_all`] returns every value of a repeated header, in order,
/// which the strict propagators need to reject repeated `traceparent`.
///
/// # Example
///
/// ```
/// use http::HeaderMap;
/// use opentelemetry::propagation::Extractor;
/// use trace_core::carrier::HeaderExtractor;
///
/// let mut headers = HeaderMap::new();
/// headers.append("tracestate", "a=1".parse()?);
/// headers.append("TraceState", "b=2".parse()?);
/// assert_eq!(HeaderExtractor(&headers).get_all("TRACESTATE"), Some(vec!["a=1", "b=2"]));
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

/// The propagators' own fields, pre-parsed: a lookup by `&str` parses and lowercases the
/// name first, a sizeable share of extracting a context from every request.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// Up to this many header values, one pass comparing names costs less than a lookup,
/// which hashes the name and probes the map.
const SCAN_LIMIT: usize = 16;

impl<'a> HeaderExtractor<'a> {
    fn looked_up(&self, key: &str) -> GetAll<'a, HeaderValue> {
        match key {
            "traceparent" => self.0.get_all(&TRACEPARENT),
            "tracestate" => self.0.get_all(&TRACESTATE),
            "baggage" => self.0.get_all(&BAGGAGE),
            _ => self.0.get_all(key),
        }
    }

    /// The values of `key`, in order, found by a pass over a small map.
    fn scanned<'k>(&self, key: &'k str) -> impl Iterator<Item = &'a HeaderValue> + use<'a, 'k> {
        let map: &'a HeaderMap = self.0;
        map.iter()
            .filter(move |(name, _)| name.as_str().eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    }
}

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if self.0.len() <= SCAN_LIMIT {
            return self.scanned(key).find_map(visible);
        }
        self.looked_up(key).iter().find_map(visible)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = if self.0.len() <= SCAN_LIMIT {
            self.scanned(key).filter_map(visible).collect()
        } else {
            self.looked_up(key).iter().filter_map(visible).collect()
        };
        (!values.is_empty()).then_some(values)
    }
}

/// A value as text, if it is visible ASCII.
fn visible(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok()
}

/// Writes propagation fields into an [`HeaderMap`].
///
/// Uses `insert`, so injecting twice replaces earlier values instead of
/// repeating the header. A name or value that is not a valid header is
/// skipped silently; injection never panics.
///
/// # Example
///
/// ```
/// use http::HeaderMap;
/// use opentelemetry::propagation::Injector;
/// use trace_core::carrier::HeaderInjector;
///
/// let mut headers = HeaderMap::new();
/// HeaderInjector(&mut headers).set("baggage", "a=1".to_string());
/// HeaderInjector(&mut headers).set("baggage", "a=2".to_string());
/// HeaderInjector(&mut headers).set("baggage", "bad\nvalue".to_string());
/// assert_eq!(headers.get_all("baggage").iter().count(), 1);
/// assert_eq!(headers["baggage"], "a=2");
/// ```
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
            return;
        };
        let Ok(value) = HeaderValue::try_from(value) else {
            return;
        };
        // `try_insert` replaces like `insert` but cannot panic on a full map.
        let _ = self.0.try_insert(name, value);
    }

    fn reserve(&mut self, additional: usize) {
        // A hint only: a map already at its size limit simply does not grow.
        let _ = self.0.try_reserve(additional);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_all_skips_non_ascii_values() {
        let mut headers = HeaderMap::new();
        headers.append(
            "baggage",
            HeaderValue::from_bytes(b"\xffbad").expect("obs-text"),
        );
        headers.append("baggage", HeaderValue::from_static("a=1"));
        let extractor = HeaderExtractor(&headers);
        assert_eq!(extractor.get("baggage"), Some("a=1"));
        assert_eq!(extractor.get_all("Baggage"), Some(vec!["a=1"]));
        assert_eq!(extractor.get_all("bad name"), None);
        assert_eq!(extractor.keys(), ["baggage"]);
    }

    #[test]
    fn only_non_ascii_values_read_as_absent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_bytes(b"\xc3\xa9").expect("obs-text"),
        );
        assert_eq!(HeaderExtractor(&headers).get("traceparent"), None);
        assert_eq!(HeaderExtractor(&headers).get_all("traceparent"), None);
    }

    #[test]
    fn invalid_names_and_values_are_skipped() {
        let mut headers = HeaderMap::new();
        let mut injector = HeaderInjector(&mut headers);
        injector.set("bad name", "v".to_owned());
        injector.set("", "v".to_owned());
        injector.set("ok", "line\nbreak".to_owned());
        injector.set("ok2", "nul\0".to_owned());
        injector.reserve(usize::MAX);
        assert!(headers.is_empty());
        // Bytes above 0x7f are legal obs-text in HTTP, so they are kept as bytes.
        HeaderInjector(&mut headers).set("ok3", "é".to_owned());
        assert_eq!(headers["ok3"].as_bytes(), "é".as_bytes());
    }
}
