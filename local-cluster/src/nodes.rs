//! The simulated EKS nodes: Windows and Linux managed node groups, labelled, tainted and
//! described the way EKS describes them, with a real loopback InternalIP each.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::clock::{now, now_micro};
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;

/// An operating system a node (and an image) can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeOs {
    /// Amazon Linux 2023.
    Linux,
    /// Windows Server 2022 Core.
    Windows,
}

impl NodeOs {
    /// `linux` or `windows`, as `kubernetes.io/os` says it.
    pub fn label(self) -> &'static str {
        match self {
            NodeOs::Linux => "linux",
            NodeOs::Windows => "windows",
        }
    }
}

/// The Windows Server release an EKS Windows AMI carries (`WINDOWS_CORE_2022_x86_64`, …), as
/// its nodes report it: the `node.kubernetes.io/windows-build` label a RuntimeClass per build
/// selects on, the kernel version and the OS image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WindowsServer {
    /// Windows Server 2019 (LTSC), build 10.0.17763.
    Ltsc2019,
    /// Windows Server 2022 (LTSC), build 10.0.20348.
    #[default]
    Ltsc2022,
    /// Windows Server 2025 (LTSC), build 10.0.26100.
    Ltsc2025,
}

impl WindowsServer {
    /// The build (`node.kubernetes.io/windows-build` gives it as major.minor.build), as the
    /// container runtime compares it with an image's.
    pub fn windows_build(self) -> kube_units::windows_builds::WindowsBuild {
        use kube_units::windows_builds::WindowsBuild;
        match self {
            WindowsServer::Ltsc2019 => WindowsBuild::LTSC2019,
            WindowsServer::Ltsc2022 => WindowsBuild::LTSC2022,
            WindowsServer::Ltsc2025 => WindowsBuild::LTSC2025,
        }
    }

    fn kernel_version(self) -> &'static str {
        match self {
            WindowsServer::Ltsc2019 => "10.0.17763.6414",
            WindowsServer::Ltsc2022 => "10.0.20348.2849",
            WindowsServer::Ltsc2025 => "10.0.26100.2314",
        }
    }

    fn os_image(self) -> &'static str {
        match self {
            WindowsServer::Ltsc2019 => "Windows Server 2019 Datacenter",
            WindowsServer::Ltsc2022 => "Windows Server 2022 Datacenter",
            WindowsServer::Ltsc2025 => "Windows Server 2025 Datacenter",
        }
    }

    /// The release a year names (`2019`, `2022`, `2025`).
    pub fn from_year(year: &str) -> Option<WindowsServer> {
        match year.trim() {
            "2019" => Some(WindowsServer::Ltsc2019),
            "2022" => Some(WindowsServer::Ltsc2022),
            "2025" => Some(WindowsServer::Ltsc2025),
            _ => None,
        }
    }

    /// The release of an EKS AMI type (`WINDOWS_FULL_2019_x86_64` → 2019).
    pub fn of_ami_type(ami: &str) -> Option<WindowsServer> {
        let build = kube_units::windows_builds::WindowsBuild::of_ami_type(ami)?;
        [
            WindowsServer::Ltsc2019,
            WindowsServer::Ltsc2022,
            WindowsServer::Ltsc2025,
        ]
        .into_iter()
        .find(|release| release.windows_build() == build)
    }
}

/// One simulated node.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// `ip-127-1-0-10.ec2.internal`, derived from the IP as EKS derives it.
    pub name: String,
    /// Its OS.
    pub os: NodeOs,
    /// The managed node group (`windows`, `linux`).
    pub group: String,
    /// EC2 instance type.
    pub instance_type: String,
    /// InternalIP: a loopback address this machine really answers on.
    pub ip: Ipv4Addr,
    /// Availability zone.
    pub zone: &'static str,
    /// Labels the node group adds.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The node group's taints (`None`: the OS's default — `os=windows:NoSchedule` on Windows).
    pub taints: Option<Value>,
    /// A Windows node's release (ignored on Linux).
    pub windows_server: WindowsServer,
}

impl NodeSpec {
    /// Node `index` of a cluster whose nodes live in 127.`octet`.0.0/16, in node group `group`.
    pub fn new(octet: u8, index: usize, os: NodeOs, group: &str, instance_type: &str) -> NodeSpec {
        let zones = ["us-east-1a", "us-east-1b"];
        let ip = node_ip(octet, index);
        let octets = ip.octets();
        NodeSpec {
            name: format!(
                "ip-{}-{}-{}-{}.ec2.internal",
                octets[0], octets[1], octets[2], octets[3]
            ),
            os,
            group: group.to_owned(),
            instance_type: instance_type.to_owned(),
            ip,
            zone: zones[index % zones.len()],
            labels: std::collections::BTreeMap::new(),
            taints: None,
            windows_server: WindowsServer::default(),
        }
    }
}

/// The cluster name nodes are labelled with.
pub const CLUSTER_NAME: &str = "hybrid-calculator";

