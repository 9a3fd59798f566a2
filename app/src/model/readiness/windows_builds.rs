//! The Windows build checks: each Windows workload's images suit the builds of the Windows nodes
//! it can land on, and what a node group's move to another Windows AMI would break.
//!
//! Windows containers on EKS are process-isolated and share the node's kernel, so an image
//! built on Windows Server 2019 does not start on a 2022 node (see
//! [`kube_units::windows_builds`]). A workload is safe when every node it can land on runs its
//! image; a cluster with one build hides the problem until a second build arrives.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, PodSpec};
use kube_units::windows_builds::{WINDOWS_BUILD_LABEL, WindowsBuild};

use super::objects::{chosen_os, could_land_on, label, templates};
use super::report::{BUILDS, Finding, ReadinessInputs, RegistryAnswer, Severity, UPGRADE};
use crate::model::eks::windows_build_of_ami_type;
use crate::model::node_group_of;

/// A Windows node and the build it reports.
struct BuiltNode<'a> {
    node: &'a Node,
    build: WindowsBuild,
}

fn built_nodes<'a>(windows: &[&'a Node]) -> Vec<BuiltNode<'a>> {
    windows
        .iter()
        .filter_map(|node| {
            let kernel = node
                .status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.kernel_version.as_str());
            WindowsBuild::of_node(label(node, WINDOWS_BUILD_LABEL), kernel)
                .map(|build| BuiltNode { node, build })
        })
        .collect()
}

/// What the check knows of an image's Windows builds, and how it knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ImageBuild {
    /// The image reference.
    image: String,
    /// Its Windows builds: an index may carry several; empty when unknown or, with `known`,
    /// when it has no Windows platform at all.
    builds: Vec<WindowsBuild>,
    /// Whether `builds` is what the image has (from its registry or its tag).
    known: bool,
    /// Whether the registry showed an index (a multi-platform tag) rather than one manifest.
    index: bool,
    /// How it was learnt (`its tag ltsc2019`, `its registry's image index`).
    source: String,
}

impl ImageBuild {
    /// From the registry's answer, else the tag's convention (`…:ltsc2019`, `…:1809`).
    fn of(image: &str, registry: &BTreeMap<String, RegistryAnswer>) -> ImageBuild {
        let unread = match registry.get(image) {
            Some(RegistryAnswer::Platforms { builds, index }) => {
                return ImageBuild {
                    image: image.to_owned(),
                    builds: builds.clone(),
                    known: true,
                    index: *index,
                    source: if *index {
                        "its registry's image index".to_owned()
                    } else {
                        "its registry's image config".to_owned()
                    },
                };
            }
            Some(RegistryAnswer::Unread(why)) => Some(why.as_str()),
            None => None,
        };
        let without_digest = image.split('@').next().unwrap_or(image);
        let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
        let tag = last.split_once(':').map_or("", |(_, tag)| tag);
        let build = WindowsBuild::of_tag(tag);
        let mut source = match build {
            Some(_) => format!("its tag {tag}"),
            None => "unknown: its tag names no Windows build".to_owned(),
        };
        if let Some(why) = unread {
            source.push_str(&format!("; registry not read: {why}"));
        }
        ImageBuild {
            image: image.to_owned(),
            builds: build.into_iter().collect(),
            known: build.is_some(),
            index: false,
            source,
        }
    }

    /// Whether a node of `node`'s build runs it (containerd picks the index entry that suits).
    fn runs_on(&self, node: WindowsBuild) -> bool {
        self.builds.iter().any(|image| node.runs(*image))
    }

    /// `10.0.17763` or `10.0.17763, 10.0.20348`.
    fn builds_text(&self) -> String {
        join_builds(&self.builds.iter().copied().collect())
    }
}

/// A pod template naming a RuntimeClass the cluster does not have: admission refuses its pods.
#[derive(Debug)]
struct MissingRuntimeClass(String);

impl std::fmt::Display for MissingRuntimeClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "runtimeClassName {} names no RuntimeClass", self.0)
    }
}

