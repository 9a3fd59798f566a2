//! The StatefulSet controller: pods with stable names (`web-0`, `web-1`, …) and hostnames,
//! created in order and each only once the ones before it are Running and Ready, removed from
//! the highest ordinal down, and replaced with the same name when one fails or is deleted
//! (`podManagementPolicy: OrderedReady`; `Parallel` creates and removes without waiting). A
//! changed template rolls out from the highest ordinal down, one pod at a time, to ordinals at
//! or above `partition`. Volume claim templates are not provisioned (the cluster has no
//! storage).
//!
//! The next step is decided by [`next_step`], a pure function of the set and its pods.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::deployment::template_hash;
use super::replicaset::is_ready;
use super::runtime::{Action, Context, Controller, Reconciled};
use super::{ObjectRef, controlled_by, owner_reference};
use crate::errors::ApiError;
use crate::events::EventType;
use crate::registry::{DeleteOptions, Registry, WriteOptions};
use crate::resources;

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    Controller::new(
        registry,
        resources::statefulsets(),
        "statefulset-controller",
    )
    .owns(resources::pods())
    .run(reconcile)
    .tasks
}

/// One of the set's pods as the controller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Running and Ready.
    pub ready: bool,
    /// Being deleted.
    pub terminating: bool,
    /// Finished (Succeeded or Failed): to be replaced.
    pub finished: bool,
    /// The template revision it was made from.
    pub revision: String,
}

/// What to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Create the pod of this ordinal.
    Create(usize),
    /// Delete the pod of this ordinal (to scale down, replace or update it).
    Delete(usize),
    /// Nothing until a pod changes.
    Wait,
}

/// Decides the next step from the set's wanted replicas, its policy, the current template
/// revision, and its pods by ordinal.
pub fn next_step(
    replicas: usize,
    parallel: bool,
    partition: usize,
    revision: &str,
    members: &BTreeMap<usize, Member>,
) -> Vec<Step> {
    let steps = steps_for(replicas, parallel, partition, revision, members);
    if steps.is_empty() {
        vec![Step::Wait]
    } else {
        steps
    }
}

fn steps_for(
    replicas: usize,
    parallel: bool,
    partition: usize,
    revision: &str,
    members: &BTreeMap<usize, Member>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    // Finished pods are deleted first, then made again.
    for (ordinal, m) in members {
        if m.finished && !m.terminating {
            steps.push(Step::Delete(*ordinal));
            if !parallel {
                return steps;
            }
        }
    }
    for ordinal in 0..replicas {
        match members.get(&ordinal) {
            None => {
                steps.push(Step::Create(ordinal));
                if !parallel {
                    return steps;
                }
            }
            Some(m) if !parallel && (!m.ready || m.terminating) => return steps,
            Some(_) => {}
        }
    }
    // Scale down from the top, once everything below is ready.
    let surplus: Vec<usize> = members
        .keys()
        .rev()
        .filter(|o| **o >= replicas)
        .copied()
        .collect();
    for ordinal in surplus {
        if members[&ordinal].terminating {
            if !parallel {
                return steps;
            }
            continue;
        }
        steps.push(Step::Delete(ordinal));
        if !parallel {
            return steps;
        }
    }
    if !steps.is_empty() {
        return steps;
    }
    // Roll out a new template from the top, one pod at a time, all others ready.
    let all_ready =
        (0..replicas).all(|o| members.get(&o).is_some_and(|m| m.ready && !m.terminating));
    if all_ready
        && let Some(ordinal) = (partition..replicas)
            .rev()
            .find(|o| members.get(o).is_some_and(|m| m.revision != revision))
    {
        steps.push(Step::Delete(ordinal));
    }
    steps
}

