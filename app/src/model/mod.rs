//! The cluster as the console shows it: pure data built from Kubernetes objects, with no egui
//! and no I/O, so it is computed once per change and read by every view and the CLI.

pub mod access;
pub mod analysis;
pub mod calculation;
pub mod cost;
pub mod edge_mirroring;
pub mod edge_route;
pub mod eks;
pub mod events;
pub mod fit;
#[cfg(test)]
mod fixtures;
pub mod instance_types;
pub mod migration_plan;
pub mod move_plan;
pub mod move_progress;
pub mod moves;
mod nodes;
pub mod plan_check;
pub mod plan_files;
pub mod plan_init;
pub mod pod_details;
mod pods;
pub mod readiness;
pub mod rollout;
pub mod routing_file;
mod search;
pub mod topology;
pub mod tour;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use serde::Serialize;

pub use migration_plan::MigrationPlan;
pub use nodes::{
    GroupSummary, NodeGroup, NodeOs, NodeTile, NodeUsage, OsLane, PodCounts, Pressure,
    node_group_of, node_usage_from_metrics,
};
pub use pods::{ImageMismatch, Labels, PodList, PodPlacement, PodState, PodsByNode, board_order};
pub use search::Search;
pub use topology::{Monolith, MonolithTopology, ServiceState};

/// Everything the board, the calculator chips and `status` show, at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClusterSnapshot {
    /// Windows first, then Linux, then anything else.
    pub lanes: Vec<OsLane>,
    /// Pods not placed on a node (Pending), and pods whose node is unknown.
    pub unscheduled: Vec<Arc<PodPlacement>>,
    /// The strangler fig as the migration plan sees it (none without a plan).
    pub topology: Option<MonolithTopology>,
    /// Namespaces that have pods, for the filter.
    pub namespaces: Vec<String>,
    /// Total pods.
    pub pod_count: usize,
}

