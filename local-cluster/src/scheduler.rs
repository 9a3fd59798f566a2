//! The scheduler: places each pending pod on a node that passes the default filters, in the real
//! scheduler's order (unschedulable nodes, taints, node affinity/selector, resources, pod count),
//! scoring the least allocated; or explains in the real scheduler's words why no node fits.
//!
//! Like kube-scheduler, a pod that fits nowhere waits until the cluster changes in a way that can
//! make room (a node added, changed or removed, a placed pod gone) or five minutes pass, instead of
//! being tried on a timer; and pods alike in what scheduling reads (requests, selector, affinity,
//! tolerations) are judged once while nothing moves. Tens of thousands of pending pods then cost
//! one judgement, not one each every few seconds.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// Records where `pod` is now; says whether that gave room back (it left a node or asks
    /// for less) and whether it took room (it is on a node as it was not before).
    fn set(&mut self, pod: ObjectRef, placement: Option<(String, Requests)>) -> (bool, bool) {
        let previous = self.by_pod.remove(&pod);
        if previous == placement {
            if let Some(same) = previous {
                self.by_pod.insert(pod, same);
            }
            return (false, false);
        }
        let freed = previous.is_some();
        if let Some((node, r)) = previous
            && let Some(entry) = self.by_node.get_mut(&node)
        {
            entry.0.cpu -= r.cpu;
            entry.0.memory -= r.memory;
            entry.1 -= 1;
        }
        let taken = placement.is_some();
        if let Some((node, r)) = placement {
            let entry = self.by_node.entry(node.clone()).or_default();
            entry.0.cpu += r.cpu;
            entry.0.memory += r.memory;
            entry.1 += 1;
            self.by_pod.insert(pod, (node, r));
        }
        (freed, taken)
    }
}

/// What changed in the cluster, counted, so waiting pods are tried again only when it can matter.
#[derive(Default)]
struct Moves {
    /// Bumped when room may have appeared: a node added, removed or changed in what scheduling
    /// reads, a placed pod gone, a binding that failed.
    room: AtomicU64,
    /// Bumped on every change a judgement depends on: the above and every placement.
    any: AtomicU64,
}

impl Moves {
    fn room_may_have_appeared(&self) {
        self.room.fetch_add(1, Ordering::Relaxed);
        self.any.fetch_add(1, Ordering::Relaxed);
    }
}

/// The nodes as scheduling reads them, kept from node events: a decision never re-reads 5,000
/// nodes from the store.
type NodeCache = Mutex<BTreeMap<String, Arc<Value>>>;

/// The parts of a node scheduling reads (name, labels, spec, allocatable): a parsed node is
/// mostly its status, and 5,000 whole ones would cost the cache tens of megabytes.
fn scheduling_view(node: Value) -> Value {
    json!({
        "metadata": {"name": node["metadata"]["name"], "labels": node["metadata"]["labels"]},
        "spec": node["spec"],
        "status": {"allocatable": node["status"]["allocatable"]},
    })
}

/// What of a node scheduling reads; heartbeats change none of it.
fn node_facts(node: &Value) -> (&Value, &Value, &Value) {
    (
        &node["metadata"]["labels"],
        &node["spec"],
        &node["status"]["allocatable"],
    )
}

