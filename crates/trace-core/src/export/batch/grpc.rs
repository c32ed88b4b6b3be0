//! OTLP/gRPC over HTTP/2 with hyper: the unary call `TraceService/Export` (the encoded
//! request behind gRPC's 5-byte prefix, `grpc-timeout`, `grpc-encoding`), and its
//! status read from the trailers, or from the headers of a trailers-only answer.
//!
//! Retried, as the OTLP specification says: CANCELLED, DEADLINE_EXCEEDED, ABORTED,
//! OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED when the collector sends
//! a RetryInfo (whose delay is then the wait); an HTTP status of 429, 502, 503 or 504
//! (a proxy's answer) counts as UNAVAILABLE.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, TE, USER_AGENT};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};

use super::client::{self, HyperClient};
use super::report::{Failure, FailureKind};
use super::retry::Attempt;

/// The method every OTLP trace export calls.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The largest answer read: a length-prefixed `ExportTraceServiceResponse`.
const MAX_ANSWER: usize = 64 * 1024;
/// The RetryInfo type in `google.rpc.Status.details`.
const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// Sends encoded, length-prefixed requests to one OTLP/gRPC endpoint.
#[derive(Debug)]
pub(super) struct GrpcExport {
    client: HyperClient,
    uri: Uri,
    headers: HeaderMap,
}

impl GrpcExport {
    /// `endpoint` is the collector's URL (its path is not used: the call's path is
    /// the method's); `configured` the configured headers, sent as metadata.
    pub(super) fn new(
        client: HyperClient,
        endpoint: &str,
        configured: &BTreeMap<String, String>,
        gzip: bool,
    ) -> Result<Self, String> {
        let base: Uri = endpoint
            .parse()
            .map_err(|error| format!("the endpoint {endpoint} is not a URL: {error}"))?;
        let mut uri = http::uri::Parts::default();
        uri.scheme = base.scheme().cloned();
        uri.authority = base.authority().cloned();
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static(EXPORT_PATH));
        let uri = Uri::from_parts(uri)
            .map_err(|error| format!("the endpoint {endpoint} is not a URL: {error}"))?;
        let mut headers = super::transport::configured_headers(configured)?;
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(super::transport::USER_AGENT),
        );
        if gzip {
            headers.insert(
                HeaderName::from_static("grpc-encoding"),
                HeaderValue::from_static("gzip"),
            );
        }
        Ok(Self {
            client,
            uri,
            headers,
        })
    }

    /// One call, bounded by `timeout` (sent as `grpc-timeout` too).
    pub(super) async fn send(&self, body: Bytes, timeout: Duration) -> Attempt {
        let mut request = client::post(&self.uri, &self.headers, body);
        // At most 8 digits, as gRPC allows.
        let millis = timeout.as_millis().clamp(1, 99_999_999);
        if let Ok(value) = HeaderValue::from_str(&format!("{millis}m")) {
            request
                .headers_mut()
                .insert(HeaderName::from_static("grpc-timeout"), value);
        }
        client::within(timeout, self.call(request, timeout)).await
    }

    async fn call(&self, request: Request<Full<Bytes>>, timeout: Duration) -> Attempt {
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(error) => return client::request_failure(&error, timeout),
        };
        let (head, body) = response.into_parts();
        if head.status != StatusCode::OK {
            let failure = Failure::new(
                FailureKind::Answered,
                format!("HTTP status {}", head.status),
            );
            return match head.status.as_u16() {
                429 | 502 | 503 | 504 => Attempt::Retryable(failure, None),
                _ => Attempt::Failed(failure),
            };
        }
        if head.headers.contains_key("grpc-status") {
            // Trailers-only: an error (or an empty success) in the headers.
            return classify(&head.headers, &[]);
        }
        match Limited::new(body, MAX_ANSWER).collect().await {
            Ok(collected) => {
                let trailers = collected.trailers().cloned().unwrap_or_default();
                classify(&trailers, &collected.to_bytes())
            }
            Err(error) => Attempt::Retryable(
                Failure::new(
                    FailureKind::NoAnswer,
                    format!("the answer ended early: {error}"),
                ),
                None,
            ),
        }
    }
}

