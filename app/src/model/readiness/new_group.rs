//! The findings for a node group about to be added, shown before the operator confirms.

use k8s_openapi::api::core::v1::ConfigMap;

use super::nodes::windows_group_problems;
use super::objects::cni_flag;
use super::report::{ExpectedTaint, Finding, GROUPS, IPAM, LINUX, Severity, TAINT};
use crate::model::NodeOs;
use crate::model::eks::{EksCluster, NodeGroupProposal, os_of_ami_type};
use crate::model::instance_types::is_arm_instance_type;

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
