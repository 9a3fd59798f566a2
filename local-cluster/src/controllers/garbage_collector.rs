//! Garbage collection by ownerReferences: dependents of a deleted owner are deleted (background),
//! an owner deleted in the foreground waits for its dependents, and an orphaning delete strips
//! the reference from them first.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::follow;
use crate::errors::report;
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources::{self, ResourceKind};
use crate::store::EventKind;

/// Kinds that own others here (Deployment → ReplicaSet → Pod, CronJob → Job → Pod, DaemonSet
/// and StatefulSet → Pod, Service → EndpointSlice).
fn owner_kinds() -> [&'static ResourceKind; 8] {
    [
        resources::cronjobs(),
        resources::deployments(),
        resources::replicasets(),
        resources::replicationcontrollers(),
        resources::daemonsets(),
        resources::statefulsets(),
        resources::jobs(),
        resources::services(),
    ]
}

/// Kinds that have owners here.
fn dependent_kinds() -> [&'static ResourceKind; 3] {
    [
        resources::replicasets(),
        resources::pods(),
        resources::endpointslices(),
    ]
}

fn owner_uids(object: &Value) -> Vec<&str> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str())
        .collect()
}

fn dependents(
    registry: &Registry,
    namespace: &str,
    uid: &str,
) -> Vec<(&'static ResourceKind, Value)> {
    let mut found = Vec::new();
    for kind in dependent_kinds() {
        for item in registry
            .store
            .list(kind, Some(namespace), |index| index.owned, 0, None)
            .items
        {
            let value = item.value();
            if owner_uids(&value).contains(&uid) {
                found.push((kind, value));
            }
        }
    }
    found
}

fn name_of(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Handles one owner: gone → delete dependents; foreground/orphan finalizer → finish it.
fn collect(registry: &Registry, kind: &'static ResourceKind, owner: &Value, deleted: bool) {
    let namespace = owner["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let uid = owner["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let finalizers: Vec<&str> = owner["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let marked = owner["metadata"]["deletionTimestamp"].is_string();
    if deleted {
        if !owner_kinds().contains(&kind) {
            return;
        }
        for (dependent_kind, dependent) in dependents(registry, &namespace, &uid) {
            report(
                "delete",
                registry.delete(
                    dependent_kind,
                    &namespace,
                    &name_of(&dependent),
                    &DeleteOptions::default(),
                ),
            );
        }
        return;
    }
    if !marked {
        return;
    }
    let without = |finalizer: &str| {
        let name = name_of(owner);
        let finalizer = finalizer.to_owned();
        report(
            "update",
            registry.update_with(
                kind,
                &namespace,
                &name,
                Part::Main,
                &WriteOptions::default(),
                |old| {
                    let mut next = old.clone();
                    if let Some(list) = next["metadata"]["finalizers"].as_array_mut() {
                        list.retain(|f| f != finalizer.as_str());
                    }
                    Ok(next)
                },
            ),
        );
    };
    if finalizers.contains(&"orphan") {
        for (dependent_kind, dependent) in dependents(registry, &namespace, &uid) {
            let uid = uid.clone();
            report(
                "update",
                registry.update_with(
                    dependent_kind,
                    &namespace,
                    &name_of(&dependent),
                    Part::Main,
                    &WriteOptions::default(),
                    |old| {
                        let mut next = old.clone();
                        if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
                            refs.retain(|r| r["uid"] != uid.as_str());
                        }
                        Ok(next)
                    },
                ),
            );
        }
        without("orphan");
    }
    if finalizers.contains(&"foregroundDeletion") {
        let remaining = dependents(registry, &namespace, &uid);
        if remaining.is_empty() {
            without("foregroundDeletion");
        } else {
            let foreground = DeleteOptions {
                propagation_policy: Some("Foreground".into()),
                ..DeleteOptions::default()
            };
            for (dependent_kind, dependent) in remaining {
                if dependent["metadata"]["deletionTimestamp"].is_null() {
                    report(
                        "delete",
                        registry.delete(
                            dependent_kind,
                            &namespace,
                            &name_of(&dependent),
                            &foreground,
                        ),
                    );
                }
            }
        }
    }
}

fn kind_named(kind: &str) -> Option<&'static ResourceKind> {
    match kind {
        "Deployment" => Some(resources::deployments()),
        "ReplicaSet" => Some(resources::replicasets()),
        "DaemonSet" => Some(resources::daemonsets()),
        "ReplicationController" => Some(resources::replicationcontrollers()),
        "StatefulSet" => Some(resources::statefulsets()),
        "Job" => Some(resources::jobs()),
        "CronJob" => Some(resources::cronjobs()),
        "Service" => Some(resources::services()),
        "Pod" => Some(resources::pods()),
        _ => None,
    }
}

/// Starts the collector. For every kind that owns or is owned: an object marked for deletion has
/// its foreground/orphan finalizers worked on; an owner that goes takes its dependents with it;
/// a dependent that goes lets its owners re-check a pending foreground deletion. A periodic sweep
/// catches dependents whose owner went while nothing watched.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    let mut kinds: Vec<&'static ResourceKind> = owner_kinds().to_vec();
    for kind in dependent_kinds() {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let mut tasks = Vec::new();
    for kind in kinds {
        let registry = registry.clone();
        tasks.push(follow(registry.store.clone(), kind, move |change| {
            let deleted = change.kind == EventKind::Deleted;
            let index = &change.object.index;
            // Only a marked object (finalizers to work on), a deleted owner (dependents to
            // delete) or a deleted dependent (an owner that may be waiting in the foreground)
            // concerns the collector; the index tells, so most changes are not parsed.
            if !deleted && !index.marked {
                return;
            }
            if deleted && !index.owned && !owner_kinds().contains(&kind) {
                return;
            }
            let object = change.object.value();
            collect(&registry, kind, &object, deleted);
            if !deleted {
                return;
            }
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            for owner in object["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let (Some(owner_kind), Some(name)) = (
                    owner["kind"].as_str().and_then(kind_named),
                    owner["name"].as_str(),
                ) && let Some(stored) = registry.store.get(owner_kind, namespace, name)
                {
                    collect(&registry, owner_kind, &stored.value(), false);
                }
            }
        }));
    }
    tasks.push(tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(5));
        loop {
            interval.tick().await;
            sweep(&registry);
        }
    }));
    tasks
}

/// Deletes dependents whose every owner is gone (an owner deleted while nothing watched).
fn sweep(registry: &Registry) {
    let mut live: HashSet<String> = HashSet::new();
    for kind in owner_kinds() {
        for item in registry.store.list(kind, None, |_| true, 0, None).items {
            if let Some(uid) = item.value()["metadata"]["uid"].as_str() {
                live.insert(uid.to_owned());
            }
        }
    }
    for kind in dependent_kinds() {
        // Only objects with owners can be orphans; the index says which without parsing.
        for item in registry
            .store
            .list(kind, None, |index| index.owned, 0, None)
            .items
        {
            let value = item.value();
            let owners = owner_uids(&value);
            let owned_by_kinds_here = value["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|r| {
                    matches!(
                        r["kind"].as_str(),
                        Some("Deployment" | "ReplicaSet" | "Service")
                    )
                });
            if !owners.is_empty()
                && owned_by_kinds_here
                && owners.iter().all(|uid| !live.contains(*uid))
            {
                report(
                    "delete",
                    registry.delete(
                        kind,
                        &item.index.namespace,
                        &item.index.name,
                        &DeleteOptions::default(),
                    ),
                );
            }
        }
    }
}
