//! Whether a node can take a pod: the scheduler's first questions (node selector, taints,
//! room), asked before a move so it is refused with the reason instead of leaving a Pending
//! pod, and while dragging, so each node says whether it has room.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodSpec, Taint, Toleration};

use kube_units::taints;
use serde::Serialize;

/// Whether one node can take the pod, and why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeFit {
    /// The node.
    pub node: String,
    /// Its `kubernetes.io/os` label.
    pub os: String,
    /// How many more such pods fit (pods, CPU and memory), when it can take one at all.
    pub room: Option<i64>,
    /// Why it cannot, in the scheduler's terms.
    pub why_not: Option<String>,
}

/// Whether `tolerations` tolerate `taint`, by the scheduler's rules ([`kube_units::taints`],
/// which the local cluster's scheduler judges by too).
pub fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    let taint = taints::Taint {
        key: &taint.key,
        value: taint.value.as_deref(),
        effect: &taint.effect,
    };
    taints::tolerated(
        tolerations.iter().map(|t| taints::Toleration {
            key: t.key.as_deref(),
            operator: t.operator.as_deref(),
            value: t.value.as_deref(),
            effect: t.effect.as_deref(),
        }),
        &taint,
    )
}

/// CPU (millicores) and memory (bytes) a pod of `spec` requests.
pub fn requests(spec: &PodSpec) -> (i64, i64) {
    spec.containers.iter().fold((0, 0), |(cpu, memory), c| {
        let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        let get = |k: &str| requests.and_then(|r| r.get(k)).map(|q| q.0.clone());
        (
            cpu + get("cpu")
                .and_then(|q| kube_units::quantity::cpu_millis(&q))
                .unwrap_or(0),
            memory
                + get("memory")
                    .and_then(|q| kube_units::quantity::bytes(&q))
                    .unwrap_or(0),
        )
    })
}

/// Whether a pod counts against its node's room (not finished).
pub fn occupies(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed"))
}

/// What the scheduler's first checks look at on one node.
#[derive(Clone, Copy, Debug)]
pub struct NodeFacts<'a> {
    /// Its labels.
    pub labels: &'a BTreeMap<String, String>,
    /// Ready condition True.
    pub ready: bool,
    /// Cordoned.
    pub unschedulable: bool,
    /// Its taints.
    pub taints: &'a [Taint],
    /// Allocatable pods, CPU (millicores) and memory (bytes).
    pub allocatable: (i64, i64, i64),
    /// Pods placed, and the CPU and memory they request.
    pub used: (i64, i64, i64),
}

/// How many more pods of `spec` fit on the node, or why none does.
pub fn fit(node: &NodeFacts<'_>, spec: &PodSpec) -> Result<i64, String> {
    let (cpu, memory) = requests(spec);
    if let Some((key, wanted)) = spec
        .node_selector
        .iter()
        .flatten()
        .find(|(k, v)| node.labels.get(*k) != Some(*v))
    {
        return Err(format!(
            "node selector {key}={wanted} does not match (the node has {key}={})",
            node.labels.get(key).map_or("<unset>", String::as_str)
        ));
    }
    if !node.ready {
        return Err("the node is not Ready".into());
    }
    if node.unschedulable {
        return Err("the node is cordoned (unschedulable)".into());
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    if let Some(taint) = node
        .taints
        .iter()
        .filter(|t| taints::keeps_off(&t.effect))
        .find(|t| !tolerates(tolerations, t))
    {
        let value = taint
            .value
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| format!("={v}"))
            .unwrap_or_default();
        return Err(format!(
            "untolerated taint {}{value}:{}",
            taint.key, taint.effect
        ));
    }
    let (pod_capacity, cpu_total, memory_total) = node.allocatable;
    let (pods_used, cpu_used, memory_used) = node.used;
    let by_pods = pod_capacity - pods_used;
    let by_cpu = if cpu > 0 {
        (cpu_total - cpu_used) / cpu
    } else {
        i64::MAX
    };
    let by_memory = if memory > 0 {
        (memory_total - memory_used) / memory
    } else {
        i64::MAX
    };
    let room = by_pods.min(by_cpu).min(by_memory);
    if room > 0 {
        return Ok(room);
    }
    Err(if by_pods <= 0 {
        format!("no room: {pods_used} of {pod_capacity} pods")
    } else if by_cpu <= 0 {
        format!(
            "no room: insufficient cpu ({cpu}m requested, {}m free)",
            cpu_total - cpu_used
        )
    } else {
        format!(
            "no room: insufficient memory ({} MiB requested, {} MiB free)",
            memory / (1024 * 1024),
            (memory_total - memory_used) / (1024 * 1024)
        )
    })
}

/// The scheduler's one-line summary when nothing fits: `0/4 nodes are available: 2 node(s)
/// didn't match Pod's node affinity/selector, …`.
pub fn summary(fits: &[NodeFit]) -> String {
    let available = fits.iter().filter(|f| f.why_not.is_none()).count();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for fit in fits {
        if let Some(why) = &fit.why_not {
            let class = if why.starts_with("node selector") {
                "didn't match Pod's node affinity/selector".to_owned()
            } else if why.starts_with("untolerated taint") {
                format!("had {why}")
            } else if why.starts_with("no room") {
                "had no room for the pod".to_owned()
            } else {
                why.clone()
            };
            *reasons.entry(class).or_default() += 1;
        }
    }
    let detail: Vec<String> = reasons
        .into_iter()
        .map(|(why, n)| format!("{n} node(s) {why}"))
        .collect();
    if detail.is_empty() {
        format!("{available}/{} nodes are available", fits.len())
    } else {
        format!(
            "{available}/{} nodes are available: {}",
            fits.len(),
            detail.join(", ")
        )
    }
}
