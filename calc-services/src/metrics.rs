//! Prometheus metrics: requests by path and status, and a latency histogram per path; per
//! operation and route (`in-process`, `service`, `shadow`) the answers by outcome and their
//! latency, the shadow comparisons, the routing file's reloads and each operation's share.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
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

/// Which way one operation was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteTaken {
    /// In this process.
    InProcess,
    /// By the service, and its answer was the client's.
    Service,
    /// By the service, off the request's path, to compare.
    Shadow,
}

impl RouteTaken {
    fn label(self) -> &'static str {
        match self {
            RouteTaken::InProcess => "in-process",
            RouteTaken::Service => "service",
            RouteTaken::Shadow => "shadow",
        }
    }
}

/// How one computed operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// An answer.
    Ok,
    /// The request's own fault (a 4xx: not a number, division by zero).
    Rejected,
    /// The route's fault (a 5xx, unreachable, too slow).
    Failed,
}

impl Outcome {
    /// The outcome of an answer with this HTTP status.
    pub fn of_status(status: u16) -> Outcome {
        match status {
            500.. => Outcome::Failed,
            400.. => Outcome::Rejected,
            _ => Outcome::Ok,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }
}

/// Label set of the per-operation answer counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AnswerLabels {
    operation: &'static str,
    route: &'static str,
    outcome: &'static str,
}

/// Label set of the per-operation latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationRouteLabels {
    operation: &'static str,
    route: &'static str,
}

/// Label set of the shadow comparison counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComparisonLabels {
    operation: &'static str,
    result: &'static str,
}

/// Label set of the per-operation share gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// Label set of the routing file's reload counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

type OperationHistogramFamily = Family<OperationRouteLabels, Histogram, fn() -> Histogram>;

/// The metrics of one calculator process.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    answers: Family<AnswerLabels, Counter>,
    answer_latency: OperationHistogramFamily,
    comparisons: Family<ComparisonLabels, Counter>,
    service_share: Family<OperationLabels, Gauge>,
    reloads: Family<ReloadLabels, Counter>,
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
    "/api/shadow",
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
        let answers = Family::<AnswerLabels, Counter>::default();
        let answer_latency: OperationHistogramFamily =
            Family::new_with_constructor(latency_histogram);
        let comparisons = Family::<ComparisonLabels, Counter>::default();
        let service_share = Family::<OperationLabels, Gauge>::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "operation_answers",
            "Operations computed, by operation, route (in-process, service, shadow) and outcome (ok, rejected, failed)",
            answers.clone(),
        );
        registry.register(
            "operation_duration_seconds",
            "Time to compute an operation, by operation and route",
            answer_latency.clone(),
        );
        registry.register(
            "shadow_comparisons",
            "Shadowed operations compared with the service's answer, by result (match, mismatch, failed, skipped)",
            comparisons.clone(),
        );
        registry.register(
            "operation_service_percent",
            "The share of an operation's requests its service answers (0 in-process or shadow, 100 service)",
            service_share.clone(),
        );
        registry.register(
            "routing_file_reloads",
            "Changes of the routing file, by result (applied, rejected)",
            reloads.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            answers,
            answer_latency,
            comparisons,
            service_share,
            reloads,
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

    /// Counts one operation computed by `route`, and its time.
    pub fn answered(&self, op: &'static str, route: RouteTaken, outcome: Outcome, seconds: f64) {
        self.answers
            .get_or_create(&AnswerLabels {
                operation: op,
                route: route.label(),
                outcome: outcome.label(),
            })
            .inc();
        self.answer_latency
            .get_or_create(&OperationRouteLabels {
                operation: op,
                route: route.label(),
            })
            .observe(seconds);
    }

    /// Counts one shadow comparison: `match`, `mismatch`, `failed` or `skipped`.
    pub fn compared(&self, op: &'static str, result: &'static str) {
        self.comparisons
            .get_or_create(&ComparisonLabels {
                operation: op,
                result,
            })
            .inc();
    }

    /// Sets each operation's share of requests answered by its service.
    pub fn routes_in_force(&self, table: &crate::routing::RoutingTable) {
        for (op, route) in table.iter() {
            self.service_share
                .get_or_create(&OperationLabels {
                    operation: op.name(),
                })
                .set(i64::from(route.service_percent()));
        }
    }

    /// Counts one change of the routing file: `applied` or `rejected`.
    pub fn reloaded(&self, result: &'static str) {
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
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
