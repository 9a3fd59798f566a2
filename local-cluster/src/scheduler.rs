//! The scheduler: places each pending pod on a node that passes the default filters, in the real
//! scheduler's order (unschedulable nodes, taints, node affinity/selector, resources, pod count),
//! scoring the least allocated; or explains in the real scheduler's words why no node fits.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::clock::now;
use crate::controllers::{ObjectRef, WorkQueue, follow, worker};
use crate::events::{EventRecorder, EventType};
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;
use crate::store::EventKind;
use kube_units::quantity;
use kube_units::taints::{self, Taint, Toleration};

/// CPU (millicores) and memory (bytes) requested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Requests {
    cpu: i64,
    memory: i64,
}

/// What is placed on each node, kept from pod events so a decision never scans every pod.
#[derive(Default)]
struct Usage {
    by_pod: HashMap<ObjectRef, (String, Requests)>,
    by_node: HashMap<String, (Requests, usize)>,
}

impl Usage {
    fn set(&mut self, pod: ObjectRef, placement: Option<(String, Requests)>) {
        if let Some((node, r)) = self.by_pod.remove(&pod)
            && let Some(entry) = self.by_node.get_mut(&node)
        {
            entry.0.cpu -= r.cpu;
            entry.0.memory -= r.memory;
            entry.1 -= 1;
        }
        if let Some((node, r)) = placement {
            let entry = self.by_node.entry(node.clone()).or_default();
            entry.0.cpu += r.cpu;
            entry.0.memory += r.memory;
            entry.1 += 1;
            self.by_pod.insert(pod, (node, r));
        }
    }
}

/// The requests of a pod: the sum over its containers.
fn requests_of(pod: &Value) -> Requests {
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

fn pending(pod: &Value) -> bool {
    pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty)
        && pod["metadata"]["deletionTimestamp"].is_null()
        && pod["spec"]["schedulerName"]
            .as_str()
            .is_none_or(|s| s == "default-scheduler")
        && !matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        )
}

/// Starts the scheduler.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    let queue: Arc<WorkQueue<ObjectRef>> = Arc::default();
    let usage: Arc<Mutex<Usage>> = Arc::default();
    let store = registry.store.clone();
    let from_pods = queue.clone();
    let tracked = usage.clone();
    let recorder = EventRecorder::new(registry.clone(), "default-scheduler", None);
    let retry_store = store.clone();
    let retry_queue = queue.clone();
    vec![
        follow(store.clone(), resources::pods(), move |change| {
            let key = (
                change.object.index.namespace.clone(),
                change.object.index.name.clone(),
            );
            let pod = change.object.value();
            let placement = match (change.kind, pod["spec"]["nodeName"].as_str()) {
                (EventKind::Deleted, _) => None,
                (_, Some(node))
                    if !node.is_empty()
                        && !matches!(
                            pod["status"]["phase"].as_str(),
                            Some("Succeeded" | "Failed")
                        ) =>
                {
                    Some((node.to_owned(), requests_of(&pod)))
                }
                _ => None,
            };
            tracked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .set(key.clone(), placement);
            if change.kind != EventKind::Deleted && pending(&pod) {
                from_pods.push(key);
            }
        }),
        // Pods that did not fit are tried again as the cluster changes.
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(3));
            loop {
                interval.tick().await;
                let waiting = retry_store.list(
                    resources::pods(),
                    None,
                    |i| i.field(resources::pods(), "spec.nodeName") == Some(""),
                    0,
                    None,
                );
                for pod in waiting.items {
                    retry_queue.push((pod.index.namespace.clone(), pod.index.name.clone()));
                }
            }
        }),
        worker(queue, move |key| {
            let registry = registry.clone();
            let usage = usage.clone();
            let recorder = recorder.clone();
            async move { schedule(&registry, &usage, &recorder, key) }
        }),
    ]
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

/// Why one node does not fit (the real scheduler's words), or `None` if it fits.
fn misfits(pod: &Value, requests: Requests, node: &Value, used: (Requests, usize)) -> Vec<String> {
    if node["spec"]["unschedulable"] == true {
        return vec!["node(s) were unschedulable".into()];
    }
    let tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for taint in node["spec"]["taints"].as_array().into_iter().flatten() {
        if matches!(taint["effect"].as_str(), Some("NoSchedule" | "NoExecute"))
            && !tolerates(&tolerations, taint)
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
fn score(requests: Requests, node: &Value, used: Requests) -> f64 {
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

fn schedule(
    registry: &Registry,
    usage: &Mutex<Usage>,
    recorder: &EventRecorder,
    (namespace, name): ObjectRef,
) {
    let Some(stored) = registry.store.get(resources::pods(), &namespace, &name) else {
        return;
    };
    let pod = stored.value();
    if !pending(&pod) {
        return;
    }
    let requests = requests_of(&pod);
    let nodes: Vec<Value> = registry
        .store
        .list(resources::nodes(), None, |_| true, 0, None)
        .items
        .iter()
        .map(|s| s.value())
        .collect();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<(f64, String)> = None;
    {
        let usage = usage.lock().unwrap_or_else(|e| e.into_inner());
        for node in &nodes {
            let node_name = node["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let used = usage.by_node.get(&node_name).copied().unwrap_or_default();
            let why = misfits(&pod, requests, node, used);
            if why.is_empty() {
                let s = score(requests, node, used.0);
                if best.as_ref().is_none_or(|(b, _)| s > *b) {
                    best = Some((s, node_name));
                }
            } else {
                for reason in why {
                    *reasons.entry(reason).or_default() += 1;
                }
            }
        }
    }
    match best {
        Some((_, node)) => {
            // A failed bind leaves the pod unbound, and the retry round (every 3 s) queues it
            // again; a pod deleted or bound by someone else meanwhile is no failure.
            let bound = registry.bind(&namespace, &name, &node);
            if let Err(e) = &bound
                && !matches!(e.code, 404 | 409)
            {
                tracing::warn!(pod = %format!("{namespace}/{name}"), %node, error = %e.message, "binding failed; the pod is tried again");
            }
            if let Ok(bound) = bound {
                usage.lock().unwrap_or_else(|e| e.into_inner()).set(
                    (namespace.clone(), name.clone()),
                    Some((node.clone(), requests)),
                );
                recorder.record(
                    resources::pods(),
                    &bound.value(),
                    EventType::Normal,
                    "Scheduled",
                    &format!("Successfully assigned {namespace}/{name} to {node}"),
                    None,
                );
            }
        }
        None => {
            let total = nodes.len();
            let list: Vec<String> = reasons
                .iter()
                .map(|(reason, count)| format!("{count} {reason}"))
                .collect();
            let message = format!(
                "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.",
                list.join(", ")
            );
            let updated = registry.update_with(resources::pods(), &namespace, &name, Part::Status, &WriteOptions::default(), |old| {
                let mut next = old.clone();
                let previous = old["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled")).cloned();
                let transition = previous
                    .filter(|p| p["status"] == "False")
                    .map(|p| p["lastTransitionTime"].clone())
                    .unwrap_or_else(|| json!(now()));
                next["status"]["phase"] = json!("Pending");
                next["status"]["conditions"] = json!([{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                    "lastProbeTime": null, "lastTransitionTime": transition,
                }]);
                Ok(next)
            });
            if let Ok(updated) = updated {
                recorder.record(
                    resources::pods(),
                    &updated.value(),
                    EventType::Warning,
                    "FailedScheduling",
                    &message,
                    None,
                );
            }
        }
    }
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
