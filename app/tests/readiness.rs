//! `hybrid-console check`: one test per finding, each on a local cluster whose objects are set up
//! (with kubectl) to trip it, and the same check passing before.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::TestCluster;

/// Runs `check -o json` with `extra` flags; returns the report and whether it exited 0.
fn check(cluster: &TestCluster, extra: &[&str]) -> (Value, bool) {
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let mut args = vec!["--kubeconfig", kubeconfig.as_str(), "check", "-o", "json"];
    args.extend_from_slice(extra);
    let out = cluster.console(&args);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.success())
}

fn finding<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == id)
        .unwrap_or_else(|| panic!("no finding {id} in {report:#}"))
}

fn severity(report: &Value, id: &str) -> String {
    finding(report, id)["severity"].as_str().unwrap().to_owned()
}

fn evidence(report: &Value, id: &str) -> String {
    finding(report, id)["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks until `id` has `wanted` severity (controllers and kubelets act after kubectl returns).
fn until(cluster: &TestCluster, extra: &[&str], id: &str, wanted: &str) -> (Value, bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (report, ok) = check(cluster, extra);
        if severity(&report, id) == wanted {
            return (report, ok);
        }
        assert!(
            Instant::now() < deadline,
            "{id} never became {wanted}: {:#}",
            finding(&report, id)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_fresh_local_cluster_is_ready_and_eks_checks_are_skipped_without_the_eks_api() {
    let cluster = TestCluster::start(false);
    let (report, ok) = check(&cluster, &[]);
    assert!(ok, "{report:#}");
    for id in [
        "linux-nodes",
        "windows-ipam",
        "windows-taint",
        "os-selectors",
        "windows-pod-features",
        "windows-pod-capacity",
        "windows-daemonsets",
        "windows-builds",
    ] {
        assert_eq!(
            severity(&report, id),
            "passed",
            "{:#}",
            finding(&report, id)
        );
    }
    assert_eq!(severity(&report, "windows-node-groups"), "skipped");
    // The text form names every check and the tally.
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let out = cluster.console(&["--kubeconfig", &kubeconfig, "check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("PASS  Windows IP address management"),
        "{text}"
    );
    assert!(
        text.contains("8 passed, 0 warning(s), 0 failed, 1 skipped"),
        "{text}"
    );
}

#[test]
fn no_linux_nodes_fails_and_one_warns() {
    let cluster = TestCluster::start(false);
    let linux = cluster.nodes_of("linux");
    cluster.kubectl().ok(&["delete", "node", &linux[0]]);
    let (report, ok) = check(&cluster, &[]);
    assert!(ok, "a warning alone does not fail the check");
    assert_eq!(severity(&report, "linux-nodes"), "warning");
    cluster.kubectl().ok(&["delete", "node", &linux[1]]);
    let (report, ok) = check(&cluster, &[]);
    assert!(!ok);
    let linux_nodes = finding(&report, "linux-nodes");
    assert_eq!(linux_nodes["severity"], "failed");
    assert!(
        linux_nodes["summary"]
            .as_str()
            .unwrap()
            .contains("CoreDNS and the other system pods run only on Linux")
    );
    assert!(
        linux_nodes["fix"]
            .as_str()
            .unwrap()
            .contains("eks add-nodegroup")
    );
}

#[test]
fn windows_ipam_off_or_a_node_without_pod_addresses_fails() {
    let cluster = TestCluster::start(false);
    cluster.kubectl().ok(&[
        "-n",
        "kube-system",
        "patch",
        "configmap",
        "amazon-vpc-cni",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"enable-windows-ipam":"false"}}"#,
    ]);
    let (report, ok) = check(&cluster, &[]);
    assert!(!ok);
    assert_eq!(severity(&report, "windows-ipam"), "failed");
    assert!(
        evidence(&report, "windows-ipam").contains("enable-windows-ipam is \"false\""),
        "{}",
        evidence(&report, "windows-ipam")
    );
    let fix = finding(&report, "windows-ipam")["fix"]
        .as_str()
        .unwrap()
        .to_owned();
    // The fix is a command that works: run it and the check passes again.
    let patch = fix
        .split("  (")
        .next()
        .unwrap()
        .trim_start_matches("kubectl ")
        .to_owned();
    let args = shell_words(&patch);
    cluster
        .kubectl()
        .ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(severity(&check(&cluster, &[]).0, "windows-ipam"), "passed");

    let node = cluster.nodes_of("windows")[0].clone();
    cluster.kubectl().ok(&[
        "patch",
        "node",
        &node,
        "--subresource=status",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/status/allocatable/vpc.amazonaws.com~1PrivateIPv4Address"}]"#,
    ]);
    let (report, _) = check(&cluster, &[]);
    assert_eq!(severity(&report, "windows-ipam"), "failed");
    assert!(
        evidence(&report, "windows-ipam")
            .contains(&format!("{node}: vpc.amazonaws.com/PrivateIPv4Address = 0")),
        "{}",
        evidence(&report, "windows-ipam")
    );
}

/// Splits a command line the way a POSIX shell would for the simple quoting fixes use.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[test]
fn windows_nodes_without_the_expected_taint_warn() {
    let cluster = TestCluster::start(false);
    let windows = cluster.nodes_of("windows");
    cluster
        .kubectl()
        .ok(&["taint", "nodes", &windows[0], "os=windows:NoSchedule-"]);
    let (report, ok) = check(&cluster, &[]);
    assert!(ok);
    assert_eq!(severity(&report, "windows-taint"), "warning");
    let found = evidence(&report, "windows-taint");
    assert!(
        found.contains(&format!("{}: no os=windows:NoSchedule taint", windows[0])),
        "{found}"
    );
    assert!(
        finding(&report, "windows-taint")["fix"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "kubectl taint nodes {} os=windows:NoSchedule",
                windows[0]
            ))
    );
    // The taint to expect is the operator's choice.
    let (report, _) = check(
        &cluster,
        &["--windows-taint", "dedicated=windows:NoExecute"],
    );
    let found = evidence(&report, "windows-taint");
    assert!(
        found.contains(&format!(
            "{}: no dedicated=windows:NoExecute taint",
            windows[1]
        )),
        "{found}"
    );
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let bad = cluster.console(&[
        "--kubeconfig",
        &kubeconfig,
        "check",
        "--windows-taint",
        "os=windows",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("key=value:Effect"));
}

#[test]
fn workloads_that_leave_their_os_open_and_can_reach_windows_warn() {
    let cluster = TestCluster::start(false);
    cluster.apply(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: tolerant-web, namespace: default}
spec:
  selector: {matchLabels: {app: tolerant-web}}
  template:
    metadata: {labels: {app: tolerant-web}}
    spec:
      tolerations: [{key: os, operator: Exists}]
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: plain-web, namespace: default}
spec:
  selector: {matchLabels: {app: plain-web}}
  template:
    metadata: {labels: {app: plain-web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: linux-web, namespace: default}
spec:
  selector: {matchLabels: {app: linux-web}}
  template:
    metadata: {labels: {app: linux-web}}
    spec:
      tolerations: [{key: os, operator: Exists}]
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/os, operator: In, values: [linux]}]}]
      containers: [{name: web, image: "nginx:1.27"}]
