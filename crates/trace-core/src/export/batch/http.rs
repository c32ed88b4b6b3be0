//! OTLP/HTTP with protobuf: one `POST` of the encoded request per batch, and the
//! answer classified by the specification's rules (429, 502, 503 and 504 are retried,
//! after `Retry-After` when given; any other error status is not).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};

use super::client::{self, HyperClient};
use super::report::{Failure, FailureKind};
use super::retry::{self, Attempt};
use super::transport;

/// The largest answer read: an `ExportTraceServiceResponse` with its message, or an
/// error page. A longer one is not read (and its connection not reused).
const MAX_ANSWER: usize = 64 * 1024;

/// Sends encoded requests to one OTLP/HTTP traces endpoint.
#[derive(Debug)]
pub(super) struct HttpExport {
    client: HyperClient,
    uri: Uri,
    headers: HeaderMap,
}

impl HttpExport {
    /// `endpoint` is the full traces URL; `headers` the configured ones (validated);
    /// `gzip`: the bodies will be gzip.
    pub(super) fn new(
        client: HyperClient,
        endpoint: &str,
        configured: &BTreeMap<String, String>,
        gzip: bool,
    ) -> Result<Self, String> {
        let uri = endpoint
            .parse()
            .map_err(|error| format!("the endpoint {endpoint} is not a URL: {error}"))?;
        let mut headers = transport::configured_headers(configured)?;
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        if gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        headers.insert(
            HeaderName::from_static("user-agent"),
            HeaderValue::from_static(transport::USER_AGENT),
        );
        Ok(Self {
            client,
            uri,
            headers,
        })
    }

    /// One attempt, bounded by `timeout` (the answer read included).
    pub(super) async fn send(&self, body: Bytes, timeout: Duration) -> Attempt {
        let request = client::post(&self.uri, &self.headers, body);
        client::within(timeout, self.round_trip(request, timeout)).await
    }

    async fn round_trip(&self, request: Request<Full<Bytes>>, timeout: Duration) -> Attempt {
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(error) => return client::request_failure(&error, timeout),
        };
        let status = response.status();
        let wait = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| retry::retry_after(value, SystemTime::now()));
        // Read to the end so the connection can carry the next request.
        let answer = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map(|collected| collected.to_bytes());
        classify(status, wait, answer.ok())
    }
}

/// The attempt's outcome from the status and, on success, the partial success in the
/// answer.
fn classify(status: StatusCode, wait: Option<Duration>, answer: Option<Bytes>) -> Attempt {
    if status.is_success() {
        return Attempt::Delivered(answer.and_then(|bytes| transport::partial_success(&bytes)));
    }
    let failure = Failure::new(FailureKind::Answered, format!("HTTP status {status}"));
    match status.as_u16() {
        429 | 502 | 503 | 504 => Attempt::Retryable(failure, wait),
        _ => Attempt::Failed(failure),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceResponse,
    };
    use prost::Message as _;

    use super::*;

    #[test]
    fn statuses_are_retried_as_the_specification_says() {
        for (status, retried) in [
            (429, true),
            (502, true),
            (503, true),
            (504, true),
            (400, false),
            (401, false),
            (404, false),
            (413, false),
            (500, false),
        ] {
            let attempt = classify(StatusCode::from_u16(status).unwrap(), None, None);
            assert_eq!(
                matches!(attempt, Attempt::Retryable(..)),
                retried,
                "{status}: {attempt:?}"
            );
        }
        let attempt = classify(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(Duration::from_secs(3)),
            None,
        );
        match attempt {
            Attempt::Retryable(failure, wait) => {
                assert_eq!(failure.cause(), "HTTP status 503 Service Unavailable");
                assert_eq!(wait, Some(Duration::from_secs(3)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_partial_success_counts_the_rejected_spans() {
        let answer = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "span too large".into(),
            }),
        }
        .encode_to_vec();
        match classify(StatusCode::OK, None, Some(answer.into())) {
            Attempt::Delivered(Some(rejected)) => {
                assert_eq!(rejected.spans, 3);
                assert_eq!(rejected.failure.cause(), "span too large");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(StatusCode::OK, None, Some(Bytes::new())),
            Attempt::Delivered(None)
        ));
    }
}
