//! EKS clusters and their node groups as the console shows them: pure data read from the EKS API,
//! with each node group's operating system told by its AMI type.

use kube_units::windows_builds::WindowsBuild;
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
    /// The cluster's subnets (new node groups go there unless told otherwise).
    pub subnets: Vec<String>,
    /// What EC2 says of its node groups' instance types (or why it could not be asked).
    #[serde(skip)]
    pub instance_types: crate::model::instance_types::InstanceCatalog,
}

/// A node group a cluster does not have, with the ones it has.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cluster {cluster} has no node group {group:?} (it has: {})", names_or_none(.available))]
pub struct UnknownNodeGroup {
    /// The cluster.
    pub cluster: String,
    /// The group asked for.
    pub group: String,
    /// The groups there are.
    pub available: Vec<String>,
}

/// `a, b` or `none`.
fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Why a node group cannot be read from an eksctl file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EksctlError {
    /// Not YAML of a ClusterConfig's shape.
    #[error("not an eksctl ClusterConfig: {0}")]
    Unreadable(String),
    /// Another kind of file.
    #[error("not an eksctl ClusterConfig (kind: ClusterConfig)")]
    NotClusterConfig,
    /// An AMI family EKS has no AMI type for.
    #[error(
        "amiFamily {family:?} has no EKS AMI type (a custom AMI needs a launch template); use one of {}",
        AMI_FAMILIES.iter().map(|(f, _, _)| *f).collect::<Vec<_>>().join(", ")
    )]
    NoAmiType {
        /// The family named.
        family: String,
    },
    /// No such managed node group in it.
    #[error("no managed node group {group:?} in it (it has: {})", names_or_none(.available))]
    NoSuchGroup {
        /// The group asked for.
        group: String,
        /// The managed node groups there are.
        available: Vec<String>,
    },
}

impl EksCluster {
    /// The node group called `name`, or an error naming the ones there are.
    pub fn group(&self, name: &str) -> Result<&EksNodeGroup, UnknownNodeGroup> {
        self.node_groups
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| UnknownNodeGroup {
                cluster: self.name.clone(),
                group: name.to_owned(),
                available: self.node_groups.iter().map(|g| g.name.clone()).collect(),
            })
    }

    /// Node groups of `os`.
    pub fn groups_of(&self, os: &NodeOs) -> impl Iterator<Item = &EksNodeGroup> {
        self.node_groups.iter().filter(move |g| &g.os == os)
    }
}

/// A taint a node group puts on its nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GroupTaint {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: Option<String>,
    /// `NoSchedule`, `NoExecute` or `PreferNoSchedule`, as Kubernetes spells it.
    pub effect: String,
}

/// A node group to create: from an eksctl ClusterConfig or the console's dialog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupProposal {
    /// Its name.
    pub name: String,
    /// EKS AMI type (`WINDOWS_CORE_2022_x86_64`).
    pub ami_type: String,
    /// EC2 instance types.
    pub instance_types: Vec<String>,
    /// Minimum nodes.
    pub min: i32,
    /// Desired nodes.
    pub desired: i32,
    /// Maximum nodes.
    pub max: i32,
    /// Node labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Node taints.
    pub taints: Vec<GroupTaint>,
    /// Subnet IDs (empty: the cluster's own subnets).
    pub subnets: Vec<String>,
    /// The node IAM role ARN (`None`: must be given another way).
    pub node_role: Option<String>,
}

/// The eksctl `amiFamily` names and the EKS AMI type each means (x86_64, Arm).
const AMI_FAMILIES: &[(&str, &str, Option<&str>)] = &[
    (
        "AmazonLinux2023",
        "AL2023_x86_64_STANDARD",
        Some("AL2023_ARM_64_STANDARD"),
    ),
    ("AmazonLinux2", "AL2_x86_64", Some("AL2_ARM_64")),
    (
        "Bottlerocket",
        "BOTTLEROCKET_x86_64",
        Some("BOTTLEROCKET_ARM_64"),
    ),
    (
        "WindowsServer2019CoreContainer",
        "WINDOWS_CORE_2019_x86_64",
        None,
    ),
    (
        "WindowsServer2019FullContainer",
        "WINDOWS_FULL_2019_x86_64",
        None,
    ),
    (
        "WindowsServer2022CoreContainer",
        "WINDOWS_CORE_2022_x86_64",
        None,
    ),
    (
        "WindowsServer2022FullContainer",
        "WINDOWS_FULL_2022_x86_64",
        None,
    ),
    (
        "WindowsServer2025CoreContainer",
        "WINDOWS_CORE_2025_x86_64",
        None,
    ),
    (
        "WindowsServer2025FullContainer",
        "WINDOWS_FULL_2025_x86_64",
        None,
    ),
];

