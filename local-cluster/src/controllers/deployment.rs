//! The Deployment controller: one ReplicaSet per pod template, rolling updates bounded by
//! maxSurge/maxUnavailable, revisions, history cleanup, and status with the real condition
//! reasons, so `kubectl rollout status|undo` and `wait --for=condition=Available` work unchanged.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::runtime::{self, Action, Controller, Reconciled};
use super::{ObjectRef, controller_uid, owner_reference};
use crate::errors::ApiError;
use crate::events::{EventRecorder, EventType};
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions, now};
use crate::resources;

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

/// Starts the controller; the periodic resync is for progress deadlines.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    Controller::new(registry, resources::deployments(), "deployment-controller")
        .owns(resources::replicasets())
        .resync_every(Duration::from_secs(2))
        .run(reconcile)
        .tasks
}

/// The real controller's pod-template-hash: FNV-1a (32 bit) of the template, its decimal digits
/// mapped onto the alphabet of `rand.SafeEncodeString`.
pub fn template_hash(template: &Value, collisions: i64) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(template.to_string().as_bytes());
    if collisions > 0 {
        feed(&collisions.to_le_bytes());
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// A RollingUpdate bound (`25%` or `1`) resolved against `replicas`; surge rounds up,
/// unavailability rounds down, as the real controller does.
fn resolve_bound(value: &Value, replicas: i64, round_up: bool) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) {
            Some(percent) => {
                let exact = percent * replicas as f64 / 100.0;
                (if round_up {
                    exact.ceil()
                } else {
                    exact.floor()
                }) as i64
            }
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

fn strip_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    t
}

fn replicas_of(rs: &Value) -> i64 {
    rs["spec"]["replicas"].as_i64().unwrap_or(0)
}

fn status_of(rs: &Value, field: &str) -> i64 {
    rs["status"][field].as_i64().unwrap_or(0)
}

fn revision_of(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

struct Context<'a> {
    registry: &'a Registry,
    recorder: &'a EventRecorder,
    deployment: &'a Value,
    namespace: &'a str,
}

impl Context<'_> {
    /// Sets an RS's replicas and records the ScalingReplicaSet event.
    fn scale(&self, rs: &mut Value, to: i64) -> Result<(), ApiError> {
        let from = replicas_of(rs);
        if from == to {
            return Ok(());
        }
        let name = rs["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let desired = self.deployment["spec"]["replicas"].clone();
        let stored = self.registry.update_with(
            resources::replicasets(),
            self.namespace,
            &name,
            Part::Main,
            &WriteOptions::default(),
            |old| {
                let mut next = old.clone();
                next["spec"]["replicas"] = json!(to);
                next["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
                    json!(desired.to_string());
                Ok(next)
            },
        )?;
        *rs = stored.value();
        let direction = if to > from { "up" } else { "down" };
        self.recorder.record(
            resources::deployments(),
            self.deployment,
            EventType::Normal,
            "ScalingReplicaSet",
            &format!("Scaled {direction} replica set {name} from {from} to {to}"),
            None,
        );
        Ok(())
    }
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
        if strategy == "Recreate" {
            let old_pods: i64 = olds.iter().map(|rs| status_of(rs, "replicas")).sum();
            for rs in olds.iter_mut() {
                context.scale(rs, 0)?;
            }
            if old_pods == 0 {
                context.scale(new, replicas)?;
            }
        } else {
            let olds_active: i64 = olds.iter().map(replicas_of).sum();
            if olds_active == 0 {
                // Not a rollout: plain scaling.
                context.scale(new, replicas)?;
            } else {
                // Scale up the new RS within maxSurge.
                let total: i64 = replicas_of(new) + olds_active;
                let max_total = replicas + max_surge;
                if total < max_total {
                    let target = (replicas_of(new) + (max_total - total)).min(replicas);
                    context.scale(new, target)?;
                }
                // Scale down old RSs within maxUnavailable, unhealthy pods first.
                let min_available = replicas - max_unavailable;
                let all: i64 = replicas_of(new) + olds.iter().map(replicas_of).sum::<i64>();
                let new_unavailable = replicas_of(new) - status_of(new, "availableReplicas");
                let mut budget = all - min_available - new_unavailable;
                if budget > 0 {
                    for rs in olds.iter_mut() {
                        let unhealthy = replicas_of(rs) - status_of(rs, "availableReplicas");
                        if unhealthy <= 0 || budget <= 0 {
                            continue;
                        }
                        let down = unhealthy.min(budget);
                        budget -= down;
                        let to = replicas_of(rs) - down;
                        context.scale(rs, to)?;
                    }
                    let available: i64 = status_of(new, "availableReplicas")
                        + olds
                            .iter()
                            .map(|rs| status_of(rs, "availableReplicas"))
                            .sum::<i64>();
                    let mut down_total = (available - min_available).max(0);
                    for rs in olds.iter_mut() {
                        if down_total == 0 {
                            break;
                        }
                        let down = replicas_of(rs).min(down_total);
                        if down > 0 {
                            down_total -= down;
                            let to = replicas_of(rs) - down;
                            context.scale(rs, to)?;
                        }
                    }
                }
            }
        }
    }

    // History: keep revisionHistoryLimit old RSs that have scaled to zero.
    let limit = spec["revisionHistoryLimit"].as_i64().unwrap_or(10).max(0) as usize;
    let idle: Vec<&Value> = olds
        .iter()
        .filter(|rs| replicas_of(rs) == 0 && status_of(rs, "replicas") == 0)
        .collect();
    if idle.len() > limit {
        for rs in &idle[..idle.len() - limit] {
            let rs_name = rs["metadata"]["name"].as_str().unwrap_or_default();
            match registry.delete(
                resources::replicasets(),
                &namespace,
                rs_name,
                &DeleteOptions::default(),
            ) {
                Err(e) if e.code != 404 => return Err(e),
                _ => {}
            }
        }
    }

    write_status(
        &context,
        new_rs.as_ref(),
        &olds,
        replicas,
        max_unavailable,
        created_now,
    )?;
    Ok(Action::await_change())
}

