//! The scheduler's filters and score, in the real scheduler's order and words: unschedulable
//! nodes, taints, node affinity/selector, resources, pod count; least allocated wins.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use kube_units::quantity;
use kube_units::taints::{self, Taint, Toleration};

/// CPU (millicores) and memory (bytes) requested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Requests {
    pub(super) cpu: i64,
    pub(super) memory: i64,
}

/// The parts of a node scheduling reads (name, labels, spec, allocatable): a parsed node is
/// mostly its status, and 5,000 whole ones would cost the cache tens of megabytes.
pub(super) fn scheduling_view(node: Value) -> Value {
    json!({
        "metadata": {"name": node["metadata"]["name"], "labels": node["metadata"]["labels"]},
        "spec": node["spec"],
        "status": {"allocatable": node["status"]["allocatable"]},
    })
}

/// What of a pod scheduling reads: pods with the same key are judged alike.
pub(super) fn likeness(pod: &Value, requests: Requests) -> String {
    let spec = &pod["spec"];
    format!(
        "{}|{}|{}|{}|{}",
        requests.cpu,
        requests.memory,
        spec["nodeSelector"],
        spec["affinity"]["nodeAffinity"],
        spec["tolerations"],
    )
}

/// The requests of a pod: the sum over its containers.
pub(super) fn requests_of(pod: &Value) -> Requests {
    let mut total = Requests::default();
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        let requests = &c["resources"]["requests"];
        total.cpu += requests["cpu"]
            .as_str()
            .and_then(quantity::cpu_millis)
            .unwrap_or(0);
        total.memory += requests["memory"]
            .as_str()
            .and_then(quantity::bytes)
            .unwrap_or(0);
    }
    total
}

/// Whether `tolerations` tolerate `taint` (key, value, effect; `Exists` and empty keys), by the
/// rules the console judges a move by too ([`kube_units::taints`]).
pub fn tolerates(tolerations: &[Value], taint: &Value) -> bool {
    let taint = Taint {
        key: taint["key"].as_str().unwrap_or_default(),
        value: taint["value"].as_str(),
        effect: taint["effect"].as_str().unwrap_or_default(),
    };
    taints::tolerated(
        tolerations.iter().map(|t| Toleration {
            key: t["key"].as_str(),
            operator: t["operator"].as_str(),
            value: t["value"].as_str(),
            effect: t["effect"].as_str(),
        }),
        &taint,
    )
}

fn expression_matches(
    expr: &Value,
    labels: &serde_json::Map<String, Value>,
    node_name: &str,
    field: bool,
) -> bool {
    let key = expr["key"].as_str().unwrap_or_default();
    let actual = if field {
        (key == "metadata.name").then_some(node_name)
    } else {
        labels.get(key).and_then(Value::as_str)
    };
    let values: Vec<&str> = expr["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match expr["operator"].as_str() {
        Some("In") => actual.is_some_and(|a| values.contains(&a)),
        Some("NotIn") => actual.is_none_or(|a| !values.contains(&a)),
        Some("Exists") => actual.is_some(),
        Some("DoesNotExist") => actual.is_none(),
        Some("Gt") => actual
            .and_then(|a| a.parse::<i64>().ok())
            .zip(values.first().and_then(|v| v.parse::<i64>().ok()))
            .is_some_and(|(a, v)| a > v),
        Some("Lt") => actual
            .and_then(|a| a.parse::<i64>().ok())
            .zip(values.first().and_then(|v| v.parse::<i64>().ok()))
            .is_some_and(|(a, v)| a < v),
        _ => false,
    }
}

