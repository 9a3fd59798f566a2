//! Simulated load, so anyone can see the cluster (and the console on it) at size with the real
//! binaries: pods shaped as kwok reports them (bound, Running, Ready, no process behind them)
//! spread over namespaces and placed on the nodes of both OSes by the scheduler's filters (those
//! beyond the cluster's room stay Pending, and the scheduler says why), and a churn generator that
//! changes pod statuses at a steady rate, as crash loops and probes do on a busy cluster.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::clock::now;
use crate::errors::ApiError;
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;
use crate::scheduler::BulkPlacer;

/// The label every simulated pod carries (`kubectl get pods -A -l local-cluster.hybrid-console.io/simulated`).
pub const SIMULATED_LABEL: &str = "local-cluster.hybrid-console.io/simulated";

/// How many pods go in one namespace before the next one opens.
const PODS_PER_NAMESPACE: usize = 5_000;

/// How many namespaces `total` simulated pods spread over.
fn namespace_count(total: usize) -> usize {
    total.div_ceil(PODS_PER_NAMESPACE).clamp(1, 100)
}

/// The namespace of the `i`-th simulated pod out of `total`: `sim-00`, `sim-01`, …
fn namespace_of(i: usize, total: usize) -> String {
    format!("sim-{:02}", i % namespace_count(total))
}

/// An address for the `i`-th simulated pod in 127.16.0.0/12: unique, and outside the ranges
/// the kubelets and Services allocate from (nothing listens there).
fn address_of(i: usize) -> String {
    format!(
        "127.{}.{}.{}",
        16 + (i >> 16) % 16,
        (i >> 8) & 0xff,
        i & 0xff
    )
}

/// A pod as a kwok node reports it: bound to `node` (of `os`), Running and Ready.
pub fn simulated_pod(namespace: &str, name: &str, node: &str, os: &str, ip: &str) -> Value {
    let t = now();
    let mut pod = waiting_pod(namespace, name, os);
    pod["spec"]["nodeName"] = json!(node);
    pod["status"] = json!({"phase": "Running", "hostIP": "127.1.0.10", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": t,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
                {"type": "Initialized", "status": "True", "lastTransitionTime": t},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": t},
                {"type": "Ready", "status": "True", "lastTransitionTime": t}],
            "containerStatuses": [{"name": "app", "image": format!("registry.example.com/sim-{os}:1.0"),
                "imageID": format!("registry.example.com/sim-{os}@sha256:0123456789abcdef"),
                "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": t}}}]});
    pod
}

/// A simulated pod not yet placed: Pending, for the scheduler.
fn waiting_pod(namespace: &str, name: &str, os: &str) -> Value {
    let mut spec = json!({
        "nodeSelector": {"kubernetes.io/os": os},
        "containers": [{"name": "app", "image": format!("registry.example.com/sim-{os}:1.0"),
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
    });
    if os == "windows" {
        spec["tolerations"] =
            json!([{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}]);
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "sim", SIMULATED_LABEL: "true"}},
        "spec": spec,
        "status": {"phase": "Pending"},
    })
}

/// How many simulated pods were stored, and how many of them found no room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Added {
    /// Pods stored.
    pub stored: usize,
    /// Of those, pods left Pending: no node had room for them.
    pub pending: usize,
}

/// Stores `count` simulated pods in namespaces of at most 5,000 pods. Each is for the OS of the
/// nodes in turn (so the OSes share them as they share the nodes) and is placed by the
/// scheduler's filters — room for pods, CPU and memory, selector, taints; beyond the cluster's
/// room a pod stays Pending for the scheduler to explain.
pub fn add_simulated_pods(registry: &Registry, count: usize) -> Result<Added, ApiError> {
    let nodes: Vec<String> = registry
        .store
        .list(resources::nodes(), None, |_| true, 0, None)
        .items
        .iter()
        .map(|n| {
            n.index
                .labels
                .get("kubernetes.io/os")
                .unwrap_or("linux")
                .to_owned()
        })
        .collect();
    if count == 0 || nodes.is_empty() {
        return Ok(Added {
            stored: 0,
            pending: 0,
        });
    }
    for n in 0..namespace_count(count) {
        let name = format!("sim-{n:02}");
        match registry.create(
            resources::namespaces(),
            "",
            json!({"metadata": {"name": name}}),
            &WriteOptions::default(),
        ) {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    let mut placer = BulkPlacer::new(registry);
    let mut pending = 0;
    // Built lazily: a parsed copy of every pod at once would double the memory the load needs.
    let pods = (0..count).map(|i| {
        let os = &nodes[i % nodes.len()];
        let (namespace, name) = (namespace_of(i, count), format!("sim-{i:06}"));
        let waiting = waiting_pod(&namespace, &name, os);
        match placer.place(&waiting) {
            Some(node) => simulated_pod(&namespace, &name, node, os, &address_of(i)),
            None => {
                pending += 1;
                waiting
            }
        }
    });
    let stored = registry.bulk_put(resources::pods(), pods);
    Ok(Added { stored, pending })
}

/// Changes `per_second` simulated pods' status every second, forever: each in turn flips
/// between Ready and not Ready (a failing readiness probe), so watchers see a steady stream of
/// real changes.
pub async fn churn(registry: Arc<Registry>, count: usize, per_second: usize) {
    if count == 0 || per_second == 0 {
        return;
    }
    // Ten rounds a second, as evenly as the rate allows.
    let per_tick = per_second.div_ceil(10);
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next = 0usize;
    loop {
        interval.tick().await;
        for _ in 0..per_tick {
            // A prime stride visits every pod before any repeats, spread over the namespaces.
            let i = (next * 7_919) % count;
            next = next.wrapping_add(1);
            let (namespace, name) = (namespace_of(i, count), format!("sim-{i:06}"));
            let result = registry.update_with(
                resources::pods(),
                &namespace,
                &name,
                Part::Status,
                &WriteOptions::default(),
                |old| {
                    let mut next = old.clone();
                    // A pod still waiting for room has no container to flip.
                    if old["status"]["containerStatuses"][0].is_null() {
                        return Ok(next);
                    }
                    let ready = old["status"]["containerStatuses"][0]["ready"] == true;
                    let status = if ready { "False" } else { "True" };
                    let t = now();
                    next["status"]["containerStatuses"][0]["ready"] = json!(!ready);
                    for condition in next["status"]["conditions"]
                        .as_array_mut()
                        .into_iter()
                        .flatten()
                    {
                        if condition["type"] == "Ready" || condition["type"] == "ContainersReady" {
                            condition["status"] = json!(status);
                            condition["lastTransitionTime"] = json!(t);
                        }
                    }
                    Ok(next)
                },
            );
            // A pod someone deleted is skipped; the rest of the round goes on.
            if let Err(e) = result
                && e.code != 404
            {
                tracing::warn!(pod = %name, error = %e.message, "churn write failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_pods_spread_over_namespaces_and_unique_addresses() {
        assert_eq!(namespace_of(0, 100), "sim-00");
        assert_eq!(namespace_of(7, 12_000), "sim-01");
        assert_eq!(namespace_of(9, 12_000), "sim-00");
        let addresses: std::collections::HashSet<String> = (0..200_000).map(address_of).collect();
        assert_eq!(addresses.len(), 200_000);
        let windows = simulated_pod("sim-00", "sim-000001", "n1", "windows", "127.16.0.1");
        assert_eq!(windows["spec"]["tolerations"][0]["value"], "windows");
        assert_eq!(
            windows["spec"]["nodeSelector"]["kubernetes.io/os"],
            "windows"
        );
    }
}
