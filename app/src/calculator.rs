//! Calls the live calculator: through the Kubernetes API server's service proxy (works on EKS
//! without a NodePort or security-group rule) or at a URL the user gives.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use calc_services::CalculateAnswer;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;

use crate::cluster::connection::Connection;
use crate::cluster::proxy::{proxy_get, read_whole};
use crate::model::calculation::{CalcFailure, CalcOutcome, CalcTarget, ProbeSample};
use crate::model::calculation::{query, read_answer};
use crate::protocol::{Event, EventSink};

/// Plain HTTP client for the URL target.
pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A client for URL targets.
pub fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Calculates once.
pub async fn calculate(
    request: u64,
    client: Option<&kube::Client>,
    http: &HttpClient,
    target: &CalcTarget,
    a: &str,
    b: &str,
) -> CalcOutcome {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), call(client, http, target, a, b))
        .await
        .unwrap_or_else(|_| {
            Err(CalcFailure::NoAnswer(
                "the calculator did not answer within 10 s".into(),
            ))
        });
    CalcOutcome {
        request,
        a: a.to_owned(),
        b: b.to_owned(),
        result,
        latency_ms: started.elapsed().as_micros() as f64 / 1000.0,
        at: SystemTime::now(),
    }
}

async fn call(
    client: Option<&kube::Client>,
    http: &HttpClient,
    target: &CalcTarget,
    a: &str,
    b: &str,
) -> Result<CalculateAnswer, CalcFailure> {
    match target {
        CalcTarget::ServiceProxy {
            namespace,
            service,
            port,
        } => {
            let client = client.ok_or(CalcFailure::NotConnected)?;
            let path = format!(
                "/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/api/calculate?{}",
                query(a, b)
            );
            let (status, body) = proxy_get(client, &path)
                .await
                .map_err(|e| CalcFailure::NoAnswer(e.to_string()))?;
            read_answer(status, &body)
        }
        CalcTarget::Url(base) => {
            let url = format!(
                "{}/api/calculate?{}",
                base.trim_end_matches('/'),
                query(a, b)
            );
            let uri: hyper::Uri = url
                .parse()
                .map_err(|e| CalcFailure::BadTarget(format!("{url} is not a URL: {e}")))?;
            if uri.scheme_str() != Some("http") {
                return Err(CalcFailure::BadTarget(format!(
                    "{url}: only http:// URLs can be called directly; use the service proxy for anything else"
                )));
            }
            let response = http
                .get(uri)
                .await
                .map_err(|e| CalcFailure::NoAnswer(format!("cannot reach {url}: {e}")))?;
            let (status, body) = read_whole(response)
                .await
                .map_err(|e| CalcFailure::NoAnswer(e.to_string()))?;
            read_answer(status, &body)
        }
    }
}

/// Calls the calculator `per_second` times a second until aborted.
pub async fn probe(
    per_second: u32,
    a: String,
    b: String,
    target: CalcTarget,
    client: watch::Receiver<Option<Connection>>,
    http: HttpClient,
    sink: EventSink,
) {
    let mut interval = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(per_second.clamp(1, 50)),
    ));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        let current = client.borrow().as_ref().map(|c| c.proxy.clone());
        let outcome = calculate(0, current.as_ref(), &http, &target, &a, &b).await;
        sink.send(Event::Probe(ProbeSample {
            at: outcome.at,
            latency_ms: outcome.latency_ms,
            ok: outcome.all_ok(),
            error: outcome.first_error(),
            frontend: outcome
                .result
                .as_ref()
                .ok()
                .and_then(|a| a.frontend.pod.clone()),
        }));
    }
}
