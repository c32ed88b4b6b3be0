//! The OTLP/gRPC side: opentelemetry-proto's generated `TraceService` server on tonic, gzip
//! accepted.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

use super::state::{ReceiverMode, Shared, Transport};
use super::{MAX_REQUEST_BYTES, span_count};

/// Serves `TraceService/Export` on `listener` until the runtime stops.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
) -> Result<(), tonic::transport::Error> {
    let service = TraceServiceServer::new(TraceReceiver { shared })
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_REQUEST_BYTES);
    tonic::transport::Server::builder()
        .serve_with_incoming(
            service,
            TcpIncoming::from(listener).with_nodelay(Some(true)),
        )
        .await
}

#[derive(Debug)]
struct TraceReceiver {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl TraceService for TraceReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mode = self.shared.mode();
        if let ReceiverMode::Delay(delay) = mode {
            tokio::time::sleep(delay).await;
        }
        let spans = span_count(request.get_ref());
        if let ReceiverMode::Reject { status, .. } = mode {
            self.shared.count(Transport::Grpc, spans, false);
            return Err(Status::new(
                grpc_code(status),
                "rejected: the receiver's mode says so",
            ));
        }
        self.shared.count(Transport::Grpc, spans, true);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The gRPC code a collector answers where an OTLP/HTTP one answers `status`.
fn grpc_code(status: u16) -> Code {
    match status {
        429 => Code::ResourceExhausted,
        502..=504 => Code::Unavailable,
        400 => Code::InvalidArgument,
        _ => Code::Internal,
    }
}
