//! Reading the numbers a progressive move judges: every running pod's `/metrics`, fetched
//! through the API server's pod proxy (so any cluster works, with no Prometheus installed), all
//! pods at once.

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::cluster::proxy::proxy_get;
use crate::model::analysis::{PodMetrics, Reading};

/// The pods read, and those that could not be, with why (a reading goes on without them: a pod
/// that stops answering mid-step must not stop the judging of the others).
#[derive(Debug, Default)]
pub struct PodReadings {
    /// The metrics of each pod read, by pod name.
    pub reading: Reading,
    /// `(pod, why)` for each pod not read.
    pub unread: Vec<(String, String)>,
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
                PodMetrics::parse(&String::from_utf8_lossy(&body)).map_err(|e| e.to_string())
            }
            Ok((status, body)) => Err(format!(
                "its /metrics answered HTTP {status}: {}",
                String::from_utf8_lossy(&body).trim()
            )),
            Err(e) => Err(e.to_string()),
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