"#,
    );
    let (report, ok) = check(&cluster, &[]);
    assert!(ok);
    assert_eq!(severity(&report, "os-selectors"), "warning");
    let found = evidence(&report, "os-selectors");
    // Only the one that tolerates the Windows taint and chooses no OS can get there.
    assert!(
        found.contains("default/tolerant-web (Deployment)"),
        "{found}"
    );
    assert!(
        !found.contains("plain-web") && !found.contains("linux-web"),
        "{found}"
    );
    // Without the taint, the plain one could land there too.
    for node in cluster.nodes_of("windows") {
        cluster
            .kubectl()
            .ok(&["taint", "nodes", &node, "os=windows:NoSchedule-"]);
    }
    let found = evidence(&check(&cluster, &[]).0, "os-selectors");
    assert!(found.contains("default/plain-web (Deployment)"), "{found}");
    assert!(!found.contains("linux-web"), "{found}");
}

#[test]
fn windows_pods_asking_for_host_networking_or_privilege_fail() {
    let cluster = TestCluster::start(false);
    cluster.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: host-net, namespace: default}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  tolerations: [{key: os, value: windows, effect: NoSchedule}]
  hostNetwork: true
  containers: [{name: app, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}]
---
apiVersion: v1
kind: Pod
metadata: {name: privileged, namespace: default}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  tolerations: [{key: os, value: windows, effect: NoSchedule}]
  containers: [{name: app, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022", securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata: {name: host-process, namespace: default}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  tolerations: [{key: os, value: windows, effect: NoSchedule}]
  hostNetwork: true
  securityContext: {windowsOptions: {hostProcess: true, runAsUserName: "NT AUTHORITY\\SYSTEM"}}
  containers: [{name: app, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}]
---
apiVersion: v1
kind: Pod
metadata: {name: linux-host-net, namespace: default}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  hostNetwork: true
  containers: [{name: app, image: "nginx:1.27"}]
"#,
    );
    let (report, ok) = check(&cluster, &[]);
    assert!(!ok);
    assert_eq!(severity(&report, "windows-pod-features"), "failed");
    let found = evidence(&report, "windows-pod-features");
    assert!(
        found.contains("default/host-net: hostNetwork: true"),
        "{found}"
    );
    assert!(
        found.contains("default/privileged: container app privileged: true"),
        "{found}"
    );
    // HostProcess containers need host networking and are supported; Linux pods may use it.
    assert!(
        !found.contains("host-process") && !found.contains("linux-host-net"),
        "{found}"
    );
}

