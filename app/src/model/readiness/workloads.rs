//! The workload checks: every workload chooses its OS, Windows pods ask only for what Windows
//! on EKS supports, Windows pods fit the nodes' IP capacity, Windows DaemonSets run everywhere.

use k8s_openapi::api::core::v1::Node;

use super::objects::{
    chosen_os, cni_flag, could_land_on, host_network, is_active, is_ready, is_windows_pod, label,
    name_of, node_name, qualified, targets_windows, templates,
};
use super::report::{
    CAPACITY, DAEMONS, FEATURES, Finding, IPV4_RESOURCE, ReadinessInputs, SELECTORS, Severity,
};

pub(super) fn os_selectors(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
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

pub(super) fn windows_pod_features(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
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

/// Why a node's own figure stands in for EC2's: not on EKS, or EC2 could not be read.
fn ec2_said(inputs: &ReadinessInputs<'_>) -> String {
    match inputs.eks {
        None => String::new(),
        Some(c) => match &c.instance_types.unavailable {
            Some(why) => format!(" (EC2 could not be read: {why})"),
            None => " (EC2 does not know the type)".to_owned(),
        },
    }
}

pub(super) fn windows_pod_capacity(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
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
        let facts = inputs.eks.and_then(|c| c.instance_types.get(instance_type));
        let (capacity, basis) = match (facts, advertised) {
            (Some(facts), _) => facts.windows_pod_addresses(prefixes),
            (None, Some(n)) => (
                n,
                format!(
                    "{instance_type}: {n} advertised by the node{}",
                    ec2_said(inputs)
                ),
            ),
            (None, None) => {
                evidence.push(format!(
                    "{name}: capacity unknown ({instance_type}: nothing from EC2, nothing advertised)"
                ));
                worst = worst.max(Severity::Warning);
                continue;
            }
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

pub(super) fn windows_daemonsets(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
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
