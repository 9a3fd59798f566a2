//! The findings for a node group about to be added, shown before the operator confirms.

use k8s_openapi::api::core::v1::ConfigMap;

use super::nodes::windows_group_problems;
use super::objects::cni_flag;
use super::report::{ExpectedTaint, Finding, GROUPS, IPAM, LINUX, Severity, TAINT};
use crate::model::NodeOs;
use crate::model::eks::{EksCluster, NodeGroupProposal, os_of_ami_type};
use crate::model::instance_types::InstanceCatalog;

/// The findings that would apply to a node group about to be added to `cluster`, so the operator
/// sees them before confirming.
pub fn for_new_node_group(
    proposal: &NodeGroupProposal,
    cluster: &EksCluster,
    vpc_cni: Option<Option<&ConfigMap>>,
    windows_taint: &ExpectedTaint,
    catalog: &InstanceCatalog,
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
        if x86_ami && catalog.is_arm(t) {
            problems.push(format!(
                "instance type {t} is Arm but AMI type {} is x86_64",
                proposal.ami_type
            ));
        }
        if proposal.ami_type.contains("ARM") && !catalog.is_arm(t) {
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
    let problems = windows_group_problems(&proposal.ami_type, &proposal.instance_types, catalog);
    // What EC2 says of the types, and the pods each Windows node will hold.
    let prefixes =
        cni_flag(vpc_cni.flatten(), "enable-windows-prefix-delegation").as_deref() == Some("true");
    let mut facts: Vec<String> = proposal
        .instance_types
        .iter()
        .filter_map(|t| catalog.get(t))
        .map(|f| {
            let (pods, basis) = f.windows_pod_addresses(prefixes);
            format!(
                "{}; a node holds {pods} Windows pods ({basis})",
                f.describe()
            )
        })
        .collect();
    if let Some(why) = &catalog.unavailable {
        facts.push(format!(
            "EC2's instance-type facts could not be read: {why}"
        ));
    }
    let group = Finding::new("windows-node-groups", GROUPS);
    findings.push(if !problems.failures.is_empty() {
        group
            .evidence(problems.failures.into_iter().chain(problems.warnings).chain(facts).collect())
            .verdict(Severity::Failed, "Windows pods cannot run on this node group")
            .fix("choose a WINDOWS_CORE_2022_x86_64 (or 2019/2025) AMI type and an x86_64 instance type")
    } else if !problems.warnings.is_empty() {
        group
            .evidence(problems.warnings.into_iter().chain(facts).collect())
            .verdict(Severity::Warning, format!("{} on a previous-generation instance type without ENA", proposal.ami_type))
            .fix("choose a current-generation instance type such as t3.large, m5.large or m6i.large")
    } else {
        // The types' facts in the line itself: a passed finding's evidence starts folded.
        let types: Vec<String> = proposal
            .instance_types
            .iter()
            .map(|t| match catalog.get(t) {
                Some(f) => format!(
                    "{t} ({} Windows pods a node)",
                    f.windows_pod_addresses(prefixes).0
                ),
                None => t.clone(),
            })
            .collect();
        group.evidence(facts).verdict(
            Severity::Passed,
            format!("{} on {}", proposal.ami_type, types.join(", ")),
        )
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