impl NodeGroupProposal {
    /// Reads managed node group `nodegroup` from an eksctl `ClusterConfig` (YAML), turning its
    /// `amiFamily` into the EKS AMI type as eksctl does.
    pub fn from_eksctl(yaml: &str, nodegroup: &str) -> Result<NodeGroupProposal, EksctlError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Config {
            kind: Option<String>,
            #[serde(default)]
            managed_node_groups: Vec<Group>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Group {
            name: String,
            ami_family: Option<String>,
            instance_type: Option<String>,
            #[serde(default)]
            instance_types: Vec<String>,
            desired_capacity: Option<i32>,
            min_size: Option<i32>,
            max_size: Option<i32>,
            #[serde(default)]
            labels: std::collections::BTreeMap<String, String>,
            #[serde(default)]
            taints: Vec<GroupTaint>,
            #[serde(default)]
            subnets: Vec<String>,
            iam: Option<Iam>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Iam {
            #[serde(rename = "instanceRoleARN")]
            instance_role_arn: Option<String>,
        }
        let config: Config =
            serde_yaml::from_str(yaml).map_err(|e| EksctlError::Unreadable(e.to_string()))?;
        if config.kind.as_deref() != Some("ClusterConfig") {
            return Err(EksctlError::NotClusterConfig);
        }
        let group = config
            .managed_node_groups
            .iter()
            .find(|g| g.name == nodegroup)
            .ok_or_else(|| EksctlError::NoSuchGroup {
                group: nodegroup.to_owned(),
                available: config
                    .managed_node_groups
                    .iter()
                    .map(|g| g.name.clone())
                    .collect(),
            })?;
        let mut instance_types = group.instance_types.clone();
        if let Some(t) = &group.instance_type {
            instance_types.insert(0, t.clone());
        }
        if instance_types.is_empty() {
            instance_types.push("m5.large".into());
        }
        let family = group.ami_family.as_deref().unwrap_or("AmazonLinux2023");
        let arm = instance_types
            .iter()
            .any(|t| super::instance_types::is_arm_instance_type(t));
        let ami_type = AMI_FAMILIES
            .iter()
            .find(|(f, _, _)| *f == family)
            .map(|(_, x86, arm_type)| match (arm, arm_type) {
                (true, Some(a)) => (*a).to_owned(),
                _ => (*x86).to_owned(),
            })
            .ok_or_else(|| EksctlError::NoAmiType {
                family: family.to_owned(),
            })?;
        let desired = group.desired_capacity.unwrap_or(2);
        Ok(NodeGroupProposal {
            name: group.name.clone(),
            ami_type,
            instance_types,
            // eksctl's defaults: min and max equal to the desired size.
            min: group.min_size.unwrap_or(desired),
            desired,
            max: group.max_size.unwrap_or(desired),
            labels: group.labels.clone(),
            taints: group.taints.clone(),
            subnets: group.subnets.clone(),
            node_role: group.iam.as_ref().and_then(|i| i.instance_role_arn.clone()),
        })
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

/// The Windows build the nodes of a Windows AMI type run (`WINDOWS_CORE_2025_x86_64` →
/// 10.0.26100); `None` for any other AMI type.
pub fn windows_build_of_ami_type(ami_type: &str) -> Option<WindowsBuild> {
    if !CURRENT_WINDOWS_AMI_TYPES.contains(&ami_type) {
        return None;
    }
    WindowsBuild::of_ami_type(ami_type)
}

/// Where the console looks for EKS: a region and an optional named profile (`None`: the SDK's
/// defaults — `AWS_REGION`, `AWS_PROFILE`, `~/.aws/config`), or an AWS API emulator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AwsTarget {
    /// The region.
    pub region: Option<String>,
    /// The named profile.
    pub profile: Option<String>,
    /// An AWS API emulator to use instead of AWS (its region, its keys; region and profile
    /// above are then not read).
    pub emulator: Option<AwsEmulator>,
}

impl AwsTarget {
    /// The emulator at `endpoint`, in `region`.
    pub fn emulator(endpoint: impl Into<String>, region: impl Into<String>) -> AwsTarget {
        AwsTarget {
            emulator: Some(AwsEmulator {
                endpoint: endpoint.into(),
                region: region.into(),
            }),
            ..AwsTarget::default()
        }
    }
}

/// An AWS API emulator (moto server) on this machine: it takes any keys, so the console signs
/// with [`AwsEmulator::ACCESS_KEY_ID`] and [`AwsEmulator::SECRET_ACCESS_KEY`] and needs no AWS
/// account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AwsEmulator {
    /// Its URL, for every service (`http://127.0.0.1:PORT`).
    pub endpoint: String,
    /// The region it is asked about.
    pub region: String,
}

impl AwsEmulator {
    /// The access key the console signs with (moto's documented test key).
    pub const ACCESS_KEY_ID: &'static str = "testing";
    /// Its secret.
    pub const SECRET_ACCESS_KEY: &'static str = "testing";
}

/// Where a node group to add is described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalSource {
    /// A managed node group in an eksctl ClusterConfig file.
    Eksctl {
        /// The file.
        path: std::path::PathBuf,
        /// The node group's name in it.
        group: String,
        /// The node role ARN, if the file does not give one.
        node_role: Option<String>,
    },
    /// Given field by field.
    Fields(Box<crate::model::eks::NodeGroupProposal>),
}

