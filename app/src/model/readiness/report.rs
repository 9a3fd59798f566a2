//! What the readiness check reads and what it answers: the inputs, the tunable options, and
//! the report of findings (each with a severity, its evidence and the fix).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Taint};
use k8s_openapi::api::node::v1::RuntimeClass;
use kube_units::windows_builds::WindowsBuild;
use serde::Serialize;

use crate::model::eks::EksCluster;

/// How a check came out, worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Not applicable here (no Windows nodes, no EKS API).
    Skipped,
    /// Nothing to fix.
    Passed,
    /// Works, but something will bite later.
    Warning,
    /// Windows or Linux workloads will fail until this is fixed.
    Failed,
}

impl Severity {
    /// `PASS`, `WARN`, `FAIL`, `SKIP`.
    pub fn tag(self) -> &'static str {
        match self {
            Severity::Skipped => "SKIP",
            Severity::Passed => "PASS",
            Severity::Warning => "WARN",
            Severity::Failed => "FAIL",
        }
    }
}

/// One check's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable identifier (`windows-ipam`).
    pub check: &'static str,
    /// What is checked, in the operator's words.
    pub title: &'static str,
    /// The verdict.
    pub severity: Severity,
    /// One line: what was found.
    pub summary: String,
    /// The objects and values the verdict rests on.
    pub evidence: Vec<String>,
    /// What to do about it (a command where one exists).
    pub fix: Option<String>,
}

impl Finding {
    pub(super) fn new(check: &'static str, title: &'static str) -> Finding {
        Finding {
            check,
            title,
            severity: Severity::Passed,
            summary: String::new(),
            evidence: Vec::new(),
            fix: None,
        }
    }

    pub(super) fn verdict(mut self, severity: Severity, summary: impl Into<String>) -> Finding {
        self.severity = severity;
        self.summary = summary.into();
        self
    }

    pub(super) fn evidence(mut self, evidence: Vec<String>) -> Finding {
        self.evidence = evidence;
        self
    }

    pub(super) fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

/// The taint expected on Windows nodes. `os=windows:NoSchedule` is a common convention (eksctl
/// examples, the project's own cluster file), not an EKS default, so it can be changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedTaint {
    /// Taint key.
    pub key: String,
    /// Taint value (`None`: any).
    pub value: Option<String>,
    /// `NoSchedule` or `NoExecute`.
    pub effect: String,
}

impl Default for ExpectedTaint {
    fn default() -> Self {
        ExpectedTaint {
            key: "os".into(),
            value: Some("windows".into()),
            effect: "NoSchedule".into(),
        }
    }
}

impl fmt::Display for ExpectedTaint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}:{}", self.key, v, self.effect),
            None => write!(f, "{}:{}", self.key, self.effect),
        }
    }
}

impl FromStr for ExpectedTaint {
    type Err = String;

    /// `key=value:Effect` or `key:Effect`, as `kubectl taint` writes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (head, effect) = s.rsplit_once(':').ok_or_else(|| {
            format!(
                "{s:?} is not a taint: write it as key=value:Effect, e.g. os=windows:NoSchedule"
            )
        })?;
        if !matches!(effect, "NoSchedule" | "NoExecute" | "PreferNoSchedule") {
            return Err(format!(
                "{effect:?} is not a taint effect: use NoSchedule, NoExecute or PreferNoSchedule"
            ));
        }
        let (key, value) = match head.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (head, None),
        };
        if key.is_empty() {
            return Err(format!("{s:?} has no taint key"));
        }
        Ok(ExpectedTaint {
            key: key.to_owned(),
            value,
            effect: effect.to_owned(),
        })
    }
}

impl ExpectedTaint {
    pub(super) fn is_on(&self, taints: &[Taint]) -> bool {
        taints.iter().any(|t| {
            t.key == self.key
                && t.effect == self.effect
                && self
                    .value
                    .as_ref()
                    .is_none_or(|v| t.value.as_deref() == Some(v))
        })
    }
}

