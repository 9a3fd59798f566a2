//! Gathers what the readiness check reads — nodes, pods, Deployments, DaemonSets, the VPC CNI's
//! ConfigMap and, on EKS, the node groups — and runs it.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, ListParams};

use crate::model::eks::EksCluster;
use crate::model::readiness::{self, ReadinessInputs, ReadinessOptions, ReadinessReport};

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {what} for the readiness check: {source}")]
pub struct ReadinessError {
    what: &'static str,
    #[source]
    source: kube::Error,
}

async fn list<K>(client: &kube::Client, what: &'static str) -> Result<Vec<K>, ReadinessError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    Api::<K>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .map_err(|source| ReadinessError { what, source })
}

/// `kube-system/amazon-vpc-cni`, or `None` when it does not exist.
pub async fn vpc_cni(client: &kube::Client) -> Result<Option<ConfigMap>, ReadinessError> {
    Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
        .get_opt("amazon-vpc-cni")
        .await
        .map_err(|source| ReadinessError {
            what: "ConfigMap kube-system/amazon-vpc-cni",
            source,
        })
}

/// Reads the cluster and checks it; `eks` adds the node-group checks.
pub async fn check(
    client: &kube::Client,
    cluster: &str,
    eks: Option<&EksCluster>,
    options: &ReadinessOptions,
) -> Result<ReadinessReport, ReadinessError> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|source| ReadinessError {
            what: "nodes",
            source,
        })?
        .items;
    let pods: Vec<Pod> = list(client, "pods").await?;
    let deployments: Vec<Deployment> = list(client, "Deployments").await?;
    let daemonsets: Vec<DaemonSet> = list(client, "DaemonSets").await?;
    let config = vpc_cni(client).await?;
    Ok(readiness::check(
        cluster,
        &ReadinessInputs {
            nodes: &nodes,
            pods: &pods,
            deployments: &deployments,
            daemonsets: &daemonsets,
            vpc_cni: config.as_ref(),
            eks,
            windows_taint: &options.windows_taint,
            required_daemonsets: &options.required_daemonsets,
        },
    ))
}