/// `eks check --cluster NAME -o json`: the same check with the EKS API's node groups and EC2's
/// instance facts.
fn eks_check(cluster: &TestCluster, name: &str) -> Value {
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let out = cluster.console(&[
        "--kubeconfig",
        kubeconfig.as_str(),
        "eks",
        "check",
        "--cluster",
        name,
        "--no-registry",
        "-o",
        "json",
    ]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn more_windows_pods_than_pod_addresses_fails_until_prefix_delegation() {
    const NAME: &str = "more_windows_pods_than_pod_addresses_fails_until_prefix_delegation";
    // The nodes are moto's EKS node groups (t3.large on Windows), so that EC2's facts count.
    let Some(moto_url) = support::moto::in_aws_env(NAME, "us-west-2", |moto| {
        moto.hybrid_cluster("us-west-2", "hybrid");
    }) else {
        return;
    };
    let cluster = TestCluster::start_following("hybrid", &moto_url, false);
    // 24 pods on 2 Windows nodes: at least one node holds 12, one more than a t3.large's 11.
    cluster.apply(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: many, namespace: default}
spec:
  replicas: 24
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec:
      nodeSelector: {kubernetes.io/os: windows}
      tolerations: [{key: os, value: windows, effect: NoSchedule}]
      containers: [{name: app, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}]
"#,
    );
    // Without the EKS API: the node's own figure (the VPC resource controller's advertisement).
    let (report, ok) = until(&cluster, &[], "windows-pod-capacity", "failed");
    assert!(!ok);
    let found = evidence(&report, "windows-pod-capacity");
    assert!(
        found.contains("of 11 pod addresses used (t3.large: 11 advertised by the node)"),
        "{found}"
    );
    // With it: EC2's facts of the type.
    let report = eks_check(&cluster, "hybrid");
    assert_eq!(severity(&report, "windows-pod-capacity"), "failed");
    let found = evidence(&report, "windows-pod-capacity");
    assert!(
        found.contains("of 11 pod addresses used (t3.large: 12 IPv4 per ENI − 1, from EC2)"),
        "{found}"
    );
    assert!(
        finding(&report, "windows-pod-capacity")["fix"]
            .as_str()
            .unwrap()
            .contains("enable-windows-prefix-delegation")
    );
    cluster.kubectl().ok(&[
        "-n",
        "kube-system",
        "patch",
        "configmap",
        "amazon-vpc-cni",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"enable-windows-prefix-delegation":"true"}}"#,
    ]);
    let report = eks_check(&cluster, "hybrid");
    assert_eq!(severity(&report, "windows-pod-capacity"), "passed");
    assert!(
        evidence(&report, "windows-pod-capacity").contains(
            "of 176 pod addresses used (t3.large: (12 IPv4 per ENI − 1) × 16 prefixes, from EC2)"
        ),
        "{}",
        evidence(&report, "windows-pod-capacity")
    );
}

