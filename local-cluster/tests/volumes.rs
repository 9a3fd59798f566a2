//! Volumes of process pods as a kubelet keeps them: a ConfigMap, a Secret, the downward API, a
//! projected service-account token and an emptyDir mounted in the container's root, read by a
//! command running with the container's environment (`kubectl exec`); a ConfigMap change seen
//! within the sync period while a subPath copy keeps its first content; a missing source
//! holding the pod in ContainerCreating with the kubelet's event until it appears.

mod support;

use std::time::{Duration, Instant};

use support::Cluster;

const POD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: vol}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: routes, namespace: vol}
data:
  routes.yaml: "sum: in-process"
  extra: "x"
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: vol}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: reader, namespace: vol, labels: {app: reader}}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  containers:
    - name: calculator
      image: ghcr.io/hybrid-console/calculator:0.1.0
      args: ["sum"]
      volumeMounts:
        - {name: config, mountPath: /etc/calculator}
        - {name: config, mountPath: /etc/routes-at-start.yaml, subPath: routes.yaml}
        - {name: creds, mountPath: /etc/creds, readOnly: true}
        - {name: info, mountPath: /etc/podinfo}
        - {name: token, mountPath: /var/run/secrets/tokens}
        - {name: scratch, mountPath: /tmp/work}
  volumes:
    - {name: config, configMap: {name: routes}}
    - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
    - name: info
      downwardAPI:
        items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: name, fieldRef: {fieldPath: metadata.name}}
    - name: token
      projected:
        sources:
          - serviceAccountToken: {path: token}
    - {name: scratch, emptyDir: {}}
"#;

/// What `path` under the container's root holds, read by a command in the container.
fn read(cluster: &Cluster, pod: &str, path: &str) -> String {
    cluster.ok(&[
        "exec",
        "-n",
        "vol",
        pod,
        "--",
        "sh",
        "-c",
        &format!("cat \"$CONTAINER_ROOT{path}\""),
    ])
}

