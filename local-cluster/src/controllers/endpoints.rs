//! Endpoints and EndpointSlices from the pods each Service selects: ready pods serve, pods that
//! are not ready are listed as such, terminating pods leave at once (before their kubelet stops
//! them, so a rolling update drops no request).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::{ObjectRef, WorkQueue, follow, owner_reference, worker};
use crate::controllers::replicaset::is_ready;
use crate::errors::report;
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources;

/// The label EndpointSlices carry to name their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    let queue: Arc<WorkQueue<ObjectRef>> = Arc::default();
    let store = registry.store.clone();
    let from_services = queue.clone();
    let from_pods = queue.clone();
    let pod_store = store.clone();
    vec![
        follow(store.clone(), resources::services(), move |change| {
            from_services.push((
                change.object.index.namespace.clone(),
                change.object.index.name.clone(),
            ));
        }),
        follow(store, resources::pods(), move |change| {
            // Readiness and termination live outside the selector index, so any pod change can
            // move it in or out; a namespace has few Services to look at.
            let namespace = &change.object.index.namespace;
            for service in pod_store
                .list(resources::services(), Some(namespace), |_| true, 0, None)
                .items
            {
                from_pods.push((namespace.clone(), service.index.name.clone()));
            }
        }),
        worker(queue, move |key| {
            let registry = registry.clone();
            async move { reconcile(&registry, key) }
        }),
    ]
}

/// Ready addresses, not-ready addresses and ports of one Endpoints subset.
type Subset = (Vec<Value>, Vec<Value>, Vec<Value>);

/// The port a Service port targets on `pod`: a number, or a container port by name.
fn target_port(service_port: &Value, pod: &Value) -> Option<i64> {
    match &service_port["targetPort"] {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_i64()),
        _ => service_port["port"].as_i64(),
    }
}

fn reconcile(registry: &Registry, (namespace, name): ObjectRef) {
    let Some(service) = registry.store.get(resources::services(), &namespace, &name) else {
        report(
            "delete",
            registry.delete(
                resources::endpoints(),
                &namespace,
                &name,
                &DeleteOptions::default(),
            ),
        );
        return;
    };
    let service = service.value();
    let Some(selector) = service["spec"]["selector"]
        .as_object()
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let wanted: BTreeMap<String, String> = selector
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let pods: Vec<Value> = registry
        .store
        .list(
            resources::pods(),
            Some(&namespace),
            |index| wanted.iter().all(|(k, v)| index.labels.get(k) == Some(v)),
            0,
            None,
        )
        .items
        .iter()
        .map(|s| s.value())
        .filter(|p| {
            p["status"]["podIP"]
                .as_str()
                .is_some_and(|ip| !ip.is_empty())
        })
        .collect();
    let ports = service["spec"]["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default();

    // Endpoints: one subset per distinct resolved port list.
    let mut subsets: BTreeMap<String, Subset> = BTreeMap::new();
    let mut slice_endpoints = Vec::new();
    let mut slice_ports: Option<Vec<Value>> = None;
    for pod in &pods {
        let terminating = pod["metadata"]["deletionTimestamp"].is_string();
        let ready = is_ready(pod) && !terminating;
        let resolved: Vec<Value> = ports
            .iter()
            .filter_map(|p| {
                target_port(p, pod).map(|port| {
                    let mut entry =
                        json!({"port": port, "protocol": p["protocol"].as_str().unwrap_or("TCP")});
                    if let Some(n) = p["name"].as_str() {
                        entry["name"] = json!(n);
                    }
                    entry
                })
            })
            .collect();
        let address = json!({
            "ip": pod["status"]["podIP"],
            "nodeName": pod["spec"]["nodeName"],
            "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
        });
        slice_endpoints.push(json!({
            "addresses": [pod["status"]["podIP"]],
            "conditions": {"ready": ready, "serving": is_ready(pod), "terminating": terminating},
            "nodeName": pod["spec"]["nodeName"],
            "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
        }));
        slice_ports.get_or_insert_with(|| resolved.clone());
        if terminating {
            continue;
        }
        let entry = subsets
            .entry(Value::Array(resolved.clone()).to_string())
            .or_insert_with(|| (Vec::new(), Vec::new(), resolved));
        if ready {
            entry.0.push(address);
        } else {
            entry.1.push(address);
        }
    }
    let subsets: Vec<Value> = subsets
        .into_values()
        .map(|(ready, not_ready, ports)| {
            let mut subset = json!({"ports": ports});
            if !ready.is_empty() {
                subset["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                subset["notReadyAddresses"] = json!(not_ready);
            }
            subset
        })
        .collect();
    let mut endpoints = json!({
        "metadata": {"name": name, "namespace": namespace, "labels": service["metadata"]["labels"]},
    });
    if !subsets.is_empty() {
        endpoints["subsets"] = json!(subsets);
    }
    let internal = WriteOptions::default();
    let replaced = registry.update_with(
        resources::endpoints(),
        &namespace,
        &name,
        Part::Main,
        &internal,
        |old| {
            let mut next = old.clone();
            next["subsets"] = endpoints["subsets"].clone();
            next["metadata"]["labels"] = endpoints["metadata"]["labels"].clone();
            Ok(next)
        },
    );
    if replaced.is_err() {
        report(
            "create",
            registry.create(resources::endpoints(), &namespace, endpoints, &internal),
        );
    }

    // One EndpointSlice per Service, found by its label.
    let mut labels = service["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    labels.insert(SERVICE_NAME_LABEL.into(), json!(name));
    labels.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        json!("endpointslice-controller.k8s.io"),
    );
    let slice_ports: Vec<Value> = slice_ports.unwrap_or_else(|| {
        ports
            .iter()
            .map(|p| json!({"name": p["name"], "port": p["targetPort"].as_i64().or(p["port"].as_i64()), "protocol": p["protocol"]}))
            .collect()
    });
    let existing = registry
        .store
        .list(
            resources::endpointslices(),
            Some(&namespace),
            |index| index.labels.get(SERVICE_NAME_LABEL) == Some(&name),
            0,
            None,
        )
        .items
        .into_iter()
        .next();
    match existing {
        Some(slice) => {
            report(
                "update",
                registry.update_with(
                    resources::endpointslices(),
                    &namespace,
                    &slice.index.name,
                    Part::Main,
                    &internal,
                    |old| {
                        let mut next = old.clone();
                        next["endpoints"] = json!(slice_endpoints);
                        next["ports"] = json!(slice_ports);
                        next["metadata"]["labels"] = Value::Object(labels);
                        Ok(next)
                    },
                ),
            );
        }
        None => {
            let slice = json!({
                "metadata": {
                    "generateName": format!("{name}-"),
                    "namespace": namespace,
                    "labels": labels,
                    "ownerReferences": [owner_reference(resources::services(), &service)],
                },
                "addressType": "IPv4",
                "endpoints": slice_endpoints,
                "ports": slice_ports,
            });
            report(
                "create",
                registry.create(resources::endpointslices(), &namespace, slice, &internal),
            );
        }
    }
}
