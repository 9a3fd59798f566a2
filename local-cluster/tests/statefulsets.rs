//! StatefulSets as kubectl drives them (stable names made in order, scaled down from the top, a
//! deleted pod made again with its name, a new template rolled out from the top), and core v1
//! ReplicationControllers.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use support::Cluster;

const SET: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: default}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: web, image: "nginx:1.27"}]
"#;

fn pod_names(cluster: &Cluster) -> Vec<String> {
    let pods = cluster.json(&["get", "pods", "-l", "app=web"]);
    let mut names: Vec<String> = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn statefulset_pods_keep_their_names_order_and_revisions() {
    let cluster = Cluster::start();
    cluster.ok_stdin(&["apply", "-f", "-"], SET);
    let out = cluster.ok(&["rollout", "status", "statefulset/web", "--timeout=60s"]);
    assert!(
        out.contains("3 pods ready") || out.contains("complete"),
        "{out}"
    );
    assert_eq!(pod_names(&cluster), ["web-0", "web-1", "web-2"]);
    // Made in order: each pod was created after the one before it was ready.
    let created = |name: &str| {
        cluster.json(&["get", "pod", name])["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(created("web-0") <= created("web-1") && created("web-1") <= created("web-2"));
    let pod = cluster.json(&["get", "pod", "web-1"]);
    assert_eq!(pod["spec"]["hostname"], "web-1");
    assert_eq!(pod["spec"]["subdomain"], "web");
    assert_eq!(
        pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"],
        "1"
    );
    let table = cluster.ok(&["get", "sts", "web"]);
    assert!(table.contains("3/3"), "{table}");

    // A deleted pod comes back with the same name (a new pod: another uid). Not `kubectl
    // delete --wait`: kubectl waits for a DELETED event of the name, and when the controller
    // recreates the pod between kubectl's list and its watch, the event kubectl sees is the
    // new pod's ADDED and it waits for ever (client-go's precondition does not compare uids).
    let old_uid = cluster.json(&["get", "pod", "web-1"])["metadata"]["uid"].clone();
    cluster.ok(&["delete", "pod", "web-1", "--wait=false"]);
    cluster.wait_for(30, "web-1 to come back", |c| {
        let pod = c.json(&["get", "pods", "-l", "app=web"]);
        pod["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| {
                p["metadata"]["name"] == "web-1"
                    && p["metadata"]["uid"] != old_uid
                    && p["status"]["phase"] == "Running"
            })
            .then_some(())
    });

    // A new template rolls out; the revisions say so.
    cluster.ok(&["set", "image", "statefulset/web", "web=nginx:1.28"]);
    cluster.ok(&["rollout", "status", "statefulset/web", "--timeout=90s"]);
    let set = cluster.json(&["get", "sts", "web"]);
    assert_eq!(set["status"]["updatedReplicas"], 3);
    assert_eq!(
        set["status"]["currentRevision"],
        set["status"]["updateRevision"]
    );
    for name in ["web-0", "web-1", "web-2"] {
        let pod = cluster.json(&["get", "pod", name]);
        assert_eq!(
            pod["spec"]["containers"][0]["image"], "nginx:1.28",
            "{name}"
        );
    }

    // Scaled down from the top.
    cluster.ok(&["scale", "statefulset/web", "--replicas=1"]);
    cluster.wait_for(60, "the set to shrink to web-0", |c| {
        (pod_names(c) == ["web-0"]).then_some(())
    });
}

/// Core v1 ReplicationControllers, which older clients and tests still use: the selector
/// defaults to the template's labels, and the replica count is kept and scaled.
#[test]
fn replication_controllers_keep_their_replicas() {
    let cluster = Cluster::start();
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy, namespace: default}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: legacy}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: web, image: "nginx:1.27"}]
"#,
    );
    let rc = cluster.json(&["get", "rc", "legacy"]);
    assert_eq!(rc["spec"]["selector"], serde_json::json!({"app": "legacy"}));
    cluster.wait_for(30, "two ready pods", |c| {
        let rc = c.json(&["get", "rc", "legacy"]);
        (rc["status"]["readyReplicas"] == 2).then_some(())
    });
    let table = cluster.ok(&["get", "rc", "legacy", "-o", "wide"]);
    assert!(table.contains("app=legacy"), "{table}");
    cluster.ok(&["scale", "rc/legacy", "--replicas=3"]);
    cluster.wait_for(30, "three pods", |c| {
        let pods = c.json(&["get", "pods", "-l", "app=legacy"]);
        (pods["items"].as_array().map(Vec::len) == Some(3)).then_some(())
    });
    // Deleting it takes its pods with it.
    cluster.ok(&["delete", "rc", "legacy"]);
    cluster.wait_for(30, "the pods to go", |c| {
        let pods = c.json(&["get", "pods", "-l", "app=legacy"]);
        pods["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
            .then_some(())
    });
}
