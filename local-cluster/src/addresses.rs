//! The loopback addresses one cluster uses, and the lock that keeps two clusters on one machine
//! (the console's embedded one and a `local-cluster up`, or parallel tests) from sharing them.
//!
//! Block `b` (0–63) gives the cluster 127.(64+b).0.0/16 for nodes, 127.(128+b).0.0/16 for
//! Service ClusterIPs and 127.(192+b).0.0/16 for pods. The cluster holds 127.(64+b).0.1:10250 (the
//! kubelet port) for as long as it runs; the next cluster finds it taken and moves on.

use std::net::{Ipv4Addr, TcpListener};

/// The address plan of one cluster.
#[derive(Debug)]
pub struct AddressBlock {
    /// 0–63.
    pub block: u8,
    _lock: TcpListener,
}

impl AddressBlock {
    /// Claims the first free block.
    pub fn claim() -> std::io::Result<AddressBlock> {
        let mut last_error = None;
        for block in 0..64u8 {
            match TcpListener::bind((Ipv4Addr::new(127, 64 + block, 0, 1), 10250)) {
                Ok(lock) => return Ok(AddressBlock { block, _lock: lock }),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no free address block")))
    }

    /// Second octet of node addresses.
    pub fn nodes(&self) -> u8 {
        64 + self.block
    }

    /// Second octet of ClusterIPs.
    pub fn services(&self) -> u8 {
        128 + self.block
    }

    /// Second octet of pod addresses.
    pub fn pods(&self) -> u8 {
        192 + self.block
    }
}
