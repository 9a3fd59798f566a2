//! The hybrid readiness check: what a cluster needs before Windows and Linux workloads share it
//! safely, judged from its objects (and, on EKS, its node groups). Pure data in, findings out:
//! each with a severity, the evidence it rests on and the fix, so the CLI, the window and the
//! node-group dialog show the same verdicts.

mod new_group;
mod nodes;
mod objects;
mod report;
mod windows_builds;
mod workloads;

pub use new_group::for_new_node_group;
pub use objects::chosen_os;
use report::{BUILDS, CAPACITY, DAEMONS, FEATURES, IPAM, SELECTORS, TAINT, UPGRADE};
pub use report::{
    ExpectedTaint, Finding, IPV4_RESOURCE, ReadinessInputs, ReadinessOptions, ReadinessReport,
    RegistryAnswer, Severity, UpgradeQuestion,
};

use k8s_openapi::api::core::v1::Node;

use super::NodeOs;
use nodes::{linux_nodes, windows_ipam, windows_node_groups, windows_taint};
use objects::os_of;
pub use windows_builds::ImagePull;
use windows_builds::{images_reaching, upgrade_impact, windows_builds};
use workloads::{os_selectors, windows_daemonsets, windows_pod_capacity, windows_pod_features};

/// The images of the workloads that can land on a Windows node: those whose registries are
/// asked for their Windows builds before the check runs.
pub fn windows_images(inputs: &ReadinessInputs<'_>) -> Vec<ImagePull> {
    let windows: Vec<&Node> = inputs
        .nodes
        .iter()
        .filter(|n| os_of(n) == NodeOs::Windows)
        .collect();
    images_reaching(inputs, &windows)
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
        findings.push(no_windows(Finding::new("windows-builds", BUILDS)));
        if inputs.upgrade.is_some() {
            findings.push(no_windows(Finding::new("windows-upgrade", UPGRADE)));
        }
    } else {
        findings.push(windows_ipam(inputs, &windows));
        findings.push(windows_taint(inputs, &windows));
        findings.push(os_selectors(inputs, &windows));
        findings.push(windows_pod_features(inputs, &windows));
        findings.push(windows_pod_capacity(inputs, &windows));
        findings.push(windows_daemonsets(inputs, &windows));
        findings.push(windows_builds(inputs, &windows));
        if let Some(upgrade) = inputs.upgrade {
            findings.push(upgrade_impact(
                inputs,
                &windows,
                &upgrade.ami_type,
                upgrade.node_group.as_deref(),
            ));
        }
    }
    ReadinessReport {
        cluster: cluster.to_owned(),
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
