//! What a pod that runs as a real process offers: `kubectl exec` and `kubectl cp` into it,
//! kube-rs's port-forward to it, its resource usage (`kubectl top`, the kubelet summary), and
//! what a simulated pod gets instead.

mod support;

use support::Cluster;

const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: calc, namespace: default}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  containers:
  - name: calculator
    image: ghcr.io/hybrid-console/calculator:0.1.0
    args: ["sum"]
    workingDir: /tmp
    ports: [{containerPort: 3000}]
    env:
    - {name: GREETING, value: hello}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  containers:
  - {name: web, image: "redis:7.2"}
"#;

fn start() -> Cluster {
    let cluster = Cluster::start();
    cluster.ok_stdin(&["apply", "-f", "-"], PODS);
    cluster.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/calc",
        "pod/web",
        "--timeout=60s",
    ]);
    cluster
}

#[test]
fn exec_runs_the_command_with_the_containers_environment_and_exit_code() {
    let cluster = start();
    let out = cluster.run(&[
        "exec",
        "calc",
        "--",
        "sh",
        "-c",
        "echo $GREETING from $POD_NAME in $(pwd); echo oops >&2",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from calc in /tmp\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");

    // kubectl exits with the command's own code.
    let out = cluster.run(&["exec", "calc", "--", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    // Standard input reaches the command, and its end closes it.
    let out = cluster.run_stdin(&["exec", "-i", "calc", "--", "wc", "-l"], "a\nb\nc\n");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");

    // A command that does not exist, and a container that does not.
    let missing = cluster.fails(&["exec", "calc", "--", "no-such-command-here"]);
    assert!(missing.contains("no-such-command-here"), "{missing}");
    let wrong = cluster.fails(&["exec", "calc", "-c", "other", "--", "true"]);
    assert!(
        wrong.contains("container other is not valid for pod calc"),
        "{wrong}"
    );

    // A simulated image has no process to run anything in.
    let simulated = cluster.fails(&["exec", "web", "--", "ls"]);
    assert!(
        simulated.contains("container \"web\" is not running: its image redis:7.2 is simulated"),
        "{simulated}"
    );
}

#[test]
fn kubectl_cp_copies_into_and_out_of_a_pod() {
    let cluster = start();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("notes.txt");
    std::fs::write(&source, "copied through tar over exec\n").unwrap();
    let inside = dir.path().join("inside");
    std::fs::create_dir(&inside).unwrap();
    let remote = format!("default/calc:{}/notes.txt", inside.display());
    cluster.ok(&["cp", source.to_str().unwrap(), &remote]);
    assert_eq!(
        std::fs::read_to_string(inside.join("notes.txt")).unwrap(),
        "copied through tar over exec\n"
    );
    let back = dir.path().join("back.txt");
    cluster.ok(&["cp", &remote, back.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(back).unwrap(),
        "copied through tar over exec\n"
    );
}

#[test]
fn kubectl_attach_streams_the_containers_output_until_it_ends() {
    let cluster = start();
    let attach = cluster.spawn(&["attach", "calc", "-c", "calculator"]);
    // Attached before the pod goes: kubectl says so on stderr once the stream is open. Give
    // it the time a first connection takes, then stop the pod.
    std::thread::sleep(std::time::Duration::from_secs(2));
    cluster.ok(&["delete", "pod", "calc", "--wait=false"]);
    let out = attach.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    // The container's last words reach the attached client, and the stream ends with it.
    assert!(stdout.contains("shutting down"), "{out:?}");
    assert!(stdout.contains("stopped"), "{out:?}");

    // A simulated container has nothing to attach to.
    let simulated = cluster.fails(&["attach", "web"]);
    assert!(
        simulated.contains("container \"web\" is not running: its image redis:7.2 is simulated"),
        "{simulated}"
    );
}

#[tokio::test]
async fn kube_rs_port_forward_reaches_the_pods_port() {
    use k8s_openapi::api::core::v1::Pod;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cluster = tokio::task::spawn_blocking(start).await.unwrap();
    let pods: kube::Api<Pod> = kube::Api::default_namespaced(cluster.client().await);
    let mut forwarder = pods.portforward("calc", &[3000]).await.unwrap();
    let mut stream = forwarder.take_stream(3000).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: calc\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    // The pod closed its side, so the socket closed (as a kubelet closes it once every
    // forwarded port is done); kube-rs may then fail to send its own close, which is harmless.
    drop(stream);
    let _ = forwarder.join().await;

    let refused = match pods.portforward("web", &[80]).await {
        Ok(_) => panic!("a simulated pod forwarded a port"),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("is simulated"), "{refused}");
}

/// `kubectl port-forward` (SPDY/3.1 tunneled in a WebSocket): two connections in turn through
/// one forward, each answered by the pod's own server; a port nothing listens on is reported
/// by kubectl as the kubelet's error.
#[test]
fn kubectl_port_forward_carries_connections_to_the_pod() {
    use std::io::{BufRead, BufReader, Read, Write};
    let cluster = start();
    let mut forward = cluster.spawn(&["port-forward", "pod/calc", ":3000", ":3999"]);
    // kubectl prints one line per listener: "Forwarding from 127.0.0.1:PORT -> 3000".
    let mut lines = BufReader::new(forward.stdout.take().unwrap()).lines();
    let mut local = std::collections::HashMap::new();
    while local.len() < 2 {
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
            let (port, target) = rest.split_once(" -> ").unwrap();
            local.insert(target.to_owned(), port.parse::<u16>().unwrap());
        }
    }
    let ask = |port: u16, path: &str| {
        let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        write!(
            socket,
            "GET {path} HTTP/1.1\r\nHost: calc\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        let _ = socket.read_to_string(&mut answer);
        answer
    };
    for _ in 0..2 {
        let answer = ask(local["3000"], "/healthz");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("ok"), "{answer}");
    }
    // A longer answer arrives whole: the body is as long as its Content-Length says.
    let answer = ask(local["3000"], "/metrics");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .map(|l| l.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("{head}"));
    assert_eq!(body.len(), length, "{head}");
    assert!(body.contains("# TYPE"), "{body}");

    // Nothing listens on 3999: the connection ends, and kubectl says why.
    let answer = ask(local["3999"], "/");
    assert!(answer.is_empty(), "{answer}");
    forward.kill().unwrap();
    forward.wait().unwrap();
    let mut stderr = String::new();
    forward
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("failed to connect to") && stderr.contains(":3999"),
        "{stderr}"
    );
}

#[test]
fn kubectl_top_reports_what_the_processes_use() {
    let cluster = start();
    let pods = cluster.ok(&["top", "pods", "--containers"]);
    // The calculator process uses real memory; the simulated pod its steady 4 MiB.
    let calc = pods
        .lines()
        .find(|l| l.starts_with("calc "))
        .unwrap_or_else(|| panic!("{pods}"));
    let memory_mib: u64 = calc
        .split_whitespace()
        .last()
        .and_then(|m| m.strip_suffix("Mi"))
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{calc}"));
    assert!(memory_mib >= 1, "{calc}");
    let web = pods
        .lines()
        .find(|l| l.starts_with("web "))
        .unwrap_or_else(|| panic!("{pods}"));
    assert_eq!(
        web.split_whitespace().collect::<Vec<_>>(),
        ["web", "web", "1m", "4Mi"],
        "{pods}"
    );

    let nodes = cluster.ok(&["top", "nodes"]);
    assert!(
        nodes.contains("CPU(cores)") && nodes.contains("ip-"),
        "{nodes}"
    );

    let raw = |path: &str| -> serde_json::Value {
        serde_json::from_str(&cluster.ok(&["get", "--raw", path])).expect("JSON")
    };
    let metrics = raw("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/calc");
    assert_eq!(metrics["kind"], "PodMetrics");
    assert_eq!(metrics["containers"][0]["name"], "calculator");
    let node = cluster.json(&["get", "pod", "calc"])["spec"]["nodeName"]
        .as_str()
        .unwrap()
        .to_owned();
    let summary = raw(&format!("/api/v1/nodes/{node}/proxy/stats/summary"));
    let pod = summary["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["podRef"]["name"] == "calc")
        .expect("the summary lists the pod");
    assert!(pod["memory"]["workingSetBytes"].as_u64().unwrap() > 1024 * 1024);
    // What the process has counted itself: its pages faulted in and its CPU time so far.
    let container = &pod["containers"][0];
    assert_eq!(container["name"], "calculator");
    assert!(
        container["memory"]["pageFaults"].as_u64().unwrap() > 100,
        "{container}"
    );
    // (An idle process a second old may not have used a 10 ms clock tick yet.)
    assert!(
        container["cpu"]["usageCoreNanoSeconds"].is_u64(),
        "{container}"
    );
    assert_eq!(
        container["memory"]["usageBytes"],
        container["memory"]["workingSetBytes"]
    );
    assert!(
        summary["node"]["memory"]["workingSetBytes"]
            .as_u64()
            .unwrap()
            >= pod["memory"]["workingSetBytes"].as_u64().unwrap()
    );
    // Metrics are read, never watched, as with metrics-server.
    let watch = cluster.fails(&[
        "get",
        "--raw",
        "/apis/metrics.k8s.io/v1beta1/pods?watch=true",
    ]);
    assert!(
        watch.contains("MethodNotAllowed") || watch.contains("not allow"),
        "{watch}"
    );
}