/// Node `index` (0-based across the cluster) gets 127.`octet`.x.y, from .0.10 on.
fn node_ip(octet: u8, index: usize) -> Ipv4Addr {
    let n = 10 + index as u32;
    Ipv4Addr::new(127, octet, (n >> 8) as u8, (n & 0xff) as u8)
}

/// `windows` Windows nodes then `linux` Linux nodes, alternating zones, with addresses in
/// 127.`octet`.0.0/16; the Windows nodes take the `releases` in turn (2022 when none).
pub fn plan(windows: usize, linux: usize, octet: u8, releases: &[WindowsServer]) -> Vec<NodeSpec> {
    (0..windows + linux)
        .map(|i| {
            let os = if i < windows {
                NodeOs::Windows
            } else {
                NodeOs::Linux
            };
            let instance_type = if os == NodeOs::Windows {
                "t3.large"
            } else {
                "t3.medium"
            };
            let mut spec = NodeSpec::new(octet, i, os, os.label(), instance_type);
            if let Some(release) = releases.get(i % releases.len().max(1)) {
                spec.windows_server = *release;
            }
            spec
        })
        .collect()
}

fn conditions(ready: bool) -> Value {
    let t = now();
    json!([
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available", "lastHeartbeatTime": t, "lastTransitionTime": t},
        {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure", "lastHeartbeatTime": t, "lastTransitionTime": t},
        {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available", "lastHeartbeatTime": t, "lastTransitionTime": t},
        if ready {
            json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": t, "lastTransitionTime": t})
        } else {
            json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "container runtime is down", "lastHeartbeatTime": t, "lastTransitionTime": t})
        },
    ])
}

/// The Node object of `node`, as an EKS node registers itself.
pub fn node_object(node: &NodeSpec) -> Value {
    let windows = node.os == NodeOs::Windows;
    let (cpu, allocatable_cpu, memory, allocatable_memory, pods) = if windows {
        ("2", "1930m", "8226772Ki", "7101812Ki", "35")
    } else {
        ("2", "1930m", "3955652Ki", "3388356Ki", "17")
    };
    let instance_id = format!(
        "i-0{:016x}",
        u32::from(node.ip) as u64 * 2_654_435_761 % (1 << 60)
    );
    let mut labels = json!({
        "kubernetes.io/os": node.os.label(),
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node.name,
        "beta.kubernetes.io/os": node.os.label(),
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": node.instance_type,
        "node.kubernetes.io/instance-type": node.instance_type,
        "eks.amazonaws.com/nodegroup": node.group,
        "eks.amazonaws.com/capacityType": "ON_DEMAND",
        "eks.amazonaws.com/nodegroup-image": if windows { "ami-0b5d3bb3b7a4b2c1e" } else { "ami-0c1f2e3d4b5a69788" },
        "eks.amazonaws.com/sourceLaunchTemplateVersion": "1",
        "alpha.eksctl.io/cluster-name": CLUSTER_NAME,
        "alpha.eksctl.io/nodegroup-name": node.group,
        "topology.kubernetes.io/region": "us-east-1",
        "topology.kubernetes.io/zone": node.zone,
        "failure-domain.beta.kubernetes.io/region": "us-east-1",
        "failure-domain.beta.kubernetes.io/zone": node.zone,
        "hybrid-console.io/os-group": node.os.label(),
    });
    if windows {
        labels["node.kubernetes.io/windows-build"] =
            json!(node.windows_server.windows_build().to_string());
    }
    for (k, v) in &node.labels {
        labels[k.as_str()] = json!(v);
    }
    let taints = match &node.taints {
        Some(t) => t.clone(),
        None if windows => json!([{"key": "os", "value": "windows", "effect": "NoSchedule"}]),
        None => Value::Null,
    };
    let mut spec = json!({"providerID": format!("aws:///{}/{instance_id}", node.zone)});
    if !taints.is_null() {
        spec["taints"] = taints;
    }
    let mut capacity = json!({"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "20959212Ki", "hugepages-2Mi": "0"});
    let mut allocatable = json!({"cpu": allocatable_cpu, "memory": allocatable_memory, "pods": pods, "ephemeral-storage": "18242267924", "hugepages-2Mi": "0"});
    if windows {
        // Windows pods take their IPs from the VPC resource controller, one per secondary IPv4
        // address of the primary ENI: a t3.large's 12, less the node's own.
        let addresses = windows_pod_addresses(&node.instance_type).to_string();
        capacity["vpc.amazonaws.com/PrivateIPv4Address"] = json!(addresses);
        allocatable["vpc.amazonaws.com/PrivateIPv4Address"] = json!(addresses);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": labels,
            "annotations": {
                "alpha.kubernetes.io/provided-node-ip": node.ip.to_string(),
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": conditions(true),
            "addresses": [
                {"type": "InternalIP", "address": node.ip.to_string()},
                {"type": "Hostname", "address": node.name},
                {"type": "InternalDNS", "address": node.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": uuid::Uuid::new_v4().simple().to_string(),
                "systemUUID": uuid::Uuid::new_v4().to_string().to_uppercase(),
                "bootID": uuid::Uuid::new_v4().to_string(),
                "kernelVersion": if windows { node.windows_server.kernel_version() } else { "6.1.115-126.197.amzn2023.x86_64" },
                "osImage": if windows { node.windows_server.os_image() } else { "Amazon Linux 2023.6.20241121" },
                "containerRuntimeVersion": "containerd://1.7.23",
                "kubeletVersion": format!("v1.{}.0-eks-local", crate::api::SERVER_MINOR),
                "kubeProxyVersion": format!("v1.{}.0-eks-local", crate::api::SERVER_MINOR),
                "operatingSystem": node.os.label(),
                "architecture": "amd64",
            },
        },
    })
}

/// The secondary IPv4 addresses of an instance type's primary ENI (its IPv4 addresses per
/// interface, less the node's own), for the instance types the simulated node groups use.
fn windows_pod_addresses(instance_type: &str) -> u32 {
    match instance_type {
        "t3.medium" | "t3a.medium" => 5,
        "t3.large" | "t3a.large" => 11,
        "t3.xlarge" | "t3.2xlarge" | "m5.xlarge" | "m5.2xlarge" => 14,
        _ => 9,
    }
}

/// The node's Lease in `kube-node-lease`, renewed with each heartbeat.
pub fn lease_object(node: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now_micro()},
    })
}