/// A workload's pod template with its RuntimeClass's scheduling merged in, as admission merges
/// it into each pod.
fn scheduled_spec(
    inputs: &ReadinessInputs<'_>,
    spec: &PodSpec,
) -> Result<PodSpec, MissingRuntimeClass> {
    let Some(class) = spec.runtime_class_name.as_deref() else {
        return Ok(spec.clone());
    };
    let found = inputs
        .runtime_classes
        .iter()
        .find(|rc| rc.metadata.name.as_deref() == Some(class))
        .ok_or_else(|| MissingRuntimeClass(class.to_owned()))?;
    let mut merged = spec.clone();
    if let Some(scheduling) = &found.scheduling {
        for (key, value) in scheduling.node_selector.iter().flatten() {
            merged
                .node_selector
                .get_or_insert_with(Default::default)
                .insert(key.clone(), value.clone());
        }
        merged
            .tolerations
            .get_or_insert_with(Vec::new)
            .extend(scheduling.tolerations.iter().flatten().cloned());
    }
    Ok(merged)
}

fn images(spec: &PodSpec) -> BTreeSet<&str> {
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter_map(|c| c.image.as_deref())
        .collect()
}

/// `ltsc2022`, or the bare build when it has no tag name.
fn tag_or_build(build: WindowsBuild) -> String {
    build
        .tag_name()
        .map_or_else(|| build.to_string(), str::to_owned)
}

/// An image a Windows workload pulls, with where its pods would find their pull secrets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImagePull {
    /// The image reference.
    pub image: String,
    /// The workload's namespace.
    pub namespace: String,
    /// Its `imagePullSecrets`, by name.
    pub pull_secrets: Vec<String>,
}

