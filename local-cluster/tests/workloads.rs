//! The cluster behind the API: controllers, scheduler, kubelets running the calculator as real
//! processes, service networking, and the ways things fail on a hybrid cluster.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use support::Cluster;

const MANIFESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/calculator");

fn node_os(cluster: &Cluster) -> HashMap<String, String> {
    cluster.json(&["get", "nodes"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["metadata"]["name"].as_str().unwrap().to_owned(),
                n["metadata"]["labels"]["kubernetes.io/os"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

fn calculate(cluster: &Cluster, path: &str) -> Value {
    serde_json::from_str(&cluster.ok(&["get", "--raw", path])).expect("calculator JSON")
}

fn totals(answer: &Value) -> Vec<(String, String)> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["operation"].as_str().unwrap().to_owned(),
                r["total"].to_string(),
            )
        })
        .collect()
}

const PROXY: &str = "/api/v1/namespaces/calculator/services/calculator:http/proxy";

#[test]
fn the_calculator_rolls_out_on_the_right_os_and_answers_through_services() {
    let cluster = Cluster::start();
    cluster.ok(&["apply", "-R", "-f", MANIFESTS]);
    for deployment in [
        "monolith",
        "sum-service",
        "subtraction-service",
        "multiplication-service",
        "division-service",
        "ui-service",
    ] {
        let out = cluster.ok(&[
            "rollout",
            "status",
            &format!("deployment/{deployment}"),
            "-n",
            "calculator",
            "--timeout=120s",
        ]);
        assert!(out.contains("successfully rolled out"), "{out}");
    }
    cluster.ok(&[
        "wait",
        "--for=condition=Available",
        "deployment",
        "--all",
        "-n",
        "calculator",
        "--timeout=60s",
    ]);
    let os = node_os(&cluster);
    let pods = cluster.json(&["get", "pods", "-n", "calculator"]);
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 12, "2 monolith + 5 services x 2");
    for pod in pods {
        let component = pod["metadata"]["labels"]["app.kubernetes.io/component"]
            .as_str()
            .unwrap();
        let node = pod["spec"]["nodeName"].as_str().unwrap();
        let expected = if component == "monolith" {
            "windows"
        } else {
            "linux"
        };
        assert_eq!(os[node], expected, "{component} landed on {node}");
        assert_eq!(pod["status"]["phase"], "Running");
        assert!(pod["status"]["podIP"].as_str().unwrap().starts_with("127."));
    }
    // Through the API server's service proxy (both frontends are behind `calculator`).
    for _ in 0..4 {
        let answer = calculate(&cluster, &format!("{PROXY}/api/calculate?a=6&b=3"));
        assert_eq!(
            totals(&answer),
            [
                ("sum".into(), "9".into()),
                ("subtraction".into(), "3".into()),
                ("multiplication".into(), "18".into()),
                ("division".into(), "2".into())
            ]
        );
    }
    let page = cluster.ok(&["get", "--raw", &format!("{PROXY}/")]);
    assert!(page.contains("<title>Calculator</title>"), "{page}");
    // The ui frontend reaches every operation service by name.
    let ui = pods
        .iter()
        .find(|p| p["metadata"]["labels"]["app.kubernetes.io/component"] == "ui")
        .unwrap();
    let routed = calculate(
        &cluster,
        &format!(
            "/api/v1/namespaces/calculator/pods/{}:3000/proxy/api/calculate?a=8&b=2",
            ui["metadata"]["name"].as_str().unwrap()
        ),
    );
    let served: Vec<&str> = routed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["served-by"]["service"].as_str().unwrap())
        .collect();
    assert_eq!(served, ["sum", "subtraction", "multiplication", "division"]);

    // A NodePort answers on every node's InternalIP.
    let node = cluster.json(&["get", "nodes"])["items"][3]["status"]["addresses"][0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = node_port::blocking_get(&format!("http://{node}:30000/sum/2/3"));
    assert!(body.contains("\"total\":5"), "{body}");
    // And still on every node after the Service's spec changed underneath (a frontend move
    // switches its selector): the listeners stay, nothing is left unserved.
    let service = cluster.ok(&[
        "get",
        "services",
        "-n",
        "calculator",
        "-o",
        "jsonpath={.items[?(@.spec.type==\"NodePort\")].metadata.name}",
    ]);
    for affinity in ["ClientIP", "None", "ClientIP", "None"] {
        cluster.ok(&[
            "patch",
            "service",
            service.trim(),
            "-n",
            "calculator",
            "--type=merge",
            "-p",
            &format!(r#"{{"spec":{{"sessionAffinity":"{affinity}"}}}}"#),
        ]);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let nodes = cluster.json(&["get", "nodes"]);
    for node in nodes["items"].as_array().unwrap() {
        let ip = node["status"]["addresses"][0]["address"].as_str().unwrap();
        // Either frontend behind the Service may answer: both fan out /api/calculate.
        let body = node_port::blocking_get(&format!("http://{ip}:30000/api/calculate?a=2&b=3"));
        assert!(body.contains("\"total\":5"), "{ip}: {body}");
    }

    let logs = cluster.ok(&["logs", "-n", "calculator", "deployment/sum-service"]);
    assert!(
        logs.contains("listening") && logs.contains("role=sum"),
        "{logs}"
    );
    let events = cluster.ok(&["get", "events", "-n", "calculator"]);
    for reason in [
        "Scheduled",
        "Pulled",
        "Created",
        "Started",
        "ScalingReplicaSet",
        "SuccessfulCreate",
    ] {
        assert!(
            events.contains(reason),
            "{reason} missing from events:\n{events}"
        );
    }
}

#[test]
fn hybrid_failures_look_like_eks() {
    let cluster = Cluster::start();
    let pods = r#"
apiVersion: v1
kind: Pod
metadata: {name: linux-only-on-windows, namespace: default}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  tolerations: [{key: os, value: windows, effect: NoSchedule}]
  containers: [{name: web, image: nginx:1.27}]
---
apiVersion: v1
kind: Pod
metadata: {name: no-toleration, namespace: default}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  containers: [{name: app, image: ghcr.io/hybrid-console/calculator:0.1.0, args: [sum]}]
---
apiVersion: v1
kind: Pod
metadata: {name: crasher, namespace: default}
spec:
  nodeSelector: {kubernetes.io/os: linux}
  containers: [{name: app, image: ghcr.io/hybrid-console/calculator:0.1.0, args: [sum], env: [{name: PORT, value: not-a-port}]}]
"#;
    cluster.ok_stdin(&["apply", "-f", "-"], pods);

    let waiting = |name: &str| {
        let pod = cluster.json(&["get", "pod", name]);
        let state = &pod["status"]["containerStatuses"][0];
        (
            state["state"]["waiting"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            state["state"]["waiting"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            state["restartCount"].as_i64().unwrap_or(0),
        )
    };
    let (reason, message, _) = cluster.wait_for(20, "the platform mismatch", |_| {
        let w = waiting("linux-only-on-windows");
        matches!(w.0.as_str(), "ErrImagePull" | "ImagePullBackOff").then_some(w)
    });
    assert!(
        message.contains("no match for platform in manifest"),
        "{reason}: {message}"
    );
    let table = cluster.ok(&["get", "pod", "linux-only-on-windows"]);
    assert!(
        table.contains("ErrImagePull") || table.contains("ImagePullBackOff"),
        "{table}"
    );

    let (_, message, restarts) = cluster.wait_for(40, "a crash loop", |_| {
        let w = waiting("crasher");
        (w.0 == "CrashLoopBackOff" && w.2 >= 2).then_some(w)
    });
    assert!(
        message.starts_with("back-off 10s restarting failed container=app pod=crasher_default("),
        "{message}"
    );
    assert!(restarts >= 2);
    let previous = cluster.ok(&["logs", "crasher", "--previous"]);
    assert!(
        previous.contains("PORT=\"not-a-port\" is not a port number"),
        "{previous}"
    );
    let events = cluster.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=crasher",
    ]);
    assert!(
        events.contains("BackOff")
            && events.contains("Back-off restarting failed container app in pod crasher_default"),
        "{events}"
    );

    let pending = cluster.json(&["get", "pod", "no-toleration"]);
    assert_eq!(pending["status"]["phase"], "Pending");
    let condition = cluster.wait_for(10, "the scheduler's verdict", |c| {
        let pod = c.json(&["get", "pod", "no-toleration"]);
        pod["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|x| x["type"] == "PodScheduled").cloned())
    });
    assert_eq!(
        (condition["status"].as_str(), condition["reason"].as_str()),
        (Some("False"), Some("Unschedulable"))
    );
    assert_eq!(
        condition["message"],
        "0/4 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 2 node(s) had untolerated taint {os: windows}. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    );
    let describe = cluster.ok(&["describe", "pod", "no-toleration"]);
    assert!(
        describe.contains("FailedScheduling")
            && describe.contains("untolerated taint {os: windows}"),
        "{describe}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_under_continuous_requests_drops_none() {
    let cluster = Cluster::start_with(&["--with-calculator"]);
    let client = cluster.client().await;
    let node = cluster.json(&["get", "nodes"])["items"][0]["status"]["addresses"][0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Through the API server's service proxy (the console's path) and through the NodePort.
    let proxied = tokio::spawn({
        let (client, stop) = (client.clone(), stop.clone());
        async move {
            let (mut ok, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let request = http::Request::get(format!("{PROXY}/api/calculate?a=6&b=3"))
                    .body(Vec::new())
                    .unwrap();
                match client.request_text(request).await {
                    Ok(text) if text.contains("\"total\":9") && !text.contains("\"error\"") => {
                        ok += 1
                    }
                    other => failed.push(format!("{other:?}")),
                }
            }
            (ok, failed)
        }
    });
    let direct = tokio::spawn({
        let stop = stop.clone();
        async move {
            let http = test_harness::http_client_builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let (mut ok, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match http
                    .get(format!("http://{node}:30000/api/calculate?a=6&b=3"))
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => ok += 1,
                    other => failed.push(format!("{other:?}")),
                }
            }
            (ok, failed)
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kubeconfig = cluster.kubeconfig.clone();
    let rollout = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            std::process::Command::new("kubectl")
                .env("KUBECONFIG", &kubeconfig)
                .args(args)
                .output()
                .unwrap()
        };
        assert!(
            run(&[
                "set",
                "env",
                "deployment/monolith",
                "-n",
                "calculator",
                "ROLLOUT=1"
            ])
            .status
            .success()
        );
        let status = run(&[
            "rollout",
            "status",
            "deployment/monolith",
            "-n",
            "calculator",
            "--timeout=120s",
        ]);
        String::from_utf8_lossy(&status.stdout).into_owned()
    })
    .await
    .unwrap();
    assert!(rollout.contains("successfully rolled out"), "{rollout}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (proxied_ok, proxied_failed) = proxied.await.unwrap();
    let (direct_ok, direct_failed) = direct.await.unwrap();
    assert!(
        proxied_failed.is_empty(),
        "{} requests through the service proxy failed: {:?}",
        proxied_failed.len(),
        &proxied_failed[..proxied_failed.len().min(3)]
    );
    assert!(
        direct_failed.is_empty(),
        "{} requests through the NodePort failed: {:?}",
        direct_failed.len(),
        &direct_failed[..direct_failed.len().min(3)]
    );
    assert!(
        proxied_ok > 20 && direct_ok > 20,
        "too few requests: {proxied_ok} proxied, {direct_ok} direct"
    );
    // Every new pod serves; the old ReplicaSet is scaled to zero and kept as history.
    let sets = cluster.json(&["get", "replicasets", "-n", "calculator"]);
    let mut replicas: Vec<i64> = sets["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| rs["spec"]["replicas"].as_i64().unwrap())
        .collect();
    replicas.sort();
    assert_eq!(replicas, [0, 2]);
}

#[test]
fn rollout_history_and_undo_work_unchanged() {
    let cluster = Cluster::start_with(&["--with-calculator"]);
    cluster.ok(&[
        "set",
        "image",
        "deployment/monolith",
        "-n",
        "calculator",
        "calculator=ghcr.io/hybrid-console/calculator:0.1.1",
    ]);
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/monolith",
        "-n",
        "calculator",
        "--timeout=120s",
    ]);
    let history = cluster.ok(&[
        "rollout",
        "history",
        "deployment/monolith",
        "-n",
        "calculator",
    ]);
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}"
    );
    cluster.ok(&["rollout", "undo", "deployment/monolith", "-n", "calculator"]);
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/monolith",
        "-n",
        "calculator",
        "--timeout=120s",
    ]);
    let deployment = cluster.json(&["get", "deployment", "monolith", "-n", "calculator"]);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/hybrid-console/calculator:0.1.0"
    );
    assert_eq!(
        deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    let progressing = deployment["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap()
        .clone();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
    assert_eq!(
        cluster.json(&["get", "replicasets", "-n", "calculator"])["items"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "rollback reuses the first ReplicaSet"
    );
}

#[test]
fn deletion_cascades_and_stops_the_processes() {
    let mut cluster = Cluster::start_with(&["--with-calculator"]);
    assert_eq!(cluster.children().len(), 2, "two monolith processes");
    cluster.ok(&[
        "apply",
        "-f",
        &format!("{MANIFESTS}/services/sum-service.yaml"),
        "-f",
        &format!("{MANIFESTS}/services/division-service.yaml"),
    ]);
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/sum-service",
        "-n",
        "calculator",
        "--timeout=60s",
    ]);
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/division-service",
        "-n",
        "calculator",
        "--timeout=60s",
    ]);
    assert_eq!(cluster.children().len(), 6);

    // Foreground: the Deployment goes only after its ReplicaSet and pods.
    cluster.ok(&[
        "delete",
        "deployment",
        "sum-service",
        "-n",
        "calculator",
        "--cascade=foreground",
    ]);
    let left = cluster.ok(&[
        "get",
        "replicasets,pods",
        "-n",
        "calculator",
        "-l",
        "app.kubernetes.io/component=sum",
        "-o",
        "name",
    ]);
    assert!(left.trim().is_empty(), "{left}");
    // Orphan: the ReplicaSet stays, without its owner.
    cluster.ok(&[
        "delete",
        "deployment",
        "division-service",
        "-n",
        "calculator",
        "--cascade=orphan",
    ]);
    let orphan = cluster.json(&[
        "get",
        "replicasets",
        "-n",
        "calculator",
        "-l",
        "app.kubernetes.io/component=division",
    ]);
    assert_eq!(orphan["items"].as_array().unwrap().len(), 1);
    assert!(
        orphan["items"][0]["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|r| r.is_empty())
    );
    // Background (kubectl's default): pods and processes go right after.
    cluster.ok(&["delete", "deployment", "monolith", "-n", "calculator"]);
    cluster.wait_for(30, "the monolith pods to go", |c| {
        c.ok(&[
            "get",
            "pods",
            "-n",
            "calculator",
            "-l",
            "app.kubernetes.io/component=monolith",
            "-o",
            "name",
        ])
        .trim()
        .is_empty()
        .then_some(())
    });
    cluster.wait_for(10, "two processes (the orphaned division pods)", |c| {
        (c.children().len() == 2).then_some(())
    });

    // Deleting the namespace removes everything in it, processes included.
    cluster.ok(&["delete", "namespace", "calculator", "--timeout=60s"]);
    assert!(
        cluster
            .fails(&["get", "namespace", "calculator"])
            .contains("not found")
    );
    cluster.wait_for(10, "no process left", |c| {
        c.children().is_empty().then_some(())
    });
    assert!(cluster.stop());
    let _ = cluster.wait_exit(5);
}

