//! The console's backend against the local cluster: the board follows watch events, and the
//! console survives its cluster going away and coming back.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::time::Duration;

use hybrid_console::backend::Backend;
use hybrid_console::model::NodeOs;
use hybrid_console::protocol::ConnectionStatus;
use support::{Seen, TestCluster, wait_for};

fn connect(cluster: &TestCluster) -> (Backend, Seen) {
    let backend = support::backend_connected_to(&cluster.kubeconfig);
    let mut seen = Seen::default();
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(30),
        "a live board with four nodes",
        |s| s.is_live() && s.snapshot.as_ref().is_some_and(|b| b.nodes().count() == 4),
    );
    (backend, seen)
}

fn pinned_pod(name: &str, node: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
  labels:
    app: mover
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 0
  tolerations:
  - key: os
    operator: Equal
    value: windows
    effect: NoSchedule
  containers:
  - name: main
    image: registry.k8s.io/pause:3.10
"#
    )
}

#[test]
fn a_pod_recreated_on_another_node_moves_on_the_board() {
    let cluster = TestCluster::start(false);
    let windows = cluster.nodes_of("windows");
    let linux = cluster.nodes_of("linux");
    let (backend, mut seen) = connect(&cluster);

    cluster.apply(&pinned_pod("mover", &windows[0]));
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(20),
        "the pod on the first Windows node",
        |s| s.node_of("default", "mover").as_deref() == Some(windows[0].as_str()),
    );
    let board = seen.snapshot.clone().unwrap();
    assert_eq!(board.os_of_node(&windows[0]), Some(NodeOs::Windows));
    let lane = board.lane(&NodeOs::Windows).unwrap();
    assert!(
        lane.groups
            .iter()
            .flat_map(|g| g.nodes.iter())
            .any(|n| n.pods.iter().any(|p| p.name == "mover"))
    );

    // Same name, another node (as a StatefulSet's pod would come back): the board must draw it
    // on the new node only, not on both.
    cluster.kubectl().ok(&[
        "delete",
        "pod",
        "mover",
        "-n",
        "default",
        "--grace-period=0",
        "--force",
        "--wait=true",
    ]);
    cluster.apply(&pinned_pod("mover", &linux[1]));
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(20),
        "the pod on the second Linux node",
        |s| s.node_of("default", "mover").as_deref() == Some(linux[1].as_str()),
    );
    let board = seen.snapshot.clone().unwrap();
    let placed: Vec<&str> = board
        .nodes()
        .filter(|n| n.pods.iter().any(|p| p.name == "mover"))
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(placed, [linux[1].as_str()]);
    assert_eq!(board.os_of_node(&linux[1]), Some(NodeOs::Linux));
    assert!(
        board
            .lane(&NodeOs::Windows)
            .unwrap()
            .groups
            .iter()
            .all(|g| g
                .nodes
                .iter()
                .all(|n| n.pods.iter().all(|p| p.name != "mover")))
    );

    // Deleting it takes it off the board.
    cluster.kubectl().ok(&[
        "delete",
        "pod",
        "mover",
        "-n",
        "default",
        "--grace-period=0",
        "--force",
    ]);
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(20),
        "the pod gone",
        |s| {
            s.snapshot
                .as_ref()
                .is_some_and(|b| b.pod("default", "mover").is_none())
        },
    );
}

#[test]
fn the_console_keeps_the_last_board_while_the_cluster_is_away_and_recovers_by_itself() {
    let mut cluster = TestCluster::start(false);
    let (backend, mut seen) = connect(&cluster);
    let before = seen.snapshot.clone().unwrap();

    cluster.down();
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(30),
        "reconnecting",
        Seen::is_reconnecting,
    );
    let Some(ConnectionStatus::Reconnecting { error, .. }) = &seen.status else {
        unreachable!()
    };
    assert!(!error.is_empty());
    // Nothing replaces the last known board while the server is away.
    std::thread::sleep(Duration::from_secs(2));
    while let Some(event) = backend.next_event(Duration::from_millis(100)) {
        if let hybrid_console::protocol::Event::Snapshot(board) = event {
            panic!("a board arrived while the cluster was away: {board:?}");
        }
    }
    assert_eq!(seen.snapshots_while_reconnecting, 0);
    assert_eq!(seen.snapshot.as_deref(), Some(&*before));

    // The cluster comes back on the same address with new credentials in the same kubeconfig.
    cluster.up();
    let windows = cluster.nodes_of("windows");
    cluster.apply(&pinned_pod("after-restart", &windows[1]));
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(60),
        "live again with the new pod",
        |s| {
            s.is_live()
                && s.node_of("default", "after-restart").as_deref() == Some(windows[1].as_str())
        },
    );
    // The restarted cluster is a new one (its node names may differ if another test's cluster
    // took its addresses meanwhile): the board shows it, not a mix of old and new.
    let after = seen.snapshot.clone().unwrap();
    let mut names: Vec<String> = after.nodes().map(|n| n.name.clone()).collect();
    names.sort();
    let mut expected = cluster.nodes_of("windows");
    expected.extend(cluster.nodes_of("linux"));
    expected.sort();
    assert_eq!(names, expected);
    let order: Vec<&str> = seen
        .statuses
        .iter()
        .map(|s| match s {
            ConnectionStatus::Idle => "idle",
            ConnectionStatus::Connecting { .. } => "connecting",
            ConnectionStatus::Live { .. } => "live",
            ConnectionStatus::Reconnecting { .. } => "reconnecting",
            ConnectionStatus::Resuming { .. } => "resuming",
            ConnectionStatus::Failed { .. } => "failed",
        })
        .collect();
    let first_reconnecting = order.iter().position(|s| *s == "reconnecting").unwrap();
    assert!(order[..first_reconnecting].contains(&"live"), "{order:?}");
    assert_eq!(order.last(), Some(&"live"), "{order:?}");
    assert!(!order.contains(&"failed"), "{order:?}");
}

/// The local cluster serves `metrics.k8s.io`: the board's nodes carry CPU and memory in use, the
/// same figures `kubectl top nodes` prints (the console reads them right after connecting).
#[test]
fn the_board_shows_node_usage_from_metrics_k8s_io() {
    let cluster = TestCluster::start(true);
    let (backend, mut seen) = connect(&cluster);
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(30),
        "usage on every node",
        |s| {
            s.snapshot
                .as_ref()
                .is_some_and(|b| b.nodes().all(|n| n.usage.is_some()))
        },
    );
    let board = seen.snapshot.clone().unwrap();
    assert!(board.has_usage());
    let top = cluster.kubectl().ok(&["top", "nodes", "--no-headers"]);
    for node in board.nodes() {
        assert!(
            top.lines().any(|l| l.starts_with(&node.name)),
            "kubectl top names {}:\n{top}",
            node.name
        );
    }
    // The calculator's processes run on some nodes: their memory shows.
    assert!(
        board
            .nodes()
            .any(|n| n.usage.is_some_and(|u| u.memory_bytes > 0)),
        "{:?}",
        board.nodes().map(|n| n.usage).collect::<Vec<_>>()
    );
}
