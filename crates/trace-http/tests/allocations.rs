//! Disabled requests allocate nothing beyond what the service itself allocates, and
//! unsampled ones a few (their span context and what the sampler sees). One test, so
//! no other test's thread allocates during a measurement.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
use tower::{Layer, Service, ServiceExt, service_fn};
use trace_bench_support::alloc::{CountingAllocator, Region};
use trace_core::config::ExporterKind;
use trace_core::config::SamplerKind;
use trace_core::testing::SpanCapture;
use trace_core::{Config, TracingBuilder};
use trace_http::server::HttpServerLayer;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const REQUESTS: usize = 200;

async fn hello(_: Request<Empty<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}

/// Allocations of `REQUESTS` requests through `service`, each read to its end.
async fn allocations<S, B>(service: &mut S, request: fn() -> Request<Empty<Bytes>>) -> usize
where
    S: Service<Request<Empty<Bytes>>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let requests: Vec<_> = (0..REQUESTS).map(|_| request()).collect();
    let region = Region::new();
    for request in requests {
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        response.into_body().collect().await.unwrap();
    }
    region.change().allocations
}

fn plain() -> Request<Empty<Bytes>> {
    Request::get("/orders/7").body(Empty::new()).unwrap()
}

fn unsampled_parent() -> Request<Empty<Bytes>> {
    Request::get("/orders/7")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )
        .body(Empty::new())
        .unwrap()
}

#[test]
fn disabled_requests_allocate_nothing_extra_and_unsampled_ones_a_few() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut bare = service_fn(hello);
        let mut traced = HttpServerLayer::new().layer(service_fn(hello));
        let disabled = trace_core::init(&Config {
            enabled: false,
            ..Config::default()
        })
        .unwrap();
        assert!(!trace_core::is_enabled());
        // Warm up thread-locals and lazily initialised globals.
        allocations(&mut bare, plain).await;
        allocations(&mut traced, plain).await;
        let baseline = allocations(&mut bare, plain).await;

        assert_eq!(allocations(&mut traced, plain).await, baseline, "disabled");
        assert_eq!(
            allocations(&mut traced, unsampled_parent).await,
            baseline,
            "disabled, with a traceparent"
        );
        drop(disabled);

        // The configured sampler at rate 0, as a service would run it.
        let exporter = InMemorySpanExporter::default();
        let unsampled = TracingBuilder::new(&Config {
            exporters: vec![ExporterKind::None],
            sampler: SamplerKind::ParentBasedTraceIdRatio,
            sample_rate: 0.0,
            ..Config::default()
        })
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .init()
        .unwrap();
        allocations(&mut traced, plain).await;
        let root = allocations(&mut traced, plain).await;
        let propagated = allocations(&mut traced, unsampled_parent).await;
        println!(
            "per request: unsampled root +{:.2}, unsampled parent +{:.2}",
            (root - baseline) as f64 / REQUESTS as f64,
            (propagated - baseline) as f64 / REQUESTS as f64
        );
        // An unsampled root: the context holding the span's own span context. The
        // configured sampler drops the root before the span's name and attributes are
        // built (a sampler of the service's own would see them, and cost them).
        assert!(
            root <= baseline + UNSAMPLED_ROOT * REQUESTS + REQUESTS / 20,
            "unsampled root: {root} allocations for {REQUESTS} requests, baseline {baseline}"
        );
        // An unsampled parent adds trace-core's extraction: the list of header values
        // and the remote context.
        assert!(
            propagated <= baseline + (UNSAMPLED_ROOT + 2) * REQUESTS + REQUESTS / 20,
            "unsampled parent: {propagated} allocations for {REQUESTS} requests, baseline {baseline}"
        );
        assert!(exporter.get_finished_spans().unwrap().is_empty());
        drop(unsampled);

        // The sampled path allocates more: the measurement can tell the difference.
        let _capture = SpanCapture::install();
        assert!(allocations(&mut traced, plain).await > root);
    });
}

/// Allocations per unsampled root request, beyond the service's own.
const UNSAMPLED_ROOT: usize = 1;
