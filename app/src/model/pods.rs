//! Where a pod is and what state it is in, as the board colours it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

/// The colour classes of the board (as kube-ops-view draws them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodState {
    /// Running and Ready.
    Ready,
    /// Placed, not yet Ready (pulling, starting, probing).
    Starting,
    /// Not placed on any node.
    Pending,
    /// Crash-looping, failing to pull (an OS mismatch included), or Failed.
    Failing,
    /// Being deleted.
    Terminating,
    /// Ran to completion.
    Succeeded,
}

/// Waiting reasons that mean the pod will not get better by itself.
const FAILING_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerError",
    "CreateContainerConfigError",
    "RunContainerError",
];

/// A pod's labels, shared: the pods of one ReplicaSet (and all the simulated ones) carry the same
/// set, kept once (see `live::pods`).
pub type Labels = Arc<BTreeMap<String, String>>;

/// How a pod's image fails to suit its node, as containerd says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageMismatch {
    /// The image has no build for the node's OS ("no match for platform in manifest").
    Os,
    /// A Windows image of a build the node's Windows cannot run process-isolated ("The
    /// container operating system does not match the host operating system").
    WindowsBuild,
}

impl ImageMismatch {
    /// From the containers' waiting messages and their last failures' (a container refused at
    /// start shows a back-off message now and the runtime's words in its last state).
    fn of(containers: &[k8s_openapi::api::core::v1::ContainerStatus]) -> Option<ImageMismatch> {
        containers
            .iter()
            .flat_map(|c| [c.state.as_ref(), c.last_state.as_ref()])
            .flatten()
            .flat_map(|s| {
                [
                    s.waiting.as_ref().and_then(|w| w.message.as_deref()),
                    s.terminated.as_ref().and_then(|t| t.message.as_deref()),
                ]
            })
            .flatten()
            .find_map(|message| {
                if message.contains("no match for platform in manifest") {
                    Some(ImageMismatch::Os)
                } else if message.contains("does not match the host operating system") {
                    Some(ImageMismatch::WindowsBuild)
                } else {
                    None
                }
            })
    }

    /// What the operator reads (`image has no build for this OS`).
    pub fn words(self) -> &'static str {
        match self {
            ImageMismatch::Os => "image has no build for this OS",
            ImageMismatch::WindowsBuild => "image's Windows build does not suit this node's",
        }
    }
}

/// One pod, as the board and `status` show it. Snapshots hold them by `Arc`: one that did not
/// change is the same allocation in every snapshot, and comparing two snapshots compares
/// pointers first (`Eq`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PodPlacement {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Colour class.
    pub state: PodState,
    /// `status.phase`.
    pub phase: String,
    /// What kubectl would print in STATUS when it says more than the phase
    /// (`CrashLoopBackOff`, `ImagePullBackOff`, `Unschedulable`, `Terminating`).
    pub reason: Option<String>,
    /// The explanation that goes with the reason (the scheduler's or containerd's words).
    pub message: Option<String>,
    /// Whether the image does not suit the node: no build for its OS (a hybrid cluster's
    /// classic failure) or a Windows build the node cannot run.
    pub image_mismatch: Option<ImageMismatch>,
    /// Restarts across containers.
    pub restarts: i32,
    /// `status.podIP`.
    pub ip: Option<String>,
    /// `spec.nodeName`.
    pub node: Option<String>,
    /// Labels, for search.
    pub labels: Labels,
    /// CPU requested, in millicores.
    pub cpu_request_millis: i64,
    /// Memory requested, in bytes.
    pub memory_request_bytes: i64,
    /// Services this pod serves in-process (only on the monolith's pods).
    pub holds: Vec<String>,
    /// The service this pod serves on its own, once moved out of the monolith.
    pub serves: Option<String>,
    /// Run by a DaemonSet (a node agent, not a workload: it goes with its node).
    pub daemon: bool,
}

impl PodPlacement {
    /// Classifies `pod`.
    pub fn of(pod: &Pod) -> PodPlacement {
        let meta = &pod.metadata;
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let phase = status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into());
        let node = spec
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty());
        let containers = status
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default();
        let restarts = containers.iter().map(|c| c.restart_count).sum();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let waiting = containers
            .iter()
            .filter_map(|c| c.state.as_ref().and_then(|s| s.waiting.as_ref()))
            .find(|w| {
                w.reason
                    .as_deref()
                    .is_some_and(|r| r != "ContainerCreating" && r != "PodInitializing")
            });
        let mut reason = waiting.and_then(|w| w.reason.clone());
        let mut message = waiting.and_then(|w| w.message.clone());
        let image_mismatch = ImageMismatch::of(&containers);
        if node.is_none()
            && let Some(condition) = status.and_then(|s| s.conditions.as_ref()).and_then(|cs| {
                cs.iter()
                    .find(|c| c.type_ == "PodScheduled" && c.status == "False")
            })
        {
            reason = condition.reason.clone();
            message = condition.message.clone();
        }
        let state = if meta.deletion_timestamp.is_some() {
            reason = Some("Terminating".into());
            PodState::Terminating
        } else if phase == "Succeeded" {
            PodState::Succeeded
        } else if phase == "Failed"
            || reason
                .as_deref()
                .is_some_and(|r| FAILING_REASONS.contains(&r))
        {
            PodState::Failing
        } else if node.is_none() {
            PodState::Pending
        } else if ready && phase == "Running" {
            PodState::Ready
        } else {
            PodState::Starting
        };
        let (cpu, memory) = spec.map(super::fit::requests).unwrap_or((0, 0));
        PodPlacement {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            state,
            phase,
            reason,
            message,
            image_mismatch,
            restarts,
            ip: status.and_then(|s| s.pod_ip.clone()),
            node,
            labels: Arc::new(meta.labels.clone().unwrap_or_default()),
            cpu_request_millis: cpu,
            memory_request_bytes: memory,
            holds: Vec::new(),
            serves: None,
            daemon: meta
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.kind == "DaemonSet"),
        }
    }

    /// A workload pod still on its node: neither a DaemonSet's, nor finished, nor going.
    pub fn is_workload(&self) -> bool {
        !self.daemon
            && !matches!(self.state, PodState::Succeeded | PodState::Terminating)
            && self.phase != "Failed"
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Rows of service chips its tile draws for it: three operations to a row for what the
    /// monolith holds in process, one for the service it serves once moved out.
    pub fn chip_rows(&self) -> usize {
        self.holds.len().div_ceil(3) + usize::from(self.serves.is_some())
    }

    /// Whether it counts against its node's capacity.
    pub fn occupies_node(&self) -> bool {
        !matches!(self.state, PodState::Succeeded) && self.phase != "Failed"
    }
}

