//! The one way a controller runs, after kube-runtime's `Controller`: it declares the kind it
//! reconciles, the kinds it owns and the kinds it watches; the runtime turns their changes into
//! queued keys, reads the object, and calls `reconcile`, which returns `Result<Action, ApiError>`.
//! An error is logged with `tracing` and the key tried again after a per-key exponential backoff
//! (reset by the next success), so no failed write is lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::{ObjectRef, WorkQueue, follow, resync};
use crate::errors::ApiError;
use crate::events::EventRecorder;
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources::ResourceKind;
use crate::store::Change;

/// What the runtime does with a key after a successful reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// Nothing until the object, or something it owns or watches, changes.
    pub fn await_change() -> Action {
        Action {
            requeue_after: None,
        }
    }

    /// Look again after `after` even if nothing changes (a deadline, a schedule, a wait).
    pub fn requeue(after: Duration) -> Action {
        Action {
            requeue_after: Some(after),
        }
    }
}

/// What a reconcile returns.
pub type Reconciled = Result<Action, ApiError>;

/// The first retry's delay; each further failure of the same key doubles it.
const BACKOFF_BASE: Duration = Duration::from_millis(10);
/// The longest a failing key waits: a local cluster should heal within seconds, not the
/// 1,000 s client-go's default limiter allows.
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// The delay before the `failures`-th retry of a key (1-based).
pub fn backoff(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1));
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_CAP)
}

/// What a controller's reconcile works with: the registry to read and write through, its event
/// recorder, the kind it reconciles, and its queue.
#[derive(Clone)]
pub struct Context {
    /// Objects and their lifecycle rules.
    pub registry: Arc<Registry>,
    /// Events in the controller's name.
    pub recorder: EventRecorder,
    /// The kind this controller reconciles.
    pub kind: &'static ResourceKind,
    /// The controller's own queue.
    pub queue: Arc<WorkQueue<ObjectRef>>,
}

impl Context {
    /// Replaces the status of `object` (as read at the start of this reconcile) with `status`,
    /// refused with a 409 if the object changed since: the status was computed from what the
    /// controller saw, and a newer object deserves a new computation (the key comes back). A
    /// status that is already current is not written.
    pub fn write_status(&self, object: &Value, status: Value) -> Result<(), ApiError> {
        if object["status"] == status {
            return Ok(());
        }
        let meta = &object["metadata"];
        let (namespace, name) = (
            meta["namespace"].as_str().unwrap_or_default(),
            meta["name"].as_str().unwrap_or_default(),
        );
        let seen = meta["resourceVersion"].clone();
        self.registry.update_with(
            self.kind,
            namespace,
            name,
            Part::Status,
            &WriteOptions::default(),
            |current| {
                if current["metadata"]["resourceVersion"] != seen {
                    return Err(ApiError::conflict(
                        self.kind,
                        name,
                        "the object has been modified; please apply your changes to the latest version and try again",
                    ));
                }
                let mut next = current.clone();
                next["status"] = status;
                Ok(next)
            },
                )?;
        Ok(())
    }

