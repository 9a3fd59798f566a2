//! Nodes grouped the way an EKS operator thinks of them: by operating system, then node group.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};
use kube_units::windows_builds::{WINDOWS_BUILD_LABEL, WindowsBuild};
use serde::{Serialize, Serializer};

use super::pods::{ImageMismatch, PodState};

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
    /// A Windows node's build (`10.0.20348`): its `node.kubernetes.io/windows-build` label, else
    /// its kernel version. Images must suit it.
    #[serde(serialize_with = "build_text")]
    pub windows_build: Option<WindowsBuild>,
    /// `status.nodeInfo.osImage` (`Windows Server 2022 Datacenter`).
    pub os_image: Option<String>,
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
    pub pods: super::PodList,
    /// CPU and memory in use, from `metrics.k8s.io` when the cluster serves it.
    pub usage: Option<NodeUsage>,
    /// The Node's resourceVersion the tile was made from.
    #[serde(skip)]
    pub made_from: MadeFrom,
    /// Its pods counted by what the board shows of them, once when the tile is made: the
    /// window's layout reads these for 5,000 tiles instead of visiting 150,000 pods.
    #[serde(skip)]
    pub counts: PodCounts,
}

/// A tile's pods counted (see [`NodeTile::with_pods`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodCounts {
    /// Pods counting against capacity.
    pub placed: usize,
    /// Running and Ready.
    pub running: usize,
    /// Placed, not yet Ready (or not yet placed).
    pub starting: usize,
    /// Failing.
    pub failing: usize,
    /// Rows of service chips the tile draws under its pods (the monolith's operations, a
    /// moved service's name).
    pub chip_rows: usize,
}

impl PodCounts {
    /// Counts `pods`.
    pub fn of<'a>(pods: impl IntoIterator<Item = &'a super::PodPlacement>) -> PodCounts {
        let mut counts = PodCounts::default();
        for pod in pods {
            counts.placed += usize::from(pod.occupies_node());
            match pod.state {
                PodState::Ready => counts.running += 1,
                PodState::Starting | PodState::Pending => counts.starting += 1,
                PodState::Failing => counts.failing += 1,
                PodState::Terminating | PodState::Succeeded => {}
            }
            counts.chip_rows += pod.chip_rows();
        }
        counts
    }
}

impl std::ops::AddAssign for PodCounts {
    fn add_assign(&mut self, other: PodCounts) {
        self.placed += other.placed;
        self.running += other.running;
        self.starting += other.starting;
        self.failing += other.failing;
        self.chip_rows += other.chip_rows;
    }
}

/// The resourceVersion of the Node a tile was made from: the next snapshot reuses the tile while
/// it is the same. Not part of what the board shows, so any two compare equal — a heartbeat
/// that changed nothing on the board yields an equal snapshot, which is not redrawn.
#[derive(Clone, Debug, Default)]
pub struct MadeFrom(pub Option<String>);

impl PartialEq for MadeFrom {
    fn eq(&self, _: &MadeFrom) -> bool {
        true
    }
}

/// What a node uses, as `metrics.k8s.io` reports it (a metrics-server window, about 15 s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeUsage {
    /// CPU in use, millicores.
    pub cpu_millis: i64,
    /// Memory in use (working set), bytes.
    pub memory_bytes: i64,
}

