//! The console's own CPU per frame on the board at size: 5,000 nodes (500 Windows, 4,500 Linux)
//! and 150,000 pods, in a 1,600 × 1,000 window. A frame is what the UI thread does for one
//! repaint: egui's pass over the board (layout when a snapshot is new, painting what is on
//! screen) and tessellating the shapes into meshes; only the GPU upload is left out (this
//! machine has no GPU).
//!
//! Four runs: fitted (every node on screen as a cell), zoomed in at 100 %, fitted under churn:
//! a new snapshot every 6 frames (100 ms at 60 frames/s) in which 200 pods changed, that is
//! 2,000 pod changes per second, and the same with a search typed that matches no pod. The
//! snapshots are built beforehand, as the backend's thread builds them in the console; their
//! build time is reported apart.
//!
//! cargo run --release -p hybrid-console --example board_bench -- [frames per run, default 600]
//!
//! Live, against a real cluster (`local-cluster up --simulated-pods 150000 --churn 2000`): the
//! console's backend connects as the window does (watches into reflectors, snapshots on its
//! thread) and the time to the first full board is measured, then frames are drawn from the
//! snapshots as they arrive for a while — the first half of `--seconds` fitted, the second zoomed
//! in to 100 % — and the process's resident memory is read:
//!
//! cargo run --release -p hybrid-console --example board_bench -- --kubeconfig PATH --pods 150000 [--seconds 30]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hybrid_console::model::{ClusterSnapshot, PodPlacement, PodsByNode};
use hybrid_console::ui::CostView;
use hybrid_console::ui::board::BoardView;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

/// The console's allocator (`app/src/main.rs`), so that frames pay what they pay there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WINDOWS: usize = 500;
const LINUX: usize = 4_500;
const PODS_PER_NODE: usize = 30;
const CHANGES_PER_SNAPSHOT: usize = 200;
const FRAMES_PER_SNAPSHOT: usize = 6;

fn node(name: &str, os: &str) -> anyhow::Result<Node> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name, "resourceVersion": "1", "labels": {
            "kubernetes.io/os": os,
            "eks.amazonaws.com/nodegroup": format!("{os}-ng"),
            "node.kubernetes.io/instance-type": "m5.2xlarge",
        }},
        "status": {
            "allocatable": {"cpu": "7910m", "memory": "30Gi", "pods": "58"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }))?)
}

fn pod(name: &str, node: &str, ready: bool) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": format!("sim-{:02}", name.len() % 20), "labels": {"app": "sim"}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "sim",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
        "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "containerStatuses": [{"name": "c", "image": "sim", "imageID": "", "ready": ready,
                "restartCount": 0, "state": {"running": {}}}]},
    }))?)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

struct Frames {
    ctx: egui::Context,
    board: BoardView,
    /// The costs the window shows, made again with each new snapshot as the window does.
    costs: CostView,
    costs_of: Option<Arc<ClusterSnapshot>>,
}

/// CPU time this thread has used: on a machine whose cores the cluster shares, a frame's wall
/// time includes waiting for a core; its CPU time is the console's own work.
fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

impl Frames {
    /// One frame: egui's pass and the tessellation, timed by the wall clock.
    fn frame(&mut self, snapshot: &Arc<ClusterSnapshot>) -> Duration {
        self.timed_frame(snapshot).0
    }

    /// `frames` frames under churn, a new snapshot of `churned` every [`FRAMES_PER_SNAPSHOT`]:
    /// the time of every frame, and of those that took a new snapshot.
    fn churn(
        &mut self,
        churned: &[Arc<ClusterSnapshot>],
        frames: usize,
    ) -> (Vec<Duration>, Vec<Duration>) {
        let mut all = Vec::new();
        let mut with_new_snapshot = Vec::new();
        for i in 0..frames {
            let time = self.frame(&churned[(i / FRAMES_PER_SNAPSHOT) % churned.len()]);
            if i % FRAMES_PER_SNAPSHOT == 0 {
                with_new_snapshot.push(time);
            }
            all.push(time);
        }
        (all, with_new_snapshot)
    }

