//! Taking a node group out of service, cluster side first: find its nodes, refuse while workload
//! pods (DaemonSet pods aside) still run there, cordon and drain them through the Eviction API
//! (PodDisruptionBudgets respected, as `kubectl drain` does), and only then ask EKS to scale the
//! group to zero or delete it. Shared by the CLI and the window.

use std::time::{Duration, Instant};

use super::{Aws, AwsError};
use crate::cluster::access;
use crate::cluster::connection::Connection;
use crate::model::access::Permission;
use crate::model::eks::{EksCluster, GroupSurvey, Retirement};
use crate::protocol::ActionError;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};

/// Why a node group could not be taken out of service.
#[derive(Debug, thiserror::Error)]
pub enum NodeGroupError {
    /// The EKS side.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// No such node group.
    #[error("{0}")]
    UnknownGroup(String),
    /// Workload pods remain.
    #[error("{0}")]
    Refused(String),
    /// The Kubernetes side.
    #[error("cannot {action}: {source}")]
    Kubernetes {
        /// What was being done.
        action: String,
        /// kube's error.
        #[source]
        source: kube::Error,
    },
    /// The access reviews could not be made.
    #[error("cannot check the drain's permissions (create selfsubjectaccessreviews): {0}")]
    Access(#[source] kube::Error),
    /// The drain did not finish in time.
    #[error(
        "the drain did not finish within {seconds} s; still on the nodes: {pods}. Last refusal: {last}. The nodes stay cordoned; nothing was changed in EKS. Run it again once the disruption budgets allow it (kubectl get pdb -A)."
    )]
    DrainTimeout {
        /// The timeout.
        seconds: u64,
        /// What is left.
        pods: String,
        /// The last refusal's words.
        last: String,
    },
}

impl From<NodeGroupError> for ActionError {
    fn from(error: NodeGroupError) -> ActionError {
        match error {
            NodeGroupError::Aws(aws) => aws.into(),
            NodeGroupError::UnknownGroup(message) => ActionError::NotFound { message },
            NodeGroupError::Refused(reason) => ActionError::Refused {
                reasons: vec![reason],
            },
            NodeGroupError::Kubernetes { action, source } => {
                ActionError::from_kube(&action, &source)
            }
            NodeGroupError::Access(source) => ActionError::from_kube(
                "check the drain's permissions (create selfsubjectaccessreviews)",
                &source,
            ),
            timeout @ NodeGroupError::DrainTimeout { .. } => ActionError::ServerAway {
                message: timeout.to_string(),
            },
        }
    }
}

fn kubernetes(action: impl Into<String>) -> impl FnOnce(kube::Error) -> NodeGroupError {
    let action = action.into();
    move |source| NodeGroupError::Kubernetes { action, source }
}

/// The label EKS puts on a managed node group's nodes.
pub const NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";

/// Whether a drain must move `pod`: running or pending, not a DaemonSet's, not a mirror pod.
fn is_workload(pod: &Pod) -> bool {
    let finished = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    let daemon = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.kind == "DaemonSet");
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    !finished && !daemon && !mirror
}

/// What a drain asks of the Kubernetes API, in every namespace (the pods to evict may be in
/// any); the EKS side is judged by EKS itself.
fn drain_permissions() -> Vec<Permission> {
    let cluster_wide = |verb: &str, resource: &str, subresource: Option<&str>| Permission {
        verb: verb.into(),
        group: String::new(),
        resource: resource.into(),
        subresource: subresource.map(Into::into),
        namespace: String::new(),
        name: None,
        allowed: None,
    };
    vec![
        cluster_wide("patch", "nodes", None),
        cluster_wide("create", "pods", Some("eviction")),
    ]
}