/// What the check reads.
#[derive(Clone, Copy, Debug)]
pub struct ReadinessInputs<'a> {
    /// Every node.
    pub nodes: &'a [Node],
    /// Every pod.
    pub pods: &'a [Pod],
    /// Every Deployment.
    pub deployments: &'a [Deployment],
    /// Every DaemonSet.
    pub daemonsets: &'a [DaemonSet],
    /// Every RuntimeClass (their scheduling pins pods to a Windows build).
    pub runtime_classes: &'a [RuntimeClass],
    /// `kube-system/amazon-vpc-cni` (`None`: it does not exist).
    pub vpc_cni: Option<&'a ConfigMap>,
    /// The EKS cluster with its node groups, when the EKS API was asked.
    pub eks: Option<&'a EksCluster>,
    /// The taint Windows nodes should carry.
    pub windows_taint: &'a ExpectedTaint,
    /// DaemonSets every Windows node must run (`namespace/name`), beyond those that target
    /// Windows by themselves.
    pub required_daemonsets: &'a [String],
    /// The Windows AMI upgrade to judge, if asked.
    pub upgrade: Option<&'a UpgradeQuestion>,
    /// What the images' registries said of their Windows platforms, by image reference (an
    /// image not in it is judged by its tag).
    pub registry: &'a BTreeMap<String, RegistryAnswer>,
}

/// What an image's registry says of its Windows platforms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryAnswer {
    /// The Windows builds it has: each Windows entry's `os.version` in an image index, or the
    /// one manifest's config's (`index` says which). Empty: no Windows platform at all.
    Platforms {
        /// The builds.
        builds: Vec<WindowsBuild>,
        /// From an image index (a multi-platform tag).
        index: bool,
    },
    /// The registry could not be read (why): the tag's convention stands in, and the finding
    /// says so.
    Unread(String),
}

/// "What if these Windows nodes moved to that AMI type": the AMI type and the node group
/// (`None`: every Windows node group).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpgradeQuestion {
    /// `WINDOWS_CORE_2025_x86_64`.
    pub ami_type: String,
    /// The node group, by its `eks.amazonaws.com/nodegroup` label.
    pub node_group: Option<String>,
}

/// Every finding, in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessReport {
    /// The cluster checked (EKS name or kubeconfig context).
    pub cluster: String,
    /// The findings.
    pub findings: Vec<Finding>,
}

impl ReadinessReport {
    /// The worst severity found.
    pub fn worst(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Passed)
    }

    /// How many findings have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// What the operator may tune.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadinessOptions {
    /// The taint Windows nodes should carry.
    pub windows_taint: ExpectedTaint,
    /// DaemonSets every Windows node must run (`namespace/name`).
    pub required_daemonsets: Vec<String>,
    /// A Windows AMI upgrade to judge.
    pub upgrade: Option<UpgradeQuestion>,
    /// Whether Windows workloads' images are read from their registries (else their tags
    /// alone say their builds).
    pub read_registries: bool,
}

pub(super) const LINUX: &str = "A Linux node group for system pods";

pub(super) const GROUPS: &str = "Windows node groups on a current Windows AMI and x86_64";

pub(super) const IPAM: &str = "Windows IP address management (VPC CNI)";

pub(super) const TAINT: &str = "Windows nodes keep Linux pods off";

pub(super) const SELECTORS: &str = "Workloads choose their OS";

pub(super) const FEATURES: &str = "Windows pods ask only for what Windows on EKS supports";

pub(super) const CAPACITY: &str = "Windows pod IP capacity";

pub(super) const DAEMONS: &str = "Windows DaemonSets ready on every Windows node";

pub(super) const BUILDS: &str = "Windows images suit their nodes' Windows build";

pub(super) const UPGRADE: &str = "Images ready for the Windows AMI upgrade";

/// The extended resource the VPC resource controller advertises on Windows nodes.
pub const IPV4_RESOURCE: &str = "vpc.amazonaws.com/PrivateIPv4Address";
