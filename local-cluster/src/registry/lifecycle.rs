//! The lifecycle rules as pure functions of the objects involved: what a create fills in and
//! checks, which fields may not change, whether a delete removes at once or marks (graceful
//! pods, finalizers, propagation), when a marked object is finally gone, and which kinds keep
//! a generation.

use std::sync::Arc;

use serde_json::{Value, json};

use super::options::DeleteOptions;
use crate::clock::now;
use crate::defaults;
use crate::errors::{ApiError, FieldError};
use crate::resources::ResourceKind;
use crate::store::Stored;
use crate::validation;

/// What a delete does to an object.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DeletionPlan {
    /// Remove it now.
    Now,
    /// Mark it (`deletionTimestamp`), adding the propagation policy's finalizer, and, for a
    /// running pod, the grace period its kubelet has to stop it.
    Mark {
        finalizer: Option<&'static str>,
        grace: Option<i64>,
    },
}

/// What deleting `object` with `options` does.
pub(super) fn deletion_plan(
    kind: &ResourceKind,
    object: &Value,
    options: &DeleteOptions,
) -> DeletionPlan {
    let has_finalizers = object["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    let finalizer = match options.propagation_policy.as_deref() {
        Some("Orphan") => Some("orphan"),
        Some("Foreground") => Some("foregroundDeletion"),
        _ => None,
    };
    if kind.kind == "Namespace" {
        return DeletionPlan::Mark {
            finalizer: None,
            grace: None,
        };
    }
    // A definition goes only after its objects: the real server adds this finalizer on
    // delete, and the definitions controller removes it once the objects are gone.
    if kind.kind == "CustomResourceDefinition" && kind.group == "apiextensions.k8s.io" {
        return DeletionPlan::Mark {
            finalizer: Some(crate::custom_resources::CLEANUP_FINALIZER),
            grace: None,
        };
    }
    if kind.kind == "Pod"
        && object["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    {
        let phase = object["status"]["phase"].as_str().unwrap_or_default();
        let grace = options
            .grace_period_seconds
            .or_else(|| object["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30);
        // A bound, still-running pod is stopped by its kubelet, which then deletes it.
        if grace > 0 && !matches!(phase, "Succeeded" | "Failed") {
            return DeletionPlan::Mark {
                finalizer,
                grace: Some(grace),
            };
        }
    }
    if has_finalizers || finalizer.is_some() {
        DeletionPlan::Mark {
            finalizer,
            grace: None,
        }
    } else {
        DeletionPlan::Now
    }
}

/// An object marked for deletion whose finalizers are all gone is removed. A pod is removed by
/// its kubelet first (grace period 0); a namespace also waits for its spec finalizers.
pub(super) fn finalized(object: &Value) -> bool {
    let marked = object["metadata"]["deletionTimestamp"].is_string();
    let empty = |v: &Value| v.as_array().is_none_or(|f| f.is_empty());
    let no_finalizers = empty(&object["metadata"]["finalizers"]);
    match object["kind"].as_str() {
        Some("Pod") => {
            marked
                && no_finalizers
                && object["metadata"]["deletionGracePeriodSeconds"].as_i64() == Some(0)
        }
        Some("Namespace") => marked && no_finalizers && empty(&object["spec"]["finalizers"]),
        _ => marked && no_finalizers,
    }
}

/// Whether anything outside metadata and status changed.
pub(super) fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}

/// Refuses an update that changes a field the kind does not let change.
pub(super) fn check_immutable(
    kind: &ResourceKind,
    old: &Value,
    new: &Value,
) -> Result<(), ApiError> {
    let name = old["metadata"]["name"].as_str().unwrap_or_default();
    let immutable = |path: &str, field: &str| -> Result<(), ApiError> {
        if old.pointer(path) != new.pointer(path) {
            return Err(ApiError::invalid(
                kind,
                name,
                &[FieldError::invalid(
                    field,
                    rendered(new.pointer(path)),
                    "field is immutable",
                )],
            ));
        }
        Ok(())
    };
    match (kind.group, kind.kind) {
        ("apps", "Deployment") | ("apps", "ReplicaSet") => {
            immutable("/spec/selector", "spec.selector")
        }
        ("", "Pod") => {
            // Only images, activeDeadlineSeconds, tolerations additions and scheduling gates may change.
            let mask = |v: &Value| {
                let mut spec = v["spec"].clone();
                for list in ["containers", "initContainers"] {
                    if let Some(cs) = spec[list].as_array_mut() {
                        for c in cs {
                            c["image"] = Value::Null;
                        }
                    }
                }
                for key in [
                    "activeDeadlineSeconds",
                    "tolerations",
                    "schedulingGates",
                    "terminationGracePeriodSeconds",
                ] {
                    spec[key] = Value::Null;
                }
                if old["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
                    spec["nodeName"] = Value::Null;
                }
                spec
            };
            if mask(old) != mask(new) {
                return Err(ApiError::invalid(
                    kind,
                    name,
                    &[FieldError::forbidden(
                        "spec",
                        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
                    )],
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn rendered(v: Option<&Value>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "null".into())
}

/// Fills in what the server owns on create and checks the name and namespace.
pub(super) fn prepare_create(
    kind: &'static ResourceKind,
    namespace: &str,
    object: &mut Value,
) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    }
    if object["metadata"].is_null() {
        object["metadata"] = json!({});
    }
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if name.is_empty()
        && let Some(prefix) = object["metadata"]["generateName"].as_str()
    {
        let generated = format!("{prefix}{}", random_suffix());
        object["metadata"]["name"] = json!(generated);
    }
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if kind.namespaced {
        match object["metadata"]["namespace"].as_str() {
            Some(ns) if !ns.is_empty() && ns != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => object["metadata"]["namespace"] = json!(namespace),
        }
    } else if let Some(m) = object["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    if let Some(map) = object.as_object_mut() {
        map.retain(|_, v| !v.is_null());
        map.insert("apiVersion".into(), json!(kind.api_version()));
        map.insert("kind".into(), json!(kind.kind));
    }
    let meta = object["metadata"]
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    meta.retain(|_, v| !v.is_null());
    for key in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(key);
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now()));
    if has_generation(kind) {
        meta.insert("generation".into(), json!(1));
    } else if meta.get("generation") == Some(&json!(0)) {
        // A Protobuf body carries an unset generation as 0, which the real server's JSON leaves
        // out (`omitempty`).
        meta.remove("generation");
    }
    defaults::apply(kind, object);
    validation::validate(kind, object)?;
    let _ = name;
    Ok(())
}

/// Kinds whose spec changes bump `metadata.generation`: custom kinds and their definitions
/// too, as on a real server.
pub(super) fn has_generation(kind: &ResourceKind) -> bool {
    kind.is_custom()
        || kind.kind == "CustomResourceDefinition"
        || matches!(
            kind.kind,
            "Deployment"
                | "ReplicaSet"
                | "ReplicationController"
                | "StatefulSet"
                | "DaemonSet"
                | "Pod"
                | "Service"
                | "Job"
                | "CronJob"
                | "PodDisruptionBudget"
                | "Ingress"
                | "IngressClass"
                | "NetworkPolicy"
        )
}

/// The 5 characters the real server appends to generateName.
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let random = uuid::Uuid::new_v4();
    random.as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// A result that was not stored (dry run): serialized as-is with the given revision.
pub(super) fn unsaved(kind: &'static ResourceKind, value: Value, revision: u64) -> Stored {
    Stored {
        index: Arc::new(crate::store::ObjectIndex::of(kind, &value)),
        json: bytes::Bytes::from(serde_json::to_vec(&value).unwrap_or_default()),
        revision,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use super::*;
    use crate::resources;

    fn options(policy: Option<&str>, grace: Option<i64>) -> DeleteOptions {
        DeleteOptions {
            propagation_policy: policy.map(str::to_owned),
            grace_period_seconds: grace,
            ..DeleteOptions::default()
        }
    }

    #[test]
    fn a_delete_removes_at_once_unless_something_must_happen_first() {
        let pods = resources::pods();
        let plain = json!({"metadata": {"name": "a"}});
        assert_eq!(
            deletion_plan(resources::configmaps(), &plain, &options(None, None)),
            DeletionPlan::Now
        );
        // Finalizers, or a propagation policy that needs one, mark instead.
        let held = json!({"metadata": {"name": "a", "finalizers": ["example.com/hold"]}});
        assert_eq!(
            deletion_plan(resources::configmaps(), &held, &options(None, None)),
            DeletionPlan::Mark {
                finalizer: None,
                grace: None
            }
        );
        assert_eq!(
            deletion_plan(
                resources::deployments(),
                &plain,
                &options(Some("Foreground"), None)
            ),
            DeletionPlan::Mark {
                finalizer: Some("foregroundDeletion"),
                grace: None
            }
        );
        assert_eq!(
            deletion_plan(
                resources::deployments(),
                &plain,
                &options(Some("Orphan"), None)
            ),
            DeletionPlan::Mark {
                finalizer: Some("orphan"),
                grace: None
            }
        );
        // A running pod on a node gets its grace period (the pod's own, or the request's).
        let running = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 45}, "status": {"phase": "Running"}});
        assert_eq!(
            deletion_plan(pods, &running, &options(None, None)),
            DeletionPlan::Mark {
                finalizer: None,
                grace: Some(45)
            }
        );
        assert_eq!(
            deletion_plan(pods, &running, &options(None, Some(0))),
            DeletionPlan::Now
        );
        // Unscheduled or finished pods have nothing to stop.
        let pending =
            json!({"metadata": {"name": "p"}, "spec": {}, "status": {"phase": "Pending"}});
        assert_eq!(
            deletion_plan(pods, &pending, &options(None, None)),
            DeletionPlan::Now
        );
        let done = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}});
        assert_eq!(
            deletion_plan(pods, &done, &options(None, None)),
            DeletionPlan::Now
        );
        // A namespace always goes through its controller.
        assert_eq!(
            deletion_plan(resources::namespaces(), &plain, &options(None, None)),
            DeletionPlan::Mark {
                finalizer: None,
                grace: None
            }
        );
    }

    #[test]
    fn a_marked_object_goes_once_nothing_holds_it() {
        let marked = |extra: Value| {
            let mut o = json!({"kind": "ConfigMap", "metadata": {"deletionTimestamp": "2026-11-26T10:00:00Z"}});
            if let (Some(o), Some(extra)) = (o.as_object_mut(), extra.as_object()) {
                for (k, v) in extra {
                    o.insert(k.clone(), v.clone());
                }
            }
            o
        };
        assert!(finalized(&marked(json!({}))));
        assert!(!finalized(&json!({"kind": "ConfigMap", "metadata": {}})));
        assert!(!finalized(
            &json!({"kind": "ConfigMap", "metadata": {"deletionTimestamp": "2026-11-26T10:00:00Z", "finalizers": ["x"]}})
        ));
        // A pod waits for its kubelet (grace period 0), a namespace for its spec finalizers.
        let pod = json!({"kind": "Pod", "metadata": {"deletionTimestamp": "t", "deletionGracePeriodSeconds": 30}});
        assert!(!finalized(&pod));
        let stopped = json!({"kind": "Pod", "metadata": {"deletionTimestamp": "t", "deletionGracePeriodSeconds": 0}});
        assert!(finalized(&stopped));
        let namespace = json!({"kind": "Namespace", "metadata": {"deletionTimestamp": "t"}, "spec": {"finalizers": ["kubernetes"]}});
        assert!(!finalized(&namespace));
    }

    #[test]
    fn selectors_and_most_of_a_pods_spec_may_not_change() {
        let deployments = resources::deployments();
        let old = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}}, "replicas": 1}});
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(3);
        assert!(check_immutable(deployments, &old, &scaled).is_ok());
        let mut reselected = old.clone();
        reselected["spec"]["selector"]["matchLabels"]["app"] = json!("b");
        let e = check_immutable(deployments, &old, &reselected).unwrap_err();
        assert!(e.message.contains("spec.selector"), "{}", e.message);
        assert!(e.message.contains("field is immutable"), "{}", e.message);

        let pods = resources::pods();
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "a:1"}], "nodeName": "n1"}});
        let mut new_image = pod.clone();
        new_image["spec"]["containers"][0]["image"] = json!("a:2");
        assert!(check_immutable(pods, &pod, &new_image).is_ok());
        let mut new_port = pod.clone();
        new_port["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80}]);
        let e = check_immutable(pods, &pod, &new_port).unwrap_err();
        assert!(
            e.message.contains("pod updates may not change fields"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_create_fills_in_what_the_server_owns() {
        let mut object = json!({"metadata": {"generateName": "web-", "resourceVersion": "7", "uid": "mine"}, "data": {"k": "v"}});
        prepare_create(resources::configmaps(), "default", &mut object).unwrap();
        let meta = &object["metadata"];
        let name = meta["name"].as_str().unwrap();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        assert_eq!(meta["namespace"], "default");
        assert_ne!(meta["uid"], "mine");
        assert!(meta["resourceVersion"].is_null());
        assert!(meta["creationTimestamp"].is_string());
        assert!(
            meta["generation"].is_null(),
            "ConfigMaps keep no generation"
        );
        assert_eq!(
            (object["apiVersion"].as_str(), object["kind"].as_str()),
            (Some("v1"), Some("ConfigMap"))
        );
        // The namespace in the body must be the request's.
        let mut elsewhere = json!({"metadata": {"name": "x", "namespace": "other"}});
        assert!(prepare_create(resources::configmaps(), "default", &mut elsewhere).is_err());
        // Kinds with a spec their controllers observe start at generation 1.
        assert!(
            has_generation(resources::deployments()) && has_generation(resources::daemonsets())
        );
        assert!(!spec_changed(
            &json!({"spec": {"a": 1}, "status": {"b": 1}}),
            &json!({"spec": {"a": 1}, "status": {"b": 2}})
        ));
        assert!(spec_changed(
            &json!({"spec": {"a": 1}}),
            &json!({"spec": {"a": 2}})
        ));
    }
}