/// Workload pods on `nodes`, as `(namespace, name, node)`; with `terminating`, also those
/// already on their way out (a drain waits for them; a refusal does not count them).
async fn workload_pods(
    client: &kube::Client,
    nodes: &[String],
    terminating: bool,
) -> Result<Vec<(String, String, String)>, NodeGroupError> {
    let mut out = Vec::new();
    for node in nodes {
        let pods = Api::<Pod>::all(client.clone())
            .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
            .await
            .map_err(kubernetes(format!("list the pods on {node}")))?;
        for pod in pods
            .items
            .iter()
            .filter(|p| is_workload(p) && (terminating || p.metadata.deletion_timestamp.is_none()))
        {
            out.push((
                pod.metadata.namespace.clone().unwrap_or_default(),
                pod.metadata.name.clone().unwrap_or_default(),
                node.clone(),
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads the group from EKS and its nodes and pods from the cluster.
pub async fn survey(
    aws: &Aws,
    client: &kube::Client,
    cluster: &str,
    group: &str,
) -> Result<(EksCluster, GroupSurvey), NodeGroupError> {
    let (described, _) = aws.cluster(cluster).await?;
    let found = described
        .group(group)
        .map_err(|e| NodeGroupError::UnknownGroup(e.to_string()))?
        .clone();
    let nodes: Vec<String> = Api::<Node>::all(client.clone())
        .list(&ListParams::default().labels(&format!("{NODEGROUP_LABEL}={group}")))
        .await
        .map_err(kubernetes("list the node group's nodes"))?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    let pods = workload_pods(client, &nodes, false).await?;
    let needs = drain_permissions();
    let answers = access::may(client, &needs)
        .await
        .map_err(NodeGroupError::Access)?;
    let not_allowed = needs
        .iter()
        .zip(answers)
        .filter(|(_, allowed)| !allowed)
        .map(|(p, _)| p.describe())
        .collect();
    let deployments = Api::<Deployment>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(kubernetes(
            "list Deployments to look for a Cluster Autoscaler",
        ))?;
    let autoscaler = deployments
        .items
        .iter()
        .find(|d| {
            d.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.contains("cluster-autoscaler"))
                || d.spec.template.spec.as_ref().is_some_and(|s| {
                    s.containers.iter().any(|c| {
                        c.image
                            .as_deref()
                            .is_some_and(|i| i.contains("cluster-autoscaler"))
                    })
                })
        })
        .map(|d| {
            format!(
                "{}/{}",
                d.metadata.namespace.as_deref().unwrap_or_default(),
                d.metadata.name.as_deref().unwrap_or_default()
            )
        });
    let survey = GroupSurvey {
        cluster: cluster.to_owned(),
        group: found,
        nodes,
        workload_pods: pods
            .iter()
            .map(|(ns, name, node)| format!("{ns}/{name} on {node}"))
            .collect(),
        autoscaler,
        not_allowed,
    };
    Ok((described, survey))
}

/// Cordons each node and evicts every workload pod on them, trying refused evictions again every
/// `retry` until `timeout`; then waits for the pods to be gone. Returns how many were evicted.
pub async fn drain(
    connection: &Connection,
    nodes: &[String],
    timeout: Duration,
    retry: Duration,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<usize, NodeGroupError> {
    let client = &connection.api;
    let node_api = Api::<Node>::all(client.clone());
    for node in nodes {
        node_api
            .patch(
                node,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"unschedulable": true}})),
            )
            .await
            .map_err(kubernetes(format!("cordon {node}")))?;
        progress(format!("cordoned {node}"));
    }
    let deadline = Instant::now() + timeout;
    let mut evicted = 0;
    let mut last = String::from("none");
    loop {
        let left = workload_pods(client, nodes, true).await?;
        if left.is_empty() {
            return Ok(evicted);
        }
        for (namespace, name, node) in &left {
            // A 429 here is the budget's answer, to be waited on by this loop: the client that
            // does not retry by itself hears it at once.
            let pods = Api::<Pod>::namespaced(connection.proxy.clone(), namespace);
            match pods.evict(name, &EvictParams::default()).await {
                Ok(_) => {
                    evicted += 1;
                    progress(format!("evicted {namespace}/{name} from {node}"));
                }
                // Already gone, or going: the next round sees.
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(kube::Error::Api(e)) if e.code == 429 => {
                    last = format!("{namespace}/{name}: {}", e.message);
                }
                Err(e) => return Err(kubernetes(format!("evict {namespace}/{name}"))(e)),
            }
        }
        if Instant::now() >= deadline {
            let left = workload_pods(client, nodes, true).await?;
            if left.is_empty() {
                return Ok(evicted);
            }
            return Err(NodeGroupError::DrainTimeout {
                seconds: timeout.as_secs(),
                pods: left
                    .iter()
                    .map(|(ns, n, _)| format!("{ns}/{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                last,
            });
        }
        tokio::time::sleep(retry).await;
    }
}

/// Takes the surveyed group out of service: refuses while workload pods remain, drains its nodes,
/// then scales it to zero or deletes it. Returns what was done, in words.
pub async fn retire(
    aws: &Aws,
    connection: &Connection,
    survey: &GroupSurvey,
    retirement: Retirement,
    timeout: Duration,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<String, NodeGroupError> {
    // Read again: pods may have arrived since the operator looked.
    let now = workload_pods(&connection.api, &survey.nodes, false).await?;
    if !now.is_empty() {
        let fresh = GroupSurvey {
            workload_pods: now
                .iter()
                .map(|(ns, name, node)| format!("{ns}/{name} on {node}"))
                .collect(),
            ..survey.clone()
        };
        if let Some(refusal) = fresh.refusal(retirement) {
            return Err(NodeGroupError::Refused(refusal));
        }
    }
    let evicted = drain(
        connection,
        &survey.nodes,
        timeout,
        Duration::from_secs(5),
        progress,
    )
    .await?;
    match retirement {
        Retirement::ScaleToZero => {
            aws.scale_node_group(&survey.cluster, &survey.group, 0)
                .await?
        }
        Retirement::Delete => {
            aws.delete_node_group(&survey.cluster, &survey.group.name)
                .await?
        }
    }
    let done = match retirement {
        Retirement::ScaleToZero => format!(
            "EKS is scaling node group {} of cluster {} to 0 nodes",
            survey.group.name, survey.cluster
        ),
        Retirement::Delete => format!(
            "EKS is deleting node group {} of cluster {}",
            survey.group.name, survey.cluster
        ),
    };
    Ok(format!(
        "Cordoned and drained {} node(s) of node group {} ({evicted} pod(s) evicted). {done}.",
        survey.nodes.len(),
        survey.group.name,
    ))
}
