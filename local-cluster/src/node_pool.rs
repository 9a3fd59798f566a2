//! Nodes joining and leaving a running cluster, as a managed node group's nodes do: a node that
//! joins registers, gets a kubelet, a Lease and the NodePorts; a node that leaves is cordoned
//! and drained through evictions (PodDisruptionBudgets respected) before it goes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::controllers::replicaset::is_active;
use crate::errors::ApiError;
use crate::kubelet::Kubelets;
use crate::network::ServiceNetwork;
use crate::nodes::{self, NodeOs, NodeSpec};
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources;

/// The cluster's nodes, with what each one brings.
pub struct NodePool {
    registry: Arc<Registry>,
    kubelets: Arc<Kubelets>,
    network: Arc<ServiceNetwork>,
    /// The nodes whose Leases the heartbeats renew.
    pub(crate) beating: Arc<Mutex<Vec<String>>>,
    specs: Mutex<BTreeMap<String, NodeSpec>>,
    octet: u8,
    next: AtomicUsize,
}

/// A node group's nodes as they should join.
#[derive(Clone, Debug)]
pub struct GroupShape {
    /// The node group.
    pub group: String,
    /// Their OS.
    pub os: NodeOs,
    /// EC2 instance type.
    pub instance_type: String,
    /// Labels the group adds.
    pub labels: BTreeMap<String, String>,
    /// The group's taints (`None`: the OS default).
    pub taints: Option<Value>,
    /// Its Windows release, from its AMI type (ignored on Linux).
    pub windows_server: crate::nodes::WindowsServer,
}

impl NodePool {
    pub(crate) fn new(
        registry: Arc<Registry>,
        kubelets: Arc<Kubelets>,
        network: Arc<ServiceNetwork>,
        initial: &[NodeSpec],
        octet: u8,
    ) -> NodePool {
        NodePool {
            registry,
            kubelets,
            network,
            beating: Arc::new(Mutex::new(initial.iter().map(|n| n.name.clone()).collect())),
            specs: Mutex::new(
                initial
                    .iter()
                    .map(|n| (n.name.clone(), n.clone()))
                    .collect(),
            ),
            octet,
            next: AtomicUsize::new(initial.len()),
        }
    }

    /// The names of the nodes, in the order they joined.
    pub fn names(&self) -> Vec<String> {
        self.beating
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The nodes of node group `group`, in the order they joined.
    pub fn group(&self, group: &str) -> Vec<String> {
        let specs = self.specs.lock().unwrap_or_else(|e| e.into_inner());
        self.names()
            .into_iter()
            .filter(|n| specs.get(n).is_some_and(|s| s.group == group))
            .collect()
    }

    /// Every node group with nodes.
    pub fn groups(&self) -> Vec<String> {
        let specs = self.specs.lock().unwrap_or_else(|e| e.into_inner());
        let mut groups: Vec<String> = specs.values().map(|s| s.group.clone()).collect();
        groups.sort();
        groups.dedup();
        groups
    }

    /// A new node of `shape` joins, Ready.
    pub fn join(&self, shape: &GroupShape) -> Result<String, ApiError> {
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        let mut spec = NodeSpec::new(
            self.octet,
            index,
            shape.os,
            &shape.group,
            &shape.instance_type,
        );
        spec.labels = shape.labels.clone();
        spec.taints = shape.taints.clone();
        spec.windows_server = shape.windows_server;
        let internal = WriteOptions::default();
        self.registry
            .create(resources::nodes(), "", nodes::node_object(&spec), &internal)?;
        self.registry.create(
            resources::leases(),
            "kube-node-lease",
            nodes::lease_object(&spec.name),
            &internal,
        )?;
        self.kubelets.add_node(&spec);
        self.network.set_node(spec.ip, true);
        let name = spec.name.clone();
        self.specs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone(), spec);
        self.beating
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.clone());
        tracing::info!(node = %name, group = %shape.group, "node joined");
        Ok(name)
    }

    /// Marks the node unschedulable, as `kubectl cordon` does.
    pub fn cordon(&self, name: &str) -> Result<(), ApiError> {
        self.registry.update_with(
            resources::nodes(),
            "",
            name,
            Part::Main,
            &WriteOptions::default(),
            |old| {
                let mut next = old.clone();
                next["spec"]["unschedulable"] = json!(true);
                Ok(next)
            },
        )?;
        Ok(())
    }

    /// The pods a drain evicts from `node`: active ones not run by a DaemonSet and not
    /// mirror pods, as `kubectl drain --ignore-daemonsets` chooses.
    pub fn evictable(&self, node: &str) -> Vec<(String, String)> {
        self.registry
            .store
            .list(resources::pods(), None, |_| true, 0, None)
            .items
            .iter()
            .map(|p| p.value())
            .filter(|p| p["spec"]["nodeName"] == node && is_active(p))
            .filter(|p| {
                !p["metadata"]["ownerReferences"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|o| o["controller"] == true && o["kind"] == "DaemonSet")
                    && p["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_null()
            })
            .map(|p| {
                (
                    p["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    p["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    }

    /// Cordons `node` and evicts its pods, retrying refused evictions every `retry` until every
    /// pod has gone (managed node groups keep trying for 15 minutes before they force it; this
    /// keeps trying while the cluster runs, so a budget is never broken).
    pub async fn drain(&self, node: &str, retry: Duration) -> Result<(), ApiError> {
        self.cordon(node)?;
        loop {
            let left = self.evictable(node);
            if left.is_empty() {
                return Ok(());
            }
            for (namespace, pod) in &left {
                match crate::eviction::evict(
                    &self.registry,
                    namespace,
                    pod,
                    &DeleteOptions::default(),
                ) {
                    Ok(()) => tracing::info!(%node, pod = %format!("{namespace}/{pod}"), "evicted"),
                    Err(e) if e.code == 404 => {}
                    Err(e) => {
                        tracing::info!(%node, pod = %format!("{namespace}/{pod}"), error = %e, "eviction refused; retrying")
                    }
                }
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// The node leaves: pods still bound to it are removed (as the pod garbage collector removes
    /// orphans), then its Lease and its Node; its kubelet and NodePorts go. The Node goes last, so
    /// that if any delete fails the node is still listed and the caller's next round tries the
    /// whole departure again (each step treats "already gone" as done).
    pub fn leave(&self, name: &str) -> Result<(), ApiError> {
        // No more heartbeats: one would bring the Lease back.
        self.beating
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|n| n != name);
        let bound: Vec<(String, String)> = self
            .registry
            .store
            .list(
                resources::pods(),
                None,
                |index| index.field(resources::pods(), "spec.nodeName") == Some(name),
                0,
                None,
            )
            .items
            .iter()
            .map(|p| (p.index.namespace.clone(), p.index.name.clone()))
            .collect();
        let now = DeleteOptions {
            grace_period_seconds: Some(0),
            ..DeleteOptions::default()
        };
        let gone = DeleteOptions::default();
        let deletes = bound
            .iter()
            .map(|(namespace, pod)| (resources::pods(), namespace.as_str(), pod.as_str(), &now))
            .chain([
                (resources::leases(), "kube-node-lease", name, &gone),
                (resources::nodes(), "", name, &gone),
            ]);
        for (kind, namespace, object, options) in deletes {
            match self.registry.delete(kind, namespace, object, options) {
                Ok(_) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        self.kubelets.remove_node(name);
        let spec = self
            .specs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if let Some(spec) = spec {
            self.network.set_node(spec.ip, false);
        }
        tracing::info!(node = %name, "node left");
        Ok(())
    }
}