/// What of a pod scheduling reads: pods with the same key are judged alike.
fn likeness(pod: &Value, requests: Requests) -> String {
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

/// Why pods of one likeness fit nowhere, valid while nothing has moved since (`Moves::any`).
#[derive(Default)]
struct Verdicts {
    at: u64,
    unschedulable: HashMap<String, String>,
}

/// How long a pod that fits nowhere waits without any change before it is tried again anyway
/// (kube-scheduler's `podMaxInUnschedulablePodsDuration`).
const WAIT_AT_MOST: Duration = Duration::from_secs(300);

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
    let moves: Arc<Moves> = Arc::default();
    let nodes: Arc<NodeCache> = Arc::default();
    let store = registry.store.clone();
    let from_pods = queue.clone();
    let tracked = usage.clone();
    let recorder = EventRecorder::new(registry.clone(), "default-scheduler", None);
    let retry_store = store.clone();
    let retry_queue = queue.clone();
    let (pod_moves, node_moves, retry_moves) = (moves.clone(), moves.clone(), moves.clone());
    let known_nodes = nodes.clone();
    vec![
        follow(store.clone(), resources::nodes(), move |change| {
            let name = change.object.index.name.clone();
            let mut cache = known_nodes.lock().unwrap_or_else(|e| e.into_inner());
            let changed = if change.kind == EventKind::Deleted {
                cache.remove(&name).is_some()
            } else {
                let node = Arc::new(scheduling_view(change.object.value()));
                let same = cache
                    .get(&name)
                    .is_some_and(|old| node_facts(old) == node_facts(&node));
                cache.insert(name, node);
                !same
            };
            if changed {
                node_moves.room_may_have_appeared();
            }
        }),
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
            let (freed, taken) = tracked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .set(key.clone(), placement);
            // A status change of a placed pod (a probe, churn) moves nothing.
            if freed {
                pod_moves.room_may_have_appeared();
            } else if taken {
                pod_moves.any.fetch_add(1, Ordering::Relaxed);
            }
            if change.kind != EventKind::Deleted && pending(&pod) {
                from_pods.push(key);
            }
        }),
        // Pods that did not fit are tried again once the cluster has changed in a way that can
        // make room, or after WAIT_AT_MOST with no change at all.
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(3));
            let mut seen = retry_moves.room.load(Ordering::Relaxed);
            let mut last_round = Instant::now();
            loop {
                interval.tick().await;
                let now = retry_moves.room.load(Ordering::Relaxed);
                if now == seen && last_round.elapsed() < WAIT_AT_MOST {
                    continue;
                }
                seen = now;
                last_round = Instant::now();
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
        worker(queue, {
            let verdicts: Arc<Mutex<Verdicts>> = Arc::default();
            move |key| {
                let judge = Judge {
                    registry: registry.clone(),
                    usage: usage.clone(),
                    nodes: nodes.clone(),
                    moves: moves.clone(),
                    verdicts: verdicts.clone(),
                    recorder: recorder.clone(),
                };
                async move { judge.schedule(key) }
            }
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

/// Why one node does not fit (the real scheduler's words); empty if it fits.
fn misfits(pod: &Value, requests: Requests, node: &Value, used: (Requests, usize)) -> Vec<String> {
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

/// The scheduler's message when no node fits: the reasons counted over every node.
fn unschedulable_message(total: usize, reasons: &BTreeMap<String, usize>) -> String {
    let list: Vec<String> = reasons
        .iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.",
        list.join(", ")
    )
}

/// Where a pod goes: the best-scored node that fits, or why none does.
fn judge(
    pod: &Value,
    requests: Requests,
    nodes: &BTreeMap<String, Arc<Value>>,
    usage: &Usage,
) -> Result<String, String> {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<(f64, &str)> = None;
    for (name, node) in nodes {
        let used = usage.by_node.get(name).copied().unwrap_or_default();
        let why = misfits(pod, requests, node, used);
        if why.is_empty() {
            let s = score(requests, node, used.0);
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, name));
            }
        } else {
            for reason in why {
                *reasons.entry(reason).or_default() += 1;
            }
        }
    }
    match best {
        Some((_, node)) => Ok(node.to_owned()),
        None => Err(unschedulable_message(nodes.len(), &reasons)),
    }
}

/// What one scheduling decision needs.
struct Judge {
    registry: Arc<Registry>,
    usage: Arc<Mutex<Usage>>,
    nodes: Arc<NodeCache>,
    moves: Arc<Moves>,
    verdicts: Arc<Mutex<Verdicts>>,
    recorder: EventRecorder,
}

impl Judge {
    fn schedule(&self, (namespace, name): ObjectRef) {
        let registry = &self.registry;
        let Some(stored) = registry.store.get(resources::pods(), &namespace, &name) else {
            return;
        };
        let pod = stored.value();
        if !pending(&pod) {
            return;
        }
        let requests = requests_of(&pod);
        let key = likeness(&pod, requests);
        let at = self.moves.any.load(Ordering::Relaxed);
        let known = {
            let mut verdicts = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
            if verdicts.at != at {
                verdicts.at = at;
                verdicts.unschedulable.clear();
            }
            verdicts.unschedulable.get(&key).cloned()
        };
        let decision = match known {
            Some(message) => Err(message),
            None => {
                let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if nodes.is_empty() {
                    // Before the node watch has delivered anything (a restart with pods waiting):
                    // the store itself, as the real scheduler waits for its caches.
                    nodes = registry
                        .store
                        .list(resources::nodes(), None, |_| true, 0, None)
                        .items
                        .iter()
                        .map(|n| (n.index.name.clone(), Arc::new(scheduling_view(n.value()))))
                        .collect();
                }
                let usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
                judge(&pod, requests, &nodes, &usage)
            }
        };
        match decision {
            Ok(node) => {
                // A failed bind leaves the pod unbound; counted as a move, the next retry round
                // queues it again. A pod deleted or bound by someone else meanwhile is no failure.
                let bound = registry.bind(&namespace, &name, &node);
                if let Err(e) = &bound
                    && !matches!(e.code, 404 | 409)
                {
                    tracing::warn!(pod = %format!("{namespace}/{name}"), %node, error = %e.message, "binding failed; the pod is tried again");
                    self.moves.room_may_have_appeared();
                }
                if let Ok(bound) = bound {
                    self.usage.lock().unwrap_or_else(|e| e.into_inner()).set(
                        (namespace.clone(), name.clone()),
                        Some((node.clone(), requests)),
                    );
                    self.moves.any.fetch_add(1, Ordering::Relaxed);
                    self.recorder.record(
                        resources::pods(),
                        &bound.value(),
                        EventType::Normal,
                        "Scheduled",
                        &format!("Successfully assigned {namespace}/{name} to {node}"),
                        None,
                    );
                }
            }
            Err(message) => {
                {
                    let mut verdicts = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
                    if verdicts.at == at {
                        verdicts.unschedulable.insert(key, message.clone());
                    }
                }
                self.explain(&stored, &message);
            }
        }
    }