fn ordinal_of(set_name: &str, pod_name: &str) -> Option<usize> {
    pod_name
        .strip_prefix(set_name)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

fn reconcile(context: &Context, (namespace, name): &ObjectRef, set: &Value) -> Reconciled {
    let registry = &context.registry;
    let kind = resources::statefulsets();
    let (namespace, name) = (namespace.as_str(), name.as_str());
    if set["metadata"]["deletionTimestamp"].is_string() {
        return Ok(Action::await_change());
    }
    let uid = set["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let spec = &set["spec"];
    let template = &spec["template"];
    let revision = format!("{name}-{}", template_hash(template, 0));
    let replicas = spec["replicas"].as_u64().unwrap_or(1) as usize;
    let parallel = spec["podManagementPolicy"] == "Parallel";
    let partition = spec["updateStrategy"]["rollingUpdate"]["partition"]
        .as_u64()
        .unwrap_or(0) as usize;
    let on_delete = spec["updateStrategy"]["type"] == "OnDelete";
    let pods = controlled_by(registry, resources::pods(), namespace, &uid);
    let mut members = BTreeMap::new();
    for pod in &pods {
        let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let Some(ordinal) = ordinal_of(name, pod_name) else {
            continue;
        };
        members.insert(
            ordinal,
            Member {
                ready: pod["status"]["phase"] == "Running" && is_ready(pod),
                terminating: pod["metadata"]["deletionTimestamp"].is_string(),
                finished: matches!(
                    pod["status"]["phase"].as_str(),
                    Some("Succeeded" | "Failed")
                ),
                revision: pod["metadata"]["labels"]["controller-revision-hash"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            },
        );
    }
    // With OnDelete, a pod takes the new template only when someone deletes it.
    let partition = if on_delete { replicas } else { partition };
    for step in next_step(replicas, parallel, partition, &revision, &members) {
        match step {
            Step::Create(ordinal) => create(context, set, name, namespace, ordinal, &revision)?,
            Step::Delete(ordinal) => {
                let pod_name = format!("{name}-{ordinal}");
                match registry.delete(
                    resources::pods(),
                    namespace,
                    &pod_name,
                    &DeleteOptions::default(),
                ) {
                    Ok(_) => context.recorder.record(
                        kind,
                        set,
                        EventType::Normal,
                        "SuccessfulDelete",
                        &format!("delete Pod {pod_name} in StatefulSet {name} successful"),
                        None,
                    ),
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Step::Wait => {}
        }
    }
    write_status(context, set, &revision, replicas, &members)?;
    Ok(Action::await_change())
}

fn create(
    context: &Context,
    set: &Value,
    name: &str,
    namespace: &str,
    ordinal: usize,
    revision: &str,
) -> Result<(), ApiError> {
    let kind = resources::statefulsets();
    let template = &set["spec"]["template"];
    let pod_name = format!("{name}-{ordinal}");
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
    labels["apps.kubernetes.io/pod-index"] = json!(ordinal.to_string());
    labels["controller-revision-hash"] = json!(revision);
    let mut pod_spec = template["spec"].clone();
    pod_spec["hostname"] = json!(pod_name);
    if let Some(service) = set["spec"]["serviceName"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        pod_spec["subdomain"] = json!(service);
    }
    let pod = json!({
        "metadata": {
            "name": pod_name,
            "namespace": namespace,
            "labels": labels,
            "annotations": template["metadata"]["annotations"],
            "ownerReferences": [owner_reference(kind, set)],
        },
        "spec": pod_spec,
    });
    match context
        .registry
        .create(resources::pods(), namespace, pod, &WriteOptions::default())
    {
        Ok(_) => {
            context.recorder.record(
                kind,
                set,
                EventType::Normal,
                "SuccessfulCreate",
                &format!("create Pod {pod_name} in StatefulSet {name} successful"),
                None,
            );
            Ok(())
        }
        Err(e) => {
            context.recorder.record(
                kind,
                set,
                EventType::Warning,
                "FailedCreate",
                &format!("create Pod {pod_name} in StatefulSet {name} failed error: {e}"),
                None,
            );
            Err(e)
        }
    }
}

fn write_status(
    context: &Context,
    set: &Value,
    revision: &str,
    replicas: usize,
    members: &BTreeMap<usize, Member>,
) -> Result<(), ApiError> {
    let present = members.values().filter(|m| !m.terminating).count();
    let ready = members
        .values()
        .filter(|m| m.ready && !m.terminating)
        .count();
    let updated = members
        .values()
        .filter(|m| !m.terminating && m.revision == revision)
        .count();
    let generation = set["metadata"]["generation"].clone();
    let current_revision = if updated == present && present == replicas {
        revision.to_owned()
    } else {
        set["status"]["currentRevision"]
            .as_str()
            .unwrap_or(revision)
            .to_owned()
    };
    context.write_status(
        set,
        json!({
            "replicas": present,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": if current_revision == revision { updated } else { present - updated },
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": revision,
            "observedGeneration": generation,
            "collisionCount": 0,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(list: &[(usize, bool, &str)]) -> BTreeMap<usize, Member> {
        list.iter()
            .map(|(o, ready, rev)| {
                (
                    *o,
                    Member {
                        ready: *ready,
                        terminating: false,
                        finished: false,
                        revision: (*rev).to_owned(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn pods_are_made_in_order_each_after_the_one_before_is_ready() {
        assert_eq!(
            next_step(3, false, 0, "r1", &members(&[])),
            [Step::Create(0)]
        );
        assert_eq!(
            next_step(3, false, 0, "r1", &members(&[(0, false, "r1")])),
            [Step::Wait]
        );
        assert_eq!(
            next_step(3, false, 0, "r1", &members(&[(0, true, "r1")])),
            [Step::Create(1)]
        );
        // A missing middle pod is made again before anything else.
        assert_eq!(
            next_step(
                3,
                false,
                0,
                "r1",
                &members(&[(0, true, "r1"), (2, true, "r1")])
            ),
            [Step::Create(1)]
        );
        // Parallel makes them all at once.
        assert_eq!(
            next_step(3, true, 0, "r1", &members(&[])),
            [Step::Create(0), Step::Create(1), Step::Create(2)]
        );
    }

    #[test]
    fn scaling_down_and_updates_go_from_the_top() {
        let all = members(&[(0, true, "r1"), (1, true, "r1"), (2, true, "r1")]);
        assert_eq!(next_step(1, false, 0, "r1", &all), [Step::Delete(2)]);
        assert_eq!(next_step(3, false, 0, "r2", &all), [Step::Delete(2)]);
        let rolling = members(&[(0, true, "r1"), (1, true, "r1"), (2, true, "r2")]);
        assert_eq!(next_step(3, false, 0, "r2", &rolling), [Step::Delete(1)]);
        // A partition keeps the ordinals below it on the old template.
        assert_eq!(next_step(3, false, 2, "r2", &rolling), [Step::Wait]);
    }
}