/// The images of the workloads that can land on a Windows node (with their RuntimeClass's
/// scheduling): those whose registries the gathering asks for their Windows builds.
pub(super) fn images_reaching(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Vec<ImagePull> {
    let mut pulls: Vec<ImagePull> = templates(inputs)
        .into_iter()
        .filter_map(|(name, _, template)| Some((name, scheduled_spec(inputs, template).ok()?)))
        .filter(|(_, spec)| windows.iter().any(|node| could_land_on(spec, node)))
        .flat_map(|(name, spec)| {
            let namespace = name
                .split_once('/')
                .map_or("default", |(ns, _)| ns)
                .to_owned();
            let pull_secrets: Vec<String> = spec
                .image_pull_secrets
                .iter()
                .flatten()
                .map(|s| s.name.clone())
                .collect();
            images(&spec)
                .into_iter()
                .map(|image| ImagePull {
                    image: image.to_owned(),
                    namespace: namespace.clone(),
                    pull_secrets: pull_secrets.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    pulls.sort();
    pulls.dedup();
    pulls
}

fn join_builds(builds: &BTreeSet<WindowsBuild>) -> String {
    builds
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each Windows workload's images against the builds of the nodes it can land on.
pub(super) fn windows_builds(inputs: &ReadinessInputs<'_>, windows: &[&Node]) -> Finding {
    let finding = Finding::new("windows-builds", BUILDS);
    let nodes = built_nodes(windows);
    let cluster_builds: BTreeSet<WindowsBuild> = nodes.iter().map(|n| n.build).collect();
    if cluster_builds.is_empty() {
        return finding.verdict(
            Severity::Skipped,
            "no Windows node reports its build (node.kubernetes.io/windows-build)",
        );
    }
    let mut evidence = Vec::new();
    let mut fixes = Vec::new();
    let mut worst = Severity::Passed;
    let mut checked = 0;
    for (name, kind, template) in templates(inputs) {
        let spec = match scheduled_spec(inputs, template) {
            Ok(spec) => spec,
            Err(missing) => {
                if could_reach_windows(template, &nodes) {
                    evidence.push(format!("{name} ({kind}): {missing}: its pods are refused"));
                    worst = worst.max(Severity::Failed);
                }
                continue;
            }
        };
        let reachable: BTreeSet<WindowsBuild> = nodes
            .iter()
            .filter(|n| could_land_on(&spec, n.node))
            .map(|n| n.build)
            .collect();
        if reachable.is_empty() {
            continue;
        }
        checked += 1;
        let pinned = spec.runtime_class_name.is_some()
            || spec
                .node_selector
                .as_ref()
                .is_some_and(|s| s.contains_key(WINDOWS_BUILD_LABEL));
        for image in images(&spec)
            .into_iter()
            .map(|i| ImageBuild::of(i, inputs.registry))
        {
            if !image.known {
                if !pinned && reachable.len() > 1 {
                    evidence.push(format!(
                        "{name} ({kind}): not pinned to one Windows build and can land on {}; the build of image {} is {}",
                        join_builds(&reachable),
                        image.image,
                        image.source
                    ));
                    let newest = *reachable
                        .iter()
                        .next_back()
                        .unwrap_or(&WindowsBuild::LTSC2022);
                    fixes.push(pin_fix(&name, kind, newest));
                    worst = worst.max(Severity::Warning);
                }
                continue;
            }
            if image.builds.is_empty() {
                evidence.push(format!(
                    "{name} ({kind}): image {} has no Windows platform ({})",
                    image.image, image.source
                ));
                fixes.push(format!(
                    "publish a Windows build of {} for {} (or keep the workload off Windows nodes)",
                    image.image,
                    join_builds(&cluster_builds)
                ));
                worst = worst.max(Severity::Failed);
                continue;
            }
            let runs_on: BTreeSet<WindowsBuild> = cluster_builds
                .iter()
                .copied()
                .filter(|node| image.runs_on(*node))
                .collect();
            let cannot: BTreeSet<WindowsBuild> = reachable
                .iter()
                .copied()
                .filter(|node| !image.runs_on(*node))
                .collect();
            let newest_node = *cluster_builds
                .iter()
                .next_back()
                .unwrap_or(&WindowsBuild::LTSC2022);
            if runs_on.is_empty() {
                evidence.push(format!(
                    "{name} ({kind}): image {} is built on {} ({}), which no Windows node runs (nodes: {})",
                    image.image,
                    image.builds_text(),
                    image.source,
                    join_builds(&cluster_builds)
                ));
                fixes.push(if image.index {
                    format!(
                        "add a {} build to the image index of {} (FROM …:{})",
                        join_builds(&cluster_builds),
                        image.image,
                        tag_or_build(newest_node)
                    )
                } else {
                    format!(
                        "rebuild {} on {} (FROM …:{}) and publish that build",
                        image.image,
                        join_builds(&cluster_builds),
                        tag_or_build(newest_node)
                    )
                });
                worst = worst.max(Severity::Failed);
            } else if !cannot.is_empty() {
                let target = *runs_on.iter().next().unwrap_or(&newest_node);
                evidence.push(if image.index {
                    format!(
                        "{name} ({kind}): can land on Windows nodes of build {} and the image index of {} lacks that build (it has {})",
                        join_builds(&cannot),
                        image.image,
                        image.builds_text()
                    )
                } else {
                    format!(
                        "{name} ({kind}): can land on Windows nodes of build {} where image {} (built on {}, from {}) cannot start",
                        join_builds(&cannot),
                        image.image,
                        image.builds_text(),
                        image.source
                    )
                });
                fixes.push(pin_fix(&name, kind, target));
                worst = worst.max(Severity::Warning);
            }
        }
    }
    let builds_said = format!(
        "Windows nodes run {} build(s): {}",
        cluster_builds.len(),
        join_builds(&cluster_builds)
    );
    if evidence.is_empty() {
        return finding.evidence(vec![builds_said]).verdict(
            Severity::Passed,
            format!("{checked} Windows workload(s) land only where their images' builds run"),
        );
    }
    let summary = match worst {
        Severity::Failed => "Windows workloads have images no Windows node can start",
        _ => "Windows workloads can land on nodes whose build their images do not suit",
    };
    fixes.dedup();
    evidence.insert(0, builds_said);
    finding
        .evidence(evidence)
        .verdict(worst, summary)
        .fix(fixes.join("; "))
}

/// Whether a template could be meant for Windows without its RuntimeClass's scheduling: it
/// asks for Windows, or could land on a Windows node as it is.
fn could_reach_windows(spec: &PodSpec, nodes: &[BuiltNode<'_>]) -> bool {
    chosen_os(spec).is_some_and(|os| os.iter().any(|o| o == "windows"))
        || nodes.iter().any(|n| could_land_on(spec, n.node))
}

/// The selector that pins a workload to the nodes of `build`.
fn pin_fix(name: &str, kind: &str, build: WindowsBuild) -> String {
    let (ns, short) = name.split_once('/').unwrap_or(("default", name));
    format!(
        "pin {name} to {}: kubectl -n {ns} patch {} {short} --type merge -p '{{\"spec\":{{\"template\":{{\"spec\":{{\"nodeSelector\":{{\"{WINDOWS_BUILD_LABEL}\":\"{build}\"}}}}}}}}}}' (or give it a RuntimeClass whose scheduling.nodeSelector says so)",
        build.describe(),
        kind.to_lowercase()
    )
}

/// What moving `group`'s nodes (or every Windows group's, with `None`) to `ami_type` would
/// break: the workloads that can land there whose images the new build does not run, and
/// those pinned to the old build, which would find no node of the group.
pub(super) fn upgrade_impact(
    inputs: &ReadinessInputs<'_>,
    windows: &[&Node],
    ami_type: &str,
    group: Option<&str>,
) -> Finding {
    let finding = Finding::new("windows-upgrade", UPGRADE);
    let Some(target) = windows_build_of_ami_type(ami_type) else {
        return finding
            .verdict(
                Severity::Failed,
                format!("{ami_type} is not a Windows AMI type EKS offers"),
            )
            .fix("name one of WINDOWS_CORE_2019_x86_64, WINDOWS_FULL_2019_x86_64, WINDOWS_CORE_2022_x86_64, WINDOWS_FULL_2022_x86_64, WINDOWS_CORE_2025_x86_64, WINDOWS_FULL_2025_x86_64");
    };
    let nodes: Vec<BuiltNode<'_>> = built_nodes(windows)
        .into_iter()
        .filter(|n| group.is_none_or(|g| node_group_of(n.node) == g))
        .collect();
    let groups: BTreeSet<String> = nodes.iter().map(|n| node_group_of(n.node)).collect();
    let whose = match group {
        Some(g) => format!("node group {g}"),
        None => "the Windows node groups".to_owned(),
    };
    if nodes.is_empty() {
        return finding.verdict(
            Severity::Skipped,
            format!("{whose}: no Windows nodes reporting a build"),
        );
    }
    let mut must_rebuild: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Workloads with an image the new build certainly does not run, and those only unknown.
    let mut certain: BTreeSet<String> = BTreeSet::new();
    let mut pinned_away = false;
    let mut evidence = Vec::new();
    for (name, kind, template) in templates(inputs) {
        let Ok(spec) = scheduled_spec(inputs, template) else {
            continue;
        };
        let lands: Vec<&BuiltNode<'_>> = nodes
            .iter()
            .filter(|n| could_land_on(&spec, n.node))
            .collect();
        if lands.is_empty() {
            continue;
        }
        // Pinned to a build the group leaves: after the upgrade no node of the group matches.
        if let Some(pinned) = spec
            .node_selector
            .as_ref()
            .and_then(|s| s.get(WINDOWS_BUILD_LABEL))
            .and_then(|b| WindowsBuild::parse(b))
            && pinned != target
        {
            evidence.push(format!(
                "{name} ({kind}): pinned to build {pinned}; after the upgrade no node of {whose} matches: re-pin it to {target} once its images are built on it"
            ));
            pinned_away = true;
        }
        for image in images(&spec)
            .into_iter()
            .map(|i| ImageBuild::of(i, inputs.registry))
        {
            let verdict = if image.runs_on(target) {
                continue;
            } else if image.known {
                certain.insert(format!("{name} ({kind})"));
                format!(
                    "built on {} ({}); {target} does not run it",
                    if image.builds.is_empty() {
                        "no Windows build".to_owned()
                    } else {
                        image.builds_text()
                    },
                    image.source
                )
            } else {
                format!("build {}: check it before the upgrade", image.source)
            };
            must_rebuild
                .entry(format!("{name} ({kind})"))
                .or_default()
                .push(format!("{}: {verdict}", image.image));
        }
    }
    let affected = certain.len();
    let to_check = must_rebuild.len() - affected;
    for (workload, images) in &must_rebuild {
        evidence.push(format!("{workload}: {}", images.join("; ")));
    }
    let nodes_said = format!(
        "{} → {ami_type} ({}): {} node(s) in {}",
        join_builds(&nodes.iter().map(|n| n.build).collect()),
        target.describe(),
        nodes.len(),
        groups.into_iter().collect::<Vec<_>>().join(", ")
    );
    evidence.insert(0, nodes_said);
    if evidence.len() == 1 {
        return finding.evidence(evidence).verdict(
            Severity::Passed,
            format!(
                "every workload that lands on {whose} has images {} runs",
                target.describe()
            ),
        );
    }
    let mut summary = format!(
        "moving {whose} to {ami_type}: {affected} workload(s) need images built on {} first",
        tag_or_build(target)
    );
    if to_check > 0 {
        summary.push_str(&format!(
            ", {to_check} more have images of unknown build to check"
        ));
    }
    let severity = if affected > 0 || pinned_away {
        Severity::Failed
    } else {
        Severity::Warning
    };
    finding
        .evidence(evidence)
        .verdict(severity, summary)
        .fix(format!(
            "publish each image listed for {} (a multi-platform index with both builds lets one tag serve the old and new nodes during the upgrade), then upgrade; pin workloads to {} only once they are",
            target.describe(),
            target
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::readiness::{ExpectedTaint, ReadinessInputs};
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::node::v1::RuntimeClass;
    use serde_json::json;

    fn node(name: &str, group: &str, build: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {
                "kubernetes.io/os": "windows",
                "eks.amazonaws.com/nodegroup": group,
                "node.kubernetes.io/windows-build": build}},
            "spec": {"taints": [{"key": "os", "value": "windows", "effect": "NoSchedule"}]}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn deployment(name: &str, image: &str, pod: serde_json::Value) -> Deployment {
        let mut spec = json!({
            "nodeSelector": {"kubernetes.io/os": "windows"},
            "tolerations": [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}],
            "containers": [{"name": "app", "image": image}]
        });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), pod.as_object()) {
            for (k, v) in extra {
                if k == "nodeSelector" {
                    for (label, value) in v.as_object().into_iter().flatten() {
                        spec["nodeSelector"][label] = value.clone();
                    }
                } else {
                    spec.insert(k.clone(), v.clone());
                }
            }
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"selector": {}, "template": {"spec": spec}}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn runtime_class(build: &str) -> RuntimeClass {
        serde_json::from_value(json!({
            "metadata": {"name": "windows-2019"},
            "handler": "runhcs-wcow-process",
            "scheduling": {"nodeSelector": {"kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": build}}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn check(
        nodes: &[Node],
        deployments: &[Deployment],
        classes: &[RuntimeClass],
        upgrade: Option<(&str, Option<&str>)>,
    ) -> Finding {
        check_with(nodes, deployments, classes, upgrade, &BTreeMap::new())
    }

    fn check_with(
        nodes: &[Node],
        deployments: &[Deployment],
        classes: &[RuntimeClass],
        upgrade: Option<(&str, Option<&str>)>,
        registry: &BTreeMap<String, RegistryAnswer>,
    ) -> Finding {
        let taint = ExpectedTaint::default();
        let inputs = ReadinessInputs {
            registry,
            upgrade: None,
            nodes,
            pods: &[],
            deployments,
            daemonsets: &[],
            runtime_classes: classes,
            vpc_cni: None,
            eks: None,
            windows_taint: &taint,
            required_daemonsets: &[],
        };
        let windows: Vec<&Node> = nodes.iter().collect();
        match upgrade {
            Some((ami, group)) => upgrade_impact(&inputs, &windows, ami, group),
            None => windows_builds(&inputs, &windows),
        }
    }

    const OLD_APP: &str =
        "mcr.microsoft.com/dotnet/framework/aspnet:4.8-windowsservercore-ltsc2019";

    fn mixed() -> Vec<Node> {
        vec![
            node("w1", "windows-2019", "10.0.17763"),
            node("w2", "windows-2022", "10.0.20348"),
        ]
    }

    #[test]
    fn an_unpinned_workload_in_a_mixed_cluster_is_found_and_a_pin_clears_it() {
        let open = check(
            &mixed(),
            &[deployment("legacy", OLD_APP, json!({}))],
            &[],
            None,
        );
        assert_eq!(open.severity, Severity::Warning, "{open:?}");
        assert!(
            open.evidence.iter().any(|e| e.contains(
                "shop/legacy (Deployment): can land on Windows nodes of build 10.0.20348"
            ) && e.contains("its tag 4.8-windowsservercore-ltsc2019")),
            "{open:?}"
        );
        assert!(
            open.fix
                .as_deref()
                .is_some_and(|f| f.contains(r#""node.kubernetes.io/windows-build":"10.0.17763""#)),
            "{open:?}"
        );
        let selector = deployment(
            "legacy",
            OLD_APP,
            json!({"nodeSelector": {"node.kubernetes.io/windows-build": "10.0.17763"}}),
        );
        assert_eq!(
            check(&mixed(), &[selector], &[], None).severity,
            Severity::Passed
        );
        let by_class = deployment(
            "legacy",
            OLD_APP,
            json!({"runtimeClassName": "windows-2019"}),
        );
        let classes = [runtime_class("10.0.17763")];
        assert_eq!(
            check(&mixed(), std::slice::from_ref(&by_class), &classes, None).severity,
            Severity::Passed
        );
        let missing = check(&mixed(), &[by_class], &[], None);
        assert_eq!(missing.severity, Severity::Failed);
        assert!(
            missing
                .evidence
                .iter()
                .any(|e| e.contains("runtimeClassName windows-2019 names no RuntimeClass"))
        );
    }

    #[test]
    fn an_image_no_node_runs_fails_and_an_unknown_build_warns_only_when_builds_differ() {
        let only_2022 = [node("w2", "windows", "10.0.20348")];
        let old = check(
            &only_2022,
            &[deployment("legacy", OLD_APP, json!({}))],
            &[],
            None,
        );
        assert_eq!(old.severity, Severity::Failed);
        assert!(
            old.evidence
                .iter()
                .any(|e| e.contains("which no Windows node runs (nodes: 10.0.20348)")),
            "{old:?}"
        );
        let unknown = deployment("iis", "mcr.microsoft.com/windows/servercore/iis", json!({}));
        assert_eq!(
            check(&only_2022, std::slice::from_ref(&unknown), &[], None).severity,
            Severity::Passed
        );
        let mixed_unknown = check(&mixed(), &[unknown], &[], None);
        assert_eq!(mixed_unknown.severity, Severity::Warning);
        assert!(
            mixed_unknown
                .evidence
                .iter()
                .any(|e| e.contains("not pinned to one Windows build"))
        );
        // A 2025 node runs 2022 images: nothing to say.
        let newer = [node("w1", "a", "10.0.20348"), node("w3", "b", "10.0.26100")];
        let stable = deployment(
            "api",
            "mcr.microsoft.com/windows/nanoserver:ltsc2022",
            json!({}),
        );
        assert_eq!(
            check(&newer, &[stable], &[], None).severity,
            Severity::Passed
        );
    }

    #[test]
    fn the_upgrade_impact_lists_exactly_the_workloads_whose_images_lack_the_target_build() {
        let nodes = [
            node("w2", "windows", "10.0.20348"),
            node("w1", "old", "10.0.17763"),
        ];
        let deployments = [
            deployment(
                "stable",
                "mcr.microsoft.com/windows/nanoserver:ltsc2022",
                json!({}),
            ),
            deployment(
                "legacy",
                OLD_APP,
                json!({"nodeSelector": {"node.kubernetes.io/windows-build": "10.0.17763"}}),
            ),
            deployment(
                "edge",
                "mcr.microsoft.com/windows/servercore:ltsc2025",
                json!({}),
            ),
            deployment(
                "linux-only",
                "nginx",
                json!({"nodeSelector": {"kubernetes.io/os": "linux"}}),
            ),
        ];
        // To 2025 for group windows: a 2022 image runs there, a 2025 image does; legacy is
        // pinned to the other group's build and does not land on this group.
        let to_2025 = check(
            &nodes,
            &deployments,
            &[],
            Some(("WINDOWS_CORE_2025_x86_64", Some("windows"))),
        );
        assert_eq!(to_2025.severity, Severity::Passed, "{to_2025:?}");
        // To 2022 for group old: legacy's image must be rebuilt and its pin moved; edge, pinned
        // to nothing, lands there too and its 2025 image does not run on 2022.
        let old_to_2022 = check(
            &nodes,
            &deployments,
            &[],
            Some(("WINDOWS_CORE_2022_x86_64", Some("old"))),
        );
        assert_eq!(old_to_2022.severity, Severity::Failed);
        assert!(
            old_to_2022
                .summary
                .contains("2 workload(s) need images built on ltsc2022"),
            "{old_to_2022:?}"
        );
        assert!(old_to_2022.evidence.iter().any(|e| e.starts_with("shop/legacy (Deployment): mcr.microsoft.com/dotnet/framework/aspnet:4.8-windowsservercore-ltsc2019: built on 10.0.17763")));
        assert!(
            old_to_2022
                .evidence
                .iter()
                .any(|e| e.contains("pinned to build 10.0.17763"))
        );
        assert!(old_to_2022.evidence.iter().any(|e| e.starts_with("shop/edge (Deployment): mcr.microsoft.com/windows/servercore:ltsc2025: built on 10.0.26100")));
        assert!(
            !old_to_2022
                .evidence
                .iter()
                .any(|e| e.starts_with("shop/stable"))
        );
        // Every group to 2019: stable and edge need rebuilding, legacy does not.
        let all_to_2019 = check(
            &nodes,
            &deployments,
            &[],
            Some(("WINDOWS_FULL_2019_x86_64", None)),
        );
        let listed: Vec<&String> = all_to_2019.evidence.iter().skip(1).collect();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(
            listed.iter().any(|e| e.starts_with("shop/stable"))
                && listed.iter().any(|e| e.starts_with("shop/edge"))
        );
        let bad = check(
            &nodes,
            &deployments,
            &[],
            Some(("AL2023_x86_64_STANDARD", None)),
        );
        assert_eq!(bad.severity, Severity::Failed);
    }

    #[test]
    fn the_registry_s_builds_outrank_the_tag_and_an_index_lacking_a_build_is_named() {
        let app = "registry.example/shop/app:1.0";
        let index = |builds: Vec<WindowsBuild>| {
            BTreeMap::from([(
                app.to_owned(),
                RegistryAnswer::Platforms {
                    builds,
                    index: true,
                },
            )])
        };
        let unpinned = [deployment("app", app, json!({}))];
        // An index with both builds: containerd picks the right one on either node.
        let both = index(vec![WindowsBuild::LTSC2019, WindowsBuild::LTSC2022]);
        assert_eq!(
            check_with(&mixed(), &unpinned, &[], None, &both).severity,
            Severity::Passed
        );
        // An index with only 2022: the 2019 nodes cannot start it.
        let only_2022 = index(vec![WindowsBuild::LTSC2022]);
        let lacking = check_with(&mixed(), &unpinned, &[], None, &only_2022);
        assert_eq!(lacking.severity, Severity::Warning);
        assert!(
            lacking.evidence.iter().any(|e| e.contains(
                "can land on Windows nodes of build 10.0.17763 and the image index of registry.example/shop/app:1.0 lacks that build (it has 10.0.20348)"
            )),
            "{lacking:?}"
        );
        // An index without any Windows platform fails.
        let linux_only = index(Vec::new());
        let none = check_with(&mixed(), &unpinned, &[], None, &linux_only);
        assert_eq!(none.severity, Severity::Failed);
        assert!(
            none.evidence
                .iter()
                .any(|e| e.contains("has no Windows platform (its registry's image index)"))
        );
        // A registry that could not be read: the tag stands in, and the finding says why.
        let unread = BTreeMap::from([(
            OLD_APP.to_owned(),
            RegistryAnswer::Unread("connection refused".to_owned()),
        )]);
        let by_tag = check_with(
            &mixed(),
            &[deployment("legacy", OLD_APP, json!({}))],
            &[],
            None,
            &unread,
        );
        assert!(
            by_tag.evidence.iter().any(|e| e.contains(
                "its tag 4.8-windowsservercore-ltsc2019; registry not read: connection refused"
            )),
            "{by_tag:?}"
        );
        // The upgrade reads the registry too: to 2025, a 2022-only index runs; to 2019 it does not.
        let to_2025 = check_with(
            &mixed(),
            &unpinned,
            &[],
            Some(("WINDOWS_CORE_2025_x86_64", None)),
            &only_2022,
        );
        assert_eq!(to_2025.severity, Severity::Passed, "{to_2025:?}");
        let to_2019 = check_with(
            &mixed(),
            &unpinned,
            &[],
            Some(("WINDOWS_CORE_2019_x86_64", None)),
            &only_2022,
        );
        assert!(
            to_2019
                .evidence
                .iter()
                .any(|e| e.contains("built on 10.0.20348 (its registry's image index)")),
            "{to_2019:?}"
        );
    }
}