fn condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: String,
    previous: &Value,
    progressed: bool,
) -> Value {
    let t = now();
    let same_status = previous["status"] == status;
    let same_reason = previous["reason"] == reason;
    let transition = if same_status {
        previous["lastTransitionTime"].clone()
    } else {
        json!(t)
    };
    let update = if same_status && same_reason && !progressed {
        previous["lastUpdateTime"].clone()
    } else {
        json!(t)
    };
    json!({"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": transition, "lastUpdateTime": update})
}

fn write_status(
    context: &Context<'_>,
    new_rs: Option<&Value>,
    olds: &[Value],
    replicas: i64,
    max_unavailable: i64,
    created_now: Option<String>,
) -> Result<(), ApiError> {
    let deployment = context.deployment;
    let all: Vec<&Value> = new_rs.into_iter().chain(olds.iter()).collect();
    let sum = |field: &str| all.iter().map(|rs| status_of(rs, field)).sum::<i64>();
    let status_replicas = sum("replicas");
    let ready = sum("readyReplicas");
    let available = sum("availableReplicas");
    let updated = new_rs.map_or(0, |rs| status_of(rs, "replicas"));
    let spec_total: i64 = all.iter().map(|rs| replicas_of(rs)).sum();
    let unavailable = (spec_total - available).max(0);
    let generation = deployment["metadata"]["generation"].as_i64().unwrap_or(1);
    let previous = &deployment["status"];
    let old_conditions = previous["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |kind: &str| {
        old_conditions
            .iter()
            .find(|c| c["type"] == kind)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let new_name = new_rs
        .and_then(|rs| rs["metadata"]["name"].as_str())
        .unwrap_or_default()
        .to_owned();

    let available_condition = if available >= replicas - max_unavailable {
        condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
            &find("Available"),
            false,
        )
    } else {
        condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
            &find("Available"),
            false,
        )
    };
    let complete = updated == replicas && status_replicas == replicas && available == replicas;
    let progressed = updated > previous["updatedReplicas"].as_i64().unwrap_or(0)
        || ready > previous["readyReplicas"].as_i64().unwrap_or(0)
        || available > previous["availableReplicas"].as_i64().unwrap_or(0)
        || status_replicas < previous["replicas"].as_i64().unwrap_or(0);
    let before = find("Progressing");
    let deadline = deployment["spec"]["progressDeadlineSeconds"]
        .as_i64()
        .unwrap_or(600);
    let timed_out = || {
        before["lastUpdateTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .is_some_and(|t| jiff::Timestamp::now().duration_since(t).as_secs() > deadline)
    };
    let progressing = if deployment["spec"]["paused"] == true {
        condition(
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused".into(),
            &before,
            false,
        )
    } else if let Some(created) = created_now {
        condition(
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            format!("Created new replica set \"{created}\""),
            &before,
            true,
        )
    } else if complete {
        condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            &before,
            false,
        )
    } else if progressed {
        condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{new_name}\" is progressing."),
            &before,
            true,
        )
    } else if before["reason"] == "ProgressDeadlineExceeded" || (before.is_object() && timed_out())
    {
        condition(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            format!("ReplicaSet \"{new_name}\" has timed out progressing."),
            &before,
            false,
        )
    } else if before.is_object() {
        before.clone()
    } else {
        condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{new_name}\" is progressing."),
            &before,
            true,
        )
    };
    let status = json!({
        "observedGeneration": generation,
        "replicas": status_replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "collisionCount": previous["collisionCount"],
        "conditions": [available_condition, progressing],
    });
    let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
    context.registry.update_with(
        resources::deployments(),
        context.namespace,
        name,
        Part::Status,
        &WriteOptions::default(),
        |old| {
            let mut next = old.clone();
            next["status"] = status;
            if let Some(map) = next["status"].as_object_mut() {
                map.retain(|_, v| !v.is_null());
            }
            Ok(next)
        },
    )?;
    Ok(())
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
