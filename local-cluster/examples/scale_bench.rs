//! Scale benchmark of local-cluster: 5,000 nodes and 150,000 pods in the store, kubectl paging
//! through every pod (limit=500), and a kube-rs watcher keeping up with 2,000 changes a second.
//!
//! cargo run --release -p local-cluster --example scale_bench -- [nodes] [pods] [changes/s] [seconds]
//! (SCALE_BENCH_HOLD=SECONDS pauses after loading, printing the kubeconfig path.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher;
use local_cluster::clock::now;
use local_cluster::registry::{Part, WriteOptions};
use local_cluster::resources;
use local_cluster::{ClusterConfig, LocalCluster};
use serde_json::{Value, json};

fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A pod as a kwok-simulated node reports it: bound, Running, Ready.
fn running_pod(namespace: &str, name: &str, node: &str, ip: &str) -> Value {
    let t = now();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        // No owner reference: a pod whose controller does not exist is an orphan, and the
        // garbage collector deletes it, as on a real cluster (an owner that is not there made
        // the collector delete all 150,000 pods while the benchmark listed and watched them).
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "load", "pod-template-hash": "6d4b7c9f8"}},
        "spec": {"nodeName": node, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
            "terminationGracePeriodSeconds": 30, "serviceAccountName": "default", "securityContext": {},
            "containers": [{"name": "app", "image": "registry.example.com/load:1.0", "imagePullPolicy": "IfNotPresent",
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]},
        "status": {"phase": "Running", "qosClass": "Burstable", "hostIP": "127.1.0.10", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": t,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
                {"type": "Initialized", "status": "True", "lastTransitionTime": t},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": t},
                {"type": "Ready", "status": "True", "lastTransitionTime": t}],
            "containerStatuses": [{"name": "app", "image": "registry.example.com/load:1.0", "imageID": "registry.example.com/load@sha256:0123456789abcdef",
                "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": t}}}]},
    })
}

