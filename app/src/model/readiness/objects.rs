//! What the checks ask of the cluster's objects: a node's OS and taints, where a pod may land,
//! the OS a workload asks for, a pod's state, the VPC CNI's settings.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, PodSpec, Taint};

use super::report::ReadinessInputs;
use crate::model::NodeOs;
use crate::model::fit::tolerates;

pub(super) fn os_of(node: &Node) -> NodeOs {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/os"))
        .map(|os| NodeOs::from_label(os))
        .or_else(|| {
            node.status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| NodeOs::from_label(&i.operating_system))
        })
        .unwrap_or(NodeOs::Other(String::new()))
}

pub(super) fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

pub(super) fn qualified(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or_default()
    )
}

pub(super) fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

pub(super) fn taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

/// Whether a pod of `spec` may be placed on `node` as far as taints and its node selector go.
pub(super) fn could_land_on(spec: &PodSpec, node: &Node) -> bool {
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let taints_ok = taints(node)
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| tolerates(tolerations, t));
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| label(node, k) == Some(v.as_str()));
    taints_ok && selector_ok
}

pub(super) const OS_LABELS: [&str; 2] = ["kubernetes.io/os", "beta.kubernetes.io/os"];

/// The OS a pod template asks for, by nodeSelector or by every required node-affinity term
/// (one term without it lets the pod go anywhere); `None` when it leaves the OS open.
pub fn chosen_os(spec: &PodSpec) -> Option<Vec<String>> {
    if let Some(os) = spec
        .node_selector
        .as_ref()
        .and_then(|s| OS_LABELS.iter().find_map(|k| s.get(*k)))
    {
        return Some(vec![os.clone()]);
    }
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or_default();
    if terms.is_empty() {
        return None;
    }
    let mut chosen = Vec::new();
    for term in terms {
        let os_expression = term
            .match_expressions
            .iter()
            .flatten()
            .find(|e| OS_LABELS.contains(&e.key.as_str()) && e.operator == "In")?;
        chosen.extend(os_expression.values.iter().flatten().cloned());
    }
    chosen.sort();
    chosen.dedup();
    Some(chosen)
}

pub(super) fn cni_flag(config: Option<&ConfigMap>, key: &str) -> Option<String> {
    config
        .and_then(|c| c.data.as_ref())
        .and_then(|d| d.get(key))
        .cloned()
}

pub(super) fn is_active(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && !matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

pub(super) fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub(super) fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

pub(super) fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

pub(super) fn is_ec2(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .is_some_and(|p| p.starts_with("aws://"))
}

/// A workload's name, kind and pod template spec.
pub(super) fn templates<'a>(
    inputs: &'a ReadinessInputs<'_>,
) -> Vec<(String, &'static str, &'a PodSpec)> {
    let mut out = Vec::new();
    for d in inputs.deployments {
        if let Some(spec) = d.spec.template.spec.as_ref() {
            out.push((qualified(&d.metadata), "Deployment", spec));
        }
    }
    for d in inputs.daemonsets {
        if let Some(spec) = d.spec.template.spec.as_ref() {
            out.push((qualified(&d.metadata), "DaemonSet", spec));
        }
    }
    out
}

/// Whether a pod runs, or is meant to run, on Windows.
pub(super) fn is_windows_pod(pod: &Pod, windows_names: &[String]) -> bool {
    match node_name(pod) {
        Some(node) => windows_names.iter().any(|n| n == node),
        None => pod
            .spec
            .as_ref()
            .and_then(chosen_os)
            .is_some_and(|os| os == ["windows"]),
    }
}

/// Whether a DaemonSet's pods are meant for Windows nodes.
pub(super) fn targets_windows(set: &DaemonSet) -> bool {
    set.spec
        .template
        .spec
        .as_ref()
        .and_then(chosen_os)
        .is_some_and(|os| os.iter().any(|o| o == "windows"))
}
