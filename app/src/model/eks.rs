//! EKS clusters and their node groups as the console shows them: pure data read from the EKS API,
//! with each node group's operating system told by its AMI type.

use serde::Serialize;

use super::NodeOs;

/// One node group of an EKS cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EksNodeGroup {
    /// Its name.
    pub name: String,
    /// `AL2023_x86_64_STANDARD`, `WINDOWS_CORE_2022_x86_64`, …
    pub ami_type: String,
    /// The OS its nodes run, from the AMI type.
    pub os: NodeOs,
    /// EC2 instance types.
    pub instance_types: Vec<String>,
    /// Minimum nodes.
    pub min: i32,
    /// Desired nodes.
    pub desired: i32,
    /// Maximum nodes.
    pub max: i32,
    /// `ACTIVE`, `CREATING`, `DEGRADED`, …
    pub status: String,
    /// Health issues: `code: message`.
    pub health_issues: Vec<String>,
}

/// One EKS cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EksCluster {
    /// Its name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Kubernetes version (`1.33`).
    pub version: String,
    /// EKS platform version (`eks.4`).
    pub platform_version: String,
    /// `ACTIVE`, `CREATING`, …
    pub status: String,
    /// The API server's URL.
    pub endpoint: String,
    /// Its node groups, by name.
    pub node_groups: Vec<EksNodeGroup>,
}

impl EksCluster {
    /// Node groups of `os`.
    pub fn groups_of(&self, os: &NodeOs) -> impl Iterator<Item = &EksNodeGroup> {
        self.node_groups.iter().filter(move |g| &g.os == os)
    }
}

/// The OS of an EKS AMI type: `WINDOWS_*` is Windows, anything else Linux (Amazon Linux,
/// Bottlerocket, custom).
pub fn os_of_ami_type(ami_type: &str) -> NodeOs {
    if ami_type.starts_with("WINDOWS_") {
        NodeOs::Windows
    } else {
        NodeOs::Linux
    }
}

/// Whether `name` looks like an AWS region (`us-west-2`, `us-gov-east-1`, `cn-north-1`).
pub fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// The Windows AMI types EKS supports today (Windows Server 2019, 2022 and 2025, Core and Full,
/// x86_64 only).
pub const CURRENT_WINDOWS_AMI_TYPES: &[&str] = &[
    "WINDOWS_CORE_2019_x86_64",
    "WINDOWS_FULL_2019_x86_64",
    "WINDOWS_CORE_2022_x86_64",
    "WINDOWS_FULL_2022_x86_64",
    "WINDOWS_CORE_2025_x86_64",
    "WINDOWS_FULL_2025_x86_64",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_look_like_regions() {
        for good in [
            "us-west-2",
            "us-gov-east-1",
            "cn-north-1",
            "ap-southeast-3",
            "eu-central-2",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "mars",
            "",
            "us-west",
            "US-WEST-2",
            "us-west-2a",
            "evil.com/x",
            "us--1",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn ami_types_tell_the_os() {
        for windows in CURRENT_WINDOWS_AMI_TYPES {
            assert_eq!(os_of_ami_type(windows), NodeOs::Windows, "{windows}");
        }
        for linux in [
            "AL2023_x86_64_STANDARD",
            "AL2_x86_64",
            "BOTTLEROCKET_ARM_64",
            "CUSTOM",
            "AL2023_ARM_64_STANDARD",
        ] {
            assert_eq!(os_of_ami_type(linux), NodeOs::Linux, "{linux}");
        }
    }
}
