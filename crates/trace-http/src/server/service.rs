//! [`HttpServerService`]: starts the span and runs the inner service in its context.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use http_body::Body;
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use tower_service::Service;
use trace_core::carrier::HeaderExtractor;
use trace_core::propagation::extract_carried_context;

use super::attributes::{SpanHeaders, recorded_request_attributes, request_span_start};
use super::body::{ResponseBody, SpanGuard};
use super::config::{ServerConfig, TraceIdHeader};
use super::future::ResponseFuture;
use crate::TRACER;

/// The service built by [`HttpServerLayer`](super::HttpServerLayer).
#[derive(Debug, Clone)]
pub struct HttpServerService<S> {
    inner: S,
    config: Arc<ServerConfig>,
    peer: Option<SocketAddr>,
}

impl<S> HttpServerService<S> {
    pub(crate) fn new(inner: S, config: Arc<ServerConfig>) -> Self {
        Self {
            inner,
            config,
            peer: None,
        }
    }

    /// Records `peer` as the connection's remote address (`network.peer.*`, and
    /// `client.address` unless `X-Forwarded-For` names the client). For hyper servers,
    /// which build one service per accepted connection; axum's `ConnectInfo` is read
    /// without this.
    pub fn with_peer_addr(mut self, peer: SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpServerService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: std::fmt::Display,
    ResBody: Body,
    ResBody::Error: std::fmt::Display,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if !trace_core::is_enabled() {
            // Disabled: not even the incoming headers are read.
            return ResponseFuture::new(self.inner.call(request), None, SpanGuard::none(), None);
        }
        let (parts, body) = request.into_parts();
        let headers = HeaderExtractor(&parts.headers);
        // Without propagation headers, the handler's context is the caller's as it is:
        // nothing to extract, nothing to attach unless a span records.
        let current = Context::current();
        let carried = extract_carried_context(&current, &headers);
        let extracted = carried.is_some();
        let incoming = carried.unwrap_or(current);
        if self.config.is_skipped(&parts) {
            let request = Request::from_parts(parts, body);
            let (future, cx) = if extracted {
                let _active = incoming.clone().attach();
                (self.inner.call(request), Some(incoming))
            } else {
                (self.inner.call(request), None)
            };
            return ResponseFuture::new(future, cx, SpanGuard::none(), None);
        }
        let config = &*self.config;
        let (parent, caller) = if config.public_endpoint {
            // A new trace, linked to the caller's.
            let caller = incoming.span().span_context().clone();
            (Context::new(), caller.is_valid().then_some(caller))
        } else {
            (incoming, None)
        };
        let headers = SpanHeaders::find(&parts.headers);
        let span = TRACER.start_with_parent(&parent, SpanKind::Server, || {
            request_span_start(config, &parts, &headers, caller)
        });
        span.set_attributes(|| recorded_request_attributes(config, &parts, &headers, self.peer));
        // The handler runs in the span's context, recording or not, so its children
        // and outgoing calls follow the sampling decision.
        let recording = span.is_recording();
        let owned = span.is_valid().then(|| span.into_context());
        // Only a recording span has anything to end or record the response on.
        let span = SpanGuard::new(owned.as_ref().filter(|_| recording).cloned());
        let cx = match owned {
            Some(cx) => Some(cx),
            None if extracted || config.public_endpoint => Some(parent),
            None => None,
        };
        let request = Request::from_parts(parts, body);
        let future = {
            let _active = cx.clone().map(Context::attach);
            self.inner.call(request)
        };
        // The config is for a recording span's response attributes and for the trace-id
        // header: without either it is not needed, and cloning the shared `Arc` costs
        // two contended atomic operations per request under load.
        let wants_config = recording
            || (cx.is_some() && !matches!(self.config.trace_id_header, TraceIdHeader::Off));
        let config = wants_config.then(|| self.config.clone());
        ResponseFuture::new(future, cx, span, config)
    }
}
