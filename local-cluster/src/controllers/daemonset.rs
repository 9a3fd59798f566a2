//! The DaemonSet controller: one pod of the template on every node it fits (node selector,
//! taints), none elsewhere, and the counts `kubectl rollout status` and the console read.
//! Pods are bound to their node as they are created, as the real controller's node affinity
//! lets the scheduler do at once. A changed template rolls out one node at a time (the default
//! `RollingUpdate` with `maxUnavailable: 1`): a pod of an old template goes only while every
//! other pod is ready.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::deployment::template_hash;
use super::replicaset::{is_active, is_ready};
use super::runtime::{Action, Context, Controller, Reconciled};
use super::{ObjectRef, controlled_by, owner_reference};
use crate::errors::ApiError;
use crate::events::EventType;
use crate::registry::{Registry, WriteOptions};
use crate::resources;
use crate::scheduler::{affinity_matches, tolerates};

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    Controller::new(registry, resources::daemonsets(), "daemonset-controller")
        .owns(resources::pods())
        // A node that joins, leaves or changes its labels or taints may change every DaemonSet.
        .watches(resources::nodes(), |registry, _| {
            registry
                .store
                .list(resources::daemonsets(), None, |_| true, 0, None)
                .items
                .iter()
                .map(|set| (set.index.namespace.clone(), set.index.name.clone()))
                .collect()
        })
        .run(reconcile)
        .tasks
}