#[test]
fn ctrl_c_leaves_no_process_behind() {
    let mut cluster = Cluster::start_with(&["--with-calculator"]);
    cluster.ok(&[
        "apply",
        "-f",
        &format!("{MANIFESTS}/services/sum-service.yaml"),
    ]);
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/sum-service",
        "-n",
        "calculator",
        "--timeout=60s",
    ]);
    let children = cluster.children();
    assert_eq!(children.len(), 4);
    cluster.signal("INT");
    assert_eq!(
        cluster.wait_exit(20),
        Some(true),
        "local-cluster exits cleanly on Ctrl-C"
    );
    for pid in children {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} outlived the cluster"
        );
    }
}

#[test]
fn logs_tail_and_follow_show_the_process_output() {
    let cluster = Cluster::start_with(&["--with-calculator"]);
    let pod = cluster
        .ok(&["get", "pods", "-n", "calculator", "-o", "name"])
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let all = cluster.ok(&["logs", "-n", "calculator", &pod]);
    assert!(
        all.lines().count() >= 1 && all.contains("listening"),
        "{all}"
    );
    let tail = cluster.ok(&["logs", "-n", "calculator", &pod, "--tail=1", "--timestamps"]);
    assert_eq!(tail.lines().count(), 1);
    assert!(tail.starts_with("20"), "timestamped: {tail}");
    // Follow, then stop the pod: the shutdown lines arrive and the stream ends.
    let follower = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &cluster.kubeconfig)
        .args(["logs", "-f", "-n", "calculator", &pod])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    cluster.ok(&["delete", "-n", "calculator", &pod, "--wait=false"]);
    let output = follower.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("shutting down: finishing in-flight requests"),
        "{text}"
    );
}