/// What to do with the node group once its nodes are drained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Retirement {
    /// `UpdateNodegroupConfig` to zero nodes (the group stays, to scale up again).
    ScaleToZero,
    /// `DeleteNodegroup`.
    Delete,
}

impl Retirement {
    /// `scale node group windows of cluster hybrid to 0` / `delete node group …`.
    pub fn describe(self, cluster: &str, group: &str) -> String {
        match self {
            Retirement::ScaleToZero => {
                format!("scale node group {group} of cluster {cluster} to 0 nodes")
            }
            Retirement::Delete => format!("delete node group {group} of cluster {cluster}"),
        }
    }
}

/// A node group's nodes and what runs on them, read before anything changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSurvey {
    /// The EKS cluster.
    pub cluster: String,
    /// The node group as EKS describes it.
    pub group: EksNodeGroup,
    /// Its nodes in the cluster (label `eks.amazonaws.com/nodegroup`).
    pub nodes: Vec<String>,
    /// Workload pods on them (`namespace/name on node`), DaemonSet and mirror pods aside.
    pub workload_pods: Vec<String>,
    /// A Cluster Autoscaler found in the cluster (`namespace/name`), which may scale the group
    /// back up.
    pub autoscaler: Option<String>,
    /// What the drain needs and the console's user may not do (`patch nodes`), as the server
    /// answered access reviews.
    pub not_allowed: Vec<String>,
}

impl GroupSurvey {
    /// Why the group may not be taken out of service yet, if it may not.
    pub fn refusal(&self, retirement: Retirement) -> Option<String> {
        let mut why = Vec::new();
        if !self.workload_pods.is_empty() {
            why.push(format!(
                "{} workload pod(s) still run on its nodes: {}. Move them off first (hybrid-console migrate SERVICE --to linux for each service, then hybrid-console retire for the monolith).",
                self.workload_pods.len(),
                self.workload_pods.join(", ")
            ));
        }
        if !self.not_allowed.is_empty() {
            why.push(format!(
                "not allowed: {} (cluster-wide), which cordoning and draining its nodes needs; ask your cluster administrator for the hybrid-console:drain ClusterRole (manifests/console/rbac.yaml).",
                self.not_allowed.join(", ")
            ));
        }
        if why.is_empty() {
            return None;
        }
        Some(format!(
            "Refusing to {}: {}",
            retirement.describe(&self.cluster, &self.group.name),
            why.join(" And ")
        ))
    }

    /// Warnings to show with the confirmation.
    pub fn warnings(&self) -> Vec<String> {
        self.autoscaler
            .iter()
            .map(|a| {
                format!(
                    "Cluster Autoscaler runs in this cluster ({a}): it may add nodes to {} again while pods are pending; the group's minimum is set to 0 with its size",
                    self.group.name
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_cluster_file_gives_its_two_node_groups() {
        let yaml = include_str!("../../../manifests/cluster/hybrid-cluster.yaml");
        let windows =
            NodeGroupProposal::from_eksctl(yaml, "windows").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(windows.ami_type, "WINDOWS_CORE_2022_x86_64");
        assert_eq!(windows.instance_types, ["t3.large"]);
        assert_eq!((windows.min, windows.desired, windows.max), (0, 2, 3));
        assert_eq!(
            windows.taints,
            [GroupTaint {
                key: "os".into(),
                value: Some("windows".into()),
                effect: "NoSchedule".into()
            }]
        );
        let linux = NodeGroupProposal::from_eksctl(yaml, "linux").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(linux.ami_type, "AL2023_x86_64_STANDARD");
        let missing = NodeGroupProposal::from_eksctl(yaml, "gpu").unwrap_err();
        assert!(
            missing.to_string().contains("it has: linux, windows"),
            "{missing}"
        );
        let arm = "kind: ClusterConfig\nmanagedNodeGroups: [{name: a, instanceType: m7g.large}]";
        let arm = NodeGroupProposal::from_eksctl(arm, "a").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (arm.ami_type.as_str(), arm.min, arm.max),
            ("AL2023_ARM_64_STANDARD", 2, 2)
        );
        assert!(NodeGroupProposal::from_eksctl("kind: Pod", "a").is_err());
        assert!(NodeGroupProposal::from_eksctl(": : :", "a").is_err());
        let ubuntu = "kind: ClusterConfig\nmanagedNodeGroups: [{name: u, amiFamily: Ubuntu2204}]";
        assert!(
            NodeGroupProposal::from_eksctl(ubuntu, "u")
                .unwrap_err()
                .to_string()
                .contains("launch template")
        );
    }

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
