//! The ReplicaSet controller: keeps `spec.replicas` pods running from the template and reports
//! how many exist, are ready and are available. The same controller runs core `v1`
//! ReplicationControllers, whose selector is a plain label map.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::{Context, ObjectRef, controller_uid, owner_reference, start_owner_of_pods};
use crate::errors::report;
use crate::events::EventType;
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources::{self, ResourceKind};
use crate::validation::label_selector_from_json;

/// Starts the controller, for ReplicaSets and for ReplicationControllers.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    let mut tasks = start_owner_of_pods(
        registry.clone(),
        resources::replicasets(),
        "replicaset-controller",
        |context, key| reconcile(context, resources::replicasets(), key),
    );
    tasks.extend(start_owner_of_pods(
        registry,
        resources::replicationcontrollers(),
        "replication-controller",
        |context, key| reconcile(context, resources::replicationcontrollers(), key),
    ));
    tasks
}

/// The pods in `namespace` matching `selector` whose controller is the ReplicaSet `uid`.
fn owned_pods(
    registry: &Registry,
    namespace: &str,
    selector: &crate::selectors::LabelSelector,
    uid: &str,
) -> Vec<Value> {
    registry
        .store
        .list(
            resources::pods(),
            Some(namespace),
            |index| selector.matches(&index.labels),
            0,
            None,
        )
        .items
        .iter()
        .map(|s| s.value())
        .filter(|pod| controller_uid(pod) == Some(uid))
        .collect()
}

/// Whether a pod counts toward the replica count (not terminating, not finished).
pub fn is_active(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && !matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        )
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Ready for at least `min_ready_seconds`.
fn is_available(pod: &Value, min_ready_seconds: i64) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    let since = pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["lastTransitionTime"].as_str())
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    since.is_some_and(|t| jiff::Timestamp::now().duration_since(t).as_secs() >= min_ready_seconds)
}

/// Which extra pods to remove first: unscheduled, then not running, then not ready, then newest.
fn deletion_rank(pod: &Value) -> (bool, bool, bool, std::cmp::Reverse<String>) {
    (
        pod["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        pod["status"]["phase"] == "Running",
        is_ready(pod),
        std::cmp::Reverse(
            pod["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
    )
}

fn reconcile(context: &Context, replicasets: &'static ResourceKind, (namespace, name): ObjectRef) {
    let (registry, recorder) = (&context.registry, &context.recorder);
    let Some(stored) = registry.store.get(replicasets, &namespace, &name) else {
        return;
    };
    let rs = stored.value();
    let uid = rs["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // A ReplicationController's selector is the label map itself.
    let selector_json = if replicasets.kind == "ReplicationController" {
        json!({"matchLabels": rs["spec"]["selector"]})
    } else {
        rs["spec"]["selector"].clone()
    };
    let Some(selector) = label_selector_from_json(&selector_json) else {
        return;
    };
    let pods = owned_pods(registry, &namespace, &selector, &uid);
    let mut active: Vec<&Value> = pods.iter().filter(|p| is_active(p)).collect();
    let wanted = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    let being_deleted = rs["metadata"]["deletionTimestamp"].is_string();

    if active.len() < wanted && !being_deleted {
        for _ in active.len()..wanted {
            let template = &rs["spec"]["template"];
            let pod = json!({
                "metadata": {
                    "generateName": format!("{name}-"),
                    "namespace": namespace,
                    "labels": template["metadata"]["labels"],
                    "annotations": template["metadata"]["annotations"],
                    "ownerReferences": [owner_reference(replicasets, &rs)],
                },
                "spec": template["spec"],
            });
            match registry.create(resources::pods(), &namespace, pod, &WriteOptions::default()) {
                Ok(created) => {
                    let pod_name = created.index.name.clone();
                    recorder.record(
                        replicasets,
                        &rs,
                        EventType::Normal,
                        "SuccessfulCreate",
                        &format!("Created pod: {pod_name}"),
                        None,
                    );
                }
                Err(e) => {
                    recorder.record(
                        replicasets,
                        &rs,
                        EventType::Warning,
                        "FailedCreate",
                        &format!("Error creating: {e}"),
                        None,
                    );
                    break;
                }
            }
        }
    } else if active.len() > wanted {
        active.sort_by_key(|p| deletion_rank(p));
        let surplus = active.len() - wanted;
        for pod in active.iter().take(surplus) {
            let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
            if registry
                .delete(
                    resources::pods(),
                    &namespace,
                    pod_name,
                    &DeleteOptions::default(),
                )
                .is_ok()
            {
                recorder.record(
                    replicasets,
                    &rs,
                    EventType::Normal,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {pod_name}"),
                    None,
                );
            }
        }
    }

    // Status from what exists now (a new reconcile follows every pod change).
    let current: Vec<Value> = owned_pods(registry, &namespace, &selector, &uid)
        .into_iter()
        .filter(is_active)
        .collect();
    let min_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let ready = current.iter().filter(|p| is_ready(p)).count();
    let available = current
        .iter()
        .filter(|p| is_available(p, min_ready))
        .count();
    let generation = rs["metadata"]["generation"].clone();
    let replicas = current.len();
    report(
        "update",
        registry.update_with(
            replicasets,
            &namespace,
            &name,
            Part::Status,
            &WriteOptions::default(),
            |old| {
                let mut next = old.clone();
                next["status"] = json!({
                    "replicas": replicas,
                    "fullyLabeledReplicas": replicas,
                    "readyReplicas": ready,
                    "availableReplicas": available,
                    "observedGeneration": generation,
                });
                Ok(next)
            },
        ),
    );
}