/// Whether a pod of `template` belongs on `node`: its node selector and required node affinity
/// match and it tolerates the node's NoSchedule and NoExecute taints (a cordoned node still
/// runs DaemonSet pods).
pub fn fits(template: &Value, node: &Value) -> bool {
    let selector_ok = affinity_matches(template, node);
    let tolerations = template["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let taints_ok = node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| matches!(t["effect"].as_str(), Some("NoSchedule" | "NoExecute")))
        .all(|t| tolerates(&tolerations, t));
    selector_ok && taints_ok
}

fn reconcile(context: &Context, (namespace, name): &ObjectRef, set: &Value) -> Reconciled {
    let (registry, recorder) = (context.registry.as_ref(), &context.recorder);
    let (namespace, name) = (namespace.as_str(), name.as_str());
    let daemonsets = resources::daemonsets();
    let uid = set["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let template = &set["spec"]["template"];
    // The real controller labels its pods with the ControllerRevision's hash; the template's
    // own hash serves the same purpose here.
    let revision = template_hash(template, 0);
    let being_deleted = set["metadata"]["deletionTimestamp"].is_string();
    let nodes: Vec<Value> = registry
        .store
        .list(resources::nodes(), None, |_| true, 0, None)
        .items
        .iter()
        .map(|n| n.value())
        .collect();
    let eligible: Vec<&str> = nodes
        .iter()
        .filter(|n| fits(template, n))
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    let owned = |registry: &Registry| -> Vec<Value> {
        controlled_by(registry, resources::pods(), namespace, &uid)
            .into_iter()
            .filter(is_active)
            .collect()
    };
    let mut by_node: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for pod in owned(registry) {
        let node = pod["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        by_node.entry(node).or_default().push(pod);
    }
    // Pods where none belongs (the node no longer fits, or a second one on a node) go.
    for (node, pods) in &by_node {
        let keep = usize::from(eligible.contains(&node.as_str()) && !being_deleted);
        for pod in pods.iter().skip(keep) {
            let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
            if context.delete_if_present(resources::pods(), namespace, pod_name)? {
                recorder.record(
                    daemonsets,
                    set,
                    EventType::Normal,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {pod_name}"),
                    None,
                );
            }
        }
    }
    if !being_deleted {
        if set["spec"]["updateStrategy"]["type"] != "OnDelete" {
            replace_one_outdated(context, set, &by_node, &eligible, &revision)?;
        }
        for node in eligible.iter().filter(|n| !by_node.contains_key(**n)) {
            let mut spec = template["spec"].clone();
            spec["nodeName"] = json!(node);
            add_daemon_tolerations(&mut spec);
            let mut labels = template["metadata"]["labels"].clone();
            if !labels.is_object() {
                labels = json!({});
            }
            labels[REVISION_LABEL] = json!(revision);
            let pod = json!({
                "metadata": {
                    "generateName": format!("{name}-"),
                    "namespace": namespace,
                    "labels": labels,
                    "annotations": template["metadata"]["annotations"],
                    "ownerReferences": [owner_reference(daemonsets, set)],
                },
                "spec": spec,
            });
            match registry.create(resources::pods(), namespace, pod, &WriteOptions::default()) {
                Ok(created) => recorder.record(
                    daemonsets,
                    set,
                    EventType::Normal,
                    "SuccessfulCreate",
                    &format!("Created pod: {}", created.index.name),
                    None,
                ),
                Err(e) => {
                    recorder.record(
                        daemonsets,
                        set,
                        EventType::Warning,
                        "FailedCreate",
                        &format!("Error creating: {e}"),
                        None,
                    );
                    return Err(e);
                }
            }
        }
    }
    let current = owned(registry);
    let on_eligible: Vec<&Value> = current
        .iter()
        .filter(|p| eligible.contains(&p["spec"]["nodeName"].as_str().unwrap_or_default()))
        .collect();
    let ready = on_eligible.iter().filter(|p| is_ready(p)).count();
    let updated = on_eligible
        .iter()
        .filter(|p| p["metadata"]["labels"][REVISION_LABEL] == revision.as_str())
        .count();
    let status = json!({
        "desiredNumberScheduled": eligible.len(),
        "currentNumberScheduled": on_eligible.len(),
        "updatedNumberScheduled": updated,
        "numberReady": ready,
        "numberAvailable": ready,
        "numberUnavailable": eligible.len().saturating_sub(ready),
        "numberMisscheduled": current.len() - on_eligible.len(),
        "observedGeneration": set["metadata"]["generation"],
    });
    context.write_status(set, status)?;
    Ok(Action::await_change())
}

const REVISION_LABEL: &str = "controller-revision-hash";

/// Deletes one pod of an older template when every pod on an eligible node is ready, so at
/// most one node is without its daemon at a time; the next pass creates its replacement.
fn replace_one_outdated(
    context: &Context,
    set: &Value,
    by_node: &BTreeMap<String, Vec<Value>>,
    eligible: &[&str],
    revision: &str,
) -> Result<(), ApiError> {
    let on_eligible: Vec<&Value> = eligible
        .iter()
        .filter_map(|node| by_node.get(*node).and_then(|pods| pods.first()))
        .collect();
    if on_eligible.len() < eligible.len() || !on_eligible.iter().all(|p| is_ready(p)) {
        return Ok(());
    }
    let Some(outdated) = on_eligible
        .iter()
        .find(|p| p["metadata"]["labels"][REVISION_LABEL] != revision)
    else {
        return Ok(());
    };
    let namespace = outdated["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let pod_name = outdated["metadata"]["name"].as_str().unwrap_or_default();
    if context.delete_if_present(resources::pods(), namespace, pod_name)? {
        context.recorder.record(
            resources::daemonsets(),
            set,
            EventType::Normal,
            "SuccessfulDelete",
            &format!("Deleted pod: {pod_name}"),
            None,
        );
    }
    Ok(())
}

/// The tolerations the real controller adds to every daemon pod, so a daemon keeps running on
/// a node that is cordoned, under pressure or briefly unreachable.
fn add_daemon_tolerations(spec: &mut Value) {
    let wanted = [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if !spec["tolerations"].is_array() {
        spec["tolerations"] = json!([]);
    }
    if let Some(list) = spec["tolerations"].as_array_mut() {
        for (key, effect) in wanted {
            if !list
                .iter()
                .any(|t| t["key"] == key && t["effect"] == effect)
            {
                list.push(json!({"key": key, "operator": "Exists", "effect": effect}));
            }
        }
    }
}