#[test]
fn a_windows_daemonset_missing_from_a_windows_node_fails() {
    let cluster = TestCluster::start(false);
    cluster.apply(
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: log-agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: log-agent}}
  template:
    metadata: {labels: {app: log-agent}}
    spec:
      nodeSelector: {kubernetes.io/os: windows}
      tolerations: [{key: os, operator: Exists}]
      containers: [{name: agent, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}]
"#,
    );
    let (report, _) = until(&cluster, &[], "windows-daemonsets", "passed");
    assert!(
        evidence(&report, "windows-daemonsets")
            .contains("kube-system/log-agent: ready on 2/2 Windows nodes")
    );
    // A Linux-only image cannot start on Windows: the rollout stops on the first Windows node,
    // which is left without a ready daemon.
    cluster.kubectl().ok(&[
        "-n",
        "kube-system",
        "set",
        "image",
        "daemonset/log-agent",
        "agent=fluent/fluent-bit:3.1",
    ]);
    let (report, ok) = until(&cluster, &[], "windows-daemonsets", "failed");
    assert!(!ok);
    let found = evidence(&report, "windows-daemonsets");
    assert!(
        found.contains("kube-system/log-agent: no ready pod on"),
        "{found}"
    );
    // A required DaemonSet that does not exist is named.
    let (report, _) = check(
        &cluster,
        &[
            "--require-daemonset",
            "amazon-cloudwatch/fluent-bit-windows",
        ],
    );
    assert!(
        evidence(&report, "windows-daemonsets")
            .contains("amazon-cloudwatch/fluent-bit-windows: required, but no such DaemonSet")
    );
}

/// A Deployment in `default` of `replicas` pods of `image` for any Windows node (no build
/// chosen), with `extra` (one YAML line) added to its pod spec.
fn windows_deployment(name: &str, image: &str, replicas: u32, extra: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      {extra}
      nodeSelector: {{kubernetes.io/os: windows}}
      tolerations: [{{key: os, operator: Equal, value: windows, effect: NoSchedule}}]
      containers: [{{name: app, image: "{image}"}}]
"#
    )
}

const LEGACY_IMAGE: &str =
    "mcr.microsoft.com/dotnet/framework/aspnet:4.8-windowsservercore-ltsc2019";

#[test]
fn a_windows_workload_pinned_to_no_build_in_a_mixed_cluster_warns_until_a_runtime_class_pins_it() {
    use local_cluster::nodes::WindowsServer;
    let cluster = TestCluster::start_with_windows_servers(&[
        WindowsServer::Ltsc2019,
        WindowsServer::Ltsc2022,
    ]);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    cluster.apply(&windows_deployment("legacy", LEGACY_IMAGE, 1, ""));
    let (report, ok) = until(&cluster, &[], "windows-builds", "warning");
    assert!(ok, "a warning does not fail the check");
    let said = evidence(&report, "windows-builds");
    assert!(
        said.contains("Windows nodes run 2 build(s): 10.0.17763, 10.0.20348")
            && said.contains("default/legacy (Deployment): can land on Windows nodes of build 10.0.20348 where image")
            && said.contains("(built on 10.0.17763, from its tag 4.8-windowsservercore-ltsc2019"),
        "{said}"
    );
    assert!(
        finding(&report, "windows-builds")["fix"]
            .as_str()
            .unwrap()
            .contains(r#""node.kubernetes.io/windows-build":"10.0.17763""#),
        "{report:#}"
    );

    // What that means on a node: a pod of it on the 2022 node is refused as containerd on
    // Windows refuses it, and the board says why.
    cluster.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: stray, namespace: default}}
