//! How much time a move spends in the console itself, beyond what the cluster needs: every move
//! of the built-in plan, out and back, on the embedded local cluster. A move's time is split
//! into the waits for rollouts (the cluster's time: pods starting, becoming Ready, old pods
//! leaving) and everything else (the console's overhead: planning with its permission checks,
//! applying, recording, verifying through the service proxy, Events).
//!
//! As a soak (`-- 10`): ten rounds, and what a long session must not do — fail a probe, grow,
//! or leave processes and listening ports behind on the cluster — is reported at the end.
//!
//! cargo run --release -p hybrid-console --example move_bench -- [rounds, default 3] [kubeconfig]
//!
//! With a kubeconfig (of `local-cluster up --with-calculator`), the cluster runs in its own
//! process and the memory reported is the console's alone.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hybrid_console::calculator;
use hybrid_console::cluster::connection::{self, ConnectionTarget};
use hybrid_console::migration::plan_file;
use hybrid_console::migration::{Mover, Reporter};
use hybrid_console::model::calculation::CalcTarget;
use hybrid_console::model::move_progress::MoveProgress;
use hybrid_console::model::moves::{Direction, StepKind};
use local_cluster::{ClusterConfig, LocalCluster};
use tokio_util::sync::CancellationToken;

fn main() -> anyhow::Result<()> {
    // Calculator containers re-run this executable; that must happen before any runtime starts.
    local_cluster::calculator::serve_if_requested();
    tokio::runtime::Runtime::new()?.block_on(run())
}

