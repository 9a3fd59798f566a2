//! What a plan is made against: the live objects of the plan's namespace and the cluster's
//! nodes and pods, and where a service is served now (in the monolith, by its own Deployment,
//! or elsewhere).
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec, Service};
use serde::Serialize;

use crate::model::fit::{self, NodeFit};
use crate::model::migration_plan::{MigrationPlan, ServicePlan, ServiceRoute};
use crate::model::nodes::NodeTile;

/// The objects a plan is made against, all read at one moment.
#[derive(Clone, Debug, Default)]
pub struct LiveObjects {
    /// Deployments in the monolith's namespace.
    pub deployments: Vec<Deployment>,
    /// Services in the monolith's namespace.
    pub services: Vec<Service>,
    /// Every node.
    pub nodes: Vec<Node>,
    /// Every pod (for the room left on each node).
    pub pods: Vec<Pod>,
}

impl LiveObjects {
    /// The Deployment `name`, if it exists.
    pub fn deployment(&self, name: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(name))
    }

    /// The Service `name`, if it exists.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
    }
}

/// Where a service is served from now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    /// The monolith computes (or serves) it.
    InMonolith,
    /// Its own Deployment serves it.
    Extracted,
    /// The monolith forwards it somewhere this plan does not describe.
    Elsewhere(String),
}

/// The value of `variable` in `container` of `deployment` (`None`: unset or empty).
pub fn env_value(deployment: &Deployment, container: &str, variable: &str) -> Option<String> {
    container_of(deployment, container)?
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == variable)
        .and_then(|e| e.value.clone())
        .filter(|v| !v.trim().is_empty())
}

/// Whether `env` looks like a routing variable: a `*_URL` holding an HTTP(S) URL.
pub fn is_route_variable(env: &k8s_openapi::api::core::v1::EnvVar) -> bool {
    env.name.ends_with("_URL")
        && env
            .value
            .as_deref()
            .is_some_and(|v| v.starts_with("http://") || v.starts_with("https://"))
}

pub(super) fn container_of<'a>(
    deployment: &'a Deployment,
    name: &str,
) -> Option<&'a k8s_openapi::api::core::v1::Container> {
    let containers = &deployment.spec.template.spec.as_ref()?.containers;
    containers
        .iter()
        .find(|c| c.name == name)
        .or_else(|| containers.first())
}

/// Whether the front Service's selector picks the pods `selector` describes.
pub(super) fn selector_is(front: &Service, selector: &BTreeMap<String, String>) -> bool {
    front
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|current| current == selector)
}

/// Where `service` is served from now.
pub fn location(plan: &MigrationPlan, service: &ServicePlan, live: &LiveObjects) -> Location {
    match &service.route {
        ServiceRoute::Variable { variable, url } => {
            let Some(monolith) = live.deployment(&plan.monolith.deployment) else {
                // No monolith: whatever serves it, it is not the monolith.
                return Location::Extracted;
            };
            match env_value(monolith, &plan.monolith.container, variable) {
                None => Location::InMonolith,
                Some(value) if &value == url => Location::Extracted,
                Some(value) => Location::Elsewhere(value),
            }
        }
        ServiceRoute::Frontend { selector } => match live.service(&plan.front.service) {
            Some(front) if selector_is(front, selector) => Location::Extracted,
            _ => Location::InMonolith,
        },
    }
}

/// Every node, and whether it can take a pod of `spec` given the pods already placed.
pub(super) fn node_fits(nodes: &[Node], pods: &[Pod], spec: &PodSpec) -> Vec<NodeFit> {
    let mut fits: Vec<NodeFit> = nodes
        .iter()
        .map(|node| {
            let tile = NodeTile::of(node);
            let placed: Vec<&PodSpec> = pods
                .iter()
                .filter(|p| {
                    p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(tile.name.as_str())
                        && fit::occupies(p)
                })
                .filter_map(|p| p.spec.as_ref())
                .collect();
            let (cpu_used, memory_used) = placed
                .iter()
                .map(|s| fit::requests(s))
                .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
            let mut facts = tile.facts();
            facts.used = (placed.len() as i64, cpu_used, memory_used);
            let verdict = fit::fit(&facts, spec);
            NodeFit {
                node: tile.name.clone(),
                os: tile
                    .labels
                    .get("kubernetes.io/os")
                    .cloned()
                    .unwrap_or_default(),
                room: verdict.as_ref().ok().copied(),
                why_not: verdict.err(),
            }
        })
        .collect();
    fits.sort_by(|a, b| (a.why_not.is_some(), &a.node).cmp(&(b.why_not.is_some(), &b.node)));
    fits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fit::summary;
    use k8s_openapi::api::core::v1::Toleration;
    use serde_json::json;

    fn node(name: &str, os: &str, taint: bool, pods: i64) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/os": os}},
            "spec": if taint { json!({"taints": [{"key": "os", "value": "windows", "effect": "NoSchedule"}]}) } else { json!({}) },
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "allocatable": {"pods": pods.to_string(), "cpu": "2", "memory": "4Gi"},
            },
        }))
        .unwrap()
    }

    fn pod_on(node: &str, cpu: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("p-{node}-{cpu}")},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": "Running"},
        }))
        .unwrap()
    }

    fn linux_pod(cpu: &str) -> PodSpec {
        serde_json::from_value(json!({
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": "32Mi"}}}],
        }))
        .unwrap()
    }

    #[test]
    fn selector_taints_and_room_decide_like_the_scheduler() {
        let nodes = [
            node("win-1", "windows", true, 10),
            node("lin-1", "linux", false, 10),
            node("lin-2", "linux", false, 1),
            node("lin-3", "linux", false, 10),
        ];
        let pods = [pod_on("lin-2", "10m"), pod_on("lin-3", "1900m")];
        let fits = node_fits(&nodes, &pods, &linux_pod("50m"));
        let by_name = |n: &str| fits.iter().find(|f| f.node == n).unwrap().clone();
        assert_eq!(by_name("lin-1").room, Some(10));
        assert_eq!(by_name("lin-3").room, Some(2));
        assert_eq!(
            by_name("lin-2").why_not.as_deref(),
            Some("no room: 1 of 1 pods")
        );
        assert_eq!(
            by_name("win-1").why_not.as_deref(),
            Some(
                "node selector kubernetes.io/os=linux does not match (the node has kubernetes.io/os=windows)"
            )
        );
        assert_eq!(fits[0].node, "lin-1", "nodes that fit come first");

        // A pod with no selector still may not land on the tainted Windows node.
        let mut anywhere = linux_pod("50m");
        anywhere.node_selector = None;
        let fits = node_fits(&nodes, &pods, &anywhere);
        assert_eq!(
            fits.iter()
                .find(|f| f.node == "win-1")
                .unwrap()
                .why_not
                .as_deref(),
            Some("untolerated taint os=windows:NoSchedule")
        );
        anywhere.tolerations = Some(vec![Toleration {
            key: Some("os".into()),
            operator: Some("Equal".into()),
            value: Some("windows".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }]);
        let fits = node_fits(&nodes, &pods, &anywhere);
        assert!(
            fits.iter()
                .find(|f| f.node == "win-1")
                .unwrap()
                .room
                .is_some()
        );
    }

    #[test]
    fn the_summary_reads_like_the_schedulers() {
        let nodes = [
            node("win-1", "windows", true, 10),
            node("lin-1", "linux", false, 0),
        ];
        let fits = node_fits(&nodes, &[], &linux_pod("50m"));
        assert_eq!(
            summary(&fits),
            "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had no room for the pod"
        );
    }
}