/// Renews every node's Lease every `lease_every` and refreshes its conditions' heartbeat every
/// minute, as kubelets do, until the registry is dropped.
pub async fn heartbeats(
    registry: Arc<Registry>,
    nodes: Arc<std::sync::Mutex<Vec<String>>>,
    lease_every: Duration,
) {
    let mut ticks: u64 = 0;
    // Nodes whose last status heartbeat failed: tried again on the next tick, not a minute
    // later (a kubelet retries its status update at once, too), so a node is not reported
    // NotReady for one lost write.
    let mut status_owed: HashSet<String> = HashSet::new();
    let status_every = (60 / lease_every.as_secs().max(1)).max(1);
    let mut interval = tokio::time::interval(lease_every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        ticks += 1;
        let current: Vec<String> = nodes.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for node in &current {
            let renewed = registry.update_with(
                resources::leases(),
                "kube-node-lease",
                node,
                Part::Main,
                &WriteOptions::default(),
                |old| {
                    let mut next = old.clone();
                    next["spec"]["renewTime"] = json!(now_micro());
                    Ok(next)
                },
            );
            // A failed renewal is tried again on the next tick, well inside the lease's duration.
            let renewed = match renewed {
                Err(e) if e.code == 404 => registry
                    .create(
                        resources::leases(),
                        "kube-node-lease",
                        lease_object(node),
                        &WriteOptions::default(),
                    )
                    .map(drop),
                other => other.map(drop),
            };
            if let Err(e) = renewed {
                tracing::warn!(%node, error = %e.message, "node lease not renewed; trying again next heartbeat");
            }
            if ticks.is_multiple_of(status_every) || status_owed.contains(node) {
                let written = registry.update_with(
                    resources::nodes(),
                    "",
                    node,
                    Part::Status,
                    &WriteOptions::default(),
                    |old| {
                        let mut next = old.clone();
                        let t = now();
                        for c in next["status"]["conditions"]
                            .as_array_mut()
                            .into_iter()
                            .flatten()
                        {
                            c["lastHeartbeatTime"] = json!(t);
                        }
                        Ok(next)
                    },
                );
                match written {
                    Err(e) if e.code != 404 => {
                        tracing::warn!(%node, error = %e.message, "node status not written; trying again next heartbeat");
                        status_owed.insert(node.clone());
                    }
                    _ => {
                        status_owed.remove(node);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_windows_ami_type_names_its_release() {
        assert_eq!(
            WindowsServer::of_ami_type("WINDOWS_CORE_2019_x86_64"),
            Some(WindowsServer::Ltsc2019)
        );
        assert_eq!(
            WindowsServer::of_ami_type("WINDOWS_FULL_2022_x86_64"),
            Some(WindowsServer::Ltsc2022)
        );
        assert_eq!(
            WindowsServer::of_ami_type("WINDOWS_CORE_2025_x86_64"),
            Some(WindowsServer::Ltsc2025)
        );
        assert_eq!(WindowsServer::of_ami_type("AL2023_x86_64_STANDARD"), None);
        let nodes = plan(
            3,
            1,
            200,
            &[WindowsServer::Ltsc2019, WindowsServer::Ltsc2025],
        );
        let builds: Vec<String> = nodes
            .iter()
            .filter(|n| n.os == NodeOs::Windows)
            .map(|n| {
                node_object(n)["metadata"]["labels"]["node.kubernetes.io/windows-build"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(builds, vec!["10.0.17763", "10.0.26100", "10.0.17763"]);
    }
}
