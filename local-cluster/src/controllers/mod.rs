//! The controllers that make the cluster do what its objects say: each one reads the store,
//! reacts to changes through an in-process watch, and writes through the registry like any client.

pub mod autoscaler;
pub mod cronjob;
pub mod daemonset;
pub mod definitions;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod garbage_collector;
pub mod job;
pub mod namespace;
pub mod replicaset;
pub mod resource_quota;
pub mod runtime;
pub mod statefulset;

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::registry::Registry;
use crate::resources::ResourceKind;
use crate::store::{Change, Store, WatchStart};

/// Keys waiting to be reconciled; a key already waiting is not queued twice.
pub struct WorkQueue<K> {
    state: Mutex<(VecDeque<K>, HashSet<K>)>,
    notify: Notify,
}

impl<K: Clone + Eq + Hash> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue {
            state: Mutex::new((VecDeque::new(), HashSet::new())),
            notify: Notify::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> WorkQueue<K> {
    /// Queues `key` unless it is already waiting.
    pub fn push(&self, key: K) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.1.insert(key.clone()) {
            state.0.push_back(key);
            self.notify.notify_one();
        }
    }

    /// The next key, waiting for one if necessary.
    pub async fn pop(&self) -> K {
        loop {
            {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(key) = state.0.pop_front() {
                    state.1.remove(&key);
                    return key;
                }
            }
            self.notify.notified().await;
        }
    }
}

/// `(namespace, name)` of an object to reconcile.
pub type ObjectRef = (String, String);

/// Calls `on_change` for every change of `kind`, starting with the current objects (as ADDED),
/// for as long as the returned task runs. A watch that falls behind resumes from its last
/// revision; if that is no longer retained, it starts over with the current objects.
pub fn follow(
    store: Arc<Store>,
    kind: &'static ResourceKind,
    on_change: impl Fn(&Change) + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut start = WatchStart::WithCurrentState;
        loop {
            let feed = match store.watch(kind, start) {
                Ok(feed) => feed,
                Err(_) => {
                    start = WatchStart::WithCurrentState;
                    continue;
                }
            };
            let mut last = feed.revision;
            for change in &feed.backlog {
                on_change(change);
                last = last.max(change.object.revision);
            }
            let mut live = feed.live;
            loop {
                match live.recv().await {
                    Ok(change) => {
                        last = change.object.revision;
                        on_change(&change);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        start = WatchStart::After(last);
                        break;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    })
}

/// Runs `reconcile` for every key the queue yields, forever.
pub fn worker<K, F, Fut>(queue: Arc<WorkQueue<K>>, reconcile: F) -> JoinHandle<()>
where
    K: Clone + Eq + Hash + Send + 'static,
    F: Fn(K) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        loop {
            let key = queue.pop().await;
            reconcile(key).await;
        }
    })
}

/// Pushes every object of `kind` into `queue` every `period` (for time-based decisions such as
/// progress deadlines).
pub fn resync(
    store: Arc<Store>,
    kind: &'static ResourceKind,
    queue: Arc<WorkQueue<ObjectRef>>,
    period: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            for item in store.list(kind, None, |_| true, 0, None).items {
                queue.push((item.index.namespace.clone(), item.index.name.clone()));
            }
        }
    })
}

/// The controller reference (`ownerReferences[controller=true]`) uid of an object.
pub fn controller_uid(object: &serde_json::Value) -> Option<&str> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .and_then(|r| r["uid"].as_str())
}

/// A pod from the pod template of `owner` (a `kind` in `namespace`), named after it by the
/// server (`generateName`) and controlled by it: what the ReplicaSet and Job controllers
/// create.
pub fn pod_from_template(
    kind: &ResourceKind,
    owner: &serde_json::Value,
    namespace: &str,
) -> serde_json::Value {
    let template = &owner["spec"]["template"];
    serde_json::json!({
        "metadata": {
            "generateName": format!("{}-", owner["metadata"]["name"].as_str().unwrap_or_default()),
            "namespace": namespace,
            "labels": template["metadata"]["labels"],
            "annotations": template["metadata"]["annotations"],
            "ownerReferences": [owner_reference(kind, owner)],
        },
        "spec": template["spec"],
    })
}

/// An owner reference to `object` (a `kind`) marking it as the controller.
pub fn owner_reference(kind: &ResourceKind, object: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind,
        "name": object["metadata"]["name"],
        "uid": object["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The objects of `kind` in `namespace` whose controller is the object with `uid`.
pub fn controlled_by(
    registry: &Registry,
    kind: &'static ResourceKind,
    namespace: &str,
    uid: &str,
) -> Vec<serde_json::Value> {
    registry
        .store
        .list(kind, Some(namespace), |_| true, 0, None)
        .items
        .iter()
        .map(crate::store::Stored::value)
        .filter(|object| controller_uid(object) == Some(uid))
        .collect()
}