    /// Writes why the pod waits (PodScheduled False, Unschedulable) and, when that is news, says
    /// it in a FailedScheduling event; the same reason again changes nothing.
    fn explain(&self, stored: &crate::store::Stored, message: &str) {
        let (namespace, name) = (&stored.index.namespace, &stored.index.name);
        let updated = self.registry.update_with(resources::pods(), namespace, name, Part::Status, &WriteOptions::default(), |old| {
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
        if let Ok(updated) = updated
            && updated.revision != stored.revision
        {
            self.recorder.record(
                resources::pods(),
                &updated.value(),
                EventType::Warning,
                "FailedScheduling",
                message,
                None,
            );
        }
    }
}

/// Places many pods at once by the scheduler's own filters, for loads of thousands of pods
/// (`--simulated-pods`): each goes to the next node in turn that fits it, which for pods alike on
/// nodes alike spreads them as least-allocated scoring would, at a fraction of the cost. A pod
/// that fits nowhere is left for the scheduler, which says why.
pub struct BulkPlacer {
    names: Vec<String>,
    nodes: Vec<Value>,
    used: Vec<(Requests, usize)>,
    /// Per likeness: where the next search starts.
    next: HashMap<String, usize>,
    /// Likenesses that fit nowhere: placing only adds, so they never will during this load.
    full: std::collections::HashSet<String>,
}

impl BulkPlacer {
    /// The nodes in the store and what the pods already placed there use.
    pub fn new(registry: &Registry) -> BulkPlacer {
        let listed = registry
            .store
            .list(resources::nodes(), None, |_| true, 0, None)
            .items;
        let names: Vec<String> = listed.iter().map(|n| n.index.name.clone()).collect();
        let nodes: Vec<Value> = listed.iter().map(|n| scheduling_view(n.value())).collect();
        let mut used = vec![(Requests::default(), 0usize); nodes.len()];
        let position: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let bound = registry.store.list(
            resources::pods(),
            None,
            |i| i.field(resources::pods(), "spec.nodeName") != Some(""),
            0,
            None,
        );
        for stored in bound.items {
            let pod = stored.value();
            if let Some(&i) = pod["spec"]["nodeName"]
                .as_str()
                .and_then(|n| position.get(n))
                && !matches!(
                    pod["status"]["phase"].as_str(),
                    Some("Succeeded" | "Failed")
                )
            {
                let r = requests_of(&pod);
                used[i].0.cpu += r.cpu;
                used[i].0.memory += r.memory;
                used[i].1 += 1;
            }
        }
        BulkPlacer {
            names,
            nodes,
            used,
            next: HashMap::new(),
            full: Default::default(),
        }
    }

    /// The node `pod` goes on, counted as used; `None` when it fits on none.
    pub fn place(&mut self, pod: &Value) -> Option<&str> {
        let requests = requests_of(pod);
        let key = likeness(pod, requests);
        if self.nodes.is_empty() || self.full.contains(&key) {
            return None;
        }
        let count = self.nodes.len();
        let start = self.next.get(&key).copied().unwrap_or(0);
        for step in 0..count {
            let i = (start + step) % count;
            if misfits(pod, requests, &self.nodes[i], self.used[i]).is_empty() {
                self.used[i].0.cpu += requests.cpu;
                self.used[i].0.memory += requests.memory;
                self.used[i].1 += 1;
                self.next.insert(key, i + 1);
                return Some(&self.names[i]);
            }
        }
        self.full.insert(key);
        None
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