    /// Deletes an object of `kind`; `Ok(false)` when it was already gone (someone else's
    /// delete is not this controller's failure).
    pub fn delete_if_present(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<bool, ApiError> {
        match self
            .registry
            .delete(kind, namespace, name, &DeleteOptions::default())
        {
            Ok(_) => Ok(true),
            Err(e) if e.code == 404 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// How many reconciles of a controller failed and were retried; for tests and diagnostics.
#[derive(Debug, Default)]
pub struct Stats {
    retried: AtomicU64,
    reconciled: AtomicU64,
}

impl Stats {
    /// Reconciles that returned an error (each was retried).
    #[cfg(test)]
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// Reconciles that succeeded.
    #[cfg(test)]
    pub fn reconciled(&self) -> u64 {
        self.reconciled.load(Ordering::Relaxed)
    }
}

/// Maps a change of a watched kind to the keys to reconcile.
type Mapper = Box<dyn Fn(&Registry, &Change) -> Vec<ObjectRef> + Send + 'static>;

/// Which changes of the controller's own kind queue their key.
type Filter = Box<dyn Fn(&Change) -> bool + Send + 'static>;

/// What to do for a key whose object is gone.
type Cleanup = Box<dyn Fn(&Context, &ObjectRef) -> Reconciled + Send + Sync + 'static>;

/// A controller being declared: `Controller::new(..).owns(..).watches(..).run(reconcile)`.
pub struct Controller {
    registry: Arc<Registry>,
    kind: &'static ResourceKind,
    component: &'static str,
    triggers: Vec<(&'static ResourceKind, Mapper)>,
    resync: Option<Duration>,
    cleanup: Option<Cleanup>,
    filter: Option<Filter>,
}

/// A running controller: its tasks and its figures.
pub struct Running {
    /// The watch, resync and worker tasks.
    pub tasks: Vec<JoinHandle<()>>,
    /// Successes and retries so far (the tests read them to see retries happen).
    #[cfg_attr(not(test), allow(dead_code))]
    pub stats: Arc<Stats>,
    /// Its queue: a key pushed here is reconciled like one from its own watches (for a
    /// collaborator that routes one watch's changes to several controllers).
    pub queue: Arc<WorkQueue<ObjectRef>>,
}

impl Controller {
    /// A controller of `kind`'s objects, writing events as `component`.
    pub fn new(
        registry: Arc<Registry>,
        kind: &'static ResourceKind,
        component: &'static str,
    ) -> Controller {
        Controller {
            registry,
            kind,
            component,
            triggers: Vec::new(),
            resync: None,
            cleanup: None,
            filter: None,
        }
    }

    /// Objects of `owned` whose controller reference names an object of this kind: a change to
    /// one queues its owner.
    pub fn owns(mut self, owned: &'static ResourceKind) -> Controller {
        let owner_kind = self.kind.kind;
        self.triggers.push((
            owned,
            Box::new(move |_, change| match &change.object.index.controller {
                Some((kind, owner)) if kind == owner_kind => {
                    vec![(change.object.index.namespace.clone(), owner.clone())]
                }
                _ => Vec::new(),
            }),
        ));
        self
    }

    /// Objects of `watched` whose change may concern objects of this kind; `map` names them.
    pub fn watches(
        mut self,
        watched: &'static ResourceKind,
        map: impl Fn(&Registry, &Change) -> Vec<ObjectRef> + Send + 'static,
    ) -> Controller {
        self.triggers.push((watched, Box::new(map)));
        self
    }

    /// Only the changes of this kind's objects that `interesting` accepts queue their key (the
    /// garbage collector cares for a pod only once it is marked or gone, not for each of its
    /// status writes); the object's index is enough to tell, so nothing is parsed to decide.
    pub fn reacts_to(
        mut self,
        interesting: impl Fn(&Change) -> bool + Send + 'static,
    ) -> Controller {
        self.filter = Some(Box::new(interesting));
        self
    }

    /// Every object of this kind is looked at again every `period` (time-based decisions).
    pub fn resync_every(mut self, period: Duration) -> Controller {
        self.resync = Some(period);
        self
    }

    /// For a key whose object is gone, `cleanup` runs (with the same retries) instead of
    /// dropping the key: for what the object's deletion must undo that no owner reference
    /// ties to it.
    pub fn on_gone(
        mut self,
        cleanup: impl Fn(&Context, &ObjectRef) -> Reconciled + Send + Sync + 'static,
    ) -> Controller {
        self.cleanup = Some(Box::new(cleanup));
        self
    }

    /// Starts the watches and the worker. `reconcile` gets the key and the object as stored
    /// now; a key whose object is gone goes to the `on_gone` cleanup if there is one, and is
    /// dropped otherwise (what the object owned goes with the garbage collector).
    pub fn run(
        self,
        reconcile: impl Fn(&Context, &ObjectRef, &Value) -> Reconciled + Send + Sync + 'static,
    ) -> Running {
        let queue: Arc<WorkQueue<ObjectRef>> = Arc::default();
        let store = self.registry.store.clone();
        let context = Context {
            recorder: EventRecorder::new(self.registry.clone(), self.component, None),
            registry: self.registry.clone(),
            kind: self.kind,
            queue: queue.clone(),
        };
        let stats = Arc::new(Stats::default());
        let mut tasks = Vec::new();
        let own = queue.clone();
        let filter = self.filter;
        tasks.push(follow(store.clone(), self.kind, move |change| {
            if filter
                .as_ref()
                .is_some_and(|interesting| !interesting(change))
            {
                return;
            }
            own.push((
                change.object.index.namespace.clone(),
                change.object.index.name.clone(),
            ));
        }));
        for (kind, map) in self.triggers {
            let (queue, registry) = (queue.clone(), self.registry.clone());
            tasks.push(follow(store.clone(), kind, move |change| {
                for key in map(&registry, change) {
                    queue.push(key);
                }
            }));
        }
        if let Some(period) = self.resync {
            tasks.push(resync(store, self.kind, queue.clone(), period));
        }
        let handle = queue.clone();
        tasks.push(tokio::spawn(work(
            context,
            self.component,
            stats.clone(),
            reconcile,
            self.cleanup,
        )));
        Running {
            tasks,
            stats,
            queue: handle,
        }
    }
}

/// The worker: one key at a time, retries with backoff, requeues on request.
async fn work(
    context: Context,
    component: &'static str,
    stats: Arc<Stats>,
    reconcile: impl Fn(&Context, &ObjectRef, &Value) -> Reconciled,
    cleanup: Option<Cleanup>,
) {
    let mut failures: HashMap<ObjectRef, u32> = HashMap::new();
    loop {
        let key = context.queue.pop().await;
        let outcome = match (
            context.registry.store.get(context.kind, &key.0, &key.1),
            &cleanup,
        ) {
            (Some(stored), _) => reconcile(&context, &key, &stored.value()),
            (None, Some(cleanup)) => cleanup(&context, &key),
            (None, None) => Ok(Action::await_change()),
        };
        match outcome {
            Ok(action) => {
                stats.reconciled.fetch_add(1, Ordering::Relaxed);
                failures.remove(&key);
                if let Some(after) = action.requeue_after {
                    push_after(&context.queue, key, after);
                }
            }
            Err(e) => {
                stats.retried.fetch_add(1, Ordering::Relaxed);
                let count = failures.entry(key.clone()).or_insert(0);
                *count = count.saturating_add(1);
                let delay = backoff(*count);
                // A conflict or a vanished object is the ordinary race of many writers.
                if matches!(e.code, 404 | 409) {
                    tracing::debug!(component, namespace = %key.0, name = %key.1, error = %e.message, retry_in = ?delay, "reconcile raced another writer");
                } else {
                    tracing::warn!(component, namespace = %key.0, name = %key.1, error = %e.message, reason = e.reason, retry_in = ?delay, "reconcile failed");
                }
                push_after(&context.queue, key, delay);
            }
        }
    }
}

/// Queues `key` again once `after` has passed.
fn push_after(queue: &Arc<WorkQueue<ObjectRef>>, key: ObjectRef, after: Duration) {
    let queue = queue.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        queue.push(key);
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use std::sync::atomic::AtomicU32;
    use std::time::Instant;

    use serde_json::json;

    use super::*;
    use crate::resources;

    /// A registry holding one ConfigMap, `default/watched`.
    fn registry_with_a_configmap() -> Arc<Registry> {
        let registry = Registry::for_tests(1_000);
        registry
            .create(
                resources::configmaps(),
                "default",
                json!({"metadata": {"name": "watched"}, "data": {"a": "1"}}),
                &WriteOptions::default(),
            )
            .unwrap();
        registry
    }

    async fn wait_for(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A failing reconcile comes back by itself, with nothing else changing, until it succeeds.
    #[tokio::test]
    async fn a_failed_reconcile_is_retried_until_it_succeeds() {
        let registry = registry_with_a_configmap();
        let calls = Arc::new(AtomicU32::new(0));
        let counted = calls.clone();
        let running = Controller::new(registry, resources::configmaps(), "test-controller").run(
            move |context, (_, name), _| {
                if counted.fetch_add(1, Ordering::SeqCst) < 4 {
                    return Err(ApiError::conflict(context.kind, name, "a forced conflict"));
                }
                Ok(Action::await_change())
            },
        );
        let stats = running.stats.clone();
        wait_for("a success after four failures", || stats.reconciled() == 1).await;
        assert_eq!(stats.retried(), 4);
        // Settled: no change, no error, no further call.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        running.tasks.iter().for_each(JoinHandle::abort);
    }

    /// `Action::requeue` brings the key back with nothing changing, and a key whose object is
    /// gone goes to the cleanup.
    #[tokio::test]
    async fn a_requested_requeue_comes_back_and_an_object_gone_goes_to_cleanup() {
        let registry = registry_with_a_configmap();
        let cleaned = Arc::new(AtomicU32::new(0));
        let counted = cleaned.clone();
        let running = Controller::new(registry.clone(), resources::configmaps(), "test-controller")
            .on_gone(move |_, _| {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(Action::await_change())
            })
            .run(|_, _, _| Ok(Action::requeue(Duration::from_millis(20))));
        let stats = running.stats.clone();
        wait_for("three reconciles of an unchanged object", || {
            stats.reconciled() >= 3
        })
        .await;
        registry
            .delete(
                resources::configmaps(),
                "default",
                "watched",
                &DeleteOptions::default(),
            )
            .unwrap();
        wait_for("the cleanup of the deleted object", || {
            cleaned.load(Ordering::SeqCst) >= 1
        })
        .await;
        running.tasks.iter().for_each(JoinHandle::abort);
    }

    #[test]
    fn backoff_doubles_from_ten_milliseconds_up_to_thirty_seconds() {
        assert_eq!(backoff(1), Duration::from_millis(10));
        assert_eq!(backoff(2), Duration::from_millis(20));
        assert_eq!(backoff(5), Duration::from_millis(160));
        assert_eq!(backoff(12), Duration::from_millis(20_480));
        assert_eq!(backoff(13), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(30));
    }
}
