//! The Deployment controller: one ReplicaSet per pod template, rolling updates bounded by
//! maxSurge/maxUnavailable, revisions, history cleanup, and status with the real condition
//! reasons, so `kubectl rollout status|undo` and `wait --for=condition=Available` work unchanged.
//!
//! `reconcile` finds or makes the ReplicaSet of the current template and drives the rest:
//! [`rollout`] scales the sets one step, [`history`] keeps revisions and prunes old sets,
//! [`status`] reports.

mod context;
mod history;
mod rollout;
mod status;

use context::{Context, replicas_of, status_of};

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::runtime::{self, Action, Controller, Reconciled};
use super::{ObjectRef, controller_uid, owner_reference};
use crate::events::EventType;
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;
pub use history::template_hash;
use history::{HASH_LABEL, REVISION, revision_of, strip_hash};
use rollout::resolve_bound;

/// Starts the controller; the periodic resync is for progress deadlines.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    Controller::new(registry, resources::deployments(), "deployment-controller")
        .owns(resources::replicasets())
        .resync_every(Duration::from_secs(2))
        .run(reconcile)
        .tasks
}

fn reconcile(
    context: &runtime::Context,
    (namespace, name): &ObjectRef,
    deployment: &Value,
) -> Reconciled {
    let (registry, recorder) = (context.registry.as_ref(), &context.recorder);
    let (namespace, name) = (namespace.clone(), name.clone());
    let deployments = resources::deployments();
    let deployment = deployment.clone();
    if deployment["metadata"]["deletionTimestamp"].is_string() {
        return Ok(Action::await_change());
    }
    let uid = deployment["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let spec = &deployment["spec"];
    let replicas = spec["replicas"].as_i64().unwrap_or(1);
    let template = &spec["template"];
    let mut sets: Vec<Value> = registry
        .store
        .list(
            resources::replicasets(),
            Some(&namespace),
            |_| true,
            0,
            None,
        )
        .items
        .iter()
        .map(|s| s.value())
        .filter(|rs| controller_uid(rs) == Some(uid.as_str()))
        .collect();
    sets.sort_by_key(|rs| {
        (
            revision_of(rs),
            rs["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    });
    let context = Context {
        registry,
        recorder,
        deployment: &deployment,
        namespace: &namespace,
    };
    let max_revision = sets.iter().map(revision_of).max().unwrap_or(0);
    let new_index = sets
        .iter()
        .position(|rs| strip_hash(&rs["spec"]["template"]) == *template);
    let paused = spec["paused"] == true;
    let strategy = spec["strategy"]["type"]
        .as_str()
        .unwrap_or("RollingUpdate")
        .to_owned();
    let (max_surge, mut max_unavailable) = if strategy == "RollingUpdate" {
        let rolling = &spec["strategy"]["rollingUpdate"];
        (
            resolve_bound(&rolling["maxSurge"], replicas, true),
            resolve_bound(&rolling["maxUnavailable"], replicas, false),
        )
    } else {
        (0, 0)
    };
    if strategy == "RollingUpdate" && max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    let mut created_now = None;

    let mut new_rs = match new_index {
        Some(i) => {
            let mut rs = sets.remove(i);
            // A rollback makes an old template current again: it gets the next revision.
            if revision_of(&rs) < max_revision && !paused {
                let rs_name = rs["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                rs = registry
                    .update_with(
                        resources::replicasets(),
                        &namespace,
                        &rs_name,
                        Part::Main,
                        &WriteOptions::default(),
                        |old| {
                            let mut next = old.clone();
                            next["metadata"]["annotations"][REVISION] =
                                json!((max_revision + 1).to_string());
                            Ok(next)
                        },
                    )?
                    .value();
            }
            Some(rs)
        }
        None if paused => None,
        None => {
            let collisions = deployment["status"]["collisionCount"].as_i64().unwrap_or(0);
            let hash = template_hash(template, collisions);
            let mut rs_template = template.clone();
            rs_template["metadata"]["labels"][HASH_LABEL] = json!(hash);
            let mut selector = spec["selector"].clone();
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let old_total: i64 = sets.iter().map(replicas_of).sum();
            let initial = if strategy == "Recreate" {
                0
            } else {
                (replicas + max_surge - old_total).clamp(0, replicas)
            };
            let rs = json!({
                "metadata": {
                    "name": format!("{name}-{hash}"),
                    "namespace": namespace,
                    "labels": rs_template["metadata"]["labels"],
                    "annotations": {
                        REVISION: (max_revision + 1).to_string(),
                        "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                        "deployment.kubernetes.io/max-replicas": (replicas + max_surge).to_string(),
                    },
                    "ownerReferences": [owner_reference(resources::deployments(), &deployment)],
                },
                "spec": {
                    "replicas": initial,
                    "minReadySeconds": spec["minReadySeconds"].as_i64().unwrap_or(0),
                    "selector": selector,
                    "template": rs_template,
                },
            });
            match registry.create(
                resources::replicasets(),
                &namespace,
                rs,
                &WriteOptions::default(),
            ) {
                Ok(s) => {
                    let value = s.value();
                    let rs_name = s.index.name.clone();
                    if initial > 0 {
                        recorder.record(
                            deployments,
                            &deployment,
                            EventType::Normal,
                            "ScalingReplicaSet",
                            &format!("Scaled up replica set {rs_name} from 0 to {initial}"),
                            None,
                        );
                    }
                    created_now = Some(rs_name);
                    Some(value)
                }
                Err(e) if e.reason == "AlreadyExists" => {
                    // Same hash, different template: count the collision and try again next time.
                    registry.update_with(
                        deployments,
                        &namespace,
                        &name,
                        Part::Status,
                        &WriteOptions::default(),
                        |old| {
                            let mut next = old.clone();
                            next["status"]["collisionCount"] = json!(collisions + 1);
                            Ok(next)
                        },
                    )?;
                    return Ok(Action::await_change());
                }
                Err(e) => {
                    recorder.record(
                        deployments,
                        &deployment,
                        EventType::Warning,
                        "FailedCreate",
                        &e.to_string(),
                        None,
                    );
                    return Err(e);
                }
            }
        }
    };
    let mut olds = sets;

    // The Deployment carries its current revision too (kubectl rollout undo patches it).
    if let Some(new) = new_rs.as_ref() {
        let revision = revision_of(new).to_string();
        if deployment["metadata"]["annotations"][REVISION].as_str() != Some(revision.as_str()) {
            registry.update_with(
                deployments,
                &namespace,
                &name,
                Part::Main,
                &WriteOptions::default(),
                |old| {
                    let mut next = old.clone();
                    if !next["metadata"]["annotations"].is_object() {
                        next["metadata"]["annotations"] = json!({});
                    }
                    next["metadata"]["annotations"][REVISION] = json!(revision);
                    Ok(next)
                },
            )?;
        }
    }

    if !paused && let Some(new) = new_rs.as_mut() {
        rollout::step(
            &context,
            &strategy,
            new,
            &mut olds,
            replicas,
            (max_surge, max_unavailable),
        )?;
    }

    // History: keep revisionHistoryLimit old ReplicaSets that have scaled to zero.
    let limit = spec["revisionHistoryLimit"].as_i64().unwrap_or(10).max(0) as usize;
    history::clean_up(&context, &olds, limit)?;

    status::write(
        &context,
        new_rs.as_ref(),
        &olds,
        replicas,
        max_unavailable,
        created_now,
    )?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_round_like_the_real_controller() {
        assert_eq!(resolve_bound(&json!("25%"), 2, true), 1);
        assert_eq!(resolve_bound(&json!("25%"), 2, false), 0);
        assert_eq!(resolve_bound(&json!(0), 2, false), 0);
        assert_eq!(resolve_bound(&json!("50%"), 5, true), 3);
    }

    #[test]
    fn template_hashes_are_stable_and_safe_encoded() {
        let a = template_hash(&json!({"spec": {"containers": [{"name": "a"}]}}), 0);
        assert_eq!(
            a,
            template_hash(&json!({"spec": {"containers": [{"name": "a"}]}}), 0)
        );
        assert_ne!(
            a,
            template_hash(&json!({"spec": {"containers": [{"name": "b"}]}}), 0)
        );
        assert_ne!(
            a,
            template_hash(&json!({"spec": {"containers": [{"name": "a"}]}}), 1)
        );
        assert!(a.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)) && a.len() <= 10);
    }
}