    /// One frame, timed by the wall clock and by the thread's CPU clock.
    fn timed_frame(&mut self, snapshot: &Arc<ClusterSnapshot>) -> (Duration, Duration) {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1600.0, 1000.0),
            )),
            ..egui::RawInput::default()
        };
        let started = Instant::now();
        let cpu = thread_cpu();
        if !self
            .costs_of
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, snapshot))
        {
            self.costs.refresh(snapshot);
            self.costs_of = Some(snapshot.clone());
        }
        let board = &mut self.board;
        let costs = &self.costs.report;
        let output = self.ctx.run_ui(input, |ui| {
            board.draw(ui, snapshot, false, None, Some(costs));
        });
        let meshes = self.ctx.tessellate(output.shapes, output.pixels_per_point);
        std::hint::black_box(meshes);
        (started.elapsed(), thread_cpu().saturating_sub(cpu))
    }
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<44} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  ({} frames)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        times.len()
    );
}

/// `VmRSS` and `VmHWM` of this process, in MB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Where the live run looks.
#[derive(Clone, Copy)]
enum LiveView {
    Fitted,
    ZoomedIn,
}

impl LiveView {
    fn name(self) -> &'static str {
        match self {
            LiveView::Fitted => "fitted",
            LiveView::ZoomedIn => "zoomed in to 100 %",
        }
    }
}

/// Frame times of one live view.
#[derive(Default)]
struct LiveFrames {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    cpu_with_new_snapshot: Vec<Duration>,
}

