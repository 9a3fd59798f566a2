//! Nodes grouped the way an EKS operator thinks of them: by operating system, then node group.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Taint};
use serde::Serialize;

use super::pods::PodPlacement;

/// The operating system of a lane.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeOs {
    /// Windows Server nodes.
    Windows,
    /// Linux nodes.
    Linux,
    /// Anything else the `kubernetes.io/os` label says.
    Other(String),
}

impl NodeOs {
    /// From the `kubernetes.io/os` label (or `nodeInfo.operatingSystem`).
    pub fn from_label(label: &str) -> NodeOs {
        match label {
            "windows" => NodeOs::Windows,
            "linux" => NodeOs::Linux,
            other => NodeOs::Other(other.to_owned()),
        }
    }

    /// `Windows`, `Linux`, …
    pub fn title(&self) -> String {
        match self {
            NodeOs::Windows => "Windows".into(),
            NodeOs::Linux => "Linux".into(),
            NodeOs::Other(o) if o.is_empty() => "Unknown OS".into(),
            NodeOs::Other(o) => o.clone(),
        }
    }

    /// `windows`, `linux`, …
    pub fn label(&self) -> String {
        match self {
            NodeOs::Windows => "windows".into(),
            NodeOs::Linux => "linux".into(),
            NodeOs::Other(o) => o.clone(),
        }
    }
}

/// The node group a node belongs to: EKS's label, then eksctl's, then none.
pub fn node_group_of(node: &Node) -> String {
    let labels = node.metadata.labels.as_ref();
    [
        "eks.amazonaws.com/nodegroup",
        "alpha.eksctl.io/nodegroup-name",
    ]
    .iter()
    .find_map(|k| {
        labels
            .and_then(|l| l.get(*k))
            .filter(|v| !v.is_empty())
            .cloned()
    })
    .unwrap_or_else(|| "ungrouped".into())
}

/// One node on the board.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeTile {
    /// Node name.
    pub name: String,
    /// Its OS.
    pub os: NodeOs,
    /// Its node group.
    pub group: String,
    /// `node.kubernetes.io/instance-type`.
    pub instance_type: Option<String>,
    /// Ready condition True.
    pub ready: bool,
    /// Cordoned.
    pub unschedulable: bool,
    /// `key=value:Effect` of each taint.
    pub taints: Vec<String>,
    /// The taints themselves, for the scheduler's checks.
    #[serde(skip)]
    pub taint_specs: Vec<Taint>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// InternalIP.
    pub internal_ip: Option<String>,
    /// Allocatable pods.
    pub pod_capacity: i64,
    /// Allocatable CPU, millicores.
    pub cpu_allocatable_millis: i64,
    /// Allocatable memory, bytes.
    pub memory_allocatable_bytes: i64,
    /// CPU requested by its pods, millicores.
    pub cpu_requested_millis: i64,
    /// Memory requested by its pods, bytes.
    pub memory_requested_bytes: i64,
    /// Its pods, by namespace and name.
    pub pods: Vec<PodPlacement>,
}

impl NodeTile {
    /// The tile of `node`, without pods yet.
    pub fn of(node: &Node) -> NodeTile {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let status = node.status.as_ref();
        let os_label = labels
            .get("kubernetes.io/os")
            .cloned()
            .or_else(|| {
                status
                    .and_then(|s| s.node_info.as_ref())
                    .map(|i| i.operating_system.clone())
            })
            .unwrap_or_default();
        let allocatable = status
            .and_then(|s| s.allocatable.clone())
            .unwrap_or_default();
        let quantity = |k: &str| allocatable.get(k).map(|q| q.0.clone());
        let spec = node.spec.as_ref();
        let taint_specs = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        NodeTile {
            name: node.metadata.name.clone().unwrap_or_default(),
            os: NodeOs::from_label(&os_label),
            group: node_group_of(node),
            instance_type: labels.get("node.kubernetes.io/instance-type").cloned(),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            taints: taint_specs
                .iter()
                .map(|t| match t.value.as_deref() {
                    Some(v) if !v.is_empty() => format!("{}={v}:{}", t.key, t.effect),
                    _ => format!("{}:{}", t.key, t.effect),
                })
                .collect(),
            taint_specs,
            internal_ip: status
                .and_then(|s| s.addresses.as_ref())
                .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
                .map(|a| a.address.clone()),
            pod_capacity: quantity("pods").and_then(|q| q.parse().ok()).unwrap_or(0),
            cpu_allocatable_millis: quantity("cpu")
                .and_then(|q| kube_units::quantity::cpu_millis(&q))
                .unwrap_or(0),
            memory_allocatable_bytes: quantity("memory")
                .and_then(|q| kube_units::quantity::bytes(&q))
                .unwrap_or(0),
            cpu_requested_millis: 0,
            memory_requested_bytes: 0,
            pods: Vec::new(),
            labels,
        }
    }

    /// Pods counting against capacity.
    pub fn pods_placed(&self) -> usize {
        self.pods.iter().filter(|p| p.occupies_node()).count()
    }

    /// What the scheduler's first checks look at.
    pub fn facts(&self) -> super::placement::NodeFacts<'_> {
        super::placement::NodeFacts {
            labels: &self.labels,
            ready: self.ready,
            unschedulable: self.unschedulable,
            taints: &self.taint_specs,
            allocatable: (
                self.pod_capacity,
                self.cpu_allocatable_millis,
                self.memory_allocatable_bytes,
            ),
            used: (
                self.pods_placed() as i64,
                self.cpu_requested_millis,
                self.memory_requested_bytes,
            ),
        }
    }
}

/// The nodes of one node group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeGroup {
    /// Its name (`windows`, `linux`, `ungrouped`).
    pub name: String,
    /// Its nodes, by name.
    pub nodes: Vec<NodeTile>,
}

/// Every node of one operating system.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OsLane {
    /// The OS.
    pub os: NodeOs,
    /// Its node groups, by name.
    pub groups: Vec<NodeGroup>,
}

impl OsLane {
    /// Nodes in the lane.
    pub fn node_count(&self) -> usize {
        self.groups.iter().map(|g| g.nodes.len()).sum()
    }
}
