//! CustomResourceDefinitions: a definition's kinds are served once its names are accepted (its
//! `NamesAccepted` and `Established` conditions say so), and a deleted definition first loses
//! its objects, then its finalizer, then goes, as the real server's controllers do it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::ObjectRef;
use super::runtime::{Action, Context, Controller, Reconciled};
use crate::clock::now;
use crate::custom_resources::CLEANUP_FINALIZER;
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;

/// How often a terminating definition is looked at while its objects go.
const DRAIN_POLL: Duration = Duration::from_millis(200);

/// How long a terminating definition's API stays served before its objects are deleted, so
/// that requests already under way finish (the real server drains a definition's requests
/// before removing its storage). It also keeps a deletion from being over before a client that
/// deleted it has started watching for the end, as clients written against real servers do.
const DRAIN_REQUESTS: Duration = Duration::from_secs(1);

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    let draining = Draining::default();
    Controller::new(
        registry,
        resources::customresourcedefinitions(),
        "apiextensions-controller",
    )
    .on_gone(|context, (_, name)| {
        // Gone without its cleanup (its finalizer removed by hand): stop serving it anyway.
        context.registry.custom.withdraw(name);
        look_again_at_the_others(context, name);
        Ok(Action::await_change())
    })
    .run(move |context, key, definition| reconcile(context, key, definition, &draining))
    .tasks
}

/// When each terminating definition (by uid) began to drain.
type Draining = Mutex<HashMap<String, Instant>>;

fn reconcile(
    context: &Context,
    (_, name): &ObjectRef,
    definition: &Value,
    draining: &Draining,
) -> Reconciled {
    if definition["metadata"]["deletionTimestamp"].is_string() {
        let uid = definition["metadata"]["uid"].as_str().unwrap_or_default();
        let since = *draining
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(uid.to_owned())
            .or_insert_with(Instant::now);
        let drained_for = since.elapsed();
        if drained_for < DRAIN_REQUESTS {
            mark_terminating(context, definition)?;
            return Ok(Action::requeue(DRAIN_REQUESTS - drained_for));
        }
        let outcome = clean_up(context, name);
        if matches!(outcome, Ok(ref action) if *action == Action::await_change()) {
            draining
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(uid);
        }
        return outcome;
    }
    let registry = &context.registry;
    let status = match registry.custom.establish(&registry.store, definition) {
        Ok(()) => status(
            definition,
            &definition["spec"]["names"],
            [
                ("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                (
                    "Established",
                    "True",
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                ),
            ],
        ),
        Err(conflict) => {
            // The names already accepted stay; none when it never was.
            let accepted = definition["status"]["acceptedNames"].clone();
            status(
                definition,
                &accepted,
                [
                    ("NamesAccepted", "False", conflict.reason, &conflict.message),
                    (
                        "Established",
                        "False",
                        "NotAccepted",
                        "not all names are accepted",
                    ),
                ],
            )
        }
    };
    context.write_status(definition, status)?;
    Ok(Action::await_change())
}

/// The definition's status with these conditions: a condition whose status did not change
/// keeps its transition time, so a status already current is not written again.
fn status(
    definition: &Value,
    accepted: &Value,
    conditions: [(&str, &str, &str, &str); 2],
) -> Value {
    let old = &definition["status"];
    let conditions: Vec<Value> = conditions
        .iter()
        .map(|(kind, state, reason, message)| {
            let previous = old["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == *kind && c["status"] == *state);
            let since = previous
                .map(|c| c["lastTransitionTime"].clone())
                .unwrap_or_else(|| json!(now()));
            json!({"type": kind, "status": state, "lastTransitionTime": since, "reason": reason, "message": message})
        })
        .collect();
    let mut stored: Vec<Value> = old["storedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for version in definition["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if version["storage"] == true && !stored.contains(&version["name"]) {
            stored.push(version["name"].clone());
        }
    }
    json!({"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored})
}

/// Queues every other definition: one refused for names this one held may now be accepted.
fn look_again_at_the_others(context: &Context, name: &str) {
    let definitions = resources::customresourcedefinitions();
    for other in context
        .registry
        .store
        .list(definitions, None, |i| i.name != name, 0, None)
        .items
    {
        context
            .queue
            .push((String::new(), other.index.name.clone()));
    }
}

/// Says on a deleted definition that its objects are going (once).
fn mark_terminating(context: &Context, definition: &Value) -> Result<(), crate::errors::ApiError> {
    let terminating = definition["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Terminating");
    if terminating {
        return Ok(());
    }
    let mut status = definition["status"].clone();
    let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    conditions.push(json!({"type": "Terminating", "status": "True", "lastTransitionTime": now(),
        "reason": "InstanceDeletionInProgress", "message": "CustomResource deletion is in progress"}));
    status["conditions"] = json!(conditions);
    context.write_status(definition, status)
}

/// A deleted definition: its objects are deleted, then its finalizer removed (and it goes).
fn clean_up(context: &Context, name: &str) -> Reconciled {
    let registry = &context.registry;
    let served = registry.custom.served();
    let kind = served
        .iter()
        .filter(|s| s.definition == name)
        .map(|s| s.kind)
        .next();
    let mut remaining = 0;
    if let Some(kind) = kind {
        for item in registry.store.list(kind, None, |_| true, 0, None).items {
            remaining += 1;
            if item.value()["metadata"]["deletionTimestamp"].is_null() {
                context.delete_if_present(kind, &item.index.namespace, &item.index.name)?;
            }
        }
    }
    if remaining > 0 {
        // Objects with finalizers take a while; look again soon.
        return Ok(Action::requeue(DRAIN_POLL));
    }
    registry.custom.withdraw(name);
    look_again_at_the_others(context, name);
    registry.update_with(
        resources::customresourcedefinitions(),
        "",
        name,
        Part::Main,
        &WriteOptions::default(),
        |old| {
            let mut next = old.clone();
            let finalizers: Vec<Value> = old["metadata"]["finalizers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| *f != CLEANUP_FINALIZER)
                .cloned()
                .collect();
            next["metadata"]["finalizers"] = json!(finalizers);
            Ok(next)
        },
    )?;
    Ok(Action::await_change())
}
