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

/// A running container: its name, what it uses, its memory limit if it has one, and whether
/// its figures are the simulated ones (no process).
struct ContainerUsage {
    name: String,
    usage: Usage,
    memory_limit: Option<u64>,
    simulated: bool,
}

/// A running pod's containers and their usage.
type Containers = Vec<ContainerUsage>;

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
    #[serde(default)]
    resources: Resources,
}

#[derive(serde::Deserialize, Default)]
struct Resources {
    #[serde(default)]
    limits: Limits,
}

#[derive(serde::Deserialize, Default)]
struct Limits {
    memory: Option<String>,
}

/// Seconds since an RFC 3339 time (0 if it is missing or cannot be read).
fn seconds_since(time: Option<&str>) -> u64 {
    time.and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| {
            jiff::Timestamp::now()
                .duration_since(t)
                .as_secs()
                .max(0)
                .unsigned_abs()
        })
        .unwrap_or(0)
}

/// Every running pod (in `namespace`, or all; on `node`, or any) with its containers' usage.
/// Name, namespace, node and labels come from the store's index; only the container names and
/// memory limits are parsed.
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
                .map(|named| {
                    let measured = state
                        .runtime
                        .as_ref()
                        .and_then(|r| r.usage(ns, name, &named.name));
                    ContainerUsage {
                        simulated: measured.is_none(),
                        usage: measured.unwrap_or(SIMULATED),
                        memory_limit: named
                            .resources
                            .limits
                            .memory
                            .as_deref()
                            .and_then(kube_units::quantity::bytes)
                            .and_then(|b| u64::try_from(b).ok()),
                        name: named.name,
                    }
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

fn total(containers: &[ContainerUsage]) -> Usage {
    containers
        .iter()
        .map(|c| c.usage)
        .fold(Usage::default(), |a, b| a + b)
}

/// A pod's memory limit: its containers' together, if every one has one (else the pod's
/// cgroup has none).
fn pod_memory_limit(containers: &[ContainerUsage]) -> Option<u64> {
    containers.iter().map(|c| c.memory_limit).sum()
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
                    .map(|c| json!({"name": c.name, "usage": quantities(c.usage)}))
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

/// The kubelet's `/stats/summary` of `node`: the node's and each pod's CPU and memory, in the
/// kubelet's fields. A process's memory here is its resident set, so usage, working set and RSS
/// are the same figure (no page cache is charged to it); `availableBytes` is written where
/// there is a limit: the node's capacity, a container's limit, a pod's when all its containers
/// have one.
pub(super) fn summary(state: &ApiState, node: &str) -> Response {
    let at = now();
    let Some(node_object) = state.registry.store.get(resources::nodes(), "", node) else {
        return ApiError::not_found(resources::nodes(), node).into_response();
    };
    let node_object = node_object.value();
    // Only this node's pods are parsed whole (their uid and start time are reported; a
    // simulated container's CPU time is its steady rate over the time since the start).
    let pods: Vec<(Value, Containers)> = running_pods(state, None, Some(node))
        .into_iter()
        .map(|(stored, mut containers)| {
            let pod = stored.value();
            let running_for = seconds_since(pod["status"]["startTime"].as_str());
            for container in containers.iter_mut().filter(|c| c.simulated) {
                container.usage = Usage::simulated(running_for);
            }
            (pod, containers)
        })
        .collect();
    let node_total = pods
        .iter()
        .map(|(_, containers)| total(containers))
        .fold(Usage::default(), |a, b| a + b);
    let cpu = |usage: Usage| {
        json!({
            "time": at,
            "usageNanoCores": usage.cpu_nanocores,
            "usageCoreNanoSeconds": usage.cpu_core_nanoseconds,
        })
    };
    let memory = |usage: Usage, limit: Option<u64>| {
        let mut stats = json!({
            "time": at,
            "usageBytes": usage.memory_bytes,
            "workingSetBytes": usage.memory_bytes,
            "rssBytes": usage.memory_bytes,
            "pageFaults": usage.page_faults,
            "majorPageFaults": usage.major_page_faults,
        });
        if let Some(limit) = limit {
            stats["availableBytes"] = json!(limit.saturating_sub(usage.memory_bytes));
        }
        stats
    };
    let capacity = node_object["status"]["capacity"]["memory"]
        .as_str()
        .and_then(kube_units::quantity::bytes)
        .and_then(|b| u64::try_from(b).ok());
    let pods: Vec<Value> = pods
        .iter()
        .map(|(pod, containers)| {
            let usage = total(containers);
            json!({
                "podRef": {
                    "name": pod["metadata"]["name"],
                    "namespace": pod["metadata"]["namespace"],
                    "uid": pod["metadata"]["uid"],
                },
                "startTime": pod["status"]["startTime"],
                "containers": containers.iter().map(|c| {
                    json!({
                        "name": c.name,
                        "startTime": pod["status"]["startTime"],
                        "cpu": cpu(c.usage),
                        "memory": memory(c.usage, c.memory_limit),
                    })
                }).collect::<Vec<_>>(),
                "cpu": cpu(usage),
                "memory": memory(usage, pod_memory_limit(containers)),
            })
        })
        .collect();
    let body = json!({
        "node": {
            "nodeName": node_object["metadata"]["name"],
            "startTime": node_object["metadata"]["creationTimestamp"],
            "cpu": cpu(node_total),
            "memory": memory(node_total, capacity),
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
            let node = json!({"metadata": {"name": name, "labels": {"kubernetes.io/os": os}},
                "status": {"capacity": {"memory": "8Gi"}}});
            registry
                .create(resources::nodes(), "", node, &WriteOptions::default())
                .unwrap();
        }
        crate::load::add_simulated_pods(&registry, pods).unwrap();
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
                ..Usage::default()
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
    fn a_nodes_summary_lists_only_its_own_pods_in_the_kubelets_fields() {
        let state = cluster(7);
        // One more pod on n2, started a minute ago, with a memory limit.
        let mut limited =
            crate::load::simulated_pod("sim-00", "limited", "n2", "linux", "127.9.9.9");
        limited["spec"]["containers"][0]["resources"]["limits"] = json!({"memory": "64Mi"});
        let minute_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
        limited["status"]["startTime"] =
            json!(minute_ago.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        state
            .registry
            .bulk_put(resources::pods(), std::iter::once(limited));
        let response = summary(&state, "n2");
        assert_eq!(response.status(), StatusCode::OK);
        let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
            .unwrap();
        let summary: Value = serde_json::from_slice(&body).unwrap();
        let pods: Vec<&Value> = summary["pods"].as_array().unwrap().iter().collect();
        let names: Vec<&str> = pods
            .iter()
            .map(|p| p["podRef"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["limited", "sim-000001", "sim-000004"]);

        let node = &summary["node"]["memory"];
        let used = SIMULATED.memory_bytes * 3;
        for field in ["usageBytes", "workingSetBytes", "rssBytes"] {
            assert_eq!(node[field], used, "{field}: {node}");
        }
        assert_eq!(node["availableBytes"], 8 * 1024 * 1024 * 1024 - used);
        assert_eq!(node["pageFaults"], SIMULATED.page_faults * 3);
        assert_eq!(node["majorPageFaults"], 0);

        // A container with a limit has what is left of it; one without, no availableBytes.
        let limited = &pods[0]["containers"][0]["memory"];
        assert_eq!(
            limited["availableBytes"],
            64 * 1024 * 1024 - SIMULATED.memory_bytes
        );
        assert_eq!(
            pods[0]["memory"]["availableBytes"],
            limited["availableBytes"]
        );
        assert!(
            pods[1]["containers"][0]["memory"]
                .get("availableBytes")
                .is_none()
        );
        assert!(pods[1]["memory"].get("availableBytes").is_none());

        // CPU time adds up from the start: about 60 s at 1 millicore for the limited pod.
        let cpu_time = pods[0]["cpu"]["usageCoreNanoSeconds"].as_u64().unwrap();
        assert!(
            (60 * SIMULATED.cpu_nanocores..=62 * SIMULATED.cpu_nanocores).contains(&cpu_time),
            "{cpu_time}"
        );
        assert_eq!(pods[0]["cpu"]["usageNanoCores"], SIMULATED.cpu_nanocores);

        assert_eq!(
            super::summary(&state, "nowhere").status(),
            StatusCode::NOT_FOUND
        );
    }
}
