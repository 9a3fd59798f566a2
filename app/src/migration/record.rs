//! The move's state in the cluster: the record on the monolith (an annotation written with
//! resourceVersion preconditions, so two consoles cannot both start a move), the claim on it
//! ([`super::lease`]), and a Kubernetes Event on the monolith for every step: the audit trail
//! of what the console changed.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use super::errors::MoveError;
use super::lease::{Claim, LeaseGuard};
use crate::model::moves::{
    CONTROL_ANNOTATION, Control, FIELD_MANAGER, MOVE_ANNOTATION, MoveRecord,
};

/// The console as the cluster sees it while it drives a move.
#[derive(Clone)]
pub struct Driver {
    client: kube::Client,
    namespace: String,
    monolith: String,
    /// The Kubernetes user.
    pub user: String,
    /// The claim on the move's Lease, as this console process (`user@host/pid`).
    claim: Claim,
}

impl Driver {
    /// The console driving moves on `monolith` as `user`.
    pub fn new(client: kube::Client, namespace: &str, monolith: &str, user: &str) -> Driver {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let identity = format!("{user}@{host}/{}", std::process::id());
        Driver {
            claim: Claim::new(
                client.clone(),
                namespace,
                format!("hybrid-console-move-{monolith}"),
                identity,
            ),
            client,
            namespace: namespace.to_owned(),
            monolith: monolith.to_owned(),
            user: user.to_owned(),
        }
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Claims the right to drive a move on this monolith, or names who holds it and until when.
    pub async fn acquire(&self) -> Result<LeaseGuard, MoveError> {
        self.claim.acquire().await
    }

    /// Claims it, waiting for a stopped console's claim to run out.
    pub async fn acquire_patiently(
        &self,
        waiting: impl Fn(&str, &str),
    ) -> Result<LeaseGuard, MoveError> {
        self.claim.acquire_patiently(waiting).await
    }

    /// The move the monolith records, if any (and the monolith itself).
    pub async fn recorded(&self) -> Result<(Option<Deployment>, Option<MoveRecord>), MoveError> {
        let monolith = self
            .deployments()
            .get_opt(&self.monolith)
            .await
            .map_err(|e| MoveError::kube("read the monolith Deployment", e))?;
        let record = match monolith
            .as_ref()
            .and_then(|m| MoveRecord::from_annotations(m.metadata.annotations.as_ref()))
        {
            Some(Ok(record)) => Some(record),
            Some(Err(why)) => return Err(MoveError::Cluster(why.to_string())),
            None => None,
        };
        Ok((monolith, record))
    }

    /// Writes the record (or removes it, with `None`) together with `extra`, a strategic merge
    /// patch of the monolith applied in the same write. `expected` is the record the monolith
    /// must carry now (`None`: none), so two consoles cannot both start or advance a move.
    /// Retries when only the monolith's status moved underneath.
    pub async fn write_record(
        &self,
        expected: Option<&MoveRecord>,
        next: Option<&MoveRecord>,
        extra: serde_json::Value,
    ) -> Result<(), MoveError> {
        let api = self.deployments();
        for _ in 0..10 {
            let (monolith, current) = self.recorded().await?;
            let monolith = monolith.ok_or_else(|| {
                MoveError::Cluster(format!(
                    "the monolith Deployment {}/{} is gone",
                    self.namespace, self.monolith
                ))
            })?;
            let same = match (current.as_ref(), expected) {
                (None, None) => true,
                (Some(c), Some(e)) => c.started_at == e.started_at && c.digest == e.digest,
                _ => false,
            };
            if !same {
                return Err(MoveError::Conflict(match current {
                    Some(c) => format!("another move is recorded on the monolith: {}", c.summary()),
                    None => {
                        "the move's record was removed from the monolith by someone else".into()
                    }
                }));
            }
            let mut patch = extra.clone();
            patch["metadata"]["resourceVersion"] = json!(monolith.metadata.resource_version);
            patch["metadata"]["annotations"][MOVE_ANNOTATION] = match next {
                Some(record) => json!(record.to_annotation()),
                None => serde_json::Value::Null,
            };
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            };
            match api
                .patch(&self.monolith, &params, &Patch::Strategic(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                // The monolith changed since it was read (its status, mostly): read it again.
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                // A server error: the write may or may not have happened. Reading the record
                // again tells which, and the patch carries the resourceVersion, so writing it
                // twice is impossible: ask again after a pause.
                Err(kube::Error::Api(s)) if s.code == 500 => {
                    tracing::debug!(error = %s.message, "writing the move's record: server error; reading it again");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
                Err(e) => {
                    return Err(MoveError::kube(
                        "write the move's record on the monolith",
                        e,
                    ));
                }
            }
        }
        Err(MoveError::Cluster(
            "the monolith kept changing while the move's record was written (10 conflicts in a row)".into(),
        ))
    }

    /// The operator's word on the move in progress (the monolith's control annotation).
    pub async fn control(&self) -> Option<Control> {
        let monolith = self.deployments().get_opt(&self.monolith).await.ok()??;
        monolith
            .metadata
            .annotations
            .as_ref()?
            .get(CONTROL_ANNOTATION)
            .and_then(|v| Control::parse(v))
    }

    /// Gives (or, with `None`, withdraws) the operator's word on the move in progress.
    pub async fn set_control(&self, control: Option<Control>) -> Result<(), MoveError> {
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        let patch = json!({"metadata": {"annotations": {CONTROL_ANNOTATION: control.map(Control::as_str)}}});
        self.deployments()
            .patch(&self.monolith, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| MoveError::kube("steer the move (the monolith's annotation)", e))
    }

    /// Records a Kubernetes Event on the monolith, from the console's user. An Event that cannot
    /// be written is logged, never a reason to stop a move.
    pub async fn event(&self, kind: &str, reason: &str, message: &str) {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let uid = self
            .deployments()
            .get_opt(&self.monolith)
            .await
            .ok()
            .flatten()
            .and_then(|d| d.metadata.uid);
        let now = jiff::Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.", self.monolith)),
                namespace: Some(self.namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("apps/v1".into()),
                kind: Some("Deployment".into()),
                name: Some(self.monolith.clone()),
                namespace: Some(self.namespace.clone()),
                uid,
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some(kind.into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            source: Some(EventSource {
                component: Some(FIELD_MANAGER.into()),
                host: Some(self.user.clone()),
            }),
            reporting_component: Some(FIELD_MANAGER.into()),
            reporting_instance: Some(self.user.clone()),
            action: Some("Migrate".into()),
            ..Default::default()
        };
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(error = %e, reason, "could not record an Event on the monolith");
        }
    }
}