spec:
  nodeSelector: {{kubernetes.io/os: windows, node.kubernetes.io/windows-build: "10.0.20348"}}
  tolerations: [{{key: os, operator: Equal, value: windows, effect: NoSchedule}}]
  containers: [{{name: app, image: "{LEGACY_IMAGE}"}}]
"#
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    let board = loop {
        let out = cluster.console(&["--kubeconfig", &kubeconfig, "status", "-o", "json"]);
        let board: Value = serde_json::from_slice(&out.stdout).unwrap();
        let stray = board["lanes"][0]["groups"][0]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|n| n["pods"].as_array().unwrap())
            .find(|p| p["name"] == "stray")
            .cloned();
        if stray.is_some_and(|p| p["image_mismatch"] == "windows-build") {
            break board;
        }
        assert!(
            Instant::now() < deadline,
            "the stray pod never failed: {board:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let builds: Vec<&str> = board["lanes"][0]["groups"][0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["windows_build"].as_str().unwrap())
        .collect();
    assert_eq!(builds, ["10.0.17763", "10.0.20348"], "{board:#}");
    let out = cluster.console(&["--kubeconfig", &kubeconfig, "status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.contains("default/stray")
            && l.contains("(image's Windows build does not suit this node's)")),
        "{text}"
    );
    cluster
        .kubectl()
        .ok(&["delete", "pod", "stray", "--wait=false"]);

    // Upgrading the group to 2022: the legacy workload must be rebuilt first.
    let (report, ok) = check(
        &cluster,
        &[
            "--upgrade-to",
            "WINDOWS_CORE_2022_x86_64",
            "--nodegroup",
            "windows",
        ],
    );
    assert!(!ok, "an upgrade that breaks a workload fails the check");
    assert_eq!(severity(&report, "windows-upgrade"), "failed");
    let said = evidence(&report, "windows-upgrade");
    assert!(
        said.contains(
            "→ WINDOWS_CORE_2022_x86_64 (Windows Server 2022 (10.0.20348)): 2 node(s) in windows"
        ) && said.contains(&format!(
            "default/legacy (Deployment): {LEGACY_IMAGE}: built on 10.0.17763"
        )),
        "{said}"
    );
    let refused = cluster.console(&[
        "--kubeconfig",
        &kubeconfig,
        "check",
        "--upgrade-to",
        "WINDOWS_2030",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("is not a Windows AMI type EKS offers: use one of WINDOWS_CORE_2019_x86_64"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // A RuntimeClass pins it to the 2019 nodes: the finding clears.
    cluster.apply(
        r#"
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: windows-2019}
handler: runhcs-wcow-process
scheduling:
  nodeSelector: {kubernetes.io/os: windows, node.kubernetes.io/windows-build: "10.0.17763"}
  tolerations: [{key: os, operator: Equal, value: windows, effect: NoSchedule}]
"#,
    );
    cluster.kubectl().ok(&[
        "patch",
        "deployment",
        "legacy",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"template":{"spec":{"runtimeClassName":"windows-2019"}}}}"#,
    ]);
    let (report, _) = until(&cluster, &[], "windows-builds", "passed");
    assert!(
        finding(&report, "windows-builds")["summary"]
            .as_str()
            .unwrap()
            .contains("land only where their images' builds run"),
        "{report:#}"
    );
}

