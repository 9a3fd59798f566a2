//! Gathers what the readiness check reads — nodes, pods, Deployments, DaemonSets,
//! RuntimeClasses, the VPC CNI's ConfigMap and, on EKS, the node groups — and runs it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::api::node::v1::RuntimeClass;
use kube::api::{Api, ListParams};

use super::image_builds;
use crate::model::eks::{AwsTarget, EksCluster, NodeGroupProposal};
use crate::model::instance_types::InstanceCatalog;
use crate::model::readiness::{
    self, ExpectedTaint, ReadinessInputs, ReadinessOptions, ReadinessReport,
};
use crate::protocol::ActionError;

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {what} for the readiness check: {source}")]
pub struct ReadinessError {
    what: &'static str,
    #[source]
    source: kube::Error,
}

impl From<ReadinessError> for ActionError {
    fn from(error: ReadinessError) -> ActionError {
        ActionError::from_kube(
            &format!("read {} for the readiness check", error.what),
            &error.source,
        )
    }
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

/// Reads the cluster and checks it; `eks` adds the node-group checks; `aws` is the identity
/// private ECR images are read with.
pub async fn check(
    client: &kube::Client,
    cluster: &str,
    eks: Option<&EksCluster>,
    aws: &AwsTarget,
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
    let runtime_classes = Api::<RuntimeClass>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|source| ReadinessError {
            what: "RuntimeClasses",
            source,
        })?
        .items;
    let no_answers = BTreeMap::new();
    let mut inputs = ReadinessInputs {
        nodes: &nodes,
        pods: &pods,
        deployments: &deployments,
        daemonsets: &daemonsets,
        runtime_classes: &runtime_classes,
        vpc_cni: config.as_ref(),
        eks,
        windows_taint: &options.windows_taint,
        required_daemonsets: &options.required_daemonsets,
        upgrade: options.upgrade.as_ref(),
        registry: &no_answers,
    };
    // The Windows workloads' images, read from their registries first (a tag is only a hint).
    let answers = if options.read_registries {
        image_builds::read_all(client, &readiness::windows_images(&inputs), aws).await
    } else {
        BTreeMap::new()
    };
    inputs.registry = &answers;
    Ok(readiness::check(cluster, &inputs))
}

/// The findings for a node group about to be added to `cluster`, judged against the taint
/// Windows nodes should carry; Windows IPAM is read through `kube` when the cluster can be
/// reached; `catalog` is what EC2 says of the proposed types. The one review the CLI and the
/// window both show.
pub async fn review_node_group(
    cluster: &EksCluster,
    proposal: &NodeGroupProposal,
    kube: Option<&kube::Client>,
    windows_taint: &ExpectedTaint,
    catalog: &InstanceCatalog,
) -> Result<ReadinessReport, ReadinessError> {
    let vpc_cni = match kube {
        Some(client) => Some(vpc_cni(client).await?),
        None => None,
    };
    Ok(ReadinessReport {
        cluster: cluster.name.clone(),
        findings: readiness::for_new_node_group(
            proposal,
            cluster,
            vpc_cni.as_ref().map(|c| c.as_ref()),
            windows_taint,
            catalog,
        ),
    })
}
