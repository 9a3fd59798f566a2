//! RBAC with kubectl: a user with a token of its own may do only what its bindings grant, and
//! is told so in the real server's words.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

use local_cluster::{ClusterConfig, LocalCluster};
use test_harness::Kubectl;

#[test]
fn a_viewer_bound_in_one_namespace_reads_there_and_nowhere_else() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cluster = runtime
        .block_on(LocalCluster::start(ClusterConfig::default()))
        .unwrap();
    let admin_config = dir.path().join("admin");
    std::fs::write(&admin_config, cluster.kubeconfig()).unwrap();
    let viewer_config = dir.path().join("viewer");
    std::fs::write(&viewer_config, cluster.add_user("jane", &["developers"])).unwrap();
    let admin = Kubectl::new(&admin_config, dir.path().join("kube-cache"));
    let viewer = admin.as_user(&viewer_config);

    // The bootstrap policy is there, as on any cluster.
    let roles = admin.ok(&["get", "clusterroles"]);
    for role in ["cluster-admin", "view", "edit"] {
        assert!(roles.contains(role), "{roles}");
    }

    // Nothing is granted yet, and the user can ask what it may do, as on any cluster.
    let out = viewer.run(&["auth", "can-i", "list", "pods", "-n", "default"]);
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim()
        ),
        (Some(1), "no")
    );
    let whoami = viewer.ok(&["auth", "whoami", "-o", "json"]);
    let whoami: serde_json::Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(whoami["status"]["userInfo"]["username"], "jane");
    assert_eq!(
        whoami["status"]["userInfo"]["groups"],
        serde_json::json!(["developers", "system:authenticated"])
    );
    assert_eq!(admin.ok(&["auth", "can-i", "*", "*"]).trim(), "yes");
    let err = viewer.fails(&["get", "pods", "-n", "default"]);
    assert!(
        err.contains(
            r#"pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default""#
        ),
        "{err}"
    );

    // Grant `view` in `default` to the user's group.
    let binding = dir.path().join("binding.yaml");
    std::fs::write(
        &binding,
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: developers-view
  namespace: default
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: developers
"#,
    )
    .unwrap();
    admin.ok(&["apply", "-f", &binding.to_string_lossy()]);

    viewer.ok(&["get", "pods", "-n", "default"]);
    viewer.ok(&["get", "services", "kubernetes", "-n", "default"]);
    // `can-i` answers from the same rules the server enforces, subresources included.
    let can = |args: &[&str]| {
        let out = viewer.run(&[&["auth", "can-i"], args].concat());
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(can(&["list", "pods", "-n", "default"]), "yes");
    assert_eq!(can(&["get", "pods/log", "-n", "default"]), "yes");
    // The kinds added since: viewers read ingresses, autoscalers and quotas, change none.
    assert_eq!(
        can(&["list", "ingresses.networking.k8s.io", "-n", "default"]),
        "yes"
    );
    assert_eq!(
        can(&[
            "list",
            "horizontalpodautoscalers.autoscaling",
            "-n",
            "default"
        ]),
        "yes"
    );
    assert_eq!(can(&["get", "resourcequotas", "-n", "default"]), "yes");
    assert_eq!(can(&["create", "resourcequotas", "-n", "default"]), "no");
    assert_eq!(
        can(&["create", "ingresses.networking.k8s.io", "-n", "default"]),
        "no"
    );
    // Impersonation is refused rather than answered with the caller's own rights.
    let out = admin.run(&["auth", "can-i", "delete", "nodes", "--as", "someone"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("impersonation (impersonate-user) is not supported"),
        "{out:?}"
    );
    // Streams into pods are for editors: view has none of exec, attach and port-forward.
    for stream in ["pods/exec", "pods/attach", "pods/portforward"] {
        assert_eq!(can(&["create", stream, "-n", "default"]), "no", "{stream}");
    }
    assert_eq!(can(&["list", "pods", "-n", "kube-system"]), "no");
    assert_eq!(can(&["delete", "services", "-n", "default"]), "no");
    assert_eq!(can(&["patch", "deployments.apps", "-n", "default"]), "no");
    let list = viewer.ok(&["auth", "can-i", "--list", "-n", "default"]);
    let pods_line = list
        .lines()
        .find(|l| l.split_whitespace().next() == Some("pods"))
        .unwrap_or_else(|| panic!("no pods rule in\n{list}"));
    assert!(pods_line.contains("[get list watch]"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("selfsubjectaccessreviews.authorization.k8s.io")),
        "{list}"
    );
    let err = viewer.fails(&["get", "nodes"]);
    assert!(
        err.contains(
            r#"nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" at the cluster scope"#
        ),
        "{err}"
    );
    let err = viewer.fails(&["get", "pods", "-n", "kube-system"]);
    assert!(err.contains(r#"in the namespace "kube-system""#), "{err}");
    let err = viewer.fails(&["delete", "service", "kubernetes", "-n", "default"]);
    assert!(
        err.contains(
            r#"services "kubernetes" is forbidden: User "jane" cannot delete resource "services" in API group "" in the namespace "default""#
        ),
        "{err}"
    );
    let err = viewer.fails(&["get", "secrets", "-n", "default"]);
    assert!(err.contains(r#"cannot list resource "secrets""#), "{err}");

    // Removing the binding takes the access away again.
    admin.ok(&["delete", "-f", &binding.to_string_lossy()]);
    viewer.fails(&["get", "pods", "-n", "default"]);
    runtime.block_on(cluster.shutdown());
}
