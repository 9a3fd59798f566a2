//! The hybrid readiness check: what a cluster needs before Windows and Linux workloads share it
//! safely, judged from its objects (and, on EKS, its node groups). Pure data in, findings out:
//! each with a severity, the evidence it rests on and the fix, so the CLI, the window and the
//! node-group dialog show the same verdicts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, PodSpec, Taint, Toleration};
use serde::Serialize;

use super::NodeOs;
use super::eks::{CURRENT_WINDOWS_AMI_TYPES, EksCluster, NodeGroupProposal, os_of_ami_type};

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
    fn new(check: &'static str, title: &'static str) -> Finding {
        Finding {
            check,
            title,
            severity: Severity::Passed,
            summary: String::new(),
            evidence: Vec::new(),
            fix: None,
        }
    }

    fn verdict(mut self, severity: Severity, summary: impl Into<String>) -> Finding {
        self.severity = severity;
        self.summary = summary.into();
        self
    }

    fn evidence(mut self, evidence: Vec<String>) -> Finding {
        self.evidence = evidence;
        self
    }

    fn fix(mut self, fix: impl Into<String>) -> Finding {
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
    fn is_on(&self, taints: &[Taint]) -> bool {
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
    /// `kube-system/amazon-vpc-cni` (`None`: it does not exist).
    pub vpc_cni: Option<&'a ConfigMap>,
    /// The EKS cluster with its node groups, when the EKS API was asked.
    pub eks: Option<&'a EksCluster>,
    /// The taint Windows nodes should carry.
    pub windows_taint: &'a ExpectedTaint,
    /// DaemonSets every Windows node must run (`namespace/name`), beyond those that target
    /// Windows by themselves.
    pub required_daemonsets: &'a [String],
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

fn os_of(node: &Node) -> NodeOs {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/os"))
        .map(|os| NodeOs::from_label(os))
        .or_else(|| {
            node.status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| NodeOs::from_label(&i.operating_system))
        })
        .unwrap_or(NodeOs::Other(String::new()))
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn qualified(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or_default()
    )
}

fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

fn taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

/// Whether `tolerations` tolerate `taint`, by the scheduler's rules.
pub fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key = t.key.as_deref().unwrap_or_default();
        let exists = t.operator.as_deref() == Some("Exists");
        let key_ok = (key.is_empty() && exists) || key == taint.key;
        let value_ok = exists
            || t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default();
        effect_ok && key_ok && value_ok
    })
}

/// Whether a pod of `spec` may be placed on `node` as far as taints and its node selector go.
fn could_land_on(spec: &PodSpec, node: &Node) -> bool {
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let taints_ok = taints(node)
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| tolerates(tolerations, t));
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| label(node, k) == Some(v.as_str()));
    taints_ok && selector_ok
}

const OS_LABELS: [&str; 2] = ["kubernetes.io/os", "beta.kubernetes.io/os"];

/// The OS a pod template asks for, by nodeSelector or by every required node-affinity term
/// (one term without it lets the pod go anywhere); `None` when it leaves the OS open.
pub fn chosen_os(spec: &PodSpec) -> Option<Vec<String>> {
    if let Some(os) = spec
        .node_selector
        .as_ref()
        .and_then(|s| OS_LABELS.iter().find_map(|k| s.get(*k)))
    {
        return Some(vec![os.clone()]);
    }
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or_default();
    if terms.is_empty() {
        return None;
    }
    let mut chosen = Vec::new();
    for term in terms {
        let os_expression = term
            .match_expressions
            .iter()
            .flatten()
            .find(|e| OS_LABELS.contains(&e.key.as_str()) && e.operator == "In")?;
        chosen.extend(os_expression.values.iter().flatten().cloned());
    }
    chosen.sort();
    chosen.dedup();
    Some(chosen)
}

/// Whether an EC2 instance type runs on Arm (Graviton: a `g` after the generation digit, as
/// in `m6g`, `c7gn`, `t4g`, `x2gd`; or the first-generation `a1`).
pub fn is_arm_instance_type(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    if family == "a1" {
        return true;
    }
    let Some(digit) = family.find(|c: char| c.is_ascii_digit()) else {
        return false;
    };
    let suffix = family[digit..].trim_start_matches(|c: char| c.is_ascii_digit());
    suffix.split('-').next().unwrap_or_default().contains('g')
}

