//! The move's state in the cluster: the record on the monolith (an annotation written with
//! resourceVersion preconditions, so two consoles cannot both start a move), a
//! `coordination.k8s.io/v1` Lease naming the console that drives it (so a second console does
//! not drive it too, and a restarted one can take over once the Lease expires), and a
//! Kubernetes Event on the monolith for every step: the audit trail of what the console changed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;

use super::MoveError;
use crate::model::moves::{FIELD_MANAGER, MOVE_ANNOTATION, MoveRecord};

/// How long a console's claim on a move lasts without renewal; a console that died is replaced
/// after this long.
pub const LEASE_SECONDS: i32 = 15;

/// The console as the cluster sees it while it drives a move.
#[derive(Clone)]
pub struct Driver {
    client: kube::Client,
    namespace: String,
    monolith: String,
    /// The Kubernetes user.
    pub user: String,
    /// This console process (`user@host/pid`), as the Lease names its holder.
    pub identity: String,
}

/// A held Lease, renewed in the background until released.
pub struct LeaseGuard {
    api: Api<Lease>,
    name: String,
    identity: String,
    lost: Arc<AtomicBool>,
    renewer: JoinHandle<()>,
}

impl LeaseGuard {
    /// Whether another console took the Lease (this one stopped renewing in time).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Gives the Lease up so another console need not wait for it to expire.
    pub async fn release(self) {
        self.renewer.abort();
        // A server error may come before or after the delete took effect: read the Lease again
        // and delete it only while it is still this console's (a few tries).
        for _ in 0..5 {
            let Ok(lease) = self.api.get(&self.name).await else {
                return;
            };
            if holder(&lease) != Some(self.identity.as_str()) {
                return;
            }
            match self.api.delete(&self.name, &DeleteParams::default()).await {
                Ok(_) => return,
                Err(kube::Error::Api(s)) if s.code == 500 => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not release the move's Lease; it expires by itself");
                    return;
                }
            }
        }
        tracing::warn!("could not release the move's Lease (server errors); it expires by itself");
    }
}

fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

/// When the Lease expires, if it is held at all.
fn expires(lease: &Lease) -> Option<jiff::Timestamp> {
    let spec = lease.spec.as_ref()?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    renewed
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .ok()
}

impl Driver {
    /// The console driving moves on `monolith` as `user`.
    pub fn new(client: kube::Client, namespace: &str, monolith: &str, user: &str) -> Driver {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        Driver {
            client,
            namespace: namespace.to_owned(),
            monolith: monolith.to_owned(),
            user: user.to_owned(),
            identity: format!("{user}@{host}/{}", std::process::id()),
        }
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn lease_name(&self) -> String {
        format!("hybrid-console-move-{}", self.monolith)
    }

    /// Claims the right to drive a move on this monolith, or names who holds it and until when.
    pub async fn acquire(&self) -> Result<LeaseGuard, MoveError> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.namespace);
        let name = self.lease_name();
        let now = jiff::Timestamp::now();
        let spec = |transitions: i32| LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_SECONDS),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..Default::default()
        };
        let context = "claim the move's Lease (coordination.k8s.io/v1)";
        match api
            .get_opt(&name)
            .await
            .map_err(|e| MoveError::kube(context, e))?
        {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(self.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(spec(0)),
                };
                let mut server_errors = 0;
                loop {
                    match api.create(&PostParams::default(), &lease).await {
                        Ok(_) => break,
                        Err(kube::Error::Api(s)) if s.code == 409 => {
                            return Err(MoveError::Busy {
                                holder: "another console".into(),
                                until: String::new(),
                            });
                        }
                        // A server error: the Lease may or may not exist now. Ask, then claim
                        // again only if it does not.
                        Err(kube::Error::Api(s)) if s.code == 500 && server_errors < 5 => {
                            server_errors += 1;
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            match api
                                .get_opt(&name)
                                .await
                                .map_err(|e| MoveError::kube(context, e))?
                            {
                                None => continue,
                                Some(lease) if holder(&lease) == Some(self.identity.as_str()) => {
                                    break;
                                }
                                Some(lease) => {
                                    return Err(MoveError::Busy {
                                        holder: holder(&lease)
                                            .unwrap_or("another console")
                                            .to_owned(),
                                        until: String::new(),
                                    });
                                }
                            }
                        }
                        Err(e) => return Err(MoveError::kube(context, e)),
                    }
                }
            }
            Some(lease) => {
                let mine = holder(&lease) == Some(self.identity.as_str());
                let expired = expires(&lease).is_none_or(|t| t < now);
                if !mine && !expired {
                    return Err(MoveError::Busy {
                        holder: holder(&lease).unwrap_or("another console").to_owned(),
                        until: expires(&lease).map(|t| t.to_string()).unwrap_or_default(),
                    });
                }
                let transitions = lease
                    .spec
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0);
                let mut taken = lease.clone();
                taken.spec = Some(spec(transitions + i32::from(!mine)));
                // The resourceVersion in `taken` makes this a compare-and-swap.
                api.replace(&name, &PostParams::default(), &taken)
                    .await
                    .map_err(|e| match e {
                        kube::Error::Api(s) if s.code == 409 => MoveError::Busy {
                            holder: "another console".into(),
                            until: String::new(),
                        },
                        e => MoveError::kube(context, e),
                    })?;
            }
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew(
            api.clone(),
            name.clone(),
            self.identity.clone(),
            lost.clone(),
        ));
        Ok(LeaseGuard {
            api,
            name,
            identity: self.identity.clone(),
            lost,
            renewer,
        })
    }

    /// Claims the Lease like [`Driver::acquire`], but when another console holds it, waits for
    /// its claim to run out (a console that was stopped renews nothing) — at most two Lease
    /// durations, so a console that is alive and working is not overrun.
    pub async fn acquire_patiently(
        &self,
        waiting: impl Fn(&str, &str),
    ) -> Result<LeaseGuard, MoveError> {
        let give_up = tokio::time::Instant::now()
            + Duration::from_secs(u64::try_from(2 * LEASE_SECONDS).unwrap_or(30));
        loop {
            match self.acquire().await {
                Err(MoveError::Busy { holder, until }) if tokio::time::Instant::now() < give_up => {
                    waiting(&holder, &until);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                other => return other,
            }
        }
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
            Some(Err(why)) => return Err(MoveError::Cluster(why)),
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

async fn renew(api: Api<Lease>, name: String, identity: String, lost: Arc<AtomicBool>) {
    let period = Duration::from_secs(u64::try_from(LEASE_SECONDS / 3).unwrap_or(5));
    loop {
        tokio::time::sleep(period).await;
        let lease = match api.get(&name).await {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!(error = %e, "could not renew the move's Lease; retrying");
                continue;
            }
        };
        if holder(&lease) != Some(identity.as_str()) {
            lost.store(true, Ordering::SeqCst);
            return;
        }
        let mut renewed = lease;
        if let Some(spec) = renewed.spec.as_mut() {
            spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        }
        if let Err(e) = api.replace(&name, &PostParams::default(), &renewed).await {
            tracing::warn!(error = %e, "could not renew the move's Lease; retrying");
        }
    }
}