/// One node's pods (or the unscheduled ones), in the board's order — by namespace, then name,
/// as a person counts. Shared between the watch's index and the snapshots: a node whose pods did
/// not change is the same list in both, and a change copies only that node's list.
pub type PodList = Arc<Vec<Arc<PodPlacement>>>;

/// The board's order of pods: namespace, then name, numbers compared as numbers (names that
/// differ only in leading zeros, equal as numbers, are then told apart as text: two pods are
/// never equal in this order).
pub fn board_order(a: &PodPlacement, b: &PodPlacement) -> std::cmp::Ordering {
    alphanumeric_sort::compare_str(&a.namespace, &b.namespace)
        .then_with(|| alphanumeric_sort::compare_str(&a.name, &b.name))
        .then_with(|| a.namespace.cmp(&b.namespace))
        .then_with(|| a.name.cmp(&b.name))
}

/// Pods grouped by the node they are bound to, each group kept in [`board_order`] as pods come
/// and go, so a snapshot takes the groups as they are instead of grouping and sorting every pod.
/// Counts by namespace and node are kept alongside, so a snapshot need not visit the pods to
/// list the namespaces or find the nodes where the plan's namespace has pods.
#[derive(Clone, Debug, Default)]
pub struct PodsByNode {
    lists: HashMap<Option<String>, PodList>,
    /// Pods per namespace, per node.
    namespaces: BTreeMap<String, HashMap<Option<String>, usize>>,
    count: usize,
}

impl PodsByNode {
    /// Adds `pod` to its node's list (one with the same namespace and name is replaced).
    pub fn insert(&mut self, pod: Arc<PodPlacement>) {
        let list = Arc::make_mut(self.lists.entry(pod.node.clone()).or_default());
        match list.binary_search_by(|p| board_order(p, &pod)) {
            // Same namespace and name on the same node: counted already.
            Ok(at) => list[at] = pod,
            Err(at) => {
                self.count += 1;
                *self
                    .namespaces
                    .entry(pod.namespace.clone())
                    .or_default()
                    .entry(pod.node.clone())
                    .or_default() += 1;
                list.insert(at, pod);
            }
        }
    }

    /// Takes `pod` (as it was added) out of its node's list.
    pub fn remove(&mut self, pod: &PodPlacement) {
        let Some(shared) = self.lists.get_mut(&pod.node) else {
            return;
        };
        let list = Arc::make_mut(shared);
        if let Ok(at) = list.binary_search_by(|p| board_order(p, pod)) {
            list.remove(at);
            self.count -= 1;
            if let Some(nodes) = self.namespaces.get_mut(&pod.namespace) {
                if let Some(n) = nodes.get_mut(&pod.node) {
                    *n -= 1;
                    if *n == 0 {
                        nodes.remove(&pod.node);
                    }
                }
                if nodes.is_empty() {
                    self.namespaces.remove(&pod.namespace);
                }
            }
        }
        if list.is_empty() {
            self.lists.remove(&pod.node);
        }
    }

    /// Each node's pods (`None`: not bound to a node), in no particular order of nodes.
    pub fn lists(&self) -> impl Iterator<Item = (Option<&str>, &PodList)> {
        self.lists
            .iter()
            .map(|(node, list)| (node.as_deref(), list))
    }

    /// How many pods there are.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The namespaces that have pods, in order.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.namespaces.keys().map(String::as_str)
    }

    /// Whether `namespace` has pods on `node` (`None`: not bound to a node).
    pub fn has_pods_of(&self, namespace: &str, node: Option<&str>) -> bool {
        self.namespaces
            .get(namespace)
            .is_some_and(|nodes| nodes.contains_key(&node.map(str::to_owned)))
    }
}

impl FromIterator<Arc<PodPlacement>> for PodsByNode {
    /// All at once (a first list, a relist): each pod goes where [`PodsByNode::insert`] puts it.
    fn from_iter<I: IntoIterator<Item = Arc<PodPlacement>>>(pods: I) -> PodsByNode {
        let mut by_node = PodsByNode::default();
        for pod in pods {
            by_node.insert(pod);
        }
        by_node
    }
}
