//! Garbage collection by ownerReferences: dependents of a deleted owner are deleted (background),
//! an owner deleted in the foreground waits for its dependents, and an orphaning delete strips
//! the reference from them first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::runtime::{Action, Context, Controller, Reconciled};
use super::{ObjectRef, WorkQueue, follow};
use crate::errors::report;
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources::{self, ResourceKind};
use crate::store::EventKind;

/// What each kind owns here: Deployment → ReplicaSet → Pod, CronJob → Job → Pod, DaemonSet,
/// StatefulSet and ReplicationController → Pod, Service → EndpointSlice.
fn owned_kinds(owner: &ResourceKind) -> &'static [fn() -> &'static ResourceKind] {
    match owner.kind {
        "Deployment" => &[resources::replicasets],
        "CronJob" => &[resources::jobs],
        "ReplicaSet" | "ReplicationController" | "DaemonSet" | "StatefulSet" | "Job" => {
            &[resources::pods]
        }
        "Service" => &[resources::endpointslices],
        _ => &[],
    }
}

/// Kinds that own others here.
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

/// Kinds that have owners here (a pod or slice marked for deletion may carry a foreground or
/// orphan finalizer the collector must take off, though it owns nothing).
fn dependent_kinds() -> [&'static ResourceKind; 4] {
    [
        resources::replicasets(),
        resources::jobs(),
        resources::pods(),
        resources::endpointslices(),
    ]
}

fn owner_references(object: &Value) -> impl Iterator<Item = &Value> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
}

fn owner_uids(object: &Value) -> Vec<&str> {
    owner_references(object)
        .filter_map(|r| r["uid"].as_str())
        .collect()
}

