//! RuntimeClasses steering pods to one Windows build, as on EKS with Windows AMIs of several
//! releases: the nodes carry their build, admission merges the class's node selector and
//! tolerations into the pod, and a pod that names a missing class or contradicts its class is
//! refused with the real message.

mod support;

use support::Cluster;

const WINDOWS_2019: &str = r#"
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: windows-2019}
handler: runhcs-wcow-process
scheduling:
  nodeSelector:
    kubernetes.io/os: windows
    node.kubernetes.io/windows-build: "10.0.17763"
  tolerations:
  - {key: os, operator: Equal, value: windows, effect: NoSchedule}
"#;

#[test]
fn a_runtime_class_steers_pods_to_its_windows_build() {
    let cluster = Cluster::start_with(&["--windows-nodes", "4", "--windows-server", "2019,2022"]);
    let nodes = cluster.json(&["get", "nodes", "-l", "kubernetes.io/os=windows"]);
    let builds: Vec<(String, String, String)> = nodes["items"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                n["metadata"]["labels"]["node.kubernetes.io/windows-build"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                n["status"]["nodeInfo"]["osImage"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let on_2019: Vec<&String> = builds
        .iter()
        .filter(|(_, build, image)| {
            build == "10.0.17763" && image == "Windows Server 2019 Datacenter"
        })
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(on_2019.len(), 2, "{builds:?}");
    assert_eq!(
        builds
            .iter()
            .filter(|(_, build, _)| build == "10.0.20348")
            .count(),
        2,
        "{builds:?}"
    );

    cluster.ok_stdin(&["apply", "-f", "-"], WINDOWS_2019);
    let listed = cluster.ok(&["get", "runtimeclasses"]);
    assert!(
        listed.contains("HANDLER") && listed.contains("runhcs-wcow-process"),
        "{listed}"
    );
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy-app}
spec:
  replicas: 4
  selector: {matchLabels: {app: legacy-app}}
  template:
    metadata: {labels: {app: legacy-app}}
    spec:
      runtimeClassName: windows-2019
      containers:
      - {name: app, image: "mcr.microsoft.com/dotnet/framework/aspnet:4.8-windowsservercore-ltsc2019"}
"#,
    );
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/legacy-app",
        "--timeout=60s",
    ]);
    let pods = cluster.json(&["get", "pods", "-l", "app=legacy-app"]);
    for pod in pods["items"].as_array().expect("pods") {
        let node = pod["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(on_2019.contains(&&node), "{node} is not a 2019 node");
        assert_eq!(
            pod["spec"]["nodeSelector"]["node.kubernetes.io/windows-build"],
            "10.0.17763"
        );
        assert!(
            pod["spec"]["tolerations"].as_array().is_some_and(|t| t
                .iter()
                .any(|t| t["key"] == "os" && t["value"] == "windows")),
            "{pod}"
        );
    }

    let missing = cluster.fails(&[
        "run",
        "lost",
        "--image=busybox",
        "--overrides={\"spec\":{\"runtimeClassName\":\"gvisor\"}}",
    ]);
    assert!(
        missing.contains(
            "pods \"lost\" is forbidden: pod rejected: RuntimeClass \"gvisor\" not found"
        ),
        "{missing}"
    );
    let conflicting = cluster.fails(&[
        "run",
        "torn",
        "--image=busybox",
        "--overrides={\"spec\":{\"runtimeClassName\":\"windows-2019\",\"nodeSelector\":{\"node.kubernetes.io/windows-build\":\"10.0.20348\"}}}",
    ]);
    assert!(
        conflicting.contains(
            "pods \"torn\" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[node.kubernetes.io/windows-build] = 10.0.17763; pod.spec.nodeSelector[node.kubernetes.io/windows-build] = 10.0.20348"
        ),
        "{conflicting}"
    );
}

/// A pod for one Windows build's nodes running `image`.
fn windows_pod(name: &str, build: &str, image: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeSelector: {{kubernetes.io/os: windows, node.kubernetes.io/windows-build: "{build}"}}
  tolerations: [{{key: os, operator: Equal, value: windows, effect: NoSchedule}}]
  containers: [{{name: app, image: "{image}"}}]
"#
    )
}