/// nodeSelector and required node affinity.
pub fn affinity_matches(pod: &Value, node: &Value) -> bool {
    let empty = serde_json::Map::new();
    let labels = node["metadata"]["labels"].as_object().unwrap_or(&empty);
    let node_name = node["metadata"]["name"].as_str().unwrap_or_default();
    let selector_ok = pod["spec"]["nodeSelector"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].as_array();
    let affinity_ok = terms.is_none_or(|terms| {
        terms.iter().any(|term| {
            term["matchExpressions"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|e| expression_matches(e, labels, node_name, false))
                && term["matchFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|e| expression_matches(e, labels, node_name, true))
        })
    });
    selector_ok && affinity_ok
}

/// Why one node does not fit (the real scheduler's words); empty if it fits.
pub(super) fn misfits(
    pod: &Value,
    requests: Requests,
    node: &Value,
    used: (Requests, usize),
) -> Vec<String> {
    if node["spec"]["unschedulable"] == true {
        return vec!["node(s) were unschedulable".into()];
    }
    let tolerations = pod["spec"]["tolerations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for taint in node["spec"]["taints"].as_array().into_iter().flatten() {
        if matches!(taint["effect"].as_str(), Some("NoSchedule" | "NoExecute"))
            && !tolerates(tolerations, taint)
        {
            return vec![format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint["key"].as_str().unwrap_or_default(),
                taint["value"].as_str().unwrap_or_default()
            )];
        }
    }
    if !affinity_matches(pod, node) {
        return vec!["node(s) didn't match Pod's node affinity/selector".into()];
    }
    let allocatable = &node["status"]["allocatable"];
    let mut reasons = Vec::new();
    let max_pods = allocatable["pods"]
        .as_str()
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(110);
    if used.1 + 1 > max_pods {
        reasons.push("Too many pods".into());
    }
    let cpu = allocatable["cpu"]
        .as_str()
        .and_then(quantity::cpu_millis)
        .unwrap_or(i64::MAX);
    if requests.cpu > 0 && used.0.cpu + requests.cpu > cpu {
        reasons.push("Insufficient cpu".into());
    }
    let memory = allocatable["memory"]
        .as_str()
        .and_then(quantity::bytes)
        .unwrap_or(i64::MAX);
    if requests.memory > 0 && used.0.memory + requests.memory > memory {
        reasons.push("Insufficient memory".into());
    }
    reasons
}

/// Least allocated: the share of CPU and memory left after placing the pod.
pub(super) fn score(requests: Requests, node: &Value, used: Requests) -> f64 {
    let allocatable = &node["status"]["allocatable"];
    let cpu = allocatable["cpu"]
        .as_str()
        .and_then(quantity::cpu_millis)
        .unwrap_or(1)
        .max(1) as f64;
    let memory = allocatable["memory"]
        .as_str()
        .and_then(quantity::bytes)
        .unwrap_or(1)
        .max(1) as f64;
    let free_cpu = 1.0 - (used.cpu + requests.cpu) as f64 / cpu;
    let free_memory = 1.0 - (used.memory + requests.memory) as f64 / memory;
    (free_cpu + free_memory) / 2.0
}

/// The scheduler's message when no node fits: the reasons counted over every node.
pub(super) fn unschedulable_message(total: usize, reasons: &BTreeMap<String, usize>) -> String {
    let list: Vec<String> = reasons
        .iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.",
        list.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerations_match_key_value_and_effect() {
        let taint = json!({"key": "os", "value": "windows", "effect": "NoSchedule"});
        assert!(tolerates(
            &[
                json!({"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"})
            ],
            &taint
        ));
        assert!(tolerates(
            &[json!({"key": "os", "operator": "Exists"})],
            &taint
        ));
        assert!(tolerates(&[json!({"operator": "Exists"})], &taint));
        assert!(!tolerates(
            &[json!({"key": "os", "value": "linux", "effect": "NoSchedule"})],
            &taint
        ));
        assert!(!tolerates(
            &[json!({"key": "os", "value": "windows", "effect": "NoExecute"})],
            &taint
        ));
        assert!(!tolerates(&[], &taint));
    }

    #[test]
    fn node_affinity_terms_are_ored_and_expressions_anded() {
        let node = json!({"metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux", "size": "5"}}});
        let pod = |affinity: Value| json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": affinity}}}}});
        assert!(affinity_matches(
            &pod(
                json!([{"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}, {"key": "size", "operator": "Gt", "values": ["3"]}]}])
            ),
            &node
        ));
        assert!(!affinity_matches(
            &pod(
                json!([{"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]}])
            ),
            &node
        ));
        assert!(affinity_matches(
            &pod(
                json!([{"matchExpressions": [{"key": "x", "operator": "Exists"}]}, {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}])
            ),
            &node
        ));
        assert!(!affinity_matches(
            &json!({"spec": {"nodeSelector": {"kubernetes.io/os": "windows"}}}),
            &node
        ));
    }
}