/// The call's outcome from its status fields and (on success) its answer message.
fn classify(fields: &HeaderMap, answer: &[u8]) -> Attempt {
    let text = |name: &str| fields.get(name).and_then(|value| value.to_str().ok());
    let Some(code) = text("grpc-status").and_then(|code| code.trim().parse::<u32>().ok()) else {
        return Attempt::Failed(Failure::new(
            FailureKind::Answered,
            "an answer without a gRPC status",
        ));
    };
    if code == 0 {
        // A compressed answer (flag 1) is not read: we never ask for one.
        let rejected = match answer {
            [0, _, _, _, _, message @ ..] => super::transport::partial_success(message),
            _ => None,
        };
        return Attempt::Delivered(rejected);
    }
    let name = CODE_NAMES.get(code as usize).copied().unwrap_or("UNKNOWN");
    let cause = match text("grpc-message").map(percent_decode) {
        Some(message) if !message.is_empty() => format!("gRPC status {name}: {message}"),
        _ => format!("gRPC status {name}"),
    };
    let failure = Failure::new(FailureKind::Answered, cause);
    let wait = fields
        .get("grpc-status-details-bin")
        .and_then(|value| retry_delay(value.as_bytes()));
    match code {
        // CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS.
        1 | 4 | 10 | 11 | 14 | 15 => Attempt::Retryable(failure, wait),
        // RESOURCE_EXHAUSTED: only when the collector says when to retry.
        8 if wait.is_some() => Attempt::Retryable(failure, wait),
        _ => Attempt::Failed(failure),
    }
}

/// gRPC's status codes by number.
const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// `grpc-message` is percent-encoded.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = value
            .get(index + 1..index + 3)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// `google.rpc.Status`, as far as RetryInfo needs it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// The delay of the RetryInfo in a `grpc-status-details-bin` value (base64 of a
/// `google.rpc.Status`, padded or not).
fn retry_delay(details: &[u8]) -> Option<Duration> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use prost::Message as _;

    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let status = RpcStatus::decode(engine.decode(details).ok()?.as_slice()).ok()?;
    let info = status
        .details
        .iter()
        .find(|any| any.type_url == RETRY_INFO)?;
    let delay = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok()?;
    Some(Duration::new(seconds, nanos.min(999_999_999)))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use prost::Message as _;

    use super::*;

    fn fields(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    fn retry_info(seconds: i64) -> String {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration { seconds, nanos: 0 }),
        };
        let status = RpcStatus {
            details: vec![ProtoAny {
                type_url: RETRY_INFO.into(),
                value: info.encode_to_vec(),
            }],
        };
        STANDARD.encode(status.encode_to_vec())
    }

    #[test]
    fn codes_are_retried_as_the_specification_says() {
        for (code, retried) in [
            ("1", true),
            ("4", true),
            ("10", true),
            ("11", true),
            ("14", true),
            ("15", true),
            ("8", false),
            ("2", false),
            ("3", false),
            ("7", false),
            ("12", false),
            ("13", false),
            ("16", false),
        ] {
            let attempt = classify(&fields(&[("grpc-status", code)]), &[]);
            assert_eq!(
                matches!(attempt, Attempt::Retryable(..)),
                retried,
                "{code}: {attempt:?}"
            );
        }
    }

    #[test]
    fn resource_exhausted_is_retried_after_its_retry_info() {
        let details = retry_info(3);
        let attempt = classify(
            &fields(&[
                ("grpc-status", "8"),
                ("grpc-message", "slow%20down"),
                ("grpc-status-details-bin", details.trim_end_matches('=')),
            ]),
            &[],
        );
        match attempt {
            Attempt::Retryable(failure, wait) => {
                assert_eq!(failure.cause(), "gRPC status RESOURCE_EXHAUSTED: slow down");
                assert_eq!(wait, Some(Duration::from_secs(3)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn success_reads_the_partial_success() {
        use opentelemetry_proto::tonic::collector::trace::v1::{
            ExportTracePartialSuccess, ExportTraceServiceResponse,
        };
        let message = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 2,
                error_message: String::new(),
            }),
        }
        .encode_to_vec();
        let mut answer = vec![0, 0, 0, 0, message.len() as u8];
        answer.extend_from_slice(&message);
        match classify(&fields(&[("grpc-status", "0")]), &answer) {
            Attempt::Delivered(Some(rejected)) => {
                assert_eq!(rejected.spans, 2);
                assert_eq!(rejected.failure.cause(), "no reason given");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(&fields(&[("grpc-status", "0")]), &[]),
            Attempt::Delivered(None)
        ));
    }
}
