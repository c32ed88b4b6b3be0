//! The hyper client both transports use: kept-alive connections, rustls with ring for
//! `https` (the system's roots plus the configured `certificate`), and what the error
//! of a request that got no answer says.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::Full;
use hyper_rustls::builderstates::WantsProtocols1;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Builder, Client};
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use super::report::{Failure, FailureKind};
use super::retry::Attempt;
use crate::export::otlp::{error_chain, io_cause, timed_out};

/// A pooled hyper client sending whole request bodies.
pub(super) type HyperClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Idle connections are kept this long: longer than the default scheduled delay, so a
/// quiet service still reuses its connection.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A client for OTLP/HTTP (HTTP/1.1). `certificate` is the PEM of the CA certificates
/// to trust besides the system's; `https`: whether the endpoint uses TLS (only then are
/// the system's roots loaded).
#[cfg(feature = "otlp-http")]
pub(super) fn http1(
    https: bool,
    certificate: Option<&[u8]>,
    connect_timeout: Duration,
) -> Result<HyperClient, String> {
    let connector = connector_builder(https, certificate)?
        .enable_http1()
        .wrap_connector(http_connector(connect_timeout));
    Ok(pool().build(connector))
}

/// A client for OTLP/gRPC: HTTP/2, with prior knowledge for `http://` endpoints.
#[cfg(feature = "otlp-grpc")]
pub(super) fn http2(
    https: bool,
    certificate: Option<&[u8]>,
    connect_timeout: Duration,
) -> Result<HyperClient, String> {
    let connector = connector_builder(https, certificate)?
        .enable_http2()
        .wrap_connector(http_connector(connect_timeout));
    Ok(pool().http2_only(true).build(connector))
}

/// The connector's builder up to its HTTP versions, which each client picks (a step
/// whose type differs by version).
fn connector_builder(
    https: bool,
    certificate: Option<&[u8]>,
) -> Result<HttpsConnectorBuilder<WantsProtocols1>, String> {
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(https, certificate)?)
        .https_or_http())
}

/// The client's builder, its connections kept alive.
fn pool() -> Builder {
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_idle_timeout(IDLE_TIMEOUT);
    builder
}

/// One attempt's request: a `POST` of `body` to `uri` with `headers`.
pub(super) fn post(uri: &Uri, headers: &HeaderMap, body: Bytes) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri.clone();
    *request.headers_mut() = headers.clone();
    request
}

/// `attempt`'s outcome, or a retryable "no answer" once `timeout` passed.
pub(super) async fn within(timeout: Duration, attempt: impl Future<Output = Attempt>) -> Attempt {
    match tokio::time::timeout(timeout, attempt).await {
        Ok(attempt) => attempt,
        Err(_) => Attempt::Retryable(
            Failure::new(FailureKind::NoAnswer, timed_out(timeout)),
            None,
        ),
    }
}

fn http_connector(connect_timeout: Duration) -> HttpConnector {
    let mut http = HttpConnector::new();
    // hyper-rustls does TLS for `https://` itself.
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http
}

/// rustls with ring (whatever provider the process installed), trusting the system's
/// roots and `certificate`'s.
fn tls_config(https: bool, certificate: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    if https {
        // Unreadable system certificates are skipped, as tonic and reqwest do: the
        // handshake then says which certificate could not be verified.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
    }
    if let Some(pem) = certificate {
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("`certificate` is not valid PEM: {error}"))?;
        if certificates.is_empty() {
            return Err("`certificate` holds no PEM certificate".to_owned());
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|error| format!("`certificate` cannot be used: {error}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS cannot be set up: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// What a request that got no answer met. TLS failures are not retried (a certificate
/// does not fix itself); connection failures are, as the specification asks.
pub(super) fn request_failure(
    error: &hyper_util::client::legacy::Error,
    timeout: Duration,
) -> Attempt {
    let chain = error_chain(error);
    if let Some(tls) = chain.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        let failure = Failure::new(
            FailureKind::Unreachable,
            format!("TLS handshake failed: {tls}"),
        );
        return Attempt::Failed(failure);
    }
    let kind = if error.is_connect() {
        FailureKind::Unreachable
    } else {
        FailureKind::NoAnswer
    };
    let io_cause = chain
        .iter()
        .find_map(|e| io_cause(e.downcast_ref::<std::io::Error>()?, timeout));
    let innermost = chain
        .last()
        .map(ToString::to_string)
        .unwrap_or_else(|| error.to_string());
    let cause = io_cause.unwrap_or_else(|| {
        if chain.iter().any(|e| e.to_string().contains("dns error")) {
            format!("cannot resolve the host name ({innermost})")
        } else if chain.iter().any(|e| {
            e.downcast_ref::<hyper::Error>()
                .is_some_and(|e| e.is_incomplete_message() || e.is_closed())
        }) {
            "the connection was closed by the other end".to_owned()
        } else {
            innermost
        }
    });
    Attempt::Retryable(Failure::new(kind, cause), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_that_is_not_pem_is_named() {
        let error = tls_config(true, Some(b"not a certificate")).unwrap_err();
        assert_eq!(error, "`certificate` holds no PEM certificate");
        let error = tls_config(
            true,
            Some(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
        )
        .unwrap_err();
        assert!(
            error.starts_with("`certificate` is not valid PEM"),
            "{error}"
        );
    }
}