#[test]
fn windows_builds_are_read_from_a_real_registry_and_the_tag_stands_in_when_it_cannot_be_read() {
    use local_cluster::nodes::WindowsServer;
    let registry = test_harness::registry::Registry::start();
    let host = &registry.host;
    // One tag for both builds (and Linux), one for 2022 only, and a single manifest whose tag
    // names no build: only its config says 2019.
    registry.push_index(
        "shop/app",
        "1.0",
        &[
            ("windows", Some("10.0.17763.6414")),
            ("windows", Some("10.0.20348.2849")),
            ("linux", None),
        ],
    );
    registry.push_index("shop/api", "1.0", &[("windows", Some("10.0.20348.2849"))]);
    registry.push_image("shop/old", "1.0", ("windows", Some("10.0.17763.6414")));
    let cluster = TestCluster::start_with_windows_servers(&[
        WindowsServer::Ltsc2019,
        WindowsServer::Ltsc2022,
    ]);
    // Nothing listens on port 9 of this machine: that registry cannot be read.
    for (name, image) in [
        ("app", format!("{host}/shop/app:1.0")),
        ("api", format!("{host}/shop/api:1.0")),
        ("old", format!("{host}/shop/old:1.0")),
        ("gone", "127.0.0.1:9/shop/gone:ltsc2019".to_owned()),
    ] {
        cluster.apply(&windows_deployment(name, &image, 0, ""));
    }
    let (report, _) = until(&cluster, &[], "windows-builds", "warning");
    let said = evidence(&report, "windows-builds");
    assert!(
        !said.contains("default/app "),
        "an index with both builds runs anywhere: {said}"
    );
    assert!(
        said.contains(&format!(
            "default/api (Deployment): can land on Windows nodes of build 10.0.17763 and the image index of {host}/shop/api:1.0 lacks that build (it has 10.0.20348)"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "default/old (Deployment): can land on Windows nodes of build 10.0.20348 where image {host}/shop/old:1.0 (built on 10.0.17763, from its registry's image config) cannot start"
        )),
        "{said}"
    );
    assert!(
        said.contains("default/gone (Deployment): can land on Windows nodes of build 10.0.20348 where image 127.0.0.1:9/shop/gone:ltsc2019 (built on 10.0.17763, from its tag ltsc2019; registry not read: 127.0.0.1:9 could not be read"),
        "{said}"
    );
    // Without the registry, old's tag says nothing: only that it is pinned to no build.
    let (report, _) = check(&cluster, &["--no-registry"]);
    let said = evidence(&report, "windows-builds");
    assert!(
        said.contains(&format!(
            "default/old (Deployment): not pinned to one Windows build and can land on 10.0.17763, 10.0.20348; the build of image {host}/shop/old:1.0 is unknown"
        )),
        "{said}"
    );
    // The upgrade to 2025 reads the registry too: an index with a 2022 entry runs there, a
    // 2019-only image does not.
    let (report, _) = check(&cluster, &["--upgrade-to", "WINDOWS_CORE_2025_x86_64"]);
    let said = evidence(&report, "windows-upgrade");
    assert!(
        said.contains(&format!("default/old (Deployment): {host}/shop/old:1.0: built on 10.0.17763 (its registry's image config)"))
            && !said.contains("default/api ")
            && !said.contains("default/app "),
        "{said}"
    );
}

