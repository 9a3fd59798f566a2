//! Taking a node group out of service, cluster side first: find its nodes, refuse while workload
//! pods (DaemonSet pods aside) still run there, cordon and drain them through the Eviction API
//! (PodDisruptionBudgets respected, as `kubectl drain` does), and only then ask EKS to scale the
//! group to zero or delete it. Shared by the CLI and the window.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};
use serde::Serialize;

use super::connection::Connection;
use super::eks::{Aws, AwsError};
use super::migration::access;
use crate::model::eks::{EksCluster, EksNodeGroup};
use crate::model::move_plan::Permission;

/// Where a node group to add is described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalSource {
    /// A managed node group in an eksctl ClusterConfig file.
    Eksctl {
        /// The file.
        path: std::path::PathBuf,
        /// The node group's name in it.
        group: String,
        /// The node role ARN, if the file does not give one.
        node_role: Option<String>,
    },
    /// Given field by field.
    Fields(Box<crate::model::eks::NodeGroupProposal>),
}

impl ProposalSource {
    /// The proposal (reading the file, for an eksctl source).
    pub async fn proposal(&self) -> Result<crate::model::eks::NodeGroupProposal, String> {
        match self {
            ProposalSource::Fields(p) => Ok((**p).clone()),
            ProposalSource::Eksctl {
                path,
                group,
                node_role,
            } => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let mut proposal = crate::model::eks::NodeGroupProposal::from_eksctl(&text, group)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if proposal.node_role.is_none() {
                    proposal.node_role = node_role.clone();
                }
                Ok(proposal)
            }
        }
    }
}

/// What to do with the node group once its nodes are drained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Retirement {
    /// `UpdateNodegroupConfig` to zero nodes (the group stays, to scale up again).
    ScaleToZero,
    /// `DeleteNodegroup`.
    Delete,
}

impl Retirement {
    /// `scale node group windows of cluster hybrid to 0` / `delete node group …`.
    pub fn describe(self, cluster: &str, group: &str) -> String {
        match self {
            Retirement::ScaleToZero => {
                format!("scale node group {group} of cluster {cluster} to 0 nodes")
            }
            Retirement::Delete => format!("delete node group {group} of cluster {cluster}"),
        }
    }
}

/// A node group's nodes and what runs on them, read before anything changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSurvey {
    /// The EKS cluster.
    pub cluster: String,
    /// The node group as EKS describes it.
    pub group: EksNodeGroup,
    /// Its nodes in the cluster (label `eks.amazonaws.com/nodegroup`).
    pub nodes: Vec<String>,
    /// Workload pods on them (`namespace/name on node`), DaemonSet and mirror pods aside.
    pub workload_pods: Vec<String>,
    /// A Cluster Autoscaler found in the cluster (`namespace/name`), which may scale the group
    /// back up.
    pub autoscaler: Option<String>,
    /// What the drain needs and the console's user may not do (`patch nodes`), as the server
    /// answered access reviews.
    pub not_allowed: Vec<String>,
}

impl GroupSurvey {
    /// Why the group may not be taken out of service yet, if it may not.
    pub fn refusal(&self, retirement: Retirement) -> Option<String> {
        let mut why = Vec::new();
        if !self.workload_pods.is_empty() {
            why.push(format!(
                "{} workload pod(s) still run on its nodes: {}. Move them off first (hybrid-console migrate SERVICE --to linux for each service, then hybrid-console retire for the monolith).",
                self.workload_pods.len(),
                self.workload_pods.join(", ")
            ));
        }
        if !self.not_allowed.is_empty() {
            why.push(format!(
                "not allowed: {} (cluster-wide), which cordoning and draining its nodes needs; ask your cluster administrator for the hybrid-console:drain ClusterRole (manifests/console/rbac.yaml).",
                self.not_allowed.join(", ")
            ));
        }
        if why.is_empty() {
            return None;
        }
        Some(format!(
            "Refusing to {}: {}",
            retirement.describe(&self.cluster, &self.group.name),
            why.join(" And ")
        ))
    }

    /// Warnings to show with the confirmation.
    pub fn warnings(&self) -> Vec<String> {
        self.autoscaler
            .iter()
            .map(|a| {
                format!(
                    "Cluster Autoscaler runs in this cluster ({a}): it may add nodes to {} again while pods are pending; the group's minimum is set to 0 with its size",
                    self.group.name
                )
            })
            .collect()
    }
}

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
    #[error("{0}")]
    Access(String),
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
        .map_err(NodeGroupError::UnknownGroup)?
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
    let answers = access::check(client, &needs)
        .await
        .map_err(|e| NodeGroupError::Access(e.to_string()))?;
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
