//! What one reconcile of one Deployment works with, and the counts it reads off ReplicaSets.

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::events::{EventRecorder, EventType};
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;

/// The replicas a ReplicaSet is asked for.
pub(super) fn replicas_of(rs: &Value) -> i64 {
    rs["spec"]["replicas"].as_i64().unwrap_or(0)
}

/// A count from a ReplicaSet's status.
pub(super) fn status_of(rs: &Value, field: &str) -> i64 {
    rs["status"][field].as_i64().unwrap_or(0)
}

/// What one reconcile of one Deployment works with.
pub(super) struct Context<'a> {
    pub(super) registry: &'a Registry,
    pub(super) recorder: &'a EventRecorder,
    pub(super) deployment: &'a Value,
    pub(super) namespace: &'a str,
}

impl Context<'_> {
    /// Sets an RS's replicas and records the ScalingReplicaSet event.
    pub(super) fn scale(&self, rs: &mut Value, to: i64) -> Result<(), ApiError> {
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