/// The live run: connect, time the first full board, then draw what arrives.
fn live(kubeconfig: std::path::PathBuf, pods: usize, seconds: u64) -> anyhow::Result<()> {
    use hybrid_console::backend::Backend;
    use hybrid_console::cluster::connection::ConnectionTarget;
    use hybrid_console::protocol::{Command, ConnectionStatus, Event};
    let plan = Arc::new(hybrid_console::migration::plan_file::load(None)?);
    let started = Instant::now();
    let backend = Backend::start(
        || {},
        plan,
        hybrid_console::live::embedded::EmbeddedOptions::default(),
    );
    backend.send(Command::Connect(ConnectionTarget::Kubeconfig {
        path: Some(kubeconfig),
        context: None,
    }));
    let mut latest: Option<Arc<ClusterSnapshot>> = None;
    while latest.as_ref().is_none_or(|s| s.pod_count < pods) {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "no board with {pods} pods within 10 minutes"
        );
        if let Some(Event::Snapshot(snapshot)) = backend.next_event(Duration::from_secs(1)) {
            latest = Some(snapshot);
        }
    }
    let Some(mut snapshot) = latest else {
        anyhow::bail!("no snapshot");
    };
    println!(
        "first full board ({} nodes, {} pods) {:.2} s after connecting",
        snapshot.nodes().count(),
        snapshot.pod_count,
        started.elapsed().as_secs_f64()
    );
    let mut run = Frames {
        ctx: egui::Context::default(),
        board: BoardView::default(),
        costs: CostView::default(),
        costs_of: None,
    };
    let first = run.frame(&snapshot);
    println!(
        "first frame {:.1} ms, zoom {:.3}",
        first.as_secs_f64() * 1e3,
        run.board.zoom
    );
    // Half the time fitted (every node a cell), half zoomed in to 100 % in the middle of the
    // Linux lane, as `run` does with the synthetic board.
    let mut gaps = Vec::new();
    let mut last_snapshot = Instant::now();
    let half = Duration::from_secs(seconds) / 2;
    for view in [LiveView::Fitted, LiveView::ZoomedIn] {
        match view {
            LiveView::Fitted => run.board.fit(),
            LiveView::ZoomedIn => {
                run.board.zoom = 1.0;
                run.board.pan = egui::vec2(-8_000.0, -4_000.0);
            }
        }
        let mut frames = LiveFrames::default();
        let until = Instant::now() + half;
        while Instant::now() < until {
            let mut fresh = false;
            for event in backend.drain() {
                match event {
                    Event::Snapshot(new) => {
                        snapshot = new;
                        fresh = true;
                        gaps.push(last_snapshot.elapsed());
                        last_snapshot = Instant::now();
                    }
                    // A lost connection makes every other figure meaningless: say so.
                    Event::Connection(status)
                        if !matches!(status, ConnectionStatus::Live { .. }) =>
                    {
                        println!("connection: {status:?}");
                    }
                    _ => {}
                }
            }
            let (frame, cpu) = run.timed_frame(&snapshot);
            frames.wall.push(frame);
            frames.cpu.push(cpu);
            if fresh {
                frames.cpu_with_new_snapshot.push(cpu);
            }
            // 60 frames a second, as a window would be asked to repaint.
            std::thread::sleep(Duration::from_micros(16_667).saturating_sub(frame));
        }
        let what = view.name();
        report(&format!("live, {what} (wall)"), frames.wall);
        report(&format!("live, {what} (CPU)"), frames.cpu);
        report(
            "  of which frames with a new snapshot (CPU)",
            frames.cpu_with_new_snapshot,
        );
    }
    gaps.sort();
    println!(
        "new snapshots: {} in {seconds} s; gap between them p50 {:.0} ms, max {:.0} ms",
        gaps.len(),
        percentile(&gaps, 0.5).as_secs_f64() * 1e3,
        gaps.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    let (rss, peak) = memory();
    println!("console resident memory {rss} MB (peak {peak} MB)");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(kubeconfig) = flag("--kubeconfig") {
        let pods = flag("--pods")
            .and_then(|p| p.parse().ok())
            .unwrap_or(150_000);
        let seconds = flag("--seconds").and_then(|p| p.parse().ok()).unwrap_or(30);
        return live(kubeconfig.into(), pods, seconds);
    }
    let frames: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(600);
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for (os, count) in [("windows", WINDOWS), ("linux", LINUX)] {
        for i in 0..count {
            let name = format!(
                "ip-10-{}-{}-{}",
                if os == "windows" { 1 } else { 2 },
                i / 250,
                i % 250
            );
            for p in 0..PODS_PER_NODE {
                pods.push(pod(&format!("{name}-pod-{p}"), &name, true)?);
            }
            nodes.push(node(&name, os)?);
        }
    }
    let started = Instant::now();
    let base = Arc::new(ClusterSnapshot::build(&nodes, &pods, [], [], None));
    let build = started.elapsed();
    println!(
        "snapshot of {} nodes and {} pods built in {:.0} ms (on the backend's thread in the console)",
        nodes.len(),
        pods.len(),
        build.as_secs_f64() * 1e3
    );
    // Snapshots under churn, built as the backend builds them: the pods grouped by node as
    // watch events arrive, each snapshot made from the one before (a node whose pods did not
    // change keeps its tile). Each flips the readiness of the next 200 pods.
    let mut by_node: PodsByNode = pods.iter().map(|p| Arc::new(PodPlacement::of(p))).collect();
    let mut previous = base.clone();
    let mut churned: Vec<Arc<ClusterSnapshot>> = Vec::new();
    for round in 0..frames.div_ceil(FRAMES_PER_SNAPSHOT) {
        for k in 0..CHANGES_PER_SNAPSHOT {
            let i = (round * CHANGES_PER_SNAPSHOT + k) * 7 % pods.len();
            let name = pods[i].metadata.name.clone().unwrap_or_default();
            let node = pods[i]
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default();
            by_node.insert(Arc::new(PodPlacement::of(&pod(
                &name,
                &node,
                round % 2 == 0,
            )?)));
        }
        let next = Arc::new(ClusterSnapshot::from_placements(
            &nodes,
            &by_node,
            [],
            [],
            None,
            Some(&previous),
        ));
        churned.push(next.clone());
        previous = next;
    }

    let mut run = Frames {
        ctx: egui::Context::default(),
        board: BoardView::default(),
        costs: CostView::default(),
        costs_of: None,
    };
    let first = run.frame(&base);
    println!(
        "first frame (layout of the whole board, opened fitted): {:.1} ms; zoom {:.3}",
        first.as_secs_f64() * 1e3,
        run.board.zoom
    );
    let fitted: Vec<Duration> = (0..frames).map(|_| run.frame(&base)).collect();
    report("fitted, every node on screen", fitted);

    run.board.zoom = 1.0;
    // The middle of the Linux lane (the fitted board is about 17,000 × 10,500 points at 100 %).
    run.board.pan = egui::vec2(-8_000.0, -4_000.0);
    let zoomed: Vec<Duration> = (0..frames).map(|_| run.frame(&base)).collect();
    report("zoomed in to 100 %", zoomed);

    run.board.fit();
    let (churn, relayouts) = run.churn(&churned, frames);
    report("fitted, 2,000 pod changes/s (all frames)", churn);
    report("  of which frames with a new snapshot", relayouts);

    // The same, with a search typed that no pod matches: the worst case, every tile's pods
    // looked through when a snapshot is new.
    run.board.search = "payments".to_owned();
    let (searching, relayouts) = run.churn(&churned, frames);
    report("fitted, 2,000 changes/s, a search (all)", searching);
    report("  of which frames with a new snapshot", relayouts);
    Ok(())
}
