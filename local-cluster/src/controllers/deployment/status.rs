//! The Deployment's status: counts summed over its ReplicaSets, and the Available and
//! Progressing conditions with the real controller's reasons (`NewReplicaSetAvailable`,
//! `ProgressDeadlineExceeded`, …), transition times kept while a condition holds.

use serde_json::{Value, json};

use super::{Context, replicas_of, status_of};
use crate::clock::now;
use crate::errors::ApiError;
use crate::registry::{Part, WriteOptions};
use crate::resources;

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

pub(super) fn write(
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