/// IPv4 addresses per network interface of an instance type, for the types Windows node groups
/// commonly use (EC2's published table); `None` when not known here.
pub fn ipv4_per_interface(instance_type: &str) -> Option<u32> {
    let (family, size) = instance_type.split_once('.')?;
    if matches!(family, "t2" | "t3" | "t3a") {
        return match size {
            "nano" | "micro" => Some(2),
            "small" => Some(4),
            "medium" => Some(6),
            "large" => Some(12),
            "xlarge" | "2xlarge" => Some(15),
            _ => None,
        };
    }
    let letter = family.chars().next()?;
    let generation: u32 = family
        .chars()
        .skip(1)
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    if !matches!(letter, 'm' | 'c' | 'r') || generation < 5 {
        return None;
    }
    match size {
        "large" => Some(10),
        "xlarge" | "2xlarge" => Some(15),
        "4xlarge" | "8xlarge" | "9xlarge" | "12xlarge" => Some(30),
        "16xlarge" | "18xlarge" | "24xlarge" | "32xlarge" | "48xlarge" | "metal" => Some(50),
        _ => None,
    }
}

fn cni_flag(config: Option<&ConfigMap>, key: &str) -> Option<String> {
    config
        .and_then(|c| c.data.as_ref())
        .and_then(|d| d.get(key))
        .cloned()
}

