//! The claim on a move: a `coordination.k8s.io/v1` Lease naming the console that drives it, so
//! a second console does not drive it too and a restarted one can take over once the Lease
//! expires. Renewed in the background while held; released when the move ends, and also when
//! its task is dropped half-way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use tokio::task::JoinHandle;

use super::errors::MoveError;

/// How long a console's claim on a move lasts without renewal; a console that died is replaced
/// after this long.
pub const LEASE_SECONDS: i32 = 15;

/// One console's claim on one monolith's move: which Lease, and who claims it.
#[derive(Clone)]
pub struct Claim {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
}

/// A held Lease, renewed in the background until released. Dropped without
/// [`release`](LeaseGuard::release) — the move's task aborted or panicked — it stops renewing
/// and hands the release to the runtime, so no path leaves a Lease behind to hold the next
/// console off until it expires.
pub struct LeaseGuard {
    claim: Claim,
    lost: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
    released: bool,
}

impl LeaseGuard {
    /// Whether another console took the Lease (this one stopped renewing in time).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Gives the Lease up so another console need not wait for it to expire.
    pub async fn release(mut self) {
        self.stop_renewing();
        self.released = true;
        self.claim.give_up().await;
    }

    fn stop_renewing(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.stop_renewing();
        if self.released {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let claim = self.claim.clone();
                runtime.spawn(async move { claim.give_up().await });
            }
            Err(_) => tracing::warn!(
                "the move's Lease was not released (no runtime left); it expires by itself"
            ),
        }
    }
}

impl Claim {
    /// Deletes the Lease while it is still this console's.
    async fn give_up(&self) {
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

impl Claim {
    /// The claim of `identity` on the Lease `name` in `namespace`.
    pub fn new(client: kube::Client, namespace: &str, name: String, identity: String) -> Claim {
        Claim {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            name,
            identity,
        }
    }

    /// Claims the right to drive a move on this monolith, or names who holds it and until when.
    pub async fn acquire(&self) -> Result<LeaseGuard, MoveError> {
        let api = self.api.clone();
        let name = self.name.clone();
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
            claim: self.clone(),
            lost,
            renewer: Some(renewer),
            released: false,
        })
    }

    /// Claims the Lease like [`Claim::acquire`], but when another console holds it, waits for
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
