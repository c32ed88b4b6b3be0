//! The OTLP/HTTP side: `POST /v1/traces` (protobuf, gzip or identity), plus `GET /stats`
//! and `POST /control?...` for whoever runs the receiver.

use std::convert::Infallible;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;

use super::state::{ReceiverMode, Shared, Transport};
use super::{MAX_REQUEST_BYTES, span_count};

const PROTOBUF: &str = "application/x-protobuf";

/// Serves HTTP/1.1 connections on `listener` until the runtime stops.
pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, most likely: wait instead of spinning.
                eprintln!("otlp-receiver: accept failed on the HTTP port: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| handle(request, Arc::clone(&shared)));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (request.method(), request.uri().path()) {
        (&Method::POST, "/v1/traces") => export(request, &shared).await,
        (&Method::GET, "/stats") => text(StatusCode::OK, shared.stats().to_line()),
        (&Method::POST, "/control") => {
            match ReceiverMode::from_query(request.uri().query().unwrap_or_default()) {
                Ok(mode) => {
                    shared.set_mode(mode);
                    text(StatusCode::OK, format!("mode: {mode:?}"))
                }
                Err(error) => text(StatusCode::BAD_REQUEST, error),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "POST /v1/traces, GET /stats or POST /control?mode=...".to_owned(),
        ),
    };
    Ok(response)
}

/// Reads, inflates and decodes one export request, counts it and answers as the mode says.
async fn export(request: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let mode = shared.mode();
    if let ReceiverMode::Delay(delay) = mode {
        tokio::time::sleep(delay).await;
    }
    let decoded = match read_request(request).await {
        Ok(decoded) => decoded,
        Err((status, error)) => {
            shared.count_decode_error();
            return text(status, error);
        }
    };
    let spans = span_count(&decoded);
    if let ReceiverMode::Reject {
        status,
        retry_after,
    } = mode
    {
        shared.count(Transport::Http, spans, false);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = text(status, "rejected: the receiver's mode says so".to_owned());
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        return response;
    }
    shared.count(Transport::Http, spans, true);
    let mut response = Response::new(Full::new(Bytes::from(
        ExportTraceServiceResponse::default().encode_to_vec(),
    )));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
    response
}

/// The request's `ExportTraceServiceRequest`, or the status and reason to answer with.
async fn read_request(
    request: Request<Incoming>,
) -> Result<ExportTraceServiceRequest, (StatusCode, String)> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .map(|value: &HeaderValue| value.to_str().unwrap_or("(not text)").to_owned())
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    if !content_type.starts_with(PROTOBUF) {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content type {content_type:?}: only {PROTOBUF} is accepted"),
        ));
    }
    let gzip = match header(CONTENT_ENCODING).as_deref() {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("content encoding {other:?}: only gzip and identity are accepted"),
            ));
        }
    };
    let body = Limited::new(request.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<LengthLimitError>() {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is over {MAX_REQUEST_BYTES} bytes"),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    format!("could not read the body: {error}"),
                )
            }
        })?
        .to_bytes();
    let body = if gzip { gunzip(&body)? } else { body };
    ExportTraceServiceRequest::decode(body).map_err(|error| {
        (
            StatusCode::BAD_REQUEST,
            format!("not an ExportTraceServiceRequest: {error}"),
        )
    })
}

/// Inflates a gzip body, refusing one that inflates past [`MAX_REQUEST_BYTES`].
fn gunzip(body: &[u8]) -> Result<Bytes, (StatusCode, String)> {
    let mut inflated = Vec::new();
    let limit = MAX_REQUEST_BYTES as u64 + 1;
    flate2::read::GzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut inflated)
        .map_err(|error| (StatusCode::BAD_REQUEST, format!("bad gzip body: {error}")))?;
    if inflated.len() > MAX_REQUEST_BYTES {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body inflates past {MAX_REQUEST_BYTES} bytes"),
        ));
    }
    Ok(inflated.into())
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
