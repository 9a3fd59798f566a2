//! Namespace deletion: everything inside a terminating namespace is deleted, then the namespace's
//! `kubernetes` finalizer is removed and it goes away.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::ObjectRef;
use super::runtime::{Action, Context, Controller, Reconciled};
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;

/// How often a terminating namespace is looked at while its objects go.
const DRAIN_POLL: Duration = Duration::from_millis(200);

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    Controller::new(registry, resources::namespaces(), "namespace-controller")
        .run(reconcile)
        .tasks
}

fn reconcile(context: &Context, (_, namespace): &ObjectRef, object: &Value) -> Reconciled {
    if object["metadata"]["deletionTimestamp"].is_null() {
        return Ok(Action::await_change());
    }
    let registry = &context.registry;
    let mut remaining = 0;
    // A kind seen through another version is deleted through its stored kind.
    // A custom kind's versions share one collection: its first served version stands for it.
    let kinds = registry.custom.all_kinds();
    let mut seen_slots = Vec::new();
    for kind in kinds.into_iter().filter(|k| {
        k.namespaced
            && std::ptr::eq(resources::stored_as(k), *k)
            && k.custom_slot.is_none_or(|slot| {
                let first = !seen_slots.contains(&slot);
                seen_slots.push(slot);
                first
            })
    }) {
        for item in registry
            .store
            .list(kind, Some(namespace), |_| true, 0, None)
            .items
        {
            remaining += 1;
            if item.value()["metadata"]["deletionTimestamp"].is_null() {
                context.delete_if_present(kind, namespace, &item.index.name)?;
            }
        }
    }
    if remaining > 0 {
        // Objects with finalizers or running pods take a while; look again soon.
        return Ok(Action::requeue(DRAIN_POLL));
    }
    registry.update_with(
        resources::namespaces(),
        "",
        namespace,
        Part::Main,
        &WriteOptions::default(),
        |old| {
            let mut next = old.clone();
            next["spec"]["finalizers"] = json!([]);
            Ok(next)
        },
    )?;
    Ok(Action::await_change())
}
