//! The ReplicaSet controller: keeps `spec.replicas` pods running from the template and reports
//! how many exist, are ready and are available. The same controller runs core `v1`
//! ReplicationControllers, whose selector is a plain label map.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::runtime::{Action, Context, Controller, Reconciled, Running};
use super::{ObjectRef, controller_uid, pod_from_template};
use crate::events::EventType;
use crate::registry::{DeleteOptions, Registry, WriteOptions};
use crate::resources::{self, ResourceKind};
use crate::validation::label_selector_from_json;

/// Starts the controller, for ReplicaSets and for ReplicationControllers.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    let mut tasks = controller(registry.clone(), resources::replicasets()).tasks;
    tasks.extend(controller(registry, resources::replicationcontrollers()).tasks);
    tasks
}

/// The controller of `kind` (ReplicaSets or ReplicationControllers), running.
pub fn controller(registry: Arc<Registry>, kind: &'static ResourceKind) -> Running {
    let component = if kind.kind == "ReplicationController" {
        "replication-controller"
    } else {
        "replicaset-controller"
    };
    Controller::new(registry, kind, component)
        .owns(resources::pods())
        .run(reconcile)
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

fn reconcile(context: &Context, (namespace, _): &ObjectRef, rs: &Value) -> Reconciled {
    let (registry, recorder, replicasets) = (&context.registry, &context.recorder, context.kind);
    let namespace = namespace.as_str();

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
        // Validation refuses such a selector; an object stored before that rule is left alone.
        return Ok(Action::await_change());
    };
    let pods = owned_pods(registry, namespace, &selector, &uid);
    let mut active: Vec<&Value> = pods.iter().filter(|p| is_active(p)).collect();
    let wanted = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    let being_deleted = rs["metadata"]["deletionTimestamp"].is_string();

    if active.len() < wanted && !being_deleted {
        for _ in active.len()..wanted {
            let pod = pod_from_template(replicasets, rs, namespace);
            match registry.create(resources::pods(), namespace, pod, &WriteOptions::default()) {
                Ok(created) => {
                    let pod_name = created.index.name.clone();
                    recorder.record(
                        replicasets,
                        rs,
                        EventType::Normal,
                        "SuccessfulCreate",
                        &format!("Created pod: {pod_name}"),
                        None,
                    );
                }
                Err(e) => {
                    recorder.record(
                        replicasets,
                        rs,
                        EventType::Warning,
                        "FailedCreate",
                        &format!("Error creating: {e}"),
                        None,
                    );
                    return Err(e);
                }
            }
        }
    } else if active.len() > wanted {
        active.sort_by_key(|p| deletion_rank(p));
        let surplus = active.len() - wanted;
        for pod in active.iter().take(surplus) {
            let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
            match registry.delete(
                resources::pods(),
                namespace,
                pod_name,
                &DeleteOptions::default(),
            ) {
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
                Ok(_) => recorder.record(
                    replicasets,
                    rs,
                    EventType::Normal,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {pod_name}"),
                    None,
                ),
            }
        }
    }

    // Status from what exists now (a new reconcile follows every pod change).
    let current: Vec<Value> = owned_pods(registry, namespace, &selector, &uid)
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
    context.write_status(
        rs,
        json!({
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": generation,
        }),
    )?;
    // A ready pod becomes available only after minReadySeconds: look again then.
    Ok(if ready > available {
        Action::requeue(std::time::Duration::from_secs(1))
    } else {
        Action::await_change()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use std::time::{Duration, Instant};

    use super::*;
    use crate::registry::Part;

    fn update(registry: &Registry, edit: impl FnOnce(&mut Value)) {
        registry
            .update_with(
                resources::replicasets(),
                "default",
                "busy",
                Part::Main,
                &WriteOptions::default(),
                |old| {
                    let mut next = old.clone();
                    edit(&mut next);
                    Ok(next)
                },
            )
            .unwrap();
    }

    /// Another writer changes the ReplicaSet between the controller's read and its status
    /// write, again and again: each such status write is refused with a conflict, the key goes
    /// back to the queue with backoff, and the status still ends up describing the pods.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn status_converges_while_another_writer_keeps_changing_the_replicaset() {
        let registry = Registry::for_tests(100_000);
        let rs = json!({
            "metadata": {"name": "busy", "namespace": "default"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "busy"}},
                "template": {
                    "metadata": {"labels": {"app": "busy"}},
                    "spec": {"containers": [{"name": "c", "image": "registry.example/busy:1"}]},
                },
            },
        });
        registry
            .create(
                resources::replicasets(),
                "default",
                rs,
                &WriteOptions::default(),
            )
            .unwrap();
        let running = controller(registry.clone(), resources::replicasets());

        // The other writer: a label changed as fast as the store takes it, and every tenth
        // write a scale between 3 and 5 replicas (so the controller always has a new status to
        // write), until the controller has lost at least five races (or twenty seconds have
        // passed); then a last scale to 5.
        let started = Instant::now();
        let mut writes = 0u64;
        while (running.stats.retried() < 5 || writes < 100)
            && started.elapsed() < Duration::from_secs(20)
        {
            writes += 1;
            update(&registry, |rs| {
                rs["metadata"]["labels"]["touched"] = json!(writes.to_string());
            });
            if writes.is_multiple_of(10) {
                let replicas = if writes.is_multiple_of(20) { 5 } else { 3 };
                update(&registry, |rs| rs["spec"]["replicas"] = json!(replicas));
            }
            tokio::task::yield_now().await;
        }
        update(&registry, |rs| rs["spec"]["replicas"] = json!(5));
        assert!(
            running.stats.retried() >= 5,
            "only {} conflicts in {writes} competing writes",
            running.stats.retried()
        );

        // Alone again, the controller converges: five pods, and a status that says so for
        // the current generation.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rs = registry
                .store
                .get(resources::replicasets(), "default", "busy")
                .unwrap()
                .value();
            let pods = registry
                .store
                .list(resources::pods(), Some("default"), |_| true, 0, None)
                .items
                .len();
            if pods == 5
                && rs["status"]["replicas"] == 5
                && rs["status"]["observedGeneration"] == rs["metadata"]["generation"]
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not converged: {pods} pods, status {}",
                rs["status"]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for task in running.tasks {
            task.abort();
        }
    }
}
