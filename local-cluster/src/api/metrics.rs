//! Resource usage, as metrics-server and the kubelet serve it: `metrics.k8s.io/v1beta1`
//! NodeMetrics and PodMetrics (`kubectl top nodes|pods`), and a node's
//! `/api/v1/nodes/NAME/proxy/stats/summary`.
//!
//! A container that runs as a process reports what `/proc` says of it (see
//! `kubelet::usage`); a simulated one a small, steady figure. A node's usage is the sum of its
//! running pods' (the host's own processes are not the node's here).

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use std::collections::{BTreeMap, HashMap};

use super::{ApiState, Target, json_response};
use crate::clock::now;
use crate::errors::ApiError;
use crate::kubelet::Usage;
use crate::kubelet::usage::SIMULATED;
use crate::resources;
use crate::selectors::LabelSelector;
use crate::store::{ObjectIndex, Stored};

/// The window metrics-server averages over.
const WINDOW: &str = "15s";

const API_VERSION: &str = "metrics.k8s.io/v1beta1";

/// `GET` of `metrics.k8s.io/v1beta1` nodes or pods, one or a list.
pub(super) fn serve(
    state: &ApiState,
    target: &Target,
    method: &Method,
    query: &HashMap<String, String>,
) -> Response {
    answer(state, target, method, query).unwrap_or_else(IntoResponse::into_response)
}

fn answer(
    state: &ApiState,
    target: &Target,
    method: &Method,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let watching = super::go_bool(query.get("watch").map(String::as_str));
    if *method != Method::GET || watching {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            if watching { "WATCH" } else { method.as_str() }
        )));
    }
    let selector = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
        .map_err(|e| ApiError::bad_request(e.0))?;
    let nodes = target.kind.kind == "NodeMetrics";
    let items: Vec<Value> = if nodes {
        node_metrics(state)
            .into_iter()
            .filter(|(labels, _)| selector.matches(labels))
            .map(|(_, v)| v)
            .collect()
    } else {
        pod_metrics(state, target.namespace.as_deref())
            .into_iter()
            .filter(|(labels, _)| selector.matches(labels))
            .map(|(_, v)| v)
            .collect()
    };
    if let Some(name) = &target.name {
        let found = items
            .into_iter()
            .find(|m| m["metadata"]["name"] == name.as_str())
            .ok_or_else(|| ApiError::not_found(target.kind, name))?;
        return Ok(json_response(StatusCode::OK, found.to_string()));
    }
    let list = json!({
        "kind": format!("{}List", target.kind.kind),
        "apiVersion": API_VERSION,
        "metadata": {},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, list.to_string()))
}

/// A running pod's containers and their usage.
type Containers = Vec<(String, Usage)>;

/// What usage needs of a stored pod, read without building the whole object: at 150,000 pods
/// parsing each into a `Value` took seconds and gigabytes per request.
#[derive(serde::Deserialize)]
struct PodContainers {
    spec: ContainerNames,
}

#[derive(serde::Deserialize)]
struct ContainerNames {
    #[serde(default)]
    containers: Vec<Named>,
}

#[derive(serde::Deserialize)]
struct Named {
    name: String,
}

/// Every running pod (in `namespace`, or all; on `node`, or any) with its containers' usage.
/// Name, namespace, node and labels come from the store's index; only the container names are
/// parsed.
fn running_pods(
    state: &ApiState,
    namespace: Option<&str>,
    node: Option<&str>,
) -> Vec<(Stored, Containers)> {
    let kind = resources::pods();
    let running = |index: &ObjectIndex| {
        index.field(kind, "status.phase") == Some("Running")
            && node.is_none_or(|n| index.field(kind, "spec.nodeName") == Some(n))
    };
    let pods = state
        .registry
        .store
        .list(kind, namespace, running, 0, None)
        .items;
    pods.into_iter()
        .map(|stored| {
            let names = serde_json::from_slice::<PodContainers>(&stored.json)
                .map(|p| p.spec.containers)
                .unwrap_or_default();
            let (ns, name) = (&stored.index.namespace, &stored.index.name);
            let containers = names
                .into_iter()
                .map(|Named { name: container }| {
                    let measured = state
                        .runtime
                        .as_ref()
                        .and_then(|r| r.usage(ns, name, &container));
                    (container, measured.unwrap_or(SIMULATED))
                })
                .collect();
            (stored, containers)
        })
        .collect()
}

