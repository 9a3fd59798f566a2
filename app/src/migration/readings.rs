//! Reading the numbers a progressive move judges: every running pod's `/metrics`, fetched
//! through the API server's pod proxy (so any cluster works, with no Prometheus installed), all
//! pods at once — or the same series of the same pods from a Prometheus the operator names.

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::cluster::proxy::{ProxyError, proxy_get};
use crate::model::analysis::{PodMetrics, Reading, ScrapeError, promql};

/// Why one pod's metrics were not read.
#[derive(Debug, thiserror::Error)]
pub enum Unread {
    /// Nothing came back through the pod proxy.
    #[error("its /metrics could not be reached: {0}")]
    Unreachable(#[from] ProxyError),
    /// The proxy or the pod answered with an error.
    #[error("its /metrics answered HTTP {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The answer's text.
        body: String,
    },
    /// The answer is not the calculator's metrics.
    #[error(transparent)]
    NotMetrics(#[from] ScrapeError),
    /// Prometheus holds no series of it (not scraped since it started, or not a target).
    #[error("Prometheus has no calculator series of it yet")]
    NotInPrometheus,
}

/// The pods read, and those that could not be, with why (a reading goes on without them: a pod
/// that stops answering mid-step must not stop the judging of the others).
#[derive(Debug, Default)]
pub struct PodReadings {
    /// The metrics of each pod read, by pod name.
    pub reading: Reading,
    /// Each pod not read, with why.
    pub unread: Vec<(String, Unread)>,
}

/// Where the pods' metrics are read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MetricsSource {
    /// Each pod's `/metrics`, through the API server's pod proxy.
    #[default]
    PodProxy,
    /// A Prometheus's HTTP API at this base URL (`http://prometheus:9090`).
    Prometheus(String),
}

/// A reading that could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The pods could not be listed.
    #[error("the pods could not be listed: {0}")]
    Pods(#[from] kube::Error),
    /// The Prometheus named could not be asked, or did not answer the query.
    #[error("Prometheus at {url}: {why}")]
    Prometheus {
        /// Its URL.
        url: String,
        /// What went wrong.
        why: String,
    },
}

/// The running pods of `namespace` that `selector` selects.
async fn running_pods(
    api: &kube::Client,
    namespace: &str,
    selector: &str,
) -> Result<Vec<String>, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(api.clone(), namespace);
    let listed = pods
        .list(
            &ListParams::default()
                .labels(selector)
                .fields("status.phase=Running"),
        )
        .await?;
    Ok(listed
        .items
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter_map(|pod| pod.metadata.name.clone())
        .collect())
}

/// Reads the metrics of the running pods of `namespace` that `selector` selects, from `source`
/// (through the pod proxy, on their port `port`: a number or a container port's name).
pub async fn read(
    source: &MetricsSource,
    proxy: &kube::Client,
    namespace: &str,
    selector: &str,
    port: &str,
) -> Result<PodReadings, ReadError> {
    match source {
        MetricsSource::PodProxy => Ok(read_pods(proxy, namespace, selector, port).await?),
        MetricsSource::Prometheus(url) => {
            let names = running_pods(proxy, namespace, selector).await?;
            let failed = |why: String| ReadError::Prometheus {
                url: url.clone(),
                why,
            };
            let mut readings = PodReadings::default();
            if names.is_empty() {
                return Ok(readings);
            }
            let answer = ask_prometheus(url, &promql::query(namespace, &names))
                .await
                .map_err(|e| failed(e.to_string()))?;
            readings.reading = promql::reading(&answer).map_err(|e| failed(e.to_string()))?;
            // A pod Prometheus has no series of yet (not scraped since it started).
            for name in names {
                if !readings.reading.contains_key(&name) {
                    readings.unread.push((name, Unread::NotInPrometheus));
                }
            }
            Ok(readings)
        }
    }
}

/// Why a Prometheus gave no answer to read.
#[derive(Debug, thiserror::Error)]
pub enum PromAsk {
    /// The URL given does not parse.
    #[error("it is not a URL: {0}")]
    NotAUrl(#[from] hyper::http::uri::InvalidUri),
    /// Not plain HTTP.
    #[error(
        "only http:// is supported; reach an https or signed endpoint (Amazon Managed Service for Prometheus) through a local proxy such as aws-sigv4-proxy"
    )]
    NotHttp,
    /// Nothing came back in time.
    #[error("no answer within {0} s")]
    TooSlow(u64),
    /// No connection.
    #[error("cannot be reached: {0}")]
    Unreachable(#[from] hyper_util::client::legacy::Error),
    /// The answer stopped half-way.
    #[error("its answer broke off: {0}")]
    BrokeOff(#[from] hyper::Error),
    /// Not Prometheus's JSON.
    #[error("answered HTTP {status} with something that is not JSON ({error}): {start}")]
    NotJson {
        /// The HTTP status.
        status: u16,
        /// The parser's complaint.
        error: serde_json::Error,
        /// The answer's first 200 characters.
        start: String,
    },
}

/// How long a Prometheus query may take.
const PROMETHEUS_TIMEOUT_SECONDS: u64 = 10;

/// `GET {url}/api/v1/query?query=…`, its JSON answer.
async fn ask_prometheus(url: &str, query: &str) -> Result<serde_json::Value, PromAsk> {
    use http_body_util::BodyExt;
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("query", query)
        .finish();
    let uri: hyper::Uri =
        format!("{}/api/v1/query?{encoded}", url.trim_end_matches('/')).parse()?;
    if uri.scheme_str() != Some("http") {
        return Err(PromAsk::NotHttp);
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(PROMETHEUS_TIMEOUT_SECONDS),
        client.get(uri),
    )
    .await
    .map_err(|_| PromAsk::TooSlow(PROMETHEUS_TIMEOUT_SECONDS))??;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    serde_json::from_slice(&body).map_err(|error| PromAsk::NotJson {
        status,
        error,
        start: String::from_utf8_lossy(&body).chars().take(200).collect(),
    })
}

/// Reads the metrics of the running pods of `namespace` that `selector` selects, on their port
/// `port` (a number or a container port's name).
pub async fn read_pods(
    proxy: &kube::Client,
    namespace: &str,
    selector: &str,
    port: &str,
) -> Result<PodReadings, kube::Error> {
    let names = running_pods(proxy, namespace, selector).await?;
    let answers = join_all(names.iter().map(|name| async move {
        let path = format!("/api/v1/namespaces/{namespace}/pods/{name}:{port}/proxy/metrics");
        let read = match proxy_get(proxy, &path).await {
            Ok((200, body)) => {
                PodMetrics::parse(&String::from_utf8_lossy(&body)).map_err(Unread::from)
            }
            Ok((status, body)) => Err(Unread::Refused {
                status,
                body: String::from_utf8_lossy(&body).trim().to_owned(),
            }),
            Err(e) => Err(Unread::from(e)),
        };
        (name.clone(), read)
    }))
    .await;
    let mut readings = PodReadings::default();
    for (name, read) in answers {
        match read {
            Ok(metrics) => {
                readings.reading.insert(name, metrics);
            }
            Err(why) => readings.unread.push((name, why)),
        }
    }
    Ok(readings)
}
