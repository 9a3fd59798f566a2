//! One node's kubelet as its pod workers share it: the registry it writes to, the node it runs
//! as, its event recorder, the containers' logs and processes, the pod addresses, and how it
//! behaves.

use std::collections::{BTreeSet, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Launcher, LogStore, ProcessTable};
use crate::events::EventRecorder;
use crate::nodes::NodeSpec;
use crate::registry::Registry;

/// How the kubelets behave.
#[derive(Clone, Debug)]
pub struct KubeletConfig {
    /// How calculator containers are started.
    pub launcher: Launcher,
    /// How long a simulated container takes to become Running.
    pub simulated_start: Duration,
    /// How long the first pull of an image appears to take.
    pub simulated_pull: Duration,
    /// The first crash-loop back-off (then doubling up to 5 minutes).
    pub crash_backoff: Duration,
    /// Where pods' files go (`pods/<uid>/volumes`, `…/containers/<name>/rootfs`).
    pub root_dir: std::path::PathBuf,
    /// How often mounted ConfigMaps, Secrets and downward-API files are brought up to date.
    pub volume_sync: Duration,
    /// Where service-account tokens a pod's projected volume holds are registered, so the API
    /// server accepts them.
    pub tokens: Arc<crate::authorization::Users>,
}

/// Pod IPs: one loopback address per running pod, from 127.`octet`.0.0/16.
pub struct PodAddresses {
    used: Mutex<BTreeSet<u32>>,
    first: u32,
    last: u32,
}

impl PodAddresses {
    /// Addresses from 127.`octet`.0.1 to 127.`octet`.255.254.
    pub fn new(octet: u8) -> PodAddresses {
        PodAddresses {
            used: Mutex::default(),
            first: u32::from_be_bytes([127, octet, 0, 1]),
            last: u32::from_be_bytes([127, octet, 255, 254]),
        }
    }

    /// A free address, or `None` when all 65,000 are taken.
    pub fn allocate(&self) -> Option<Ipv4Addr> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let start = used
            .last()
            .map_or(self.first, |last| last + 1)
            .clamp(self.first, self.last);
        let candidate = (start..=self.last)
            .chain(self.first..start)
            .find(|n| (n & 0xff) != 0 && (n & 0xff) != 255 && !used.contains(n))?;
        used.insert(candidate);
        Some(Ipv4Addr::from(candidate))
    }

    /// Returns an address to the pool.
    pub fn release(&self, ip: Ipv4Addr) {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&u32::from(ip));
    }

    /// Marks an address as taken (a pod that already reports it).
    pub fn claim(&self, ip: Ipv4Addr) {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(u32::from(ip));
    }
}

/// What the workers of one node share.
pub(crate) struct Shared {
    pub(super) registry: Arc<Registry>,
    pub(super) node: NodeSpec,
    pub(super) recorder: EventRecorder,
    pub(super) logs: LogStore,
    pub(super) processes: ProcessTable,
    pub(super) addresses: Arc<PodAddresses>,
    pub(super) config: KubeletConfig,
    pub(super) pulled: Mutex<HashSet<String>>,
}

impl Shared {
    pub(super) fn new(
        registry: &Arc<Registry>,
        node: &NodeSpec,
        logs: &LogStore,
        processes: &ProcessTable,
        addresses: &Arc<PodAddresses>,
        config: &KubeletConfig,
    ) -> Shared {
        Shared {
            registry: registry.clone(),
            node: node.clone(),
            recorder: EventRecorder::new(registry.clone(), "kubelet", Some(node.name.clone())),
            logs: logs.clone(),
            processes: processes.clone(),
            addresses: addresses.clone(),
            config: config.clone(),
            pulled: Mutex::new(HashSet::new()),
        }
    }
}