/// A blocking GET for the NodePort checks (plain HTTP on a node address).
mod node_port {
    pub fn blocking_get(url: &str) -> String {
        let url = url.to_owned();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(async move {
                    test_harness::http_client()
                        .get(&url)
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                })
        })
        .join()
        .unwrap()
    }
}

const DAEMONS_AND_A_BUDGET: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: win-agent, namespace: default}
spec:
  selector: {matchLabels: {app: win-agent}}
  template:
    metadata: {labels: {app: win-agent}}
    spec:
      nodeSelector: {kubernetes.io/os: windows}
      tolerations: [{key: os, operator: Equal, value: windows, effect: NoSchedule}]
      containers: [{name: agent, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: linux-agent, namespace: default}
spec:
  selector: {matchLabels: {app: linux-agent}}
  template:
    metadata: {labels: {app: linux-agent}}
    spec:
      containers: [{name: agent, image: "public.ecr.aws/eks-distro/kubernetes/pause:3.9"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: default}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
"#;

#[test]
fn daemonsets_cordon_and_drain_behave_as_on_a_real_cluster() {
    let cluster = Cluster::start();
    let os = node_os(&cluster);
    cluster.ok_stdin(&["apply", "-f", "-"], DAEMONS_AND_A_BUDGET);
    for set in ["ds/win-agent", "ds/linux-agent", "deploy/web"] {
        cluster.ok(&["rollout", "status", set, "--timeout=60s"]);
    }
    // One daemon per node it fits: the Windows agent on each Windows node, the untolerating
    // Linux agent on each Linux node only (the Windows nodes' taint keeps it off).
    let placed = |app: &str| -> Vec<String> {
        let pods = cluster.json(&["get", "pods", "-l", &format!("app={app}")]);
        let mut nodes: Vec<String> = pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_owned())
            .collect();
        nodes.sort();
        nodes
    };
    let of_os = |wanted: &str| -> Vec<String> {
        let mut nodes: Vec<String> = os
            .iter()
            .filter(|(_, o)| *o == wanted)
            .map(|(n, _)| n.clone())
            .collect();
        nodes.sort();
        nodes
    };
    assert_eq!(placed("win-agent"), of_os("windows"));
    assert_eq!(placed("linux-agent"), of_os("linux"));
    let table = cluster.ok(&["get", "ds", "win-agent"]);
    assert!(
        table.contains("kubernetes.io/os=windows")
            && table
                .lines()
                .nth(1)
                .and_then(|l| l.split_whitespace().nth(1))
                == Some("2"),
        "{table}"
    );

    // The budget allows no disruption while both web pods are needed: drain cordons the node
    // and is refused with the real server's words, leaving the pods where they are.
    let target = placed("web")[0].clone();
    cluster.wait_for(20, "the budget's status", |c| {
        let budget = c.json(&["get", "pdb", "web"]);
        (budget["status"]["currentHealthy"] == 2 && budget["status"]["disruptionsAllowed"] == 0)
            .then_some(())
    });
    let refused = cluster.fails(&["drain", &target, "--ignore-daemonsets", "--timeout=7s"]);
    assert!(
        refused.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{refused}"
    );
    let node = cluster.json(&["get", "node", &target]);
    assert_eq!(node["spec"]["unschedulable"], true);
    assert!(placed("web").contains(&target));

    // With room in the budget, the drain goes through; the replacements avoid the cordoned
    // node, and the daemon stays.
    cluster.ok(&[
        "patch",
        "pdb",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":1}}"#,
    ]);
    cluster.ok(&["drain", &target, "--ignore-daemonsets", "--timeout=60s"]);
    cluster.ok(&["rollout", "status", "deploy/web", "--timeout=60s"]);
    assert!(!placed("web").contains(&target), "{:?}", placed("web"));
    assert!(placed("linux-agent").contains(&target));
    cluster.ok(&["uncordon", &target]);
    assert_ne!(
        cluster.json(&["get", "node", &target])["spec"]["unschedulable"],
        true
    );

    // A changed template rolls out to every node, one at a time.
    cluster.ok(&[
        "set",
        "image",
        "ds/win-agent",
        "agent=mcr.microsoft.com/windows/servercore:ltsc2022",
    ]);
    cluster.ok(&["rollout", "status", "ds/win-agent", "--timeout=60s"]);
    cluster.wait_for(20, "only pods of the new template", |c| {
        let images = c.ok(&[
            "get",
            "pods",
            "-l",
            "app=win-agent",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ]);
        (images
            == "mcr.microsoft.com/windows/servercore:ltsc2022 mcr.microsoft.com/windows/servercore:ltsc2022")
            .then_some(())
    });
}

/// `local-cluster up --simulated-pods N --churn R`: the pods are there for any client, spread
/// over both OSes' nodes and over namespaces, and their statuses keep changing.
#[test]
fn simulated_pods_and_churn_from_the_command_line() {
    let cluster = Cluster::start_with(&[
        "--windows-nodes",
        "3",
        "--linux-nodes",
        "5",
        "--simulated-pods",
        "400",
        "--churn",
        "200",
    ]);
    let selector = "local-cluster.hybrid-console.io/simulated=true";
    let pods = cluster.json(&["get", "pods", "-A", "-l", selector]);
    let items = pods["items"].as_array().expect("a list");
    assert_eq!(items.len(), 400);
    let os: std::collections::BTreeSet<&str> = items
        .iter()
        .filter_map(|p| p["spec"]["nodeSelector"]["kubernetes.io/os"].as_str())
        .collect();
    assert_eq!(os.into_iter().collect::<Vec<_>>(), ["linux", "windows"]);
    let nodes: std::collections::BTreeSet<&str> = items
        .iter()
        .filter_map(|p| p["spec"]["nodeName"].as_str())
        .collect();
    assert_eq!(nodes.len(), 8, "every node carries some");
    // Churn: within a few seconds some pods are no longer Ready, and kubectl sees it.
    let not_ready = cluster.wait_for(10, "a churned pod", |c| {
        let table = c.ok(&["get", "pods", "-n", "sim-00", "--no-headers"]);
        table
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("0/1"))
            .map(str::to_owned)
    });
    assert!(not_ready.contains("Running"), "{not_ready}");
}

