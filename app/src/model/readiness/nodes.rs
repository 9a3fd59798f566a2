//! The cluster-level checks: a Linux node group for system pods, Windows node groups on a
//! current AMI, Windows IP address management, and the taint that keeps Linux pods off.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;

use super::objects::{cni_flag, is_ec2, name_of, os_of, taints};
use super::report::{
    Finding, GROUPS, IPAM, IPV4_RESOURCE, LINUX, ReadinessInputs, Severity, TAINT,
};
use crate::model::eks::CURRENT_WINDOWS_AMI_TYPES;
use crate::model::instance_types::InstanceCatalog;
use crate::model::{NodeOs, node_group_of};

pub(super) fn linux_nodes(inputs: &ReadinessInputs<'_>) -> Finding {
    let finding = Finding::new("linux-nodes", LINUX);
    let linux: Vec<&Node> = inputs
        .nodes
        .iter()
        .filter(|n| os_of(n) == NodeOs::Linux)
        .collect();
    let mut by_group: BTreeMap<String, usize> = BTreeMap::new();
    for n in &linux {
        *by_group.entry(node_group_of(n)).or_default() += 1;
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

/// What is wrong with a Windows node group's AMI type and instance types: what stops Windows
/// pods (failures), and what is allowed but unwise (warnings: previous-generation types
/// without ENA, known from EC2).
#[derive(Default)]
pub(super) struct GroupProblems {
    pub failures: Vec<String>,
    pub warnings: Vec<String>,
}

pub(super) fn windows_group_problems(
    ami_type: &str,
    instance_types: &[String],
    catalog: &InstanceCatalog,
) -> GroupProblems {
    let mut problems = GroupProblems::default();
    if !CURRENT_WINDOWS_AMI_TYPES.contains(&ami_type) {
        problems.failures.push(format!(
            "AMI type {ami_type} is not a current Windows Server AMI ({})",
            CURRENT_WINDOWS_AMI_TYPES.join(", ")
        ));
    }
    for t in instance_types.iter().filter(|t| catalog.is_arm(t)) {
        problems.failures.push(format!(
            "instance type {t} is Arm (Graviton); Windows on EKS runs only on x86_64"
        ));
    }
    problems.warnings.extend(
        instance_types
            .iter()
            .filter_map(|t| catalog.windows_legacy_warning(t)),
    );
    problems
}

pub(super) fn windows_node_groups(inputs: &ReadinessInputs<'_>) -> Finding {
    let finding = Finding::new("windows-node-groups", GROUPS);
    let Some(cluster) = inputs.eks else {
        return finding.verdict(
            Severity::Skipped,
            "no EKS API for this cluster (connect with --eks-cluster or use `eks check`)",
        );
    };
    let mut evidence = Vec::new();
    let mut bad = false;
    let mut unwise = false;
    for g in cluster.groups_of(&NodeOs::Windows) {
        let problems =
            windows_group_problems(&g.ami_type, &g.instance_types, &cluster.instance_types);
        bad |= !problems.failures.is_empty();
        unwise |= !problems.warnings.is_empty();
        if problems.failures.is_empty() && problems.warnings.is_empty() {
            evidence.push(format!(
                "{}: {} on {}",
                g.name,
                g.ami_type,
                g.instance_types.join(", ")
            ));
        }
        evidence.extend(
            problems
                .failures
                .into_iter()
                .chain(problems.warnings)
                .map(|p| format!("{}: {p}", g.name)),
        );
    }
    if evidence.is_empty() {
        return finding.verdict(Severity::Skipped, "no Windows node groups");
    }
    if let Some(why) = &cluster.instance_types.unavailable {
        evidence.push(format!(
            "EC2's instance-type facts could not be read ({why}): Arm told by the type's name, previous generations not judged"
        ));
    }
    let finding = finding.evidence(evidence);
    if bad {
        finding
            .verdict(Severity::Failed, "a Windows node group cannot run Windows pods as configured")
            .fix("create a replacement node group with a WINDOWS_CORE_2022_x86_64 (or 2019/2025, Core or Full) AMI type on an x86_64 instance type such as t3.large or m5.large, move the workloads, then delete the old group")
    } else if unwise {
        finding
            .verdict(Severity::Warning, "a Windows node group runs on a previous-generation instance type without ENA")
            .fix("add a node group on a current-generation type (t3, m5, m6i …), move the Windows workloads there, then retire the old group")
    } else {
        finding.verdict(
            Severity::Passed,
            "every Windows node group is on a current AMI and x86_64",
        )
    }
}

pub(super) fn windows_ipam(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
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

pub(super) fn windows_taint(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
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