#[test]
fn volumes_are_mounted_kept_current_and_waited_for() {
    let cluster = Cluster::start_with(&["--volume-sync-period", "1"]);
    cluster.ok_stdin(&["apply", "-f", "-"], POD);
    cluster.ok(&[
        "wait",
        "-n",
        "vol",
        "--for=condition=Ready",
        "pod/reader",
        "--timeout=60s",
    ]);

    assert_eq!(
        read(&cluster, "reader", "/etc/calculator/routes.yaml"),
        "sum: in-process"
    );
    assert_eq!(
        read(&cluster, "reader", "/etc/routes-at-start.yaml"),
        "sum: in-process"
    );
    assert_eq!(read(&cluster, "reader", "/etc/creds/password"), "s3cret");
    assert_eq!(
        read(&cluster, "reader", "/etc/podinfo/labels"),
        "app=\"reader\""
    );
    assert_eq!(read(&cluster, "reader", "/etc/podinfo/name"), "reader");
    let mode = cluster.ok(&[
        "exec",
        "-n",
        "vol",
        "reader",
        "--",
        "sh",
        "-c",
        "stat -L -c %a \"$CONTAINER_ROOT/etc/creds/password\"",
    ]);
    assert_eq!(mode.trim(), "400");
    // The kubelet's layout: a name is a link through `..data`.
    let layout = cluster.ok(&[
        "exec", "-n", "vol", "reader", "--", "sh", "-c",
        "readlink \"$CONTAINER_ROOT/etc/calculator/\"routes.yaml; ls -a \"$CONTAINER_ROOT/etc/calculator/\"",
    ]);
    assert!(layout.starts_with("..data/routes.yaml"), "{layout}");
    assert!(layout.contains("..data\n"), "{layout}");
    // The emptyDir is the container's to write.
    cluster.ok(&[
        "exec",
        "-n",
        "vol",
        "reader",
        "--",
        "sh",
        "-c",
        "echo hello > \"$CONTAINER_ROOT/tmp/work/note\" && cat \"$CONTAINER_ROOT/tmp/work/note\"",
    ]);

    // The projected token is one the API server accepts, as the pod's service account.
    let token = read(&cluster, "reader", "/var/run/secrets/tokens/token");
    let whoami = cluster.ok(&[
        "auth",
        "whoami",
        "--token",
        token.trim(),
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(whoami, "system:serviceaccount:vol:default");

    // The ConfigMap changes: the mounted file follows within the sync period (1 s here), the
    // subPath copy does not, a removed key goes.
    cluster.ok(&[
        "patch", "configmap", "routes", "-n", "vol", "--type=json",
        "-p", r#"[{"op": "replace", "path": "/data/routes.yaml", "value": "sum: service"}, {"op": "remove", "path": "/data/extra"}]"#,
    ]);
    let changed = Instant::now();
    cluster.wait_for(5, "the new routes in the mounted file", |c| {
        (read(c, "reader", "/etc/calculator/routes.yaml") == "sum: service").then_some(())
    });
    assert!(
        changed.elapsed() < Duration::from_secs(4),
        "seen after {:?}",
        changed.elapsed()
    );
    assert_eq!(
        read(&cluster, "reader", "/etc/routes-at-start.yaml"),
        "sum: in-process"
    );
    let gone = cluster.run(&[
        "exec",
        "-n",
        "vol",
        "reader",
        "--",
        "sh",
        "-c",
        "test -e \"$CONTAINER_ROOT/etc/calculator/extra\"",
    ]);
    assert!(!gone.status.success(), "a removed key's file goes");

    // A pod whose ConfigMap does not exist waits in ContainerCreating, said by a FailedMount
    // event, and starts once it exists; an optional missing one does not hold a pod.
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: waiting, namespace: vol}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  containers:
    - name: calculator
      image: ghcr.io/hybrid-console/calculator:0.1.0
      args: ["sum"]
      volumeMounts: [{name: config, mountPath: /etc/calculator}]
  volumes:
    - {name: config, configMap: {name: later}}
---
apiVersion: v1
kind: Pod
metadata: {name: optional, namespace: vol}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  containers:
    - name: calculator
      image: ghcr.io/hybrid-console/calculator:0.1.0
      args: ["sum"]
      volumeMounts: [{name: config, mountPath: /etc/calculator}]
  volumes:
    - {name: config, configMap: {name: never, optional: true}}
"#,
    );
    cluster.ok(&[
        "wait",
        "-n",
        "vol",
        "--for=condition=Ready",
        "pod/optional",
        "--timeout=60s",
    ]);
    let message = cluster.wait_for(10, "the FailedMount event", |c| {
        let events = c.json(&[
            "get",
            "events",
            "-n",
            "vol",
            "--field-selector",
            "involvedObject.name=waiting,reason=FailedMount",
        ]);
        events["items"][0]["message"].as_str().map(str::to_owned)
    });
    assert_eq!(
        message,
        "MountVolume.SetUp failed for volume \"config\" : configmap \"later\" not found"
    );
    let waiting = cluster.ok(&[
        "get",
        "pod",
        "waiting",
        "-n",
        "vol",
        "-o",
        "jsonpath={.status.containerStatuses[0].state.waiting.reason}",
    ]);
    assert_eq!(waiting, "ContainerCreating");
    cluster.ok(&[
        "create",
        "configmap",
        "later",
        "-n",
        "vol",
        "--from-literal=routes.yaml=sum: service",
    ]);
    cluster.ok(&[
        "wait",
        "-n",
        "vol",
        "--for=condition=Ready",
        "pod/waiting",
        "--timeout=60s",
    ]);
    assert_eq!(
        read(&cluster, "waiting", "/etc/calculator/routes.yaml"),
        "sum: service"
    );

    // A deleted pod's files go with it.
    let root = cluster.ok(&[
        "exec",
        "-n",
        "vol",
        "reader",
        "--",
        "sh",
        "-c",
        "echo \"$CONTAINER_ROOT\"",
    ]);
    let pod_dir = std::path::Path::new(root.trim())
        .ancestors()
        .nth(3)
        .expect("the pod's directory")
        .to_owned();
    assert!(pod_dir.join("volumes").is_dir(), "{}", pod_dir.display());
    cluster.ok(&["delete", "pod", "reader", "-n", "vol", "--grace-period=1"]);
    cluster.wait_for(20, "the pod's files to go", |_| {
        (!pod_dir.exists()).then_some(())
    });
}