/// The `NodeMetricsList` of `GET /apis/metrics.k8s.io/v1beta1/nodes`, by node name. Items with
/// a usage that does not parse are left out (the board then shows requests for that node).
pub fn node_usage_from_metrics(list: &serde_json::Value) -> BTreeMap<String, NodeUsage> {
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let name = item["metadata"]["name"].as_str()?;
            let cpu = kube_units::quantity::cpu_millis(item["usage"]["cpu"].as_str()?)?;
            let memory = kube_units::quantity::bytes(item["usage"]["memory"].as_str()?)?;
            Some((
                name.to_owned(),
                NodeUsage {
                    cpu_millis: cpu,
                    memory_bytes: memory,
                },
            ))
        })
        .collect()
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
        let info = status.and_then(|s| s.node_info.as_ref());
        let os = NodeOs::from_label(&os_label);
        NodeTile {
            name: node.metadata.name.clone().unwrap_or_default(),
            windows_build: (os == NodeOs::Windows)
                .then(|| {
                    WindowsBuild::of_node(
                        labels.get(WINDOWS_BUILD_LABEL).map(String::as_str),
                        info.map(|i| i.kernel_version.as_str()),
                    )
                })
                .flatten(),
            os_image: info
                .map(|i| i.os_image.clone())
                .filter(|image| !image.is_empty()),
            os,
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
            pods: Default::default(),
            labels,
            usage: None,
            made_from: MadeFrom(node.metadata.resource_version.clone()),
            counts: PodCounts::default(),
        }
    }

    /// The tile with `pods` on it, and what they request.
    pub fn with_pods(mut self, pods: super::PodList) -> NodeTile {
        for pod in pods.iter().filter(|p| p.occupies_node()) {
            self.cpu_requested_millis += pod.cpu_request_millis;
            self.memory_requested_bytes += pod.memory_request_bytes;
        }
        self.counts = PodCounts::of(pods.iter().map(Arc::as_ref));
        self.pods = pods;
        self
    }

    /// Whether this tile shows `node` with `pods` as they are: made from the same version of
    /// the Node, with the same list of pods.
    pub fn shows(&self, node: &Node, pods: &super::PodList) -> bool {
        let version = node.metadata.resource_version.as_deref();
        version.is_some()
            && self.made_from.0.as_deref() == version
            && (Arc::ptr_eq(&self.pods, pods) || (self.pods.is_empty() && pods.is_empty()))
    }

    /// Pods counting against capacity.
    pub fn pods_placed(&self) -> usize {
        self.counts.placed
    }

    /// What the scheduler's first checks look at.
    pub fn facts(&self) -> super::fit::NodeFacts<'_> {
        super::fit::NodeFacts {
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

/// What a zoomed-out node cell is coloured by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pressure {
    /// Pods placed against the node's pod capacity.
    #[default]
    Pods,
    /// CPU requested against allocatable.
    CpuRequests,
    /// Memory requested against allocatable.
    MemoryRequests,
    /// CPU in use against allocatable (`metrics.k8s.io`).
    CpuUsage,
    /// Memory in use against allocatable (`metrics.k8s.io`).
    MemoryUsage,
}

impl Pressure {
    /// Every measure, in the order the selector lists them.
    pub const ALL: [Pressure; 5] = [
        Pressure::Pods,
        Pressure::CpuRequests,
        Pressure::MemoryRequests,
        Pressure::CpuUsage,
        Pressure::MemoryUsage,
    ];

    /// Whether it needs `metrics.k8s.io` (offered only when the cluster serves it).
    pub fn needs_metrics(self) -> bool {
        matches!(self, Pressure::CpuUsage | Pressure::MemoryUsage)
    }

    /// Its name in the selector.
    pub fn label(self) -> &'static str {
        match self {
            Pressure::Pods => "pods / capacity",
            Pressure::CpuRequests => "CPU requests",
            Pressure::MemoryRequests => "memory requests",
            Pressure::CpuUsage => "CPU use",
            Pressure::MemoryUsage => "memory use",
        }
    }
}

