//! One simulated kubelet per node: calculator containers run as real processes on the pod's own
//! loopback address, other images are simulated (as kwok does), and pod status, events and logs
//! look like a real kubelet's.

pub mod exec;
pub mod images;
pub mod logs;
pub mod probes;
pub mod process;
pub mod usage;
pub mod volumes;

mod node;
mod pod;
pub mod status;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::controllers::follow;
use crate::nodes::NodeSpec;
use crate::registry::Registry;
use crate::resources;
use crate::store::EventKind;

pub use logs::{LogOptions, LogOutput, LogStore};
use node::Shared;
pub use node::{KubeletConfig, PodAddresses};
pub use process::Launcher;
pub use usage::{ProcessTable, Usage};

pub use images::SIMULATED_EXIT_CODE;

/// The kubelet of each node, by node name.
type NodeKubelets = Arc<Mutex<HashMap<String, Arc<Shared>>>>;

type PodKey = (String, String, String);

/// The kubelets of every node.
pub struct Kubelets {
    /// Container output, for `pods/log`.
    pub logs: LogStore,
    /// Container processes, for the metrics API.
    pub processes: ProcessTable,
    nodes: NodeKubelets,
    registry: Arc<Registry>,
    addresses: Arc<PodAddresses>,
    config: KubeletConfig,
    workers: Arc<Mutex<HashMap<PodKey, watch::Sender<Option<Value>>>>>,
    handles: Arc<Mutex<Vec<JoinHandle<()>>>>,
    shutdown: watch::Sender<bool>,
    dispatcher: JoinHandle<()>,
}

/// A pod whose containers all already run simulated images (bulk-loaded, or from an earlier
/// start): nothing to do until it is deleted.
fn adoptable(pod: &Value) -> bool {
    let statuses = pod["status"]["containerStatuses"].as_array();
    let containers = pod["spec"]["containers"].as_array();
    match (statuses, containers) {
        (Some(statuses), Some(containers)) => {
            statuses.len() == containers.len()
                && statuses.iter().all(|s| s["state"]["running"].is_object())
                && containers.iter().all(|c| {
                    images::Image::resolve(c["image"].as_str().unwrap_or_default()).kind
                        == images::ImageKind::Simulated
                })
        }
        _ => false,
    }
}

impl Kubelets {
    /// Starts a kubelet for each of `nodes`.
    pub fn start(
        registry: Arc<Registry>,
        nodes: &[NodeSpec],
        config: KubeletConfig,
        pod_octet: u8,
    ) -> Kubelets {
        let logs = LogStore::default();
        let processes = ProcessTable::default();
        let addresses = Arc::new(PodAddresses::new(pod_octet));
        let shared: NodeKubelets = Arc::new(Mutex::new(
            nodes
                .iter()
                .map(|node| {
                    (
                        node.name.clone(),
                        Arc::new(Shared::new(
                            &registry, node, &logs, &processes, &addresses, &config,
                        )),
                    )
                })
                .collect(),
        ));
        let dispatch_nodes = shared.clone();
        let workers: Arc<Mutex<HashMap<PodKey, watch::Sender<Option<Value>>>>> = Arc::default();
        let handles: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (shutdown, stopping) = watch::channel(false);
        let dispatch_workers = workers.clone();
        let dispatch_handles = handles.clone();
        let dispatcher = follow(registry.store.clone(), resources::pods(), move |change| {
            let index = &change.object.index;
            let pod = change.object.value();
            let key = (
                index.namespace.clone(),
                index.name.clone(),
                pod["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
            let mut workers = dispatch_workers.lock().unwrap_or_else(|e| e.into_inner());
            if change.kind == EventKind::Deleted {
                if let Some(worker) = workers.remove(&key) {
                    let _ = worker.send(None);
                }
                return;
            }
            if let Some(worker) = workers.get(&key) {
                let _ = worker.send(Some(pod));
                return;
            }
            let node = pod["spec"]["nodeName"].as_str().and_then(|n| {
                dispatch_nodes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(n)
                    .cloned()
            });
            let Some(node) = node else {
                return;
            };
            let finished = matches!(
                pod["status"]["phase"].as_str(),
                Some("Succeeded" | "Failed")
            );
            let marked = pod["metadata"]["deletionTimestamp"].is_string();
            if (adoptable(&pod) || finished) && !marked {
                if let Some(ip) = pod["status"]["podIP"]
                    .as_str()
                    .and_then(|ip| ip.parse().ok())
                {
                    node.addresses.claim(ip);
                }
                return;
            }
            let (sender, receiver) = watch::channel(Some(pod.clone()));
            workers.insert(key.clone(), sender);
            let worker = pod::PodWorker::new(node.clone(), pod);
            let finished_workers = dispatch_workers.clone();
            let stopping = stopping.clone();
            let handle = tokio::spawn(async move {
                worker.run(receiver, stopping).await;
                finished_workers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
            });
            let mut handles = dispatch_handles.lock().unwrap_or_else(|e| e.into_inner());
            handles.retain(|h| !h.is_finished());
            handles.push(handle);
        });
        Kubelets {
            logs,
            processes,
            nodes: shared,
            registry,
            addresses,
            config,
            workers,
            handles,
            shutdown,
            dispatcher,
        }
    }

    /// Starts the kubelet of a node that joins. Pods bound to it before it joined are picked up
    /// at their next change.
    pub fn add_node(&self, node: &NodeSpec) {
        let shared = Shared::new(
            &self.registry,
            node,
            &self.logs,
            &self.processes,
            &self.addresses,
            &self.config,
        );
        self.nodes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.name.clone(), Arc::new(shared));
    }

    /// Forgets the kubelet of a node that left; its pods' workers stop as the pods are deleted.
    pub fn remove_node(&self, name: &str) {
        self.nodes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// Stops every container (SIGTERM, then SIGKILL after 2 s) and waits for them.
    pub async fn shutdown(&self) {
        self.dispatcher.abort();
        let _ = self.shutdown.send(true);
        let handles: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.handles.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            let _ = tokio::time::timeout(Duration::from_secs(6), handle).await;
        }
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
