//! Prometheus metrics: requests by path and status, and a latency histogram per path.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label set of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    path: &'static str,
    status: u16,
}

/// Label set of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    path: &'static str,
}

type HistogramFamily = Family<PathLabels, Histogram, fn() -> Histogram>;

/// The metrics of one calculator process.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
}

/// Route templates get a label each; anything else is `unmatched`, so a scan of random paths
/// cannot grow the label set without bound.
const ROUTE_LABELS: &[&str] = &[
    "/",
    "/sum/{a}/{b}",
    "/subtraction/{a}/{b}",
    "/multiplication/{a}/{b}",
    "/division/{a}/{b}",
    "/api/calculate",
    "/api/routes",
    "/healthz",
    "/readyz",
    "/metrics",
];

fn latency_histogram() -> Histogram {
    // 0.1 ms … ~3.3 s: a local call is well under a millisecond, a timed-out backend is 2 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("calculator");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            latency.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        text
    }

    fn record(&self, path: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { path, status })
            .inc();
        self.latency
            .get_or_create(&PathLabels { path })
            .observe(seconds);
    }
}

/// Middleware that counts and times every request and logs it at debug level.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let label = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| {
            ROUTE_LABELS
                .iter()
                .copied()
                .find(|known| *known == matched.as_str())
        })
        .unwrap_or("unmatched");
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.record(label, status, elapsed.as_secs_f64());
    tracing::debug!(%method, %uri, status, latency_us = elapsed.as_micros() as u64, "request");
    response
}