#[test]
fn a_windows_image_of_another_build_fails_as_containerd_fails_it() {
    let cluster = Cluster::start_with(&["--windows-nodes", "2", "--windows-server", "2022,2025"]);
    // An ltsc2019 image on a 2022 node: pulled, then refused when its task is created.
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        &windows_pod(
            "old",
            "10.0.20348",
            "mcr.microsoft.com/windows/servercore:ltsc2019",
        ),
    );
    // From Windows Server 2022 on, a newer node runs 2022 images: this one starts.
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        &windows_pod(
            "stable",
            "10.0.26100",
            "mcr.microsoft.com/windows/nanoserver:ltsc2022",
        ),
    );
    // ... and the calculator's own Windows image (built on ltsc2022) runs there too.
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        &windows_pod(
            "calc",
            "10.0.26100",
            "ghcr.io/hybrid-console/calculator:0.1.0",
        ),
    );
    let said = "The container operating system does not match the host operating system.";
    let events = cluster.wait_for(30, "the pod's Failed event", |c| {
        let events = c.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=old",
            "-o",
            "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
        ]);
        events.contains(said).then_some(events)
    });
    assert!(
        events.contains("Failed: Error: failed to create containerd task: failed to create shim task: hcs::CreateComputeSystem ")
            && events.contains("Pulled: "),
        "{events}"
    );
    let waiting = cluster.ok(&[
        "get",
        "pod",
        "old",
        "-o",
        "jsonpath={.status.containerStatuses[0].state.waiting.reason}",
    ]);
    assert!(
        matches!(waiting.as_str(), "RunContainerError" | "CrashLoopBackOff"),
        "{waiting}"
    );
    cluster.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/stable",
        "pod/calc",
        "--timeout=60s",
    ]);
    let old = cluster.ok(&["get", "pod", "old", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(old, "Pending");
}

#[test]
fn an_image_in_a_local_registry_runs_where_its_index_has_the_node_s_build() {
    let registry = test_harness::registry::Registry::start();
    let host = registry.host.clone();
    // The tags say nothing of the build: the registry does.
    registry.push_index(
        "shop/api",
        "1.0",
        &[("windows", Some("10.0.20348.2849")), ("linux", None)],
    );
    registry.push_image("shop/old", "1.0", ("windows", Some("10.0.17763.6414")));
    let cluster = Cluster::start_with(&["--windows-nodes", "2", "--windows-server", "2019,2022"]);
    for (name, build, image) in [
        ("api-on-2022", "10.0.20348", format!("{host}/shop/api:1.0")),
        ("api-on-2019", "10.0.17763", format!("{host}/shop/api:1.0")),
        ("old-on-2022", "10.0.20348", format!("{host}/shop/old:1.0")),
        ("old-on-2019", "10.0.17763", format!("{host}/shop/old:1.0")),
        ("missing", "10.0.20348", format!("{host}/shop/missing:1.0")),
    ] {
        cluster.ok_stdin(&["apply", "-f", "-"], &windows_pod(name, build, &image));
    }
    cluster.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/api-on-2022",
        "pod/old-on-2019",
        "--timeout=60s",
    ]);
    let message = |pod: &str| {
        cluster.wait_for(30, &format!("{pod} to fail"), |c| {
            let events = c.ok(&[
                "get",
                "events",
                "--field-selector",
                &format!("involvedObject.name={pod}"),
                "-o",
                "jsonpath={range .items[?(@.type==\"Warning\")]}{.message}{\"\\n\"}{end}",
            ]);
            events
                .lines()
                .find(|l| l.starts_with("Failed to pull") || l.contains("hcs::"))
                .map(str::to_owned)
        })
    };
    // The index has no 2019 entry: the pull finds nothing for this node.
    let api = message("api-on-2019");
    assert!(
        api.contains("no match for platform in manifest: not found"),
        "{api}"
    );
    // One manifest of 2019 on a 2022 node: pulled, then refused at the task.
    let old = message("old-on-2022");
    assert!(
        old.contains("The container operating system does not match the host operating system."),
        "{old}"
    );
    // Not in the registry: the pull fails and says what the registry answered.
    let missing = message("missing");
    assert!(
        missing.contains(&format!(
            "failed to resolve reference \"{host}/shop/missing:1.0\""
        )) && missing.contains("could not be read"),
        "{missing}"
    );
}