impl NodeTile {
    /// How full the node is by `measure`, 0 to 1 (0 when the node advertises no capacity).
    pub fn pressure(&self, measure: Pressure) -> f32 {
        let (used, total) = match measure {
            Pressure::Pods => (self.pods_placed() as i64, self.pod_capacity),
            Pressure::CpuRequests => (self.cpu_requested_millis, self.cpu_allocatable_millis),
            Pressure::MemoryRequests => {
                (self.memory_requested_bytes, self.memory_allocatable_bytes)
            }
            Pressure::CpuUsage => (
                self.usage.map_or(0, |u| u.cpu_millis),
                self.cpu_allocatable_millis,
            ),
            Pressure::MemoryUsage => (
                self.usage.map_or(0, |u| u.memory_bytes),
                self.memory_allocatable_bytes,
            ),
        };
        if total > 0 {
            (used as f32 / total as f32).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// What an operator must see about this node at any zoom: NotReady, cordoned, and its
    /// failing pods (crash loops, images with no build for this OS, failed pods).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.ready {
            problems.push("NotReady".to_owned());
        }
        if self.unschedulable {
            problems.push("cordoned".to_owned());
        }
        for pod in self.pods.iter().filter(|p| p.state == PodState::Failing) {
            let why = match (pod.image_mismatch, self.windows_build) {
                (Some(ImageMismatch::WindowsBuild), Some(build)) => {
                    format!("{} ({build})", ImageMismatch::WindowsBuild.words())
                }
                (Some(mismatch), _) => mismatch.words().to_owned(),
                (None, _) => pod.reason.clone().unwrap_or_else(|| pod.phase.clone()),
            };
            problems.push(format!("pod {}/{}: {why}", pod.namespace, pod.name));
        }
        problems
    }

    /// Whether anything in [`NodeTile::problems`] would be reported, without building the words.
    pub fn has_problem(&self) -> bool {
        !self.ready || self.counts.failing > 0
    }
}

/// What a node group amounts to, for the zoomed-out board's summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupSummary {
    /// Nodes in the group.
    pub nodes: usize,
    /// Of which Ready.
    pub ready: usize,
    /// Its nodes' pods counted: running, starting, failing, placed against the pod capacity.
    pub pods: PodCounts,
    /// Pod capacity of the group.
    pub pod_capacity: i64,
    /// CPU requested and allocatable, millicores.
    pub cpu: (i64, i64),
    /// Memory requested and allocatable, bytes.
    pub memory: (i64, i64),
    /// Its Windows nodes counted by build: more than one means the group is mid-upgrade (or
    /// mixed), and a pod may land on a build its image does not suit.
    pub windows_builds: BTreeMap<WindowsBuild, usize>,
}

impl GroupSummary {
    /// Whether its Windows nodes disagree on their build.
    pub fn mixed_builds(&self) -> bool {
        self.windows_builds.len() > 1
    }

    /// The share of `used` in `total` as a whole percentage (0 with no capacity).
    pub fn percent((used, total): (i64, i64)) -> i64 {
        if total > 0 { used * 100 / total } else { 0 }
    }
}

/// A build as its text (`10.0.20348`) in `status -o json`.
fn build_text<S: Serializer>(build: &Option<WindowsBuild>, to: S) -> Result<S::Ok, S::Error> {
    match build {
        Some(build) => to.collect_str(build),
        None => to.serialize_none(),
    }
}

/// The nodes of one node group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeGroup {
    /// Its name (`windows`, `linux`, `ungrouped`).
    pub name: String,
    /// Its nodes, by name; a tile whose node and pods did not change is shared with the
    /// previous snapshot.
    pub nodes: Vec<Arc<NodeTile>>,
}

/// Every node of one operating system.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OsLane {
    /// The OS.
    pub os: NodeOs,
    /// Its node groups, by name.
    pub groups: Vec<NodeGroup>,
}

impl NodeGroup {
    /// Nodes ready, pods by state, capacity used: one pass over the group.
    pub fn summary(&self) -> GroupSummary {
        let mut summary = GroupSummary {
            nodes: self.nodes.len(),
            ..GroupSummary::default()
        };
        for node in &self.nodes {
            summary.ready += usize::from(node.ready);
            summary.pod_capacity += node.pod_capacity;
            summary.cpu.0 += node.cpu_requested_millis;
            summary.cpu.1 += node.cpu_allocatable_millis;
            summary.memory.0 += node.memory_requested_bytes;
            summary.memory.1 += node.memory_allocatable_bytes;
            summary.pods += node.counts;
            if let Some(build) = node.windows_build {
                *summary.windows_builds.entry(build).or_default() += 1;
            }
        }
        summary
    }
}

impl OsLane {
    /// Nodes in the lane.
    pub fn node_count(&self) -> usize {
        self.groups.iter().map(|g| g.nodes.len()).sum()
    }
}
