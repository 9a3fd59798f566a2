//! Endpoints and EndpointSlices from the pods each Service selects: ready pods serve, pods that
//! are not ready are listed as such, terminating pods leave at once (before their kubelet stops
//! them, so a rolling update drops no request).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::runtime::{Action, Context, Controller, Reconciled};
use super::{ObjectRef, owner_reference};
use crate::controllers::replicaset::is_ready;
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;

/// The label EndpointSlices carry to name their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    Controller::new(registry, resources::services(), "endpoint-controller")
        // Readiness and termination live outside the selector index, so any pod change can
        // move it in or out; a namespace has few Services to look at.
        .watches(resources::pods(), |registry, change| {
            let namespace = &change.object.index.namespace;
            registry
                .store
                .list(resources::services(), Some(namespace), |_| true, 0, None)
                .items
                .iter()
                .map(|service| (namespace.clone(), service.index.name.clone()))
                .collect()
        })
        // Endpoints carry no owner reference (as on a real cluster): they go with their
        // Service here. EndpointSlices are owned and go with the garbage collector.
        .on_gone(|context, (namespace, name)| {
            context.delete_if_present(resources::endpoints(), namespace, name)?;
            Ok(Action::await_change())
        })
        .run(reconcile)
        .tasks
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

fn reconcile(context: &Context, (namespace, name): &ObjectRef, service: &Value) -> Reconciled {
    let registry = context.registry.as_ref();
    let (namespace, name) = (namespace.as_str(), name.as_str());
    let Some(selector) = service["spec"]["selector"]
        .as_object()
        .filter(|s| !s.is_empty())
    else {
        // No selector: the Service's endpoints are the user's to write.
        return Ok(Action::await_change());
    };
    let wanted: BTreeMap<String, String> = selector
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let pods: Vec<Value> = registry
        .store
        .list(
            resources::pods(),
            Some(namespace),
            |index| {
                wanted
                    .iter()
                    .all(|(k, v)| index.labels.get(k) == Some(v.as_str()))
            },
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
        namespace,
        name,
        Part::Main,
        &internal,
        |old| {
            let mut next = old.clone();
            next["subsets"] = endpoints["subsets"].clone();
            next["metadata"]["labels"] = endpoints["metadata"]["labels"].clone();
            Ok(next)
        },
    );
    match replaced {
        Err(e) if e.code == 404 => {
            registry.create(resources::endpoints(), namespace, endpoints, &internal)?;
        }
        Err(e) => return Err(e),
        Ok(_) => {}
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
            Some(namespace),
            |index| index.labels.get(SERVICE_NAME_LABEL) == Some(name),
            0,
            None,
        )
        .items
        .into_iter()
        .next();
    match existing {
        Some(slice) => {
            registry.update_with(
                resources::endpointslices(),
                namespace,
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
            )?;
        }
        None => {
            let slice = json!({
                "metadata": {
                    "generateName": format!("{name}-"),
                    "namespace": namespace,
                    "labels": labels,
                    "ownerReferences": [owner_reference(resources::services(), service)],
                },
                "addressType": "IPv4",
                "endpoints": slice_endpoints,
                "ports": slice_ports,
            });
            registry.create(resources::endpointslices(), namespace, slice, &internal)?;
        }
    }
    Ok(Action::await_change())
}
