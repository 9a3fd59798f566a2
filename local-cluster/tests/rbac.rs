//! RBAC with kubectl: a user with a token of its own may do only what its bindings grant, and
//! is told so in the real server's words.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

use std::path::Path;
use std::process::{Command, Output};

use local_cluster::{ClusterConfig, LocalCluster};

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .arg("--cache-dir")
        .arg(kubeconfig.with_extension("cache"))
        .args(args)
        .output()
        .expect("run kubectl")
}

fn ok(kubeconfig: &Path, args: &[&str]) -> String {
    let out = kubectl(kubeconfig, args);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn denied(kubeconfig: &Path, args: &[&str]) -> String {
    let out = kubectl(kubeconfig, args);
    assert!(!out.status.success(), "kubectl {args:?} should be denied");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_viewer_bound_in_one_namespace_reads_there_and_nowhere_else() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cluster = runtime
        .block_on(LocalCluster::start(ClusterConfig::default()))
        .unwrap();
    let admin = dir.path().join("admin");
    std::fs::write(&admin, cluster.kubeconfig()).unwrap();
    let viewer = dir.path().join("viewer");
    std::fs::write(&viewer, cluster.add_user("jane", &["developers"])).unwrap();

    // The bootstrap policy is there, as on any cluster.
    let roles = ok(&admin, &["get", "clusterroles"]);
    for role in ["cluster-admin", "view", "edit"] {
        assert!(roles.contains(role), "{roles}");
    }

    // Nothing is granted yet.
    let err = denied(&viewer, &["get", "pods", "-n", "default"]);
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
    ok(&admin, &["apply", "-f", &binding.to_string_lossy()]);

    ok(&viewer, &["get", "pods", "-n", "default"]);
    ok(&viewer, &["get", "services", "kubernetes", "-n", "default"]);
    let err = denied(&viewer, &["get", "nodes"]);
    assert!(
        err.contains(
            r#"nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" at the cluster scope"#
        ),
        "{err}"
    );
    let err = denied(&viewer, &["get", "pods", "-n", "kube-system"]);
    assert!(err.contains(r#"in the namespace "kube-system""#), "{err}");
    let err = denied(
        &viewer,
        &["delete", "service", "kubernetes", "-n", "default"],
    );
    assert!(
        err.contains(
            r#"services "kubernetes" is forbidden: User "jane" cannot delete resource "services" in API group "" in the namespace "default""#
        ),
        "{err}"
    );
    let err = denied(&viewer, &["get", "secrets", "-n", "default"]);
    assert!(err.contains(r#"cannot list resource "secrets""#), "{err}");

    // Removing the binding takes the access away again.
    ok(&admin, &["delete", "-f", &binding.to_string_lossy()]);
    denied(&viewer, &["get", "pods", "-n", "default"]);
    runtime.block_on(cluster.shutdown());
}
