//! Well-known images run for real, so the commands people type against any cluster work here: a
//! busybox command with the host's shell (logs, exec, its exit code, stopped whole with its
//! children), a Job running to completion, Python's `http.server` reached through
//! `kubectl port-forward`, and nginx serving a ConfigMap mounted as its document root.

mod support;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use support::Cluster;

const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  containers:
    - name: box
      image: busybox:1.36
      command: ["sh", "-c", "echo hello from $HOSTNAME; while true; do sleep 1; done", "box-marker-7f3a"]
---
apiVersion: v1
kind: Pod
metadata: {name: fails}
spec:
  restartPolicy: Never
  nodeSelector: {kubernetes.io/os: linux}
  containers:
    - {name: fails, image: "alpine:3.20", command: ["sh", "-c", "echo about to fail >&2; exit 3"]}
---
apiVersion: v1
kind: Pod
metadata: {name: py}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  containers:
    - name: py
      image: python:3.12-slim
      args: ["python", "-m", "http.server", "8000", "--bind", "$(POD_IP)"]
      env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
      ports: [{containerPort: 8000}]
      readinessProbe: {tcpSocket: {port: 8000}, periodSeconds: 1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: script}
data: {hello.py: "print('hello from a mounted script')"}
---
apiVersion: v1
kind: Pod
metadata: {name: script}
spec:
  restartPolicy: Never
  nodeSelector: {kubernetes.io/os: linux}
  containers:
    - name: script
      image: python:3.12-slim
      command: ["python", "-u", "/opt/hello.py"]
      volumeMounts: [{name: script, mountPath: /opt, readOnly: true}]
  volumes: [{name: script, configMap: {name: script}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: site}
data: {index.html: "<h1>served from a ConfigMap</h1>"}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  containers:
    - name: web
      image: nginx:1.27
      ports: [{containerPort: 80}]
      volumeMounts: [{name: site, mountPath: /usr/share/nginx/html}]
  volumes: [{name: site, configMap: {name: site}}]
"#;

fn marker_running() -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", "box-marker-7f3a"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn well_known_images_run_their_commands_for_real() {
    let cluster = Cluster::start();
    cluster.ok_stdin(&["apply", "-f", "-"], PODS);
    cluster.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/box",
        "pod/py",
        "pod/web",
        "--timeout=60s",
    ]);

    // busybox: its output is its log, `exec` runs beside it with its environment.
    cluster.wait_for(10, "the first line in the log", |c| {
        (c.ok(&["logs", "box"]) == "hello from box\n").then_some(())
    });
    assert_eq!(
        cluster.ok(&["exec", "box", "--", "sh", "-c", "echo $HOSTNAME"]),
        "box\n"
    );

    // A command that fails: the pod fails with its exit code, its stderr in the log.
    let code = cluster.wait_for(30, "the failed pod", |c| {
        let pod = c.json(&["get", "pod", "fails"]);
        (pod["status"]["phase"] == "Failed").then(|| {
            pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"].clone()
        })
    });
    assert_eq!(code, 3);
    assert_eq!(cluster.ok(&["logs", "fails"]), "about to fail\n");

    // A script at an absolute path of the container's filesystem (a mounted ConfigMap) runs.
    cluster.wait_for(30, "the script's pod to succeed", |c| {
        (c.ok(&["get", "pod", "script", "-o", "jsonpath={.status.phase}"]) == "Succeeded")
            .then_some(())
    });
    assert_eq!(
        cluster.ok(&["logs", "script"]),
        "hello from a mounted script\n"
    );

    // A Job's command runs to completion.
    cluster.ok(&[
        "create",
        "job",
        "hello",
        "--image=busybox:1.36",
        "--",
        "echo",
        "hi",
    ]);
    cluster.ok(&[
        "wait",
        "--for=condition=complete",
        "job/hello",
        "--timeout=60s",
    ]);
    assert_eq!(cluster.ok(&["logs", "job/hello"]), "hi\n");

    // nginx serves the ConfigMap mounted as its document root, and logs the request.
    let ip = cluster.ok(&["get", "pod", "web", "-o", "jsonpath={.status.podIP}"]);
    let page = std::process::Command::new("curl")
        .args(["-fsS", &format!("http://{ip}/")])
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&page.stdout),
        "<h1>served from a ConfigMap</h1>"
    );
    assert!(
        cluster
            .ok(&["logs", "web"])
            .contains("\"GET / HTTP/1.1\" 200")
    );

    // Python's server through `kubectl port-forward`.
    let port = test_harness::free_port();
    let mut forward = cluster.spawn(&["port-forward", "pod/py", &format!("{port}:8000")]);
    let stdout = forward.stdout.take().expect("port-forward output");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.contains("Forwarding from"), "{first}");
    let listing = std::process::Command::new("curl")
        .args(["-fsS", &format!("http://127.0.0.1:{port}/")])
        .output()
        .expect("curl");
    assert!(
        String::from_utf8_lossy(&listing.stdout).contains("Directory listing for /"),
        "{listing:?}"
    );
    let _ = forward.kill();
    let _ = forward.wait();

    // Deleting the pod stops its command and what the command started.
    assert!(marker_running());
    cluster.ok(&["delete", "pod", "box", "--grace-period=1"]);
    cluster.wait_for(15, "the command and its children to end", |_| {
        (!marker_running()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    let orphans = std::process::Command::new("pgrep")
        .args(["-f", "box-marker-7f3a"])
        .output()
        .expect("pgrep");
    assert!(!orphans.status.success(), "nothing of the pod is left");
}
