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