impl ClusterSnapshot {
    /// Builds the snapshot from the current objects; `plan` says which of them are the
    /// monolith and its services.
    pub fn build<'a>(
        nodes: impl IntoIterator<Item = &'a Node>,
        pods: impl IntoIterator<Item = &'a Pod>,
        deployments: impl IntoIterator<Item = &'a Deployment>,
        services: impl IntoIterator<Item = &'a Service>,
        plan: Option<&MigrationPlan>,
    ) -> ClusterSnapshot {
        Self::from_placements(
            nodes,
            &pods
                .into_iter()
                .map(|p| Arc::new(PodPlacement::of(p)))
                .collect(),
            deployments,
            services,
            plan,
            None,
        )
    }

    /// Builds the snapshot from pods already classified (the console keeps them so, from its
    /// watch, instead of whole Pod objects); the plan's roles (which pods hold or serve which
    /// service) are given here, as they depend on the Deployments and Services of the moment.
    pub fn from_placements<'a>(
        nodes: impl IntoIterator<Item = &'a Node>,
        pods: &PodsByNode,
        deployments: impl IntoIterator<Item = &'a Deployment>,
        services: impl IntoIterator<Item = &'a Service>,
        plan: Option<&MigrationPlan>,
        previous: Option<&ClusterSnapshot>,
    ) -> ClusterSnapshot {
        let deployments: Vec<&Deployment> = deployments.into_iter().collect();
        let services: Vec<&Service> = services.into_iter().collect();
        let topology = plan.map(|p| MonolithTopology::of(p, &deployments, &services));
        let mut unscheduled = Vec::new();
        let mut on_node: HashMap<&str, PodList> = HashMap::new();
        for (node, list) in pods.lists() {
            // Only the lists holding pods of the plan's namespace are visited, for what those
            // pods hold and serve.
            let list = match &topology {
                Some(t) if pods.has_pods_of(&t.namespace, node) => with_roles(list, t),
                _ => list.clone(),
            };
            match node {
                Some(node) => {
                    on_node.insert(node, list);
                }
                None => unscheduled.extend(list.iter().cloned()),
            }
        }
        // A node whose object and pods are as the previous snapshot showed them keeps its tile:
        // a snapshot makes new tiles only for the nodes that changed.
        let reusable: HashMap<&str, &Arc<NodeTile>> = previous
            .into_iter()
            .flat_map(|p| p.lanes.iter())
            .flat_map(|l| l.groups.iter().flat_map(|g| g.nodes.iter()))
            .map(|t| (t.name.as_str(), t))
            .collect();
        let mut lanes: BTreeMap<NodeOs, BTreeMap<String, Vec<Arc<NodeTile>>>> = BTreeMap::new();
        for node in nodes {
            let name = node.metadata.name.as_deref().unwrap_or_default();
            let list = on_node.remove(name).unwrap_or_default();
            let tile = match reusable.get(name) {
                Some(tile) if tile.shows(node, &list) => Arc::clone(tile),
                _ => Arc::new(NodeTile::of(node).with_pods(list)),
            };
            lanes
                .entry(tile.os.clone())
                .or_default()
                .entry(tile.group.clone())
                .or_default()
                .push(tile);
        }
        // Bound to a node the board does not know (yet): listed with the unscheduled.
        for list in on_node.into_values() {
            unscheduled.extend(list.iter().cloned());
        }
        for os in [NodeOs::Windows, NodeOs::Linux] {
            lanes.entry(os).or_default();
        }
        unscheduled.sort_by(|a, b| board_order(a, b));
        ClusterSnapshot {
            lanes: lanes
                .into_iter()
                .map(|(os, groups)| OsLane {
                    os,
                    groups: groups
                        .into_iter()
                        .map(|(name, mut nodes)| {
                            nodes.sort_by(|a, b| alphanumeric_sort::compare_str(&a.name, &b.name));
                            NodeGroup { name, nodes }
                        })
                        .collect(),
                })
                .collect(),
            unscheduled,
            topology,
            namespaces: pods.namespaces().map(str::to_owned).collect(),
            pod_count: pods.len(),
        }
    }

    /// The lane of `os`.
    pub fn lane(&self, os: &NodeOs) -> Option<&OsLane> {
        self.lanes.iter().find(|l| &l.os == os)
    }

    /// Sets each node's usage from `metrics.k8s.io` (nodes it does not name keep none).
    pub fn apply_usage(&mut self, usage: &BTreeMap<String, NodeUsage>) {
        for lane in &mut self.lanes {
            for group in &mut lane.groups {
                for node in &mut group.nodes {
                    let now = usage.get(&node.name).copied();
                    // Only a tile whose usage changed is copied; the rest stay shared.
                    if node.usage != now {
                        Arc::make_mut(node).usage = now;
                    }
                }
            }
        }
    }

    /// Whether any node reports usage (the cluster serves `metrics.k8s.io`).
    pub fn has_usage(&self) -> bool {
        self.nodes().any(|n| n.usage.is_some())
    }

    /// Every node tile.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeTile> {
        self.lanes.iter().flat_map(|l| {
            l.groups
                .iter()
                .flat_map(|g| g.nodes.iter().map(Arc::as_ref))
        })
    }

    /// Workload pods on the nodes of node group `group` (see [`PodPlacement::is_workload`]).
    pub fn workload_pods_of_group(&self, group: &str) -> Vec<&PodPlacement> {
        self.nodes()
            .filter(|n| n.group == group)
            .flat_map(|n| n.pods.iter().map(Arc::as_ref))
            .filter(|p| p.is_workload())
            .collect()
    }

    /// The tile of node `name`.
    pub fn node(&self, name: &str) -> Option<&NodeTile> {
        self.nodes().find(|n| n.name == name)
    }

    /// A pod by namespace and name, wherever it is.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&PodPlacement> {
        self.nodes()
            .flat_map(|n| n.pods.iter())
            .chain(self.unscheduled.iter())
            .find(|p| p.namespace == namespace && p.name == name)
            .map(Arc::as_ref)
    }

    /// The OS of node `name`, as its labels say.
    pub fn os_of_node(&self, name: &str) -> Option<NodeOs> {
        self.node(name).map(|n| n.os.clone())
    }
}

#[cfg(test)]
mod tests;

/// `list` with what the plan's pods on it hold and serve as `topology` reads them now; the list
/// itself (shared with the watch's copy) when nothing on it changes.
fn with_roles(list: &PodList, topology: &MonolithTopology) -> PodList {
    let mut list = list.clone();
    let roles: Vec<(Vec<String>, Option<String>)> =
        list.iter().map(|p| topology.roles_of(p)).collect();
    if list
        .iter()
        .zip(&roles)
        .any(|(p, (holds, serves))| &p.holds != holds || &p.serves != serves)
    {
        for (pod, (holds, serves)) in Arc::make_mut(&mut list).iter_mut().zip(roles) {
            if pod.holds != holds || pod.serves != serves {
                let changed = Arc::make_mut(pod);
                changed.holds = holds;
                changed.serves = serves;
            }
        }
    }
    list
}
