//! Carriers over string maps and pair lists, such as message metadata.
//!
//! Messaging systems and RPC metadata may change the case of keys in transit,
//! so reads match keys case-insensitively (ASCII), while writes keep the case
//! the propagator used and replace any differently-cased copy.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use opentelemetry::propagation::{Extractor, Injector};

/// Reads propagation fields from a `HashMap<String, String>`,
/// `BTreeMap<String, String>` or `Vec<(String, String)>`.
///
/// Keys are matched ignoring ASCII case. [`Extractor::get`] prefers an exact
/// match, then the first case-insensitive one. [`Extractor::get_all`] returns
/// every matching value: in list order for a `Vec`, in key order for a
/// `BTreeMap`, and in unspecified order for a `HashMap`.
///
/// # Example
///
/// ```
/// use opentelemetry::propagation::Extractor;
/// use trace_core::carrier::MapExtractor;
///
/// let metadata = vec![
///     ("TraceState".to_string(), "a=1".to_string()),
///     ("tracestate".to_string(), "b=2".to_string()),
/// ];
/// let extractor = MapExtractor(&metadata);
/// assert_eq!(extractor.get("TRACESTATE"), Some("a=1"));
/// assert_eq!(extractor.get_all("tracestate"), Some(vec!["a=1", "b=2"]));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MapExtractor<'a, M>(pub &'a M);

/// Writes propagation fields into a `HashMap<String, String>`,
/// `BTreeMap<String, String>` or `Vec<(String, String)>`.
///
/// The key is stored with the case the propagator wrote. Existing entries
/// whose key differs only in case are replaced, so re-injection never leaves
/// stale duplicates. In a `Vec` the first match is updated in place.
///
/// # Example
///
/// ```
/// use opentelemetry::propagation::Injector;
/// use std::collections::HashMap;
/// use trace_core::carrier::MapInjector;
///
/// let mut metadata = HashMap::new();
/// metadata.insert("TRACEPARENT".to_string(), "stale".to_string());
/// MapInjector(&mut metadata).set("traceparent", "fresh".to_string());
/// assert_eq!(metadata.len(), 1);
/// assert_eq!(metadata["traceparent"], "fresh");
/// ```
#[derive(Debug)]
pub struct MapInjector<'a, M>(pub &'a mut M);

fn matches(stored: &str, key: &str) -> bool {
    stored.eq_ignore_ascii_case(key)
}

fn collect_matches<'a>(
    pairs: impl Iterator<Item = (&'a String, &'a String)>,
    key: &str,
) -> Option<Vec<&'a str>> {
    let values: Vec<&str> = pairs
        .filter(|(k, _)| matches(k, key))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then_some(values)
}

impl<S: BuildHasher> Extractor for MapExtractor<'_, HashMap<String, String, S>> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .or_else(|| self.0.iter().find(|(k, _)| matches(k, key)).map(|(_, v)| v))
            .map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        collect_matches(self.0.iter(), key)
    }
}

impl Extractor for MapExtractor<'_, BTreeMap<String, String>> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .or_else(|| self.0.iter().find(|(k, _)| matches(k, key)).map(|(_, v)| v))
            .map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        collect_matches(self.0.iter(), key)
    }
}

impl Extractor for MapExtractor<'_, Vec<(String, String)>> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .or_else(|| self.0.iter().find(|(k, _)| matches(k, key)))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        collect_matches(self.0.iter().map(|(k, v)| (k, v)), key)
    }
}

impl<S: BuildHasher> Injector for MapInjector<'_, HashMap<String, String, S>> {
    fn set(&mut self, key: &str, value: String) {
        if self.0.keys().any(|k| k != key && matches(k, key)) {
            self.0.retain(|k, _| !matches(k, key));
        }
        self.0.insert(key.to_owned(), value);
    }

    fn reserve(&mut self, additional: usize) {
        // A hint only: failing to grow must not abort injection.
        let _ = self.0.try_reserve(additional);
    }
}

