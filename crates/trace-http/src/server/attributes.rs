//! The server span's name and attributes: what the sampler sees, and what only a
//! recording span gets.

use std::borrow::Cow;
use std::net::SocketAddr;

use http::header::{HOST, USER_AGENT};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use opentelemetry::Context;
use opentelemetry::trace::{Link, SpanContext, TraceContextExt};
use opentelemetry::{KeyValue, StringValue, Value};
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT,
    NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT, URL_PATH, URL_QUERY, URL_SCHEME,
    USER_AGENT_ORIGINAL,
};
use trace_core::{ErrorType, SpanStart, record_error_on};

use super::config::{CapturedHeader, ServerConfig};
use crate::method::{method_attributes, protocol_version, span_name_method};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Beyond this many header values, four lookups by name cost less than one pass.
const SCAN_LIMIT: usize = 16;

/// The request headers the span's attributes come from (the first value of each).
#[derive(Default)]
pub(crate) struct SpanHeaders<'a> {
    host: Option<&'a HeaderValue>,
    user_agent: Option<&'a HeaderValue>,
    forwarded_for: Option<&'a HeaderValue>,
    forwarded_proto: Option<&'a HeaderValue>,
}

impl<'a> SpanHeaders<'a> {
    /// One pass over a request's few headers: each lookup by name hashes the name and
    /// probes the map, four of them a sizeable share of a sampled request's cost.
    pub(crate) fn find(headers: &'a HeaderMap) -> Self {
        if headers.len() > SCAN_LIMIT {
            return Self {
                host: headers.get(HOST),
                user_agent: headers.get(USER_AGENT),
                forwarded_for: headers.get(X_FORWARDED_FOR),
                forwarded_proto: headers.get(X_FORWARDED_PROTO),
            };
        }
        let mut found = Self::default();
        for (name, value) in headers {
            let slot = if name == HOST {
                &mut found.host
            } else if name == USER_AGENT {
                &mut found.user_agent
            } else if name == X_FORWARDED_FOR {
                &mut found.forwarded_for
            } else if name == X_FORWARDED_PROTO {
                &mut found.forwarded_proto
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        found
    }
}

/// The span's name and the attributes its sampler sees: the request's method, path,
/// scheme, route and server address, cheap to have when the span starts.
pub(crate) fn request_span_start(
    config: &ServerConfig,
    parts: &Parts,
    headers: &SpanHeaders<'_>,
    caller: Option<SpanContext>,
) -> SpanStart {
    let route = config.route.as_ref().and_then(|route| route(parts));
    let method = span_name_method(&parts.method);
    let name: Cow<'static, str> = match &route {
        Some(route) => format!("{method} {route}").into(),
        None => method.into(),
    };
    let mut attributes = Vec::with_capacity(RECORDED_ATTRIBUTES + config.request_headers.len());
    method_attributes(&parts.method, &mut attributes);
    attributes.push(KeyValue::new(URL_PATH, parts.uri.path().to_owned()));
    attributes.push(KeyValue::new(URL_SCHEME, scheme(parts, headers)));
    if let Some(route) = route {
        attributes.push(KeyValue::new(HTTP_ROUTE, route));
    }
    if let Some((host, port)) = server_address(parts, headers) {
        attributes.push(KeyValue::new(SERVER_ADDRESS, host.to_owned()));
        if let Some(port) = port {
            attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
    }
    let start = SpanStart::new(name).with_attributes(attributes);
    match caller {
        Some(caller) => start.with_links([Link::with_context(caller)]),
        None => start,
    }
}

/// Room for every attribute of a request span but the captured headers.
const RECORDED_ATTRIBUTES: usize = 14;

/// The attributes only a recording span gets: query, client and peer, user agent,
/// protocol version and the captured request headers.
pub(crate) fn recorded_request_attributes(
    config: &ServerConfig,
    parts: &Parts,
    headers: &SpanHeaders<'_>,
    peer: Option<SocketAddr>,
) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(7 + config.request_headers.len());
    if let Some(query) = parts.uri.query().filter(|query| !query.is_empty()) {
        let query = config.query_keys.redact_query(query).into_owned();
        attributes.push(KeyValue::new(URL_QUERY, query));
    }
    let peer = peer.or_else(|| connect_info(parts));
    match forwarded_client(headers) {
        Some(client) => attributes.push(KeyValue::new(CLIENT_ADDRESS, client.to_owned())),
        None => {
            if let Some(peer) = peer {
                attributes.push(KeyValue::new(CLIENT_ADDRESS, peer.ip().to_string()));
            }
        }
    }
    if let Some(peer) = peer {
        attributes.push(KeyValue::new(NETWORK_PEER_ADDRESS, peer.ip().to_string()));
        attributes.push(KeyValue::new(NETWORK_PEER_PORT, i64::from(peer.port())));
    }
    if let Some(agent) = headers.user_agent.and_then(|v| v.to_str().ok()) {
        attributes.push(KeyValue::new(USER_AGENT_ORIGINAL, agent.to_owned()));
    }
    if let Some(version) = protocol_version(parts.version) {
        attributes.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
    }
    push_headers(&config.request_headers, &parts.headers, &mut attributes);
    attributes
}

/// Records the response status on the recording span of `cx`: `Error` only for 5xx on
/// a server span.
pub(crate) fn record_response(
    config: &ServerConfig,
    cx: &Context,
    status: StatusCode,
    headers: &HeaderMap,
) {
    let span = cx.span();
    span.set_attribute(KeyValue::new(
        HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    ));
    if !config.response_headers.is_empty() {
        let mut attributes = Vec::with_capacity(config.response_headers.len());
        push_headers(&config.response_headers, headers, &mut attributes);
        span.set_attributes(attributes);
    }
    if status.is_server_error() {
        record_error_on(
            cx,
            ErrorType::status_code(status.as_u16()),
            status.canonical_reason().unwrap_or("server error"),
        );
    }
}

fn push_headers(captured: &[CapturedHeader], headers: &HeaderMap, out: &mut Vec<KeyValue>) {
    for header in captured {
        let values: Vec<StringValue> = headers
            .get_all(&header.name)
            .iter()
            .map(|value| {
                String::from_utf8_lossy(value.as_bytes())
                    .into_owned()
                    .into()
            })
            .collect();
        if !values.is_empty() {
            out.push(KeyValue::new(
                header.key.clone(),
                Value::Array(values.into()),
            ));
        }
    }
}

fn scheme(parts: &Parts, headers: &SpanHeaders<'_>) -> &'static str {
    if let Some(scheme) = parts.uri.scheme_str() {
        return if scheme.eq_ignore_ascii_case("https") {
            "https"
        } else {
            "http"
        };
    }
    match headers.forwarded_proto.map(HeaderValue::as_bytes) {
        Some(proto) if proto.eq_ignore_ascii_case(b"https") => "https",
        _ => "http",
    }
}

/// `server.address` and `server.port` from the absolute URI or the `Host` header.
fn server_address<'a>(
    parts: &'a Parts,
    headers: &SpanHeaders<'a>,
) -> Option<(&'a str, Option<u16>)> {
    let authority = match parts.uri.authority() {
        Some(authority) => authority.as_str(),
        None => headers.host?.to_str().ok()?,
    };
    let authority = rsplit_byte(authority, b'@').map_or(authority, |(_, host)| host);
    Some(split_host_port(authority))
}

/// `str::rsplit_once` for one ASCII byte: a plain scan, cheaper than the general
/// searcher on strings as short as a host name.
fn rsplit_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    let at = text.bytes().rposition(|b| b == byte)?;
    // An ASCII byte is always a char boundary.
    Some((&text[..at], &text[at + 1..]))
}

fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        // An IPv6 literal: `[::1]:8080`.
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (authority, None),
        };
    }
    match rsplit_byte(authority, b':') {
        Some((host, port)) => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (authority, None),
        },
        None => (authority, None),
    }
}

/// The original client from `X-Forwarded-For` (its first entry), if present.
fn forwarded_client<'a>(headers: &SpanHeaders<'a>) -> Option<&'a str> {
    let value = headers.forwarded_for?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

#[cfg(feature = "axum")]
fn connect_info(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

#[cfg(not(feature = "axum"))]
fn connect_info(_parts: &Parts) -> Option<SocketAddr> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(host: &'static str) -> Option<(String, Option<u16>)> {
        let (parts, ()) = http::Request::get("/")
            .header(HOST, host)
            .body(())
            .unwrap()
            .into_parts();
        let headers = SpanHeaders::find(&parts.headers);
        server_address(&parts, &headers).map(|(host, port)| (host.to_owned(), port))
    }

    #[test]
    fn host_header_forms_split_into_address_and_port() {
        assert_eq!(address("example.com"), Some(("example.com".into(), None)));
        assert_eq!(
            address("example.com:8080"),
            Some(("example.com".into(), Some(8080)))
        );
        assert_eq!(
            address("user:pw@example.com:81"),
            Some(("example.com".into(), Some(81)))
        );
        assert_eq!(address("[::1]:8080"), Some(("::1".into(), Some(8080))));
        assert_eq!(address("[::1]"), Some(("::1".into(), None)));
        assert_eq!(
            address("example.com:http"),
            Some(("example.com:http".into(), None))
        );
    }

    #[test]
    fn large_header_maps_are_looked_up_and_first_values_win() {
        let mut request = http::Request::get("/");
        for i in 0..SCAN_LIMIT {
            request = request.header(format!("x-filler-{i}"), "1");
        }
        let request = request
            .header(USER_AGENT, "first")
            .header(USER_AGENT, "second")
            .header(X_FORWARDED_FOR, "203.0.113.7, 10.0.0.1")
            .body(())
            .unwrap();
        for headers in [request.headers().clone(), {
            let mut small = HeaderMap::new();
            small.append(USER_AGENT, HeaderValue::from_static("first"));
            small.append(USER_AGENT, HeaderValue::from_static("second"));
            small.append(
                X_FORWARDED_FOR,
                HeaderValue::from_static("203.0.113.7, 10.0.0.1"),
            );
            small
        }] {
            let found = SpanHeaders::find(&headers);
            assert_eq!(found.user_agent, Some(&HeaderValue::from_static("first")));
            assert_eq!(forwarded_client(&found), Some("203.0.113.7"));
            assert_eq!(found.host, None);
        }
    }
}
