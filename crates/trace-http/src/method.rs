//! `http.request.method` as the semantic conventions define it.

use http::Method;
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL,
};

/// The method's conventional name, or `None` for a method outside the well-known set
/// (which is recorded as `_OTHER`, keeping span names low-cardinality).
pub(crate) fn known_method(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => return None,
    })
}

/// The method part of a span name: the method, or `HTTP` for an unknown one.
pub(crate) fn span_name_method(method: &Method) -> &'static str {
    known_method(method).unwrap_or("HTTP")
}

/// `http.request.method`, plus `http.request.method_original` for an unknown method.
pub(crate) fn method_attributes(method: &Method, attributes: &mut Vec<KeyValue>) {
    match known_method(method) {
        Some(name) => attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, name)),
        None => {
            attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, "_OTHER"));
            attributes.push(KeyValue::new(
                HTTP_REQUEST_METHOD_ORIGINAL,
                method.as_str().to_owned(),
            ));
        }
    }
}

/// `network.protocol.version` for an HTTP version.
pub(crate) fn protocol_version(version: http::Version) -> Option<&'static str> {
    Some(match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => return None,
    })
}
