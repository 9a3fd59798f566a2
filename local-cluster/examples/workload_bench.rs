//! Workload benchmark of local-cluster: (1) `kubectl apply -R` of the whole calculator until every
//! Deployment is Available (real processes), (2) a Deployment of 1,000 simulated pods until all
//! are scheduled, Running and Ready.
//!
//! cargo run --release -p local-cluster --example workload_bench -- [pods] [linux nodes]

use std::time::{Duration, Instant};

use local_cluster::registry::WriteOptions;
use local_cluster::resources;
use local_cluster::{ClusterConfig, LocalCluster};
use serde_json::json;

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> anyhow::Result<String> {
    let output = std::process::Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn main() -> anyhow::Result<()> {
    // Calculator containers re-run this executable; that must happen before any runtime starts.
    local_cluster::calculator::serve_if_requested();
    tokio::runtime::Runtime::new()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let pods = args.first().copied().unwrap_or(1_000);
    let linux_nodes = args.get(1).copied().unwrap_or(100);
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/calculator");

    // 1. The calculator, through kubectl, on the default 2 + 2 node cluster.
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    let cluster = LocalCluster::start(ClusterConfig {
        kubeconfig_path: Some(kubeconfig.clone()),
        ..ClusterConfig::default()
    })
    .await?;
    let path = kubeconfig.clone();
    let (apply, ready) = tokio::task::spawn_blocking(move || -> anyhow::Result<(f64, f64)> {
        let started = Instant::now();
        kubectl(&path, &["apply", "-R", "-f", manifests])?;
        let applied = started.elapsed().as_secs_f64();
        kubectl(
            &path,
            &[
                "wait",
                "--for=condition=Available",
                "deployment",
                "--all",
                "-n",
                "calculator",
                "--timeout=120s",
            ],
        )?;
        kubectl(
            &path,
            &[
                "wait",
                "--for=condition=Ready",
                "pod",
                "--all",
                "-n",
                "calculator",
                "--timeout=120s",
            ],
        )?;
        Ok((applied, started.elapsed().as_secs_f64()))
    })
    .await??;
    let count = cluster.registry().store.count(resources::pods());
    println!(
        "calculator: kubectl apply -R took {apply:.2} s; all {count} pods Ready (12 real processes) {ready:.2} s after the apply started"
    );
    cluster.shutdown().await;

    // 2. 1,000 simulated pods on enough Linux nodes to hold them.
    let cluster = LocalCluster::start(ClusterConfig {
        windows_nodes: 0,
        linux_nodes,
        lease_every: Duration::from_secs(40),
        ..ClusterConfig::default()
    })
    .await?;
    let registry = cluster.registry().clone();
    let started = Instant::now();
    registry.create(
        resources::deployments(),
        "default",
        json!({
            "metadata": {"name": "load", "namespace": "default"},
            "spec": {
                "replicas": pods,
                "selector": {"matchLabels": {"app": "load"}},
                "template": {"metadata": {"labels": {"app": "load"}}, "spec": {"containers": [{
                    "name": "app", "image": "registry.example.com/load:1.0",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }]}},
            },
        }),
        &WriteOptions::default(),
    )?;
    let mut scheduled_at = None;
    loop {
        let page = registry
            .store
            .list(resources::pods(), Some("default"), |_| true, 0, None);
        let values: Vec<serde_json::Value> = page.items.iter().map(|p| p.value()).collect();
        let bound = values
            .iter()
            .filter(|p| p["spec"]["nodeName"].is_string())
            .count();
        let running = values
            .iter()
            .filter(|p| {
                p["status"]["phase"] == "Running"
                    && p["status"]["conditions"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
            })
            .count();
        if bound >= pods && scheduled_at.is_none() {
            scheduled_at = Some(started.elapsed().as_secs_f64());
        }
        if running >= pods {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "only {running}/{pods} running after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{pods} simulated pods on {linux_nodes} nodes: all scheduled after {:.2} s, all Running and Ready after {:.2} s (simulated start delay 0.5 s)",
        scheduled_at.unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    cluster.shutdown().await;
    Ok(())
}