impl Injector for MapInjector<'_, BTreeMap<String, String>> {
    fn set(&mut self, key: &str, value: String) {
        if self.0.keys().any(|k| k != key && matches(k, key)) {
            self.0.retain(|k, _| !matches(k, key));
        }
        self.0.insert(key.to_owned(), value);
    }
}

impl Injector for MapInjector<'_, Vec<(String, String)>> {
    fn set(&mut self, key: &str, value: String) {
        let Some(first) = self.0.iter().position(|(k, _)| matches(k, key)) else {
            self.0.push((key.to_owned(), value));
            return;
        };
        self.0[first] = (key.to_owned(), value);
        let mut index = 0;
        self.0.retain(|(k, _)| {
            let keep = index <= first || !matches(k, key);
            index += 1;
            keep
        });
    }

    fn reserve(&mut self, additional: usize) {
        // A hint only: failing to grow must not abort injection.
        let _ = self.0.try_reserve(additional);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn hash_map_reads_case_insensitively_and_writes_case_kept() {
        let mut map: HashMap<String, String> = HashMap::new();
        map.insert("TraceParent".to_owned(), "a".to_owned());
        assert_eq!(MapExtractor(&map).get("traceparent"), Some("a"));
        assert_eq!(MapExtractor(&map).get_all("TRACEPARENT"), Some(vec!["a"]));
        assert_eq!(MapExtractor(&map).get_all("tracestate"), None);
        MapInjector(&mut map).set("traceParent", "b".to_owned());
        assert_eq!(map.len(), 1);
        assert_eq!(map.get("traceParent").map(String::as_str), Some("b"));
        MapInjector(&mut map).reserve(usize::MAX);
    }

    #[test]
    fn btree_map_reads_case_insensitively_and_writes_case_kept() {
        let mut map = BTreeMap::new();
        map.insert("BAGGAGE".to_owned(), "a".to_owned());
        map.insert("baggage".to_owned(), "b".to_owned());
        assert_eq!(MapExtractor(&map).get("baggage"), Some("b"));
        assert_eq!(MapExtractor(&map).get("Baggage"), Some("a"));
        assert_eq!(MapExtractor(&map).get_all("baggage"), Some(vec!["a", "b"]));
        assert_eq!(MapExtractor(&map).keys(), ["BAGGAGE", "baggage"]);
        MapInjector(&mut map).set("Baggage", "c".to_owned());
        assert_eq!(
            map,
            BTreeMap::from([("Baggage".to_owned(), "c".to_owned())])
        );
    }

    #[test]
    fn vec_keeps_order_and_duplicates_on_read() {
        let list = pairs(&[("tracestate", "a=1"), ("other", "x"), ("TRACESTATE", "b=2")]);
        let extractor = MapExtractor(&list);
        assert_eq!(extractor.get_all("TraceState"), Some(vec!["a=1", "b=2"]));
        assert_eq!(extractor.get("TRACESTATE"), Some("b=2"));
        assert_eq!(extractor.get("Other"), Some("x"));
        assert_eq!(extractor.keys(), ["tracestate", "other", "TRACESTATE"]);
    }

    #[test]
    fn vec_injection_replaces_first_match_in_place() {
        let mut list = pairs(&[
            ("a", "1"),
            ("TRACEPARENT", "old"),
            ("b", "2"),
            ("traceparent", "older"),
        ]);
        MapInjector(&mut list).set("traceparent", "new".to_owned());
        assert_eq!(
            list,
            pairs(&[("a", "1"), ("traceparent", "new"), ("b", "2")])
        );
        MapInjector(&mut list).set("tracestate", "s".to_owned());
        assert_eq!(
            list.last(),
            Some(&("tracestate".to_owned(), "s".to_owned()))
        );
        MapInjector(&mut list).reserve(usize::MAX);
    }
}
