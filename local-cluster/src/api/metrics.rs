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

use super::{ApiState, Target, json_response};
use crate::errors::ApiError;
use crate::kubelet::Usage;
use crate::kubelet::usage::SIMULATED;
use crate::registry::now;
use crate::resources;
use crate::selectors::LabelSelector;

/// The window metrics-server averages over.
const WINDOW: &str = "15s";

const API_VERSION: &str = "metrics.k8s.io/v1beta1";

/// `GET` of `metrics.k8s.io/v1beta1` nodes or pods, one or a list.
pub(super) fn serve(
    state: &ApiState,
    target: &Target,
    method: &Method,
    query: &std::collections::HashMap<String, String>,
) -> Response {
    answer(state, target, method, query).unwrap_or_else(IntoResponse::into_response)
}

fn answer(
    state: &ApiState,
    target: &Target,
    method: &Method,
    query: &std::collections::HashMap<String, String>,
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

/// A running pod and each of its containers' usage.
type PodUsage = (Value, Vec<(String, Usage)>);

/// A node, its total usage, and its pods'.
type NodeUsage = (Value, Usage, Vec<PodUsage>);

/// Every running pod with its containers' usage.
fn pod_usage(state: &ApiState, namespace: Option<&str>) -> Vec<PodUsage> {
    let pods = state
        .registry
        .store
        .list(resources::pods(), namespace, |_| true, 0, None)
        .items;
    pods.into_iter()
        .map(|stored| stored.value())
        .filter(|pod| pod["status"]["phase"] == "Running")
        .map(|pod| {
            let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let containers = pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["name"].as_str())
                .map(|container| {
                    let measured = state
                        .runtime
                        .as_ref()
                        .and_then(|r| r.usage(ns, name, container));
                    (container.to_owned(), measured.unwrap_or(SIMULATED))
                })
                .collect();
            (pod, containers)
        })
        .collect()
}

fn labels_of(object: &Value) -> std::collections::BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

fn pod_metrics(
    state: &ApiState,
    namespace: Option<&str>,
) -> Vec<(std::collections::BTreeMap<String, String>, Value)> {
    let at = now();
    pod_usage(state, namespace)
        .into_iter()
        .map(|(pod, containers)| {
            let labels = labels_of(&pod);
            let metrics = json!({
                "kind": "PodMetrics",
                "apiVersion": API_VERSION,
                "metadata": {
                    "name": pod["metadata"]["name"],
                    "namespace": pod["metadata"]["namespace"],
                    "creationTimestamp": at,
                    "labels": pod["metadata"]["labels"],
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

/// Each node's usage: the sum of its running pods'.
fn node_usage(state: &ApiState) -> Vec<NodeUsage> {
    let pods = pod_usage(state, None);
    state
        .registry
        .store
        .list(resources::nodes(), None, |_| true, 0, None)
        .items
        .into_iter()
        .map(|stored| {
            let node = stored.value();
            let name = node["metadata"]["name"].as_str().unwrap_or_default();
            let on_node: Vec<PodUsage> = pods
                .iter()
                .filter(|(pod, _)| pod["spec"]["nodeName"] == name)
                .cloned()
                .collect();
            let total = on_node
                .iter()
                .flat_map(|(_, containers)| containers.iter().map(|(_, u)| *u))
                .fold(Usage::default(), |a, b| a + b);
            (node, total, on_node)
        })
        .collect()
}

fn node_metrics(state: &ApiState) -> Vec<(std::collections::BTreeMap<String, String>, Value)> {
    let at = now();
    node_usage(state)
        .into_iter()
        .map(|(node, total, _)| {
            let metrics = json!({
                "kind": "NodeMetrics",
                "apiVersion": API_VERSION,
                "metadata": {
                    "name": node["metadata"]["name"],
                    "creationTimestamp": at,
                    "labels": node["metadata"]["labels"],
                },
                "timestamp": at,
                "window": WINDOW,
                "usage": quantities(total),
            });
            (labels_of(&node), metrics)
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
    let Some((node_object, total, pods)) = node_usage(state)
        .into_iter()
        .find(|(n, _, _)| n["metadata"]["name"] == node)
    else {
        return ApiError::not_found(resources::nodes(), node).into_response();
    };
    let stats = |usage: Usage| {
        (
            json!({"time": at, "usageNanoCores": usage.cpu_nanocores}),
            json!({"time": at, "workingSetBytes": usage.memory_bytes, "rssBytes": usage.memory_bytes}),
        )
    };
    let (cpu, memory) = stats(total);
    let pods: Vec<Value> = pods
        .iter()
        .map(|(pod, containers)| {
            let pod_total = containers
                .iter()
                .map(|(_, u)| *u)
                .fold(Usage::default(), |a, b| a + b);
            let (cpu, memory) = stats(pod_total);
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