fn is_active(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && !matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

/// Runs every check.
pub fn check(cluster: &str, inputs: &ReadinessInputs<'_>) -> ReadinessReport {
    let windows: Vec<&Node> = inputs
        .nodes
        .iter()
        .filter(|n| os_of(n) == NodeOs::Windows)
        .collect();
    let windows_groups = inputs
        .eks
        .map(|c| c.groups_of(&NodeOs::Windows).count())
        .unwrap_or(0);
    let has_windows = !windows.is_empty() || windows_groups > 0;
    let no_windows = |f: Finding| {
        f.verdict(
            Severity::Skipped,
            "no Windows nodes or node groups: nothing to check",
        )
    };
    let mut findings = vec![linux_nodes(inputs), windows_node_groups(inputs)];
    if !has_windows {
        findings.push(no_windows(Finding::new("windows-ipam", IPAM)));
        findings.push(no_windows(Finding::new("windows-taint", TAINT)));
        findings.push(no_windows(Finding::new("os-selectors", SELECTORS)));
        findings.push(no_windows(Finding::new("windows-pod-features", FEATURES)));
        findings.push(no_windows(Finding::new("windows-pod-capacity", CAPACITY)));
        findings.push(no_windows(Finding::new("windows-daemonsets", DAEMONS)));
    } else {
        findings.push(windows_ipam(inputs, &windows));
        findings.push(windows_taint(inputs, &windows));
        findings.push(os_selectors(inputs, &windows));
        findings.push(windows_pod_features(inputs, &windows));
        findings.push(windows_pod_capacity(inputs, &windows));
        findings.push(windows_daemonsets(inputs, &windows));
    }
    ReadinessReport {
        cluster: cluster.to_owned(),
        findings,
    }
}

const LINUX: &str = "A Linux node group for system pods";
const GROUPS: &str = "Windows node groups on a current Windows AMI and x86_64";
const IPAM: &str = "Windows IP address management (VPC CNI)";
const TAINT: &str = "Windows nodes keep Linux pods off";
const SELECTORS: &str = "Workloads choose their OS";
const FEATURES: &str = "Windows pods ask only for what Windows on EKS supports";
const CAPACITY: &str = "Windows pod IP capacity";
const DAEMONS: &str = "Windows DaemonSets ready on every Windows node";

fn linux_nodes(inputs: &ReadinessInputs<'_>) -> Finding {
    let finding = Finding::new("linux-nodes", LINUX);
    let linux: Vec<&Node> = inputs
        .nodes
        .iter()
        .filter(|n| os_of(n) == NodeOs::Linux)
        .collect();
    let mut by_group: BTreeMap<String, usize> = BTreeMap::new();
    for n in &linux {
        *by_group.entry(super::node_group_of(n)).or_default() += 1;
    }
    let mut evidence: Vec<String> = by_group
        .iter()
        .map(|(g, n)| format!("node group {g}: {n} Linux node(s)"))
        .collect();
    let linux_groups: Vec<String> = inputs
        .eks
        .map(|c| {
            c.groups_of(&NodeOs::Linux)
                .map(|g| {
                    format!(
                        "EKS node group {} ({}, desired {})",
                        g.name, g.ami_type, g.desired
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    evidence.extend(linux_groups.iter().cloned());
    let add_group = "add a Linux node group of at least two nodes: hybrid-console eks add-nodegroup --cluster CLUSTER --config manifests/cluster/hybrid-cluster.yaml --nodegroup linux";
    let finding = finding.evidence(evidence);
    if inputs.eks.is_some() && linux_groups.is_empty() {
        return if linux.is_empty() {
            finding
                .verdict(
                    Severity::Failed,
                    "no Linux node group: CoreDNS and the other system pods run only on Linux",
                )
                .fix(add_group)
        } else {
            finding
                .verdict(
                    Severity::Warning,
                    "no managed Linux node group: system pods depend on Linux nodes EKS does not manage",
                )
                .fix(add_group)
        };
    }
    match linux.len() {
        0 => finding
            .verdict(
                Severity::Failed,
                "no Linux nodes: CoreDNS and the other system pods run only on Linux",
            )
            .fix(add_group),
        1 => finding
            .verdict(
                Severity::Warning,
                "one Linux node: system pods stop with it; two are recommended",
            )
            .fix("scale the Linux node group to at least two nodes: hybrid-console eks scale-nodegroup --cluster CLUSTER --nodegroup NAME --size 2"),
        n => finding.verdict(Severity::Passed, format!("{n} Linux nodes")),
    }
}

/// What is wrong with a Windows node group's AMI type and instance types, if anything.
fn windows_group_problems(ami_type: &str, instance_types: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    if !CURRENT_WINDOWS_AMI_TYPES.contains(&ami_type) {
        problems.push(format!(
            "AMI type {ami_type} is not a current Windows Server AMI ({})",
            CURRENT_WINDOWS_AMI_TYPES.join(", ")
        ));
    }
    for t in instance_types.iter().filter(|t| is_arm_instance_type(t)) {
        problems.push(format!(
            "instance type {t} is Arm (Graviton); Windows on EKS runs only on x86_64"
        ));
    }
    problems
}

fn windows_node_groups(inputs: &ReadinessInputs<'_>) -> Finding {
    let finding = Finding::new("windows-node-groups", GROUPS);
    let Some(cluster) = inputs.eks else {
        return finding.verdict(
            Severity::Skipped,
            "no EKS API for this cluster (connect with --eks-cluster or use `eks check`)",
        );
    };
    let mut evidence = Vec::new();
    let mut bad = false;
    for g in cluster.groups_of(&NodeOs::Windows) {
        let problems = windows_group_problems(&g.ami_type, &g.instance_types);
        bad |= !problems.is_empty();
        if problems.is_empty() {
            evidence.push(format!(
                "{}: {} on {}",
                g.name,
                g.ami_type,
                g.instance_types.join(", ")
            ));
        }
        evidence.extend(problems.into_iter().map(|p| format!("{}: {p}", g.name)));
    }
    if evidence.is_empty() {
        return finding.verdict(Severity::Skipped, "no Windows node groups");
    }
    let finding = finding.evidence(evidence);
    if bad {
        finding
            .verdict(Severity::Failed, "a Windows node group cannot run Windows pods as configured")
            .fix("create a replacement node group with a WINDOWS_CORE_2022_x86_64 (or 2019/2025, Core or Full) AMI type on an x86_64 instance type such as t3.large or m5.large, move the workloads, then delete the old group")
    } else {
        finding.verdict(
            Severity::Passed,
            "every Windows node group is on a current AMI and x86_64",
        )
    }
}

fn is_ec2(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .is_some_and(|p| p.starts_with("aws://"))
}

fn windows_ipam(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
    let finding = Finding::new("windows-ipam", IPAM);
    if inputs.eks.is_none() && !windows.iter().any(|n| is_ec2(n)) {
        return finding.verdict(
            Severity::Skipped,
            "the Windows nodes are not EC2 instances: the VPC CNI does not apply",
        );
    }
    let mut evidence = Vec::new();
    let mut failed = Vec::new();
    let enabled = cni_flag(inputs.vpc_cni, "enable-windows-ipam");
    match (inputs.vpc_cni, enabled.as_deref()) {
        (None, _) => failed.push("ConfigMap kube-system/amazon-vpc-cni does not exist".to_owned()),
        (Some(_), Some("true")) => {
            evidence.push("kube-system/amazon-vpc-cni: enable-windows-ipam: \"true\"".to_owned())
        }
        (Some(_), other) => failed.push(format!(
            "kube-system/amazon-vpc-cni: enable-windows-ipam is {}",
            other.map_or("not set".to_owned(), |v| format!("{v:?}"))
        )),
    }
    for node in windows {
        let advertised = node
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(IPV4_RESOURCE))
            .and_then(|q| q.0.parse::<u32>().ok())
            .unwrap_or(0);
        let line = format!(
            "{}: {IPV4_RESOURCE} = {advertised}",
            name_of(&node.metadata)
        );
        if advertised == 0 {
            failed.push(line);
        } else {
            evidence.push(line);
        }
    }
    if failed.is_empty() {
        return finding.evidence(evidence).verdict(
            Severity::Passed,
            "Windows IPAM is on and every Windows node has pod addresses",
        );
    }
    let mut all = failed;
    all.extend(evidence);
    finding
        .evidence(all)
        .verdict(Severity::Failed, "Windows pods cannot get IP addresses: they stay in ContainerCreating")
        .fix("kubectl -n kube-system patch configmap amazon-vpc-cni --type merge -p '{\"data\":{\"enable-windows-ipam\":\"true\"}}'  (create the ConfigMap if it is missing; nodes then advertise vpc.amazonaws.com/PrivateIPv4Address within a minute)")
}

/// The extended resource the VPC resource controller advertises on Windows nodes.
pub const IPV4_RESOURCE: &str = "vpc.amazonaws.com/PrivateIPv4Address";

fn windows_taint(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
    let finding = Finding::new("windows-taint", TAINT);
    let expected = inputs.windows_taint;
    let (tainted, bare): (Vec<&&Node>, Vec<&&Node>) =
        windows.iter().partition(|n| expected.is_on(taints(n)));
    let mut evidence: Vec<String> = bare
        .iter()
        .map(|n| format!("{}: no {expected} taint", name_of(&n.metadata)))
        .collect();
    evidence.extend(
        tainted
            .iter()
            .map(|n| format!("{}: tainted {expected}", name_of(&n.metadata))),
    );
    if windows.is_empty() {
        return finding.verdict(Severity::Skipped, "no Windows nodes have joined yet");
    }
    let finding = finding.evidence(evidence);
    if bare.is_empty() {
        return finding.verdict(
            Severity::Passed,
            format!("every Windows node is tainted {expected}"),
        );
    }
    let first = name_of(&bare[0].metadata);
    finding
        .verdict(
            Severity::Warning,
            format!(
                "{} of {} Windows nodes lack the {expected} taint: a Linux pod without an OS selector can land there and fail",
                bare.len(),
                windows.len()
            ),
        )
        .fix(format!(
            "set the taint on the node group (eksctl: taints: [{{key: {}, value: {}, effect: {}}}]) so new nodes get it; for nodes already running: kubectl taint nodes {first} {expected}",
            expected.key,
            expected.value.as_deref().unwrap_or(""),
            expected.effect
        ))
}

/// A workload's name, kind and pod template spec.
fn templates<'a>(inputs: &'a ReadinessInputs<'_>) -> Vec<(String, &'static str, &'a PodSpec)> {
    let mut out = Vec::new();
    for d in inputs.deployments {
        if let Some(spec) = d.spec.template.spec.as_ref() {
            out.push((qualified(&d.metadata), "Deployment", spec));
        }
    }
    for d in inputs.daemonsets {
        if let Some(spec) = d.spec.template.spec.as_ref() {
            out.push((qualified(&d.metadata), "DaemonSet", spec));
        }
    }
    out
}

fn os_selectors(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
    let finding = Finding::new("os-selectors", SELECTORS);
    let open: Vec<(String, &'static str, Vec<String>)> = templates(inputs)
        .into_iter()
        .filter(|(_, _, spec)| chosen_os(spec).is_none())
        .filter_map(|(name, kind, spec)| {
            let reachable: Vec<String> = windows
                .iter()
                .filter(|n| could_land_on(spec, n))
                .map(|n| name_of(&n.metadata))
                .collect();
            (!reachable.is_empty()).then_some((name, kind, reachable))
        })
        .collect();
    if open.is_empty() {
        return finding.verdict(
            Severity::Passed,
            "no workload without an OS selector can land on a Windows node",
        );
    }
    let evidence = open
        .iter()
        .map(|(name, kind, nodes)| {
            format!(
                "{name} ({kind}): no kubernetes.io/os selector; could land on {}",
                nodes.join(", ")
            )
        })
        .collect();
    let (name, kind, _) = &open[0];
    let (ns, short) = name.split_once('/').unwrap_or(("default", name));
    finding
        .evidence(evidence)
        .verdict(
            Severity::Warning,
            format!(
                "{} workload(s) leave their OS open and could be scheduled onto Windows nodes",
                open.len()
            ),
        )
        .fix(format!(
            "give each pod template nodeSelector kubernetes.io/os: linux (or windows), e.g. kubectl -n {ns} patch {} {short} --type merge -p '{{\"spec\":{{\"template\":{{\"spec\":{{\"nodeSelector\":{{\"kubernetes.io/os\":\"linux\"}}}}}}}}}}'",
            kind.to_lowercase()
        ))
}

/// Whether a pod runs, or is meant to run, on Windows.
fn is_windows_pod(pod: &Pod, windows_names: &[String]) -> bool {
    match node_name(pod) {
        Some(node) => windows_names.iter().any(|n| n == node),
        None => pod
            .spec
            .as_ref()
            .and_then(chosen_os)
            .is_some_and(|os| os == ["windows"]),
    }
}

fn windows_pod_features(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
    let finding = Finding::new("windows-pod-features", FEATURES);
    let names: Vec<String> = windows.iter().map(|n| name_of(&n.metadata)).collect();
    let mut evidence = Vec::new();
    for pod in inputs
        .pods
        .iter()
        .filter(|p| is_active(p) && is_windows_pod(p, &names))
    {
        let Some(spec) = pod.spec.as_ref() else {
            continue;
        };
        // HostProcess containers need host networking and are supported; anything else that
        // asks for it is not.
        let host_process = spec
            .security_context
            .as_ref()
            .and_then(|s| s.windows_options.as_ref())
            .and_then(|w| w.host_process)
            .unwrap_or(false);
        if host_network(pod) && !host_process {
            evidence.push(format!("{}: hostNetwork: true", qualified(&pod.metadata)));
        }
        for c in &spec.containers {
            if c.security_context
                .as_ref()
                .and_then(|s| s.privileged)
                .unwrap_or(false)
            {
                evidence.push(format!(
                    "{}: container {} privileged: true",
                    qualified(&pod.metadata),
                    c.name
                ));
            }
        }
    }
    if evidence.is_empty() {
        return finding.verdict(
            Severity::Passed,
            "no Windows pod asks for host networking or privileged containers",
        );
    }
    finding
        .evidence(evidence)
        .verdict(
            Severity::Failed,
            "Windows pods ask for host networking or privileged containers, which Windows on EKS does not support",
        )
        .fix("remove hostNetwork and privileged from these pods' templates; for node-level agents use a HostProcess container (securityContext.windowsOptions.hostProcess: true)")
}

fn windows_pod_capacity(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
    let finding = Finding::new("windows-pod-capacity", CAPACITY);
    let prefixes =
        cni_flag(inputs.vpc_cni, "enable-windows-prefix-delegation").as_deref() == Some("true");
    let mut evidence = Vec::new();
    let mut worst = Severity::Passed;
    for node in windows {
        let name = name_of(&node.metadata);
        let instance_type = label(node, "node.kubernetes.io/instance-type")
            .or_else(|| label(node, "beta.kubernetes.io/instance-type"))
            .unwrap_or("unknown");
        let advertised = node
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(IPV4_RESOURCE))
            .and_then(|q| q.0.parse::<u32>().ok());
        let (capacity, basis) = match ipv4_per_interface(instance_type) {
            Some(per_eni) => {
                let secondary = per_eni.saturating_sub(1);
                if prefixes {
                    (
                        secondary * 16,
                        format!("{instance_type}: ({per_eni} IPv4 per ENI − 1) × 16 prefixes"),
                    )
                } else {
                    (
                        secondary,
                        format!("{instance_type}: {per_eni} IPv4 per ENI − 1"),
                    )
                }
            }
            None => match advertised {
                Some(n) => (n, format!("{instance_type}: {n} advertised by the node")),
                None => {
                    evidence.push(format!(
                        "{name}: capacity unknown ({instance_type} not in the table, nothing advertised)"
                    ));
                    worst = worst.max(Severity::Warning);
                    continue;
                }
            },
        };
        let scheduled = inputs
            .pods
            .iter()
            .filter(|p| is_active(p) && !host_network(p) && node_name(p) == Some(name.as_str()))
            .count() as u32;
        let verdict = if scheduled > capacity {
            Severity::Failed
        } else if scheduled == capacity {
            Severity::Warning
        } else {
            Severity::Passed
        };
        worst = worst.max(verdict);
        evidence.push(format!(
            "{name}: {scheduled} of {capacity} pod addresses used ({basis})"
        ));
    }
    let finding = finding.evidence(evidence);
    match worst {
        Severity::Failed => finding
            .verdict(Severity::Failed, "a Windows node has more pods than pod addresses: the extra pods cannot start")
            .fix("add Windows nodes or use a larger instance type; with many small pods enable prefix delegation: kubectl -n kube-system patch configmap amazon-vpc-cni --type merge -p '{\"data\":{\"enable-windows-prefix-delegation\":\"true\"}}'"),
        Severity::Warning => finding
            .verdict(Severity::Warning, "a Windows node has no pod addresses left (or its capacity is unknown)")
            .fix("scale the Windows node group up, or enable Windows prefix delegation in kube-system/amazon-vpc-cni"),
        _ => finding.verdict(
            Severity::Passed,
            format!(
                "every Windows node has pod addresses to spare{}",
                if prefixes { " (prefix delegation on)" } else { "" }
            ),
        ),
    }
}

/// Whether a DaemonSet's pods are meant for Windows nodes.
fn targets_windows(set: &DaemonSet) -> bool {
    set.spec
        .template
        .spec
        .as_ref()
        .and_then(chosen_os)
        .is_some_and(|os| os.iter().any(|o| o == "windows"))
}

fn windows_daemonsets(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
    let finding = Finding::new("windows-daemonsets", DAEMONS);
    let mut evidence = Vec::new();
    let mut missing = Vec::new();
    for required in inputs.required_daemonsets {
        if !inputs
            .daemonsets
            .iter()
            .any(|d| &qualified(&d.metadata) == required)
        {
            missing.push(format!("{required}: required, but no such DaemonSet"));
        }
    }
    let wanted = inputs.daemonsets.iter().filter(|d| {
        targets_windows(d) || inputs.required_daemonsets.contains(&qualified(&d.metadata))
    });
    let mut checked = 0;
    for set in wanted {
        checked += 1;
        let uid = set.metadata.uid.as_deref().unwrap_or_default();
        let Some(spec) = set.spec.template.spec.as_ref() else {
            continue;
        };
        let nodes: Vec<&&Node> = windows.iter().filter(|n| could_land_on(spec, n)).collect();
        let ready_on = |node: &str| {
            inputs.pods.iter().any(|p| {
                is_active(p)
                    && is_ready(p)
                    && node_name(p) == Some(node)
                    && p.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|o| o.uid == uid && o.controller == Some(true))
            })
        };
        let lacking: Vec<String> = nodes
            .iter()
            .map(|n| name_of(&n.metadata))
            .filter(|n| !ready_on(n))
            .collect();
        // A required DaemonSet that cannot be placed on some Windows node is as bad as one
        // whose pod there is not ready.
        let unreachable: Vec<String> = if inputs
            .required_daemonsets
            .contains(&qualified(&set.metadata))
        {
            windows
                .iter()
                .filter(|n| !could_land_on(spec, n))
                .map(|n| {
                    format!(
                        "{} (its selector or tolerations keep it off)",
                        name_of(&n.metadata)
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        if lacking.is_empty() && unreachable.is_empty() {
            evidence.push(format!(
                "{}: ready on {}/{} Windows nodes",
                qualified(&set.metadata),
                nodes.len(),
                windows.len()
            ));
        } else {
            missing.push(format!(
                "{}: no ready pod on {}",
                qualified(&set.metadata),
                lacking
                    .into_iter()
                    .chain(unreachable)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if missing.is_empty() {
        if checked == 0 {
            return finding.verdict(
                Severity::Passed,
                "no DaemonSet targets Windows nodes and none is required",
            );
        }
        return finding.evidence(evidence).verdict(
            Severity::Passed,
            format!("{checked} Windows DaemonSet(s) ready on every Windows node"),
        );
    }
    let mut all = missing;
    all.extend(evidence);
    finding
        .evidence(all)
        .verdict(Severity::Failed, "a Windows node lacks a DaemonSet it needs")
        .fix("kubectl -n NAMESPACE describe daemonset NAME shows why its pod is missing or not ready on the node (image for the wrong Windows version, missing toleration for the Windows taint, no pod addresses)")
}

/// The findings that would apply to a node group about to be added to `cluster`, so the operator
/// sees them before confirming.
pub fn for_new_node_group(
    proposal: &NodeGroupProposal,
    cluster: &EksCluster,
    vpc_cni: Option<Option<&ConfigMap>>,
    windows_taint: &ExpectedTaint,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut shape = Finding::new("node-group-shape", "Name and scaling");
    let mut problems = Vec::new();
    if cluster.node_groups.iter().any(|g| g.name == proposal.name) {
        problems.push(format!(
            "cluster {} already has a node group named {}",
            cluster.name, proposal.name
        ));
    }
    if !(proposal.min <= proposal.desired && proposal.desired <= proposal.max) || proposal.max < 1 {
        problems.push(format!(
            "scaling must satisfy min ≤ desired ≤ max and max ≥ 1; got min {} / desired {} / max {}",
            proposal.min, proposal.desired, proposal.max
        ));
    }
    let x86_ami = proposal.ami_type.contains("x86_64");
    for t in &proposal.instance_types {
        if x86_ami && is_arm_instance_type(t) {
            problems.push(format!(
                "instance type {t} is Arm but AMI type {} is x86_64",
                proposal.ami_type
            ));
        }
        if proposal.ami_type.contains("ARM") && !is_arm_instance_type(t) {
            problems.push(format!(
                "instance type {t} is x86_64 but AMI type {} is Arm",
                proposal.ami_type
            ));
        }
    }
    shape = if problems.is_empty() {
        shape.verdict(
            Severity::Passed,
            format!(
                "{}: min {} / desired {} / max {}",
                proposal.name, proposal.min, proposal.desired, proposal.max
            ),
        )
    } else {
        shape.evidence(problems).verdict(
            Severity::Failed,
            "the node group cannot be created as given",
        )
    };
    findings.push(shape);
    if os_of_ami_type(&proposal.ami_type) != NodeOs::Windows {
        return findings;
    }
    let problems = windows_group_problems(&proposal.ami_type, &proposal.instance_types);
    findings.push(if problems.is_empty() {
        Finding::new("windows-node-groups", GROUPS).verdict(
            Severity::Passed,
            format!(
                "{} on {}",
                proposal.ami_type,
                proposal.instance_types.join(", ")
            ),
        )
    } else {
        Finding::new("windows-node-groups", GROUPS)
            .evidence(problems)
            .verdict(Severity::Failed, "Windows pods cannot run on this node group")
            .fix("choose a WINDOWS_CORE_2022_x86_64 (or 2019/2025) AMI type and an x86_64 instance type")
    });
    let linux = Finding::new("linux-nodes", LINUX);
    findings.push(if cluster.groups_of(&NodeOs::Linux).next().is_some() {
        linux.verdict(Severity::Passed, "the cluster has a Linux node group")
    } else {
        linux
            .verdict(
                Severity::Failed,
                "the cluster has no Linux node group: CoreDNS and system pods would have nowhere to run",
            )
            .fix("add a Linux node group first")
    });
    let ipam = Finding::new("windows-ipam", IPAM);
    findings.push(match vpc_cni {
        None => ipam.verdict(Severity::Skipped, "the cluster's API was not reachable to read kube-system/amazon-vpc-cni"),
        Some(config) if cni_flag(config, "enable-windows-ipam").as_deref() == Some("true") => {
            ipam.verdict(Severity::Passed, "enable-windows-ipam is \"true\"")
        }
        Some(_) => ipam
            .verdict(Severity::Failed, "Windows IPAM is off: Windows pods on the new nodes would get no IP address")
            .fix("kubectl -n kube-system patch configmap amazon-vpc-cni --type merge -p '{\"data\":{\"enable-windows-ipam\":\"true\"}}'"),
    });
    let taint = Finding::new("windows-taint", TAINT);
    let tainted = proposal.taints.iter().any(|t| {
        t.key == windows_taint.key
            && t.effect == windows_taint.effect
            && windows_taint
                .value
                .as_ref()
                .is_none_or(|v| t.value.as_deref() == Some(v))
    });
    findings.push(if tainted {
        taint.verdict(Severity::Passed, format!("the nodes will be tainted {windows_taint}"))
    } else {
        taint
            .verdict(
                Severity::Warning,
                format!("the nodes will not carry the {windows_taint} taint: Linux pods without an OS selector could land there"),
            )
            .fix(format!("add the taint to the node group (eksctl: taints: [{{key: {}, value: {}, effect: {}}}])", windows_taint.key, windows_taint.value.as_deref().unwrap_or(""), windows_taint.effect))
    });
    findings
}

/// What the operator may tune.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadinessOptions {
    /// The taint Windows nodes should carry.
    pub windows_taint: ExpectedTaint,
    /// DaemonSets every Windows node must run (`namespace/name`).
    pub required_daemonsets: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_instance_types_are_told_from_x86() {
        for arm in [
            "m6g.large",
            "c7gn.xlarge",
            "t4g.medium",
            "x2gd.metal",
            "a1.large",
            "im4gn.large",
            "is4gen.xlarge",
            "g5g.xlarge",
            "r8g.large",
            "hpc7g.4xlarge",
        ] {
            assert!(is_arm_instance_type(arm), "{arm}");
        }
        for x86 in [
            "t3.large",
            "m5.large",
            "g4dn.xlarge",
            "c6i.2xlarge",
            "m7i-flex.large",
            "inf2.xlarge",
            "p4de.24xlarge",
            "gr6.4xlarge",
            "u7i-12tb.224xlarge",
        ] {
            assert!(!is_arm_instance_type(x86), "{x86}");
        }
    }

    #[test]
    fn addresses_per_interface_follow_ec2s_table() {
        assert_eq!(ipv4_per_interface("t3.large"), Some(12));
        assert_eq!(ipv4_per_interface("t3.medium"), Some(6));
        assert_eq!(ipv4_per_interface("m5.large"), Some(10));
        assert_eq!(ipv4_per_interface("c6i.4xlarge"), Some(30));
        assert_eq!(ipv4_per_interface("r7i.24xlarge"), Some(50));
        assert_eq!(ipv4_per_interface("m4.large"), None);
        assert_eq!(ipv4_per_interface("weird"), None);
    }

    #[test]
    fn expected_taints_parse_as_kubectl_writes_them() {
        assert_eq!(
            "os=windows:NoSchedule".parse::<ExpectedTaint>(),
            Ok(ExpectedTaint::default())
        );
        let keyed: ExpectedTaint = "windows:NoExecute".parse().unwrap_or_default();
        assert_eq!((keyed.key.as_str(), keyed.value), ("windows", None));
        assert!("os=windows".parse::<ExpectedTaint>().is_err());
        assert!("os=windows:Sometimes".parse::<ExpectedTaint>().is_err());
        assert!("=x:NoSchedule".parse::<ExpectedTaint>().is_err());
    }
}