/// The objects in `namespace` with an owner reference that `names_owner` accepts.
fn dependents(
    registry: &Registry,
    owner: &ResourceKind,
    namespace: &str,
    names_owner: impl Fn(&Value) -> bool,
) -> Vec<(&'static ResourceKind, Value)> {
    let mut found = Vec::new();
    for kind in owned_kinds(owner) {
        let kind = kind();
        for item in registry
            .store
            .list(kind, Some(namespace), |index| index.owned, 0, None)
            .items
        {
            let value = item.value();
            if owner_references(&value).any(&names_owner) {
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

/// An object marked for deletion: its orphan finalizer (strip the owner reference from every
/// dependent first) and foreground finalizer (delete the dependents, in the foreground too,
/// and wait until none is left) are worked off. Any failed write fails the reconcile, and the
/// runtime tries again.
fn finish_deletion(context: &Context, owner: &Value) -> Reconciled {
    if owner["metadata"]["deletionTimestamp"].is_null() {
        return Ok(Action::await_change());
    }
    let kind = context.kind;
    let registry = &context.registry;
    let namespace = owner["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = name_of(owner);
    let uid = owner["metadata"]["uid"].as_str().unwrap_or_default();
    let finalizers: Vec<&str> = owner["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let names_owner = |r: &Value| r["uid"] == uid;
    let without = |finalizer: &str| {
        registry.update_with(
            kind,
            namespace,
            &name,
            Part::Main,
            &WriteOptions::default(),
            |old| {
                let mut next = old.clone();
                if let Some(list) = next["metadata"]["finalizers"].as_array_mut() {
                    list.retain(|f| f != finalizer);
                }
                Ok(next)
            },
        )
    };
    if finalizers.contains(&"orphan") {
        for (dependent_kind, dependent) in dependents(registry, kind, namespace, names_owner) {
            let stripped = registry.update_with(
                dependent_kind,
                namespace,
                &name_of(&dependent),
                Part::Main,
                &WriteOptions::default(),
                |old| {
                    let mut next = old.clone();
                    if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != uid);
                    }
                    Ok(next)
                },
            );
            match stripped {
                Err(e) if e.code != 404 => return Err(e),
                _ => {}
            }
        }
        without("orphan")?;
    }
    if finalizers.contains(&"foregroundDeletion") {
        let remaining = dependents(registry, kind, namespace, names_owner);
        if remaining.is_empty() {
            without("foregroundDeletion")?;
            return Ok(Action::await_change());
        }
        let foreground = DeleteOptions {
            propagation_policy: Some("Foreground".into()),
            ..DeleteOptions::default()
        };
        for (dependent_kind, dependent) in remaining {
            if dependent["metadata"]["deletionTimestamp"].is_null() {
                match registry.delete(dependent_kind, namespace, &name_of(&dependent), &foreground)
                {
                    Err(e) if e.code != 404 => return Err(e),
                    _ => {}
                }
            }
        }
        // The dependents' deletions queue this owner again (see `watches` in `start`).
    }
    Ok(Action::await_change())
}

/// An owner is gone: every dependent that names it goes too (background propagation). Matched
/// by kind and name, as the owner's uid went with it; a namesake created since would be found
/// by the runtime instead of coming here.
fn delete_dependents(context: &Context, (namespace, name): &ObjectRef) -> Reconciled {
    let owner_kind = context.kind.kind;
    let names_owner = |r: &Value| r["kind"] == owner_kind && r["name"] == name.as_str();
    for (kind, dependent) in dependents(&context.registry, context.kind, namespace, names_owner) {
        context.delete_if_present(kind, namespace, &name_of(&dependent))?;
    }
    Ok(Action::await_change())
}

/// Starts the collector: one controller per kind, on the same runtime as the others. It
/// reacts only to an object marked for deletion (finalizers to work off) or gone (dependents to
/// delete), and to a dependent's deletion (an owner may be waiting in the foreground): one
/// watch per dependent kind routes those to the owners' controllers, rather than every owner
/// kind watching every pod. A periodic sweep catches dependents whose owner went while nothing
/// watched.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    let mut kinds: Vec<&'static ResourceKind> = owner_kinds().to_vec();
    for kind in dependent_kinds() {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let mut tasks = Vec::new();
    let mut queues: HashMap<&'static str, Arc<WorkQueue<ObjectRef>>> = HashMap::new();
    for kind in kinds {
        let mut controller = Controller::new(registry.clone(), kind, "garbage-collector")
            .reacts_to(|change| change.kind == EventKind::Deleted || change.object.index.marked);
        if !owned_kinds(kind).is_empty() {
            controller = controller.on_gone(delete_dependents);
        }
        let running = controller.run(|context, _, object| finish_deletion(context, object));
        queues.insert(kind.kind, running.queue);
        tasks.extend(running.tasks);
    }
    let queues = Arc::new(queues);
    for dependent in dependent_kinds() {
        let queues = queues.clone();
        tasks.push(follow(registry.store.clone(), dependent, move |change| {
            if change.kind != EventKind::Deleted || !change.object.index.owned {
                return;
            }
            let object = change.object.value();
            for owner in owner_references(&object) {
                if let (Some(kind), Some(name)) = (owner["kind"].as_str(), owner["name"].as_str())
                    && let Some(queue) = queues.get(kind)
                {
                    queue.push((change.object.index.namespace.clone(), name.to_owned()));
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
                .all(|r| owner_kinds().iter().any(|kind| r["kind"] == kind.kind));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use std::time::Instant;

    use serde_json::json;

    use super::*;

    fn registry() -> Arc<Registry> {
        Registry::for_tests(1_000)
    }

    /// Creates `name` of `kind`, owned by `owner` (a stored object) when given; returns it.
    fn create(
        registry: &Registry,
        kind: &'static ResourceKind,
        name: &str,
        owner: Option<&Value>,
    ) -> Value {
        let mut object = json!({"metadata": {"name": name}});
        if let Some(owner) = owner {
            object["metadata"]["ownerReferences"] = json!([{
                "apiVersion": owner["apiVersion"], "kind": owner["kind"],
                "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                "controller": true,
            }]);
        }
        let body = match kind.kind {
            "CronJob" => {
                json!({"spec": {"schedule": "0 0 1 1 *", "jobTemplate": {"spec": {"template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}}})
            }
            "Job" => json!({"spec": {"template": {"metadata": {"labels": {"app": name}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}),
            _ => json!({"spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
        };
        object["spec"] = body["spec"].clone();
        registry
            .create(kind, "default", object, &WriteOptions::default())
            .unwrap();
        registry.store.get(kind, "default", name).unwrap().value()
    }

    async fn wait_for(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn present(registry: &Registry, kind: &'static ResourceKind, name: &str) -> bool {
        registry.store.get(kind, "default", name).is_some()
    }

    #[tokio::test]
    async fn an_owner_deleted_in_the_background_takes_its_dependents() {
        let registry = registry();
        let tasks = start(registry.clone());
        // Let the collector's watches begin before anything changes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let cronjob = create(&registry, resources::cronjobs(), "nightly", None);
        create(&registry, resources::jobs(), "nightly-1", Some(&cronjob));
        let deployment = create(&registry, resources::deployments(), "web", None);
        create(
            &registry,
            resources::replicasets(),
            "web-1",
            Some(&deployment),
        );
        create(&registry, resources::replicasets(), "unowned", None);
        for (kind, name) in [
            (resources::cronjobs(), "nightly"),
            (resources::deployments(), "web"),
        ] {
            registry
                .delete(kind, "default", name, &DeleteOptions::default())
                .unwrap();
        }
        wait_for("the Job and the ReplicaSet to go", || {
            !present(&registry, resources::jobs(), "nightly-1")
                && !present(&registry, resources::replicasets(), "web-1")
        })
        .await;
        assert!(present(&registry, resources::replicasets(), "unowned"));
        tasks.iter().for_each(JoinHandle::abort);
    }

    #[tokio::test]
    async fn a_foreground_deletion_waits_for_the_dependents_and_an_orphaning_one_keeps_them() {
        let registry = registry();
        let tasks = start(registry.clone());
        // Let the collector's watches begin before anything changes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let deployment = create(&registry, resources::deployments(), "web", None);
        create(
            &registry,
            resources::replicasets(),
            "web-1",
            Some(&deployment),
        );
        let foreground = DeleteOptions {
            propagation_policy: Some("Foreground".into()),
            ..DeleteOptions::default()
        };
        registry
            .delete(resources::deployments(), "default", "web", &foreground)
            .unwrap();
        // The ReplicaSet goes first (its own foreground finalizer taken off, as it owns no
        // pods here), then the Deployment's finalizer comes off and it goes too.
        wait_for("the Deployment to go after its ReplicaSet", || {
            !present(&registry, resources::deployments(), "web")
        })
        .await;
        assert!(!present(&registry, resources::replicasets(), "web-1"));

        let deployment = create(&registry, resources::deployments(), "api", None);
        create(
            &registry,
            resources::replicasets(),
            "api-1",
            Some(&deployment),
        );
        let orphan = DeleteOptions {
            propagation_policy: Some("Orphan".into()),
            ..DeleteOptions::default()
        };
        registry
            .delete(resources::deployments(), "default", "api", &orphan)
            .unwrap();
        wait_for("the Deployment to go", || {
            !present(&registry, resources::deployments(), "api")
        })
        .await;
        let kept = registry
            .store
            .get(resources::replicasets(), "default", "api-1")
            .unwrap()
            .value();
        assert!(
            kept["metadata"]["ownerReferences"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        tasks.iter().for_each(JoinHandle::abort);
    }
}
