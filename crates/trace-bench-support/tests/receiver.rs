//! The OTLP receiver, run as its binary: it decodes and counts what OTLP clients send over
//! HTTP (identity and gzip) and gRPC, rejects and recovers when told to, and answers a
//! request it cannot decode with 400 and goes on.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use trace_bench_support::receiver::{OtlpReceiver, ReceiverMode, ReceiverStats};

fn start() -> OtlpReceiver {
    OtlpReceiver::start(Command::new(env!("CARGO_BIN_EXE_otlp-receiver"))).expect("starts")
}

/// A request with `spans` spans over two scopes.
fn request(spans: usize) -> ExportTraceServiceRequest {
    let span = |i: usize| Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: format!("span {i} ✓"),
        ..Span::default()
    };
    let half = spans / 2;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![
                ScopeSpans {
                    spans: (0..half).map(span).collect(),
                    ..ScopeSpans::default()
                },
                ScopeSpans {
                    spans: (half..spans).map(span).collect(),
                    ..ScopeSpans::default()
                },
            ],
            ..ResourceSpans::default()
        }],
    }
}

/// POSTs `body` to `/v1/traces`; the response's head.
fn post(receiver: &OtlpReceiver, body: &[u8], encoding: &str) -> String {
    let port = receiver.ports().1;
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    write!(
        stream,
        "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n\
         Content-Encoding: {encoding}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split("\r\n\r\n").next().unwrap().to_owned()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn http_requests_are_decoded_and_counted() {
    let receiver = start();
    let body = request(5).encode_to_vec();
    assert!(post(&receiver, &body, "identity").starts_with("HTTP/1.1 200"));
    assert!(post(&receiver, &gzip(&body), "gzip").starts_with("HTTP/1.1 200"));
    assert!(post(&receiver, b"\xff\xff not protobuf", "identity").starts_with("HTTP/1.1 400"));
    assert!(post(&receiver, &body, "gzip").starts_with("HTTP/1.1 400"));
    assert_eq!(
        receiver.stats().unwrap(),
        ReceiverStats {
            http_requests: 2,
            spans: 10,
            decode_errors: 2,
            ..ReceiverStats::default()
        }
    );
}

#[test]
fn rejects_with_retry_after_then_accepts_again() {
    let receiver = start();
    let body = request(3).encode_to_vec();
    let mode = ReceiverMode::Reject {
        status: 503,
        retry_after: Some(2),
    };
    receiver.set_mode(mode).unwrap();
    let head = post(&receiver, &body, "identity").to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("retry-after: 2"), "{head}");
    receiver.set_mode(ReceiverMode::Accept).unwrap();
    assert!(post(&receiver, &body, "identity").starts_with("HTTP/1.1 200"));
    let stats = receiver.stats().unwrap();
    assert_eq!(
        (stats.spans, stats.rejected_requests, stats.rejected_spans),
        (3, 1, 3)
    );
}

#[test]
fn grpc_requests_are_decoded_and_counted() {
    let receiver = start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
            .await
            .unwrap();
        client.export(request(7)).await.unwrap();
        receiver
            .set_mode(ReceiverMode::Reject {
                status: 503,
                retry_after: None,
            })
            .unwrap();
        client.export(request(1)).await.unwrap_err()
    });
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let stats = receiver.stats().unwrap();
    assert_eq!(
        (stats.grpc_requests, stats.spans, stats.rejected_spans),
        (2, 7, 1)
    );
}
