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

mod bulk;
mod filters;

pub use bulk::BulkPlacer;
use filters::{
    Requests, likeness, misfits, requests_of, scheduling_view, score, unschedulable_message,
};
pub use filters::{affinity_matches, tolerates};

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

/// What of a node scheduling reads; heartbeats change none of it.
fn node_facts(node: &Value) -> (&Value, &Value, &Value) {
    (
        &node["metadata"]["labels"],
        &node["spec"],
        &node["status"]["allocatable"],
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
            let judge = Arc::new(Judge {
                registry,
                usage,
                nodes,
                moves,
                verdicts: Mutex::default(),
                recorder,
            });
            move |key| {
                let judge = judge.clone();
                async move { judge.schedule(key) }
            }
        }),
    ]
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
    verdicts: Mutex<Verdicts>,
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
