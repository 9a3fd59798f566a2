//! Which nodes can take a pod: the scheduler's first questions (node selector, taints, room),
//! asked before a move so it is refused with the reason instead of leaving a Pending pod.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, PodSpec, Taint, Toleration};

use super::nodes::NodeTile;
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

fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key_ok = match t.key.as_deref() {
            None | Some("") => t.operator.as_deref() == Some("Exists"),
            Some(key) => key == taint.key,
        };
        let value_ok = match t.operator.as_deref() {
            Some("Exists") => true,
            _ => {
                t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
            }
        };
        effect_ok && key_ok && value_ok
    })
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

fn occupies(pod: &Pod) -> bool {
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
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
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

/// Every node, and whether it can take a pod of `spec` given the pods already placed.
pub fn node_fits(nodes: &[Node], pods: &[Pod], spec: &PodSpec) -> Vec<NodeFit> {
    let mut fits: Vec<NodeFit> = nodes
        .iter()
        .map(|node| {
            let tile = NodeTile::of(node);
            let placed: Vec<&PodSpec> = pods
                .iter()
                .filter(|p| {
                    p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(tile.name.as_str())
                        && occupies(p)
                })
                .filter_map(|p| p.spec.as_ref())
                .collect();
            let (cpu_used, memory_used) = placed
                .iter()
                .map(|s| requests(s))
                .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
            let mut facts = tile.facts();
            facts.used = (placed.len() as i64, cpu_used, memory_used);
            let verdict = fit(&facts, spec);
            NodeFit {
                node: tile.name.clone(),
                os: tile
                    .labels
                    .get("kubernetes.io/os")
                    .cloned()
                    .unwrap_or_default(),
                room: verdict.as_ref().ok().copied(),
                why_not: verdict.err(),
            }
        })
        .collect();
    fits.sort_by(|a, b| (a.why_not.is_some(), &a.node).cmp(&(b.why_not.is_some(), &b.node)));
    fits
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, os: &str, taint: bool, pods: i64) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/os": os}},
            "spec": if taint { json!({"taints": [{"key": "os", "value": "windows", "effect": "NoSchedule"}]}) } else { json!({}) },
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "allocatable": {"pods": pods.to_string(), "cpu": "2", "memory": "4Gi"},
            },
        }))
        .unwrap()
    }

    fn pod_on(node: &str, cpu: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("p-{node}-{cpu}")},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": "Running"},
        }))
        .unwrap()
    }

    fn linux_pod(cpu: &str) -> PodSpec {
        serde_json::from_value(json!({
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": "32Mi"}}}],
        }))
        .unwrap()
    }

    #[test]
    fn selector_taints_and_room_decide_like_the_scheduler() {
        let nodes = [
            node("win-1", "windows", true, 10),
            node("lin-1", "linux", false, 10),
            node("lin-2", "linux", false, 1),
            node("lin-3", "linux", false, 10),
        ];
        let pods = [pod_on("lin-2", "10m"), pod_on("lin-3", "1900m")];
        let fits = node_fits(&nodes, &pods, &linux_pod("50m"));
        let by_name = |n: &str| fits.iter().find(|f| f.node == n).unwrap().clone();
        assert_eq!(by_name("lin-1").room, Some(10));
        assert_eq!(by_name("lin-3").room, Some(2));
        assert_eq!(
            by_name("lin-2").why_not.as_deref(),
            Some("no room: 1 of 1 pods")
        );
        assert_eq!(
            by_name("win-1").why_not.as_deref(),
            Some(
                "node selector kubernetes.io/os=linux does not match (the node has kubernetes.io/os=windows)"
            )
        );
        assert_eq!(fits[0].node, "lin-1", "nodes that fit come first");

        // A pod with no selector still may not land on the tainted Windows node.
        let mut anywhere = linux_pod("50m");
        anywhere.node_selector = None;
        let fits = node_fits(&nodes, &pods, &anywhere);
        assert_eq!(
            fits.iter()
                .find(|f| f.node == "win-1")
                .unwrap()
                .why_not
                .as_deref(),
            Some("untolerated taint os=windows:NoSchedule")
        );
        anywhere.tolerations = Some(vec![Toleration {
            key: Some("os".into()),
            operator: Some("Equal".into()),
            value: Some("windows".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }]);
        let fits = node_fits(&nodes, &pods, &anywhere);
        assert!(
            fits.iter()
                .find(|f| f.node == "win-1")
                .unwrap()
                .room
                .is_some()
        );
    }

    #[test]
    fn the_summary_reads_like_the_schedulers() {
        let nodes = [
            node("win-1", "windows", true, 10),
            node("lin-1", "linux", false, 0),
        ];
        let fits = node_fits(&nodes, &[], &linux_pod("50m"));
        assert_eq!(
            summary(&fits),
            "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had no room for the pod"
        );
    }
}
