//! Reading the numbers a progressive move judges: every running pod's `/metrics`, fetched
//! through the API server's pod proxy (so any cluster works, with no Prometheus installed), all
//! pods at once.

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::cluster::proxy::{ProxyError, proxy_get};
use crate::model::analysis::{PodMetrics, Reading, ScrapeError};

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

/// Reads the metrics of the running pods of `namespace` that `selector` selects, on their port
/// `port` (a number or a container port's name).
pub async fn read_pods(
    proxy: &kube::Client,
    namespace: &str,
    selector: &str,
    port: &str,
) -> Result<PodReadings, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(proxy.clone(), namespace);
    let listed = pods
        .list(
            &ListParams::default()
                .labels(selector)
                .fields("status.phase=Running"),
        )
        .await?;
    let names: Vec<String> = listed
        .items
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter_map(|pod| pod.metadata.name.clone())
        .collect();
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