struct Measured {
    service: String,
    direction: Direction,
    total: Duration,
    waiting: Duration,
    planning: Duration,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

async fn run() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    // `-- ROUNDS KUBECONFIG`: a cluster of its own (`local-cluster up --with-calculator`), so
    // this process's memory is the console's alone.
    let external = std::env::args().nth(2).map(std::path::PathBuf::from);
    let dir = tempfile::tempdir()?;
    let (kubeconfig, cluster) = match external {
        Some(path) => (path, None),
        None => {
            let kubeconfig = dir.path().join("kubeconfig");
            let cluster = LocalCluster::start(ClusterConfig {
                kubeconfig_path: Some(kubeconfig.clone()),
                with_calculator: true,
                ..ClusterConfig::default()
            })
            .await?;
            (kubeconfig, Some(cluster))
        }
    };
    let cluster_pid = match &cluster {
        Some(_) => std::process::id(),
        None => listener_pid(&connection_port(&kubeconfig)?)?,
    };
    let connection = connection::open(
        &ConnectionTarget::Kubeconfig {
            path: Some(kubeconfig),
            context: None,
        },
        None,
    )
    .await?;
    let plan = Arc::new(plan_file::load(None)?);
    let mover = Mover::new(&connection, plan.clone()).await;
    let before = Footprint::now(cluster_pid);
    // The calculator probe, 20 calls a second through the front Service, all along.
    let probe = {
        let proxy = connection.proxy.clone();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let http = calculator::http_client();
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            let (mut calls, mut failures) = (0usize, Vec::new());
            while !stopped.is_cancelled() {
                tick.tick().await;
                let outcome =
                    calculator::calculate(0, Some(&proxy), &http, &CalcTarget::default(), "6", "3")
                        .await;
                calls += 1;
                if !outcome.all_ok() {
                    failures.push(outcome.first_error().unwrap_or_default());
                }
            }
            (calls, failures)
        });
        (stop, task)
    };
    let mut measured = Vec::new();
    for round in 0..rounds {
        if round > 0 {
            // Resident memory round by round: growth that levels off is the cluster's bounded
            // histories filling; growth that does not is a leak.
            eprintln!(
                "after round {round}: resident {:.1} MB",
                Footprint::now(cluster_pid).rss_mb
            );
        }
        // Every service out (the operations first, then the page), then back in reverse.
        let order: Vec<(String, Direction)> = plan
            .services
            .iter()
            .map(|s| (s.name.clone(), Direction::Extract))
            .chain(
                plan.services
                    .iter()
                    .rev()
                    .map(|s| (s.name.clone(), Direction::Return)),
            )
            .collect();
        for (service, direction) in order {
            let started = Instant::now();
            let planned = mover.prepare(&service, direction, None).await?;
            let planning = started.elapsed();
            anyhow::ensure!(planned.allowed(), "refused: {:?}", planned.refusals);
            let progress: Arc<Mutex<Option<MoveProgress>>> = Arc::default();
            let kept = progress.clone();
            let report: Reporter = Arc::new(move |event| {
                if let Ok(mut p) = kept.lock() {
                    MoveProgress::follow(&mut p, &event, SystemTime::now());
                }
            });
            let outcome = mover
                .execute(planned, report, CancellationToken::new())
                .await?;
            anyhow::ensure!(outcome.completed(), "{service}: {}", outcome.describe());
            let total = started.elapsed();
            let waiting = progress
                .lock()
                .ok()
                .and_then(|p| p.clone())
                .map(|p| {
                    p.steps
                        .iter()
                        .filter(|s| matches!(s.step, StepKind::WaitService | StepKind::WaitReroute))
                        .filter_map(|s| s.took)
                        .sum()
                })
                .unwrap_or_default();
            measured.push(Measured {
                service,
                direction,
                total,
                waiting,
                planning,
            });
        }
    }
    println!(
        "{:<16} {:<8} {:>9} {:>13} {:>10} {:>10}",
        "SERVICE", "WAY", "TOTAL s", "ROLLOUTS s", "OVERHEAD s", "PLAN s"
    );
    for m in &measured {
        println!(
            "{:<16} {:<8} {:>9.3} {:>13.3} {:>10.3} {:>10.3}",
            m.service,
            match m.direction {
                Direction::Extract => "out",
                Direction::Return => "back",
            },
            m.total.as_secs_f64(),
            m.waiting.as_secs_f64(),
            (m.total - m.waiting).as_secs_f64(),
            m.planning.as_secs_f64()
        );
    }
    let overheads: Vec<f64> = measured
        .iter()
        .map(|m| (m.total - m.waiting).as_secs_f64())
        .collect();
    probe.0.cancel();
    let (calls, failures) = probe.1.await?;
    println!(
        "\nprobe through the front Service at 20/s during all moves: {calls} calls, {} failed{}",
        failures.len(),
        failures
            .first()
            .map(|f| format!(" (first: {f})"))
            .unwrap_or_default()
    );
    println!(
        "{} moves: console overhead per move median {:.3} s, max {:.3} s (target < 1 s); rollout waits median {:.3} s",
        measured.len(),
        median(overheads.clone()),
        overheads.iter().copied().fold(0.0, f64::max),
        median(measured.iter().map(|m| m.waiting.as_secs_f64()).collect())
    );
    // Moved-out pods end after their grace period: give them time before counting.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut after = Footprint::now(cluster_pid);
    while (after.processes > before.processes || after.listening > before.listening)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_secs(1)).await;
        after = Footprint::now(cluster_pid);
    }
    println!(
        "this process ({}): resident {:.1} MB after connecting, {:.1} MB after the last move (peak {:.1} MB)",
        if cluster_pid == std::process::id() {
            "console and embedded cluster"
        } else {
            "the console alone"
        },
        before.rss_mb,
        after.rss_mb,
        after.peak_mb
    );
    println!(
        "calculator processes: {} before, {} after; their listening ports: {} before, {} after",
        before.processes, after.processes, before.listening, after.listening
    );
    if let Some(cluster) = cluster {
        cluster.shutdown().await;
    }
    anyhow::ensure!(failures.is_empty(), "{} probe calls failed", failures.len());
    anyhow::ensure!(
        after.processes <= before.processes && after.listening <= before.listening,
        "processes or ports were left behind"
    );
    Ok(())
}

/// The API server's port in `kubeconfig`.
fn connection_port(kubeconfig: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(kubeconfig)?;
    let config: serde_yaml::Value = serde_yaml::from_str(&text)?;
    let server = config["clusters"][0]["cluster"]["server"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no server in {}", kubeconfig.display()))?;
    Ok(server
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// The process listening on `port` (the local cluster), from `ss`.
fn listener_pid(port: &str) -> anyhow::Result<u32> {
    let output = std::process::Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split("pid=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no process listens on port {port}: {text}"))
}

/// What the session holds: this process's memory, the calculator processes the cluster runs
/// (`cluster`'s children) and the TCP ports they listen on.
struct Footprint {
    rss_mb: f64,
    peak_mb: f64,
    processes: usize,
    listening: usize,
}

impl Footprint {
    fn now(cluster: u32) -> Footprint {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        let children: Vec<String> = std::process::Command::new("pgrep")
            .arg("-P")
            .arg(cluster.to_string())
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        // `ss -ltnpH`: one line per listening socket, naming the owning pid.
        let sockets = std::process::Command::new("ss")
            .arg("-ltnpH")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let listening = sockets
            .lines()
            .filter(|line| {
                children
                    .iter()
                    .any(|pid| line.contains(&format!("pid={pid},")))
            })
            .count();
        Footprint {
            rss_mb: field("VmRSS:"),
            peak_mb: field("VmHWM:"),
            processes: children.len(),
            listening,
        }
    }
}