#[test]
fn a_private_registry_is_read_with_the_workload_s_pull_secret() {
    use local_cluster::nodes::WindowsServer;
    let registry = test_harness::registry::Registry::start_private("ci", "s3cret");
    let host = registry.host.clone();
    registry.push_image("shop/private", "1.0", ("windows", Some("10.0.17763.6414")));
    let cluster = TestCluster::start_with_windows_servers(&[
        WindowsServer::Ltsc2019,
        WindowsServer::Ltsc2022,
    ]);
    cluster.kubectl().ok(&[
        "create",
        "secret",
        "docker-registry",
        "regcred",
        &format!("--docker-server={host}"),
        "--docker-username=ci",
        "--docker-password=s3cret",
    ]);
    cluster.apply(&windows_deployment(
        "private",
        &format!("{host}/shop/private:1.0"),
        0,
        "imagePullSecrets: [{name: regcred}]",
    ));
    let (report, _) = until(&cluster, &[], "windows-builds", "warning");
    let said = evidence(&report, "windows-builds");
    assert!(
        said.contains(&format!(
            "default/private (Deployment): can land on Windows nodes of build 10.0.20348 where image {host}/shop/private:1.0 (built on 10.0.17763, from its registry's image config) cannot start"
        )),
        "{said}"
    );
    // Without the secret the registry refuses: the tag (which names no build) is all there is.
    cluster.kubectl().ok(&["delete", "secret", "regcred"]);
    let (report, _) = check(&cluster, &[]);
    let said = evidence(&report, "windows-builds");
    assert!(
        said.contains(&format!(
            "the build of image {host}/shop/private:1.0 is unknown: its tag names no Windows build; registry not read: {host} could not be read: Not authorized"
        )),
        "{said}"
    );
}

#[test]
fn a_private_ecr_image_is_read_with_the_login_ecr_gives_the_operator() {
    const NAME: &str = "a_private_ecr_image_is_read_with_the_login_ecr_gives_the_operator";
    // ECR's GetAuthorizationToken from moto; the registry host itself does not resolve here
    // (no network), so the read fails after the login — and says it was asked with it.
    let Some(moto_url) = support::moto::in_aws_env(NAME, "us-west-2", |_| {}) else {
        return;
    };
    let image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/shop/legacy:ltsc2019";
    let cluster = TestCluster::start(false);
    cluster.apply(&windows_deployment("legacy", image, 0, ""));
    let (report, _) = until(&cluster, &[], "windows-builds", "failed");
    let said = evidence(&report, "windows-builds");
    assert!(
        said.contains("123456789012.dkr.ecr.us-west-2.amazonaws.com could not be read")
            && said.contains("(asked with ECR's login for us-west-2)"),
        "{said}"
    );

    // An identity ECR refuses (moto enforcing IAM): the permission to ask for is named, and the
    // tag stands in.
    let strict = support::moto::Moto::start_enforcing_iam(3);
    let keys = strict.python(
        "us-west-2",
        "import json\niam = boto3.client('iam', **kw)\niam.create_user(UserName='viewer')\nkey = iam.create_access_key(UserName='viewer')['AccessKey']\niam.put_user_policy(UserName='viewer', PolicyName='eks-only', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': ['eks:*'], 'Resource': '*'}]}))\nprint(key['AccessKeyId'], key['SecretAccessKey'])\n",
    );
    let keys = String::from_utf8(keys.stdout).unwrap();
    let (id, secret) = keys.trim().split_once(' ').unwrap();
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .args(["--kubeconfig", kubeconfig.as_str(), "check", "-o", "json"])
        .env("HOME", cluster.dir())
        .env("AWS_ENDPOINT_URL", &strict.url)
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let said = evidence(&report, "windows-builds");
    assert!(
        said.contains(
            "no ECR login for its registry (Not allowed by IAM: ecr:GetAuthorizationToken"
        ) && said.contains("not authorized to perform: ecr:GetAuthorizationToken"),
        "{said}"
    );
    assert!(said.contains("ltsc2019"), "{said}");

    // No AWS identity at all: said, not a failure of the check.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .args(["--kubeconfig", kubeconfig.as_str(), "check", "-o", "json"])
        .env("HOME", cluster.dir())
        .env("AWS_ENDPOINT_URL", &moto_url)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            cluster.dir().join("no-credentials"),
        )
        .env("AWS_CONFIG_FILE", cluster.dir().join("no-config"))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let said = evidence(&report, "windows-builds");
    assert!(
        said.contains("no ECR login for its registry (No AWS credentials were found"),
        "{said}"
    );
}
