//! Service addresses: each Service gets a free ClusterIP from the registry's loopback range
//! (or keeps the one it has, or the one it asks for) and, for NodePort and LoadBalancer
//! Services, free node ports; a deleted Service frees them.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use std::sync::Mutex;

use crate::errors::{ApiError, FieldError};
use crate::resources::{self, ResourceKind};

/// Service addresses handed out, so two Services never share a ClusterIP or NodePort.
pub(super) struct ServiceAddresses {
    /// ClusterIPs come from 127.`octet`.0.0/16: loopback, so the cluster really listens on them.
    octet: u8,
    taken: Mutex<Taken>,
}

#[derive(Default)]
struct Taken {
    cluster_ips: BTreeSet<Ipv4Addr>,
    node_ports: BTreeSet<u16>,
}

/// What one write took, to give back if the write fails.
pub(super) enum Allocation {
    Ip(Ipv4Addr),
    NodePort(u16),
}

impl ServiceAddresses {
    /// None taken yet; ClusterIPs from 127.`octet`.0.0/16.
    pub(super) fn new(octet: u8) -> ServiceAddresses {
        ServiceAddresses {
            octet,
            taken: Mutex::default(),
        }
    }

    /// Takes the addresses a Service being written needs.
    pub(super) fn allocate(
        &self,
        kind: &ResourceKind,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<Vec<Allocation>, ApiError> {
        if kind.kind != "Service" {
            return Ok(Vec::new());
        }
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut addresses = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        let mut allocated = Vec::new();
        let spec = &mut object["spec"];
        let kind_of = spec["type"].as_str().unwrap_or("ClusterIP").to_owned();
        // ClusterIP: keep the old one; else honour a requested one; else the next free.
        let old_ip = old
            .and_then(|o| o["spec"]["clusterIP"].as_str())
            .map(str::to_owned);
        match (spec["clusterIP"].as_str(), old_ip) {
            (_, Some(old_ip)) => {
                if spec["clusterIP"]
                    .as_str()
                    .is_some_and(|ip| !ip.is_empty() && ip != old_ip)
                {
                    return Err(ApiError::invalid(
                        resources::services(),
                        &name,
                        &[FieldError::invalid(
                            "spec.clusterIPs[0]",
                            format!("{:?}", spec["clusterIP"].as_str().unwrap_or_default()),
                            "may not change once set",
                        )],
                    ));
                }
                spec["clusterIP"] = json!(old_ip);
            }
            (Some("None"), None) => {}
            (_, None) if kind_of == "ExternalName" => {}
            (Some(ip), None) if !ip.is_empty() => {
                let parsed: Ipv4Addr = ip.parse().map_err(|_| {
                    ApiError::invalid(
                        resources::services(),
                        &name,
                        &[FieldError::invalid(
                            "spec.clusterIPs[0]",
                            format!("{ip:?}"),
                            "must be a valid IP address",
                        )],
                    )
                })?;
                if !addresses.cluster_ips.insert(parsed) {
                    return Err(ApiError::invalid(
                        resources::services(),
                        &name,
                        &[FieldError::invalid(
                            "spec.clusterIPs",
                            format!("[]string{{{ip:?}}}"),
                            "failed to allocate IP: provided IP is already allocated",
                        )],
                    ));
                }
                allocated.push(Allocation::Ip(parsed));
            }
            _ => {
                let ip = (1..=u16::MAX)
                    .map(|n| Ipv4Addr::new(127, self.octet, (n >> 8) as u8, (n & 0xff) as u8))
                    .find(|ip| ip.octets()[3] != 0 && !addresses.cluster_ips.contains(ip))
                    .ok_or_else(|| {
                        ApiError::internal(format!(
                            "no free ClusterIP left in 127.{}.0.0/16",
                            self.octet
                        ))
                    })?;
                addresses.cluster_ips.insert(ip);
                allocated.push(Allocation::Ip(ip));
                spec["clusterIP"] = json!(ip.to_string());
            }
        }
        if let Some(ip) = spec["clusterIP"].as_str().map(str::to_owned) {
            spec["clusterIPs"] = json!([ip]);
        }
        let wants_node_ports = matches!(kind_of.as_str(), "NodePort" | "LoadBalancer");
        let old_ports: Vec<(i64, i64)> = old
            .and_then(|o| o["spec"]["ports"].as_array())
            .map(|ports| {
                ports
                    .iter()
                    .map(|p| {
                        (
                            p["port"].as_i64().unwrap_or(0),
                            p["nodePort"].as_i64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(ports) = spec["ports"].as_array_mut() {
            for (i, port) in ports.iter_mut().enumerate() {
                if !wants_node_ports {
                    if let Some(p) = port.as_object_mut() {
                        p.remove("nodePort");
                    }
                    continue;
                }
                let number = port["port"].as_i64().unwrap_or(0);
                let kept = old_ports
                    .iter()
                    .find(|(p, n)| *p == number && *n != 0)
                    .map(|(_, n)| *n);
                match (port["nodePort"].as_i64().filter(|n| *n != 0), kept) {
                    (Some(requested), Some(k)) if requested == k => {}
                    (None, Some(k)) => port["nodePort"] = json!(k),
                    (Some(requested), _) => {
                        let requested = requested as u16;
                        if !addresses.node_ports.insert(requested) {
                            return Err(ApiError::invalid(
                                resources::services(),
                                &name,
                                &[FieldError::invalid(
                                    format!("spec.ports[{i}].nodePort"),
                                    requested.to_string(),
                                    "provided port is already allocated",
                                )],
                            ));
                        }
                        allocated.push(Allocation::NodePort(requested));
                    }
                    (None, None) => {
                        let free = (30000..=32767u16)
                            .find(|p| !addresses.node_ports.contains(p))
                            .ok_or_else(|| {
                                ApiError::internal("no free NodePort left in 30000-32767")
                            })?;
                        addresses.node_ports.insert(free);
                        allocated.push(Allocation::NodePort(free));
                        port["nodePort"] = json!(free);
                    }
                }
            }
        }
        Ok(allocated)
    }

    /// Gives back what [`ServiceAddresses::allocate`] took.
    pub(super) fn release_list(&self, allocated: &[Allocation]) {
        let mut addresses = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        for a in allocated {
            match a {
                Allocation::Ip(ip) => addresses.cluster_ips.remove(ip),
                Allocation::NodePort(p) => addresses.node_ports.remove(p),
            };
        }
    }

    /// Frees what a deleted Service held.
    pub(super) fn release(&self, kind: &ResourceKind, object: &Value) {
        if kind.kind != "Service" {
            return;
        }
        let mut list = Vec::new();
        if let Some(ip) = object["spec"]["clusterIP"]
            .as_str()
            .and_then(|s| s.parse().ok())
        {
            list.push(Allocation::Ip(ip));
        }
        for port in object["spec"]["ports"].as_array().into_iter().flatten() {
            if let Some(n) = port["nodePort"].as_u64() {
                list.push(Allocation::NodePort(n as u16));
            }
        }
        self.release_list(&list);
    }
}