/// `--simulated-pods` beyond the cluster's room: the pods that fit are placed by the scheduler's
/// rules (no node above its `allocatable.pods`, each on its OS), the rest stay Pending with the
/// scheduler's own reason in their condition and a FailedScheduling event, as on a real cluster.
#[test]
fn simulated_pods_beyond_the_clusters_room_wait_with_the_schedulers_reason() {
    // 1 Windows node (35 pods) and 2 Linux nodes (17 each): 100 pods, a third of them Windows.
    let cluster = Cluster::start_with(&[
        "--windows-nodes",
        "1",
        "--linux-nodes",
        "2",
        "--simulated-pods",
        "100",
    ]);
    let nodes = cluster.json(&["get", "nodes"]);
    let room: HashMap<String, usize> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["metadata"]["name"].as_str().unwrap().to_owned(),
                n["status"]["allocatable"]["pods"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    let os = node_os(&cluster);
    let pods = cluster.json(&["get", "pods", "-A"]);
    let items = pods["items"].as_array().unwrap();
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for pod in items {
        if let Some(node) = pod["spec"]["nodeName"].as_str() {
            *on_node.entry(node).or_default() += 1;
        }
    }
    for (node, count) in &on_node {
        assert!(
            *count <= room[*node],
            "{node} holds {count} pods, room for {}",
            room[*node]
        );
    }
    let simulated: Vec<&Value> = items
        .iter()
        .filter(|p| p["metadata"]["labels"]["local-cluster.hybrid-console.io/simulated"] == "true")
        .collect();
    assert_eq!(simulated.len(), 100);
    for pod in simulated
        .iter()
        .filter(|p| p["spec"]["nodeName"].is_string())
    {
        let node = pod["spec"]["nodeName"].as_str().unwrap();
        assert_eq!(
            pod["spec"]["nodeSelector"]["kubernetes.io/os"].as_str(),
            Some(os[node].as_str()),
            "a pod on a node of another OS"
        );
    }
    let linux_room: usize = os
        .iter()
        .filter(|(_, o)| *o == "linux")
        .map(|(n, _)| room[n])
        .sum();
    let linux_placed: usize = on_node
        .iter()
        .filter(|(n, _)| os[**n] == "linux")
        .map(|(_, c)| c)
        .sum();
    assert_eq!(
        linux_placed, linux_room,
        "the Linux nodes are filled to the brim"
    );
    let waiting: Vec<&&Value> = simulated
        .iter()
        .filter(|p| p["spec"]["nodeName"].is_null())
        .collect();
    assert!(
        !waiting.is_empty(),
        "100 pods cannot fit in the room of 3 nodes"
    );
    assert!(
        waiting
            .iter()
            .all(|p| p["spec"]["nodeSelector"]["kubernetes.io/os"] == "linux"),
        "only Linux pods are left over: the Windows node has room for its third"
    );
    // The scheduler's own words, in the pod's condition, for every waiting pod.
    let expected = "0/3 nodes are available: 2 Too many pods, 1 node(s) had untolerated taint {os: windows}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    let (namespace, name) = cluster.wait_for(20, "every waiting pod explained", |c| {
        let pods = c.json(&["get", "pods", "-A", "--field-selector", "spec.nodeName="]);
        let items = pods["items"].as_array()?.clone();
        let explained = items.iter().all(|p| {
            p["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["type"] == "PodScheduled"
                        && c["status"] == "False"
                        && c["reason"] == "Unschedulable"
                        && c["message"] == expected
                })
            })
        });
        (items.len() == waiting.len() && explained).then(|| {
            (
                items[0]["metadata"]["namespace"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                items[0]["metadata"]["name"].as_str().unwrap().to_owned(),
            )
        })
    });
    let events = cluster.ok(&[
        "get",
        "events",
        "-n",
        &namespace,
        "--field-selector",
        &format!("involvedObject.name={name},reason=FailedScheduling"),
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert_eq!(events, expected);
    // Room given back (a placed Linux pod deleted): one waiting pod takes it, within seconds,
    // though no timer would have tried it again in that time.
    let placed = simulated
        .iter()
        .find(|p| {
            p["spec"]["nodeName"].is_string()
                && p["spec"]["nodeSelector"]["kubernetes.io/os"] == "linux"
        })
        .unwrap();
    cluster.ok(&[
        "delete",
        "pod",
        "-n",
        placed["metadata"]["namespace"].as_str().unwrap(),
        placed["metadata"]["name"].as_str().unwrap(),
        "--grace-period=0",
        "--force",
    ]);
    cluster.wait_for(20, "a waiting pod placed in the room given back", |c| {
        let pods = c.json(&["get", "pods", "-A", "--field-selector", "spec.nodeName="]);
        (pods["items"].as_array()?.len() == waiting.len() - 1).then_some(())
    });
}