/// From kubectl's `-v=6` log: list pages fetched, the sum of their response times, and the sum
/// of the delays kubectl's client-side rate limiter (5 requests/s after a burst of 10) imposed.
fn kubectl_timings(log: &str) -> (usize, f64, f64) {
    let value = |line: &str, key: &str| {
        line.split(key).nth(1).and_then(|rest| {
            rest.split([' ', '"'])
                .find(|s| !s.is_empty())
                .map(str::to_owned)
        })
    };
    let mut pages = 0;
    let mut server_ms = 0.0;
    let mut throttled = 0.0;
    for line in log.lines() {
        if line.contains("\"Response\"") && line.contains("/pods?") {
            pages += 1;
            server_ms += value(line, "milliseconds=")
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
        }
        if line.contains("client-side throttling")
            && let Some(delay) = value(line, "delay=\"")
        {
            throttled += if let Some(ms) = delay.strip_suffix("ms") {
                ms.parse::<f64>().unwrap_or(0.0) / 1000.0
            } else if let Some(us) = delay.strip_suffix("µs") {
                us.parse::<f64>().unwrap_or(0.0) / 1e6
            } else {
                delay.trim_end_matches('s').parse::<f64>().unwrap_or(0.0)
            };
        }
    }
    (pages, server_ms, throttled)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let nodes = args.first().copied().unwrap_or(5_000);
    let pods = args.get(1).copied().unwrap_or(150_000);
    let rate = args.get(2).copied().unwrap_or(2_000);
    let seconds = args.get(3).copied().unwrap_or(10);
    anyhow::ensure!(
        nodes >= 10 && pods > 0,
        "usage: scale_bench [NODES (at least 10)] [PODS (at least 1)] [CHANGES_PER_SECOND] [SECONDS]"
    );
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    let windows = nodes / 10;
    let started = Instant::now();
    let cluster = LocalCluster::start(ClusterConfig {
        windows_nodes: windows,
        linux_nodes: nodes - windows,
        kubeconfig_path: Some(kubeconfig.clone()),
        lease_every: Duration::from_secs(40),
        ..ClusterConfig::default()
    })
    .await?;
    println!(
        "started with {nodes} nodes in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let registry = cluster.registry().clone();
    let namespaces = 30;
    for n in 0..namespaces {
        registry.create(
            resources::namespaces(),
            "",
            json!({"metadata": {"name": format!("load-{n:02}")}}),
            &WriteOptions::default(),
        )?;
    }
    let node_names = cluster.node_names().to_vec();
    let load = Instant::now();
    // Built lazily: the store keeps serialized bytes, and a parsed copy of every pod at once
    // would be the benchmark's memory, not the cluster's.
    let batch = (0..pods).map(|i| {
        let node = &node_names[windows + i % (nodes - windows)];
        let ip = format!(
            "127.{}.{}.{}",
            16 + (i >> 16) % 16,
            (i >> 8) & 0xff,
            i & 0xff
        );
        running_pod(
            &format!("load-{:02}", i % namespaces),
            &format!("load-{i:06}"),
            node,
            &ip,
        )
    });
    registry.bulk_put(resources::pods(), batch);
    println!(
        "stored {pods} pods in {:.1} s; store holds {} pods, {} nodes; resident memory {:.0} MB",
        load.elapsed().as_secs_f64(),
        registry.store.count(resources::pods()),
        registry.store.count(resources::nodes()),
        resident_mb()
    );

    // SCALE_BENCH_HOLD=SECONDS keeps the loaded cluster up for exploring it by hand.
    if let Some(hold) = std::env::var("SCALE_BENCH_HOLD")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        println!("holding for {hold} s; KUBECONFIG={}", kubeconfig.display());
        tokio::time::sleep(Duration::from_secs(hold)).await;
    }
    for (label, args) in [
        (
            "kubectl get pods -A --chunk-size=500 (table)",
            vec!["get", "pods", "-A", "--chunk-size=500", "-v=6"],
        ),
        (
            "kubectl get pods -A --chunk-size=500 -o name",
            vec![
                "get",
                "pods",
                "-A",
                "--chunk-size=500",
                "-o",
                "name",
                "-v=6",
            ],
        ),
    ] {
        let t = Instant::now();
        let output = tokio::process::Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(&args)
            .output()
            .await?;
        let wall = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            output.status.success(),
            "kubectl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let lines = output.stdout.iter().filter(|b| **b == b'\n').count();
        let log = String::from_utf8_lossy(&output.stderr);
        let (pages, server_ms, throttled) = kubectl_timings(&log);
        println!(
            "{label}: {lines} lines in {wall:.2} s; {pages} pages, server answered in {:.2} s total; \
             kubectl's own client-side throttling waited {throttled:.2} s; without it {:.2} s",
            server_ms / 1000.0,
            wall - throttled
        );
    }
    println!("resident memory after listing: {:.0} MB", resident_mb());

    // A kube-rs watcher on every pod: initial paged list, then live changes.
    let kube_config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig)?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let client = kube::Client::try_from(kube_config)?;
    let api: Api<Pod> = Api::all(client);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let received = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let sink = received.clone();
    let list_started = Instant::now();
    let watch_task = tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()));
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::InitDone) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(watcher::Event::Apply(pod)) => {
                    let sent = pod
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("bench/sent-us"))
                        .and_then(|v| v.parse::<u128>().ok());
                    if let Some(sent) = sent {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap_or_default()
                            .as_micros();
                        sink.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(Duration::from_micros(now.saturating_sub(sent) as u64));
                    }
                }
                Ok(_) => {}
                Err(e) => eprintln!("watch error: {e}"),
            }
        }
    });
    ready_rx.await?;
    println!(
        "kube-rs watcher: initial list of {pods} pods in {:.1} s",
        list_started.elapsed().as_secs_f64()
    );

    let writes = rate * seconds;
    let writer_registry = registry.clone();
    let write_started = Instant::now();
    let writer = tokio::spawn(async move {
        let per_tick = (rate / 100).max(1);
        let mut interval = tokio::time::interval(Duration::from_millis(10));
        let mut done = 0;
        while done < writes {
            interval.tick().await;
            for _ in 0..per_tick.min(writes - done) {
                let i = (done * 7919) % pods;
                let (ns, name) = (
                    format!("load-{:02}", i % namespaces),
                    format!("load-{i:06}"),
                );
                let sent = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_micros();
                let result = writer_registry.update_with(
                    resources::pods(),
                    &ns,
                    &name,
                    Part::Main,
                    &WriteOptions::default(),
                    |old| {
                        let mut next = old.clone();
                        next["metadata"]["annotations"] =
                            json!({"bench/sent-us": sent.to_string()});
                        Ok(next)
                    },
                );
                if let Err(e) = result {
                    eprintln!("write failed: {e}");
                    return done;
                }
                done += 1;
            }
        }
        done
    });
    let written = writer.await?;
    let write_secs = write_started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap_or_else(|e| e.into_inner()).len() < written
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lags = received.lock().unwrap_or_else(|e| e.into_inner()).clone();
    lags.sort();
    let pct = |p: f64| {
        lags.get(((lags.len() as f64 * p) as usize).min(lags.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "watch: {written} changes written at {:.0}/s; {} received; lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        written as f64 / write_secs,
        lags.len(),
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        lags.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    println!("resident memory at the end: {:.0} MB", resident_mb());
    watch_task.abort();
    cluster.shutdown().await;
    Ok(())
}
