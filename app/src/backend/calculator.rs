//! Calls the live calculator: through the Kubernetes API server's service proxy (works on EKS
//! without a NodePort or security-group rule) or at a URL the user gives.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use calc_services::{CalculateAnswer, ErrorBody};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tokio::sync::watch;

use super::connection::Connection;
use super::{Event, EventSink};

/// Plain HTTP client for the URL target.
pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A client for URL targets.
pub fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Where the calculator is called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CalcTarget {
    /// `/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/…`
    ServiceProxy {
        /// Namespace of the front Service.
        namespace: String,
        /// The front Service.
        service: String,
        /// Its port name or number.
        port: String,
    },
    /// An HTTP base URL (`http://localhost:3000`).
    Url(String),
}

impl Default for CalcTarget {
    fn default() -> Self {
        CalcTarget::ServiceProxy {
            namespace: "calculator".into(),
            service: "calculator".into(),
            port: "http".into(),
        }
    }
}

impl CalcTarget {
    /// How the panel describes it.
    pub fn describe(&self) -> String {
        match self {
            CalcTarget::ServiceProxy {
                namespace,
                service,
                port,
            } => format!("service {namespace}/{service}:{port} via the API server"),
            CalcTarget::Url(url) => url.clone(),
        }
    }
}

/// One calculation and how it went.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalcOutcome {
    /// First number as sent.
    pub a: String,
    /// Second number as sent.
    pub b: String,
    /// The calculator's answer, or why there is none.
    pub result: Result<CalculateAnswer, String>,
    /// Round trip, milliseconds.
    pub latency_ms: f64,
    /// When it finished.
    pub at: SystemTime,
}

impl CalcOutcome {
    /// Whether every operation has a total.
    pub fn all_ok(&self) -> bool {
        self.result.as_ref().is_ok_and(|a| {
            a.results
                .iter()
                .all(|r| r.error.is_none() && r.total.is_some())
        })
    }

    /// The first problem, for a failed probe sample.
    pub fn first_error(&self) -> Option<String> {
        match &self.result {
            Err(e) => Some(e.clone()),
            Ok(answer) => answer.results.iter().find_map(|r| {
                r.error
                    .as_ref()
                    .map(|e| format!("{}: {}", r.operation, e.message))
            }),
        }
    }
}

/// One probe call, for the live chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeSample {
    /// When it finished.
    pub at: SystemTime,
    /// Round trip, milliseconds.
    pub latency_ms: f64,
    /// Whether all four operations answered.
    pub ok: bool,
    /// The first problem when not.
    pub error: Option<String>,
    /// The frontend pod that answered.
    pub frontend: Option<String>,
}

fn query(a: &str, b: &str) -> String {
    serde_urlencoded::to_string([("a", a.trim()), ("b", b.trim())]).unwrap_or_default()
}

/// Reads a calculator answer, or turns an error body (the calculator's or a Kubernetes Status)
/// into its message.
fn read_answer(status: u16, body: &[u8]) -> Result<CalculateAnswer, String> {
    if status == 200 {
        return serde_json::from_slice(body).map_err(|e| {
            format!("the calculator answered something that is not a calculation: {e}")
        });
    }
    if let Ok(error) = serde_json::from_slice::<ErrorBody>(body) {
        return Err(error.error.message);
    }
    if let Ok(status_object) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(message) = status_object["message"].as_str()
    {
        return Err(format!("{message} (HTTP {status})"));
    }
    Err(format!(
        "HTTP {status}: {}",
        String::from_utf8_lossy(body)
            .chars()
            .take(200)
            .collect::<String>()
    ))
}

/// Calculates once.
pub async fn calculate(
    client: Option<&kube::Client>,
    http: &HttpClient,
    target: &CalcTarget,
    a: &str,
    b: &str,
) -> CalcOutcome {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), call(client, http, target, a, b))
        .await
        .unwrap_or_else(|_| Err("the calculator did not answer within 10 s".into()));
    CalcOutcome {
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
) -> Result<CalculateAnswer, String> {
    match target {
        CalcTarget::ServiceProxy {
            namespace,
            service,
            port,
        } => {
            let client = client.ok_or("not connected to a cluster")?;
            let path = format!(
                "/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/api/calculate?{}",
                query(a, b)
            );
            let request = http::Request::get(path)
                .body(Vec::new())
                .map_err(|e| e.to_string())?;
            let response = client
                .send(request.map(kube::client::Body::from))
                .await
                .map_err(|e| e.to_string())?;
            read_response(response).await
        }
        CalcTarget::Url(base) => {
            let url = format!(
                "{}/api/calculate?{}",
                base.trim_end_matches('/'),
                query(a, b)
            );
            let uri: hyper::Uri = url
                .parse()
                .map_err(|e| format!("{url} is not a URL: {e}"))?;
            if uri.scheme_str() != Some("http") {
                return Err(format!(
                    "{url}: only http:// URLs can be called directly; use the service proxy for anything else"
                ));
            }
            let response = http
                .get(uri)
                .await
                .map_err(|e| format!("cannot reach {url}: {e}"))?;
            read_response(response).await
        }
    }
}

/// Reads a whole response, whichever client it came from, into the calculator's answer.
async fn read_response<B>(response: http::Response<B>) -> Result<CalculateAnswer, String>
where
    B: hyper::body::Body,
    B::Error: std::fmt::Display,
{
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    read_answer(status, &body)
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
        let outcome = calculate(current.as_ref(), &http, &target, &a, &b).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_messages() {
        let calc = br#"{"error":{"code":"invalid_number","message":"The first number \"x\" is not a number."}}"#;
        assert_eq!(
            read_answer(400, calc).unwrap_err(),
            "The first number \"x\" is not a number."
        );
        let status = br#"{"kind":"Status","message":"no endpoints available for service \"calculator\"","code":503}"#;
        assert_eq!(
            read_answer(503, status).unwrap_err(),
            "no endpoints available for service \"calculator\" (HTTP 503)"
        );
        assert!(
            read_answer(502, b"bad gateway")
                .unwrap_err()
                .starts_with("HTTP 502")
        );
    }

    #[test]
    fn operands_are_url_encoded() {
        assert_eq!(query(" 1+1 ", "a&b"), "a=1%2B1&b=a%26b");
    }
}
