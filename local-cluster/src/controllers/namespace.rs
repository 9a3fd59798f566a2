//! Namespace deletion: everything inside a terminating namespace is deleted, then the namespace's
//! `kubernetes` finalizer is removed and it goes away.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;

use super::follow;
use crate::errors::report;
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources::{self, RESOURCES};

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    let terminating: Arc<Mutex<HashSet<String>>> = Arc::default();
    let store = registry.store.clone();
    vec![follow(store, resources::namespaces(), move |change| {
        let namespace = change.object.value();
        if namespace["metadata"]["deletionTimestamp"].is_null() {
            return;
        }
        let name = change.object.index.name.clone();
        if !terminating
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone())
        {
            return;
        }
        let registry = registry.clone();
        let terminating = terminating.clone();
        tokio::spawn(async move {
            drain(&registry, &name).await;
            terminating
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name);
        });
    })]
}

async fn drain(registry: &Registry, namespace: &str) {
    loop {
        let mut remaining = 0;
        // A kind seen through another version is deleted through its stored kind.
        for kind in RESOURCES
            .iter()
            .filter(|k| k.namespaced && std::ptr::eq(crate::resources::stored_as(k), *k))
        {
            for item in registry
                .store
                .list(kind, Some(namespace), |_| true, 0, None)
                .items
            {
                remaining += 1;
                if item.value()["metadata"]["deletionTimestamp"].is_null() {
                    report(
                        "delete",
                        registry.delete(
                            kind,
                            namespace,
                            &item.index.name,
                            &DeleteOptions::default(),
                        ),
                    );
                }
            }
        }
        if remaining == 0 {
            report(
                "update",
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
                ),
            );
            return;
        }
        if registry
            .store
            .get(resources::namespaces(), "", namespace)
            .is_none()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