fn labels_of(index: &ObjectIndex) -> BTreeMap<String, String> {
    index
        .labels
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn total(containers: &[(String, Usage)]) -> Usage {
    containers
        .iter()
        .map(|(_, u)| *u)
        .fold(Usage::default(), |a, b| a + b)
}

fn pod_metrics(
    state: &ApiState,
    namespace: Option<&str>,
) -> Vec<(BTreeMap<String, String>, Value)> {
    let at = now();
    running_pods(state, namespace, None)
        .into_iter()
        .map(|(pod, containers)| {
            let labels = labels_of(&pod.index);
            let metrics = json!({
                "kind": "PodMetrics",
                "apiVersion": API_VERSION,
                "metadata": {
                    "name": pod.index.name,
                    "namespace": pod.index.namespace,
                    "creationTimestamp": at,
                    "labels": labels,
                },
                "timestamp": at,
                "window": WINDOW,
                "containers": containers
                    .iter()
                    .map(|(name, usage)| json!({"name": name, "usage": quantities(*usage)}))
                    .collect::<Vec<_>>(),
            });
            (labels, metrics)
        })
        .collect()
}

/// Each node's usage, the sum of its running pods': one pass over the pods, not one per node.
fn node_metrics(state: &ApiState) -> Vec<(BTreeMap<String, String>, Value)> {
    let at = now();
    let kind = resources::pods();
    let mut by_node: HashMap<String, Usage> = HashMap::new();
    for (pod, containers) in running_pods(state, None, None) {
        if let Some(node) = pod
            .index
            .field(kind, "spec.nodeName")
            .filter(|n| !n.is_empty())
        {
            let sum = by_node.entry(node.to_owned()).or_default();
            *sum = *sum + total(&containers);
        }
    }
    state
        .registry
        .store
        .list(resources::nodes(), None, |_| true, 0, None)
        .items
        .into_iter()
        .map(|node| {
            let labels = labels_of(&node.index);
            let usage = by_node.get(&node.index.name).copied().unwrap_or_default();
            let metrics = json!({
                "kind": "NodeMetrics",
                "apiVersion": API_VERSION,
                "metadata": {
                    "name": node.index.name,
                    "creationTimestamp": at,
                    "labels": labels,
                },
                "timestamp": at,
                "window": WINDOW,
                "usage": quantities(usage),
            });
            (labels, metrics)
        })
        .collect()
}

/// `{"cpu": "1234567n", "memory": "5120Ki"}`, as metrics-server writes them.
fn quantities(usage: Usage) -> Value {
    json!({
        "cpu": format!("{}n", usage.cpu_nanocores),
        "memory": format!("{}Ki", usage.memory_bytes / 1024),
    })
}

/// The kubelet's `/stats/summary` of `node`: the node's and each pod's CPU and memory.
pub(super) fn summary(state: &ApiState, node: &str) -> Response {
    let at = now();
    let Some(node_object) = state.registry.store.get(resources::nodes(), "", node) else {
        return ApiError::not_found(resources::nodes(), node).into_response();
    };
    let node_object = node_object.value();
    // Only this node's pods are parsed whole (their uid and start time are reported).
    let pods: Vec<(Value, Containers)> = running_pods(state, None, Some(node))
        .into_iter()
        .map(|(stored, containers)| (stored.value(), containers))
        .collect();
    let node_total = pods
        .iter()
        .map(|(_, containers)| total(containers))
        .fold(Usage::default(), |a, b| a + b);
    let stats = |usage: Usage| {
        (
            json!({"time": at, "usageNanoCores": usage.cpu_nanocores}),
            json!({"time": at, "workingSetBytes": usage.memory_bytes, "rssBytes": usage.memory_bytes}),
        )
    };
    let (cpu, memory) = stats(node_total);
    let pods: Vec<Value> = pods
        .iter()
        .map(|(pod, containers)| {
            let (cpu, memory) = stats(total(containers));
            json!({
                "podRef": {
                    "name": pod["metadata"]["name"],
                    "namespace": pod["metadata"]["namespace"],
                    "uid": pod["metadata"]["uid"],
                },
                "startTime": pod["status"]["startTime"],
                "containers": containers.iter().map(|(name, usage)| {
                    let (cpu, memory) = stats(*usage);
                    json!({"name": name, "startTime": pod["status"]["startTime"], "cpu": cpu, "memory": memory})
                }).collect::<Vec<_>>(),
                "cpu": cpu,
                "memory": memory,
            })
        })
        .collect();
    let body = json!({
        "node": {
            "nodeName": node_object["metadata"]["name"],
            "startTime": node_object["metadata"]["creationTimestamp"],
            "cpu": cpu,
            "memory": memory,
        },
        "pods": pods,
    });
    json_response(StatusCode::OK, body.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use std::sync::Arc;

    use super::*;
    use crate::authorization::Users;
    use crate::registry::{Registry, WriteOptions};

    fn cluster(pods: usize) -> Arc<ApiState> {
        let registry = Registry::for_tests(100);
        let nodes: Vec<(String, String)> = ["n1", "n2", "n3"]
            .iter()
            .map(|n| (n.to_string(), "linux".to_owned()))
            .collect();
        for (name, os) in &nodes {
            let node = json!({"metadata": {"name": name, "labels": {"kubernetes.io/os": os}}});
            registry
                .create(resources::nodes(), "", node, &WriteOptions::default())
                .unwrap();
        }
        crate::load::add_simulated_pods(&registry, &nodes, pods).unwrap();
        ApiState::new(
            registry,
            Arc::new(Users::default()),
            String::new(),
            None,
            None,
            None,
        )
    }

    #[test]
    fn a_nodes_usage_is_the_sum_of_its_running_pods() {
        // 7 pods round-robin over 3 nodes: 3, 2 and 2.
        let state = cluster(7);
        let usage: BTreeMap<String, Value> = node_metrics(&state)
            .into_iter()
            .map(|(_, m)| (m["metadata"]["name"].as_str().unwrap().to_owned(), m))
            .collect();
        let expected = |pods: u64| {
            quantities(Usage {
                cpu_nanocores: SIMULATED.cpu_nanocores * pods,
                memory_bytes: SIMULATED.memory_bytes * pods,
            })
        };
        assert_eq!(usage["n1"]["usage"], expected(3));
        assert_eq!(usage["n2"]["usage"], expected(2));
        assert_eq!(usage["n3"]["usage"], expected(2));
        assert_eq!(
            usage["n1"]["metadata"]["labels"]["kubernetes.io/os"],
            "linux"
        );

        // A pod that is not Running any more uses nothing.
        let (ns, name) = ("sim-00", "sim-000000");
        state
            .registry
            .update_with(
                resources::pods(),
                ns,
                name,
                crate::registry::Part::Status,
                &WriteOptions::default(),
                |old| {
                    let mut next = old.clone();
                    next["status"]["phase"] = json!("Succeeded");
                    Ok(next)
                },
            )
            .unwrap();
        let n1 = node_metrics(&state)
            .into_iter()
            .find(|(_, m)| m["metadata"]["name"] == "n1")
            .unwrap()
            .1;
        assert_eq!(n1["usage"], expected(2));
        assert_eq!(pod_metrics(&state, None).len(), 6);
        assert_eq!(pod_metrics(&state, Some("elsewhere")).len(), 0);
    }

    #[test]
    fn a_nodes_summary_lists_only_its_own_pods() {
        let state = cluster(7);
        let response = summary(&state, "n2");
        assert_eq!(response.status(), StatusCode::OK);
        let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
            .unwrap();
        let summary: Value = serde_json::from_slice(&body).unwrap();
        let pods: Vec<&str> = summary["pods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["podRef"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(pods, ["sim-000001", "sim-000004"]);
        assert_eq!(
            summary["node"]["memory"]["workingSetBytes"],
            SIMULATED.memory_bytes * 2
        );
        assert_eq!(
            super::summary(&state, "nowhere").status(),
            StatusCode::NOT_FOUND
        );
    }
}
