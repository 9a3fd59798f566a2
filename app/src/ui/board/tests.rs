//! The board at size, on a hand-built snapshot of 5,000 nodes (500 Windows, 4,500 Linux): Fit
//! shows every node; zoomed out, a NotReady node and a failing pod stay visible and are named on
//! hover; zoomed in, pods are squares; a search zooms to its match.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

use std::sync::Arc;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use super::layout::{Item, Layout};
use super::{BoardView, COMPACT_BELOW};
use crate::model::ClusterSnapshot;
use crate::model::cost::{self, CostReport, DayCost, PriceList};

const WINDOWS: usize = 500;
const LINUX: usize = 4_500;
const PODS_PER_NODE: usize = 3;
/// The node that is NotReady, and the node where one pod crash-loops.
const DOWN: &str = "ip-10-1-3-77";
const CRASHING: &str = "ip-10-2-40-4";

fn node(name: &str, os: &str, ready: bool) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {
            "kubernetes.io/os": os,
            "eks.amazonaws.com/nodegroup": os,
            "node.kubernetes.io/instance-type": "m5.large",
        }},
        "status": {
            "allocatable": {"cpu": "1930m", "memory": "7Gi", "pods": "29"},
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
        },
    }))
    .unwrap()
}

fn pod(name: &str, node: &str, status: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i",
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]},
        "status": status,
    }))
    .unwrap()
}

fn running() -> Value {
    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": true,
            "restartCount": 0, "state": {"running": {}}}]})
}

fn crash_looping() -> Value {
    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false,
            "restartCount": 7, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})
}

/// 5,000 nodes named as EKS names them, three pods each; one node down, one pod crash-looping.
fn big_cluster() -> Arc<ClusterSnapshot> {
    let name = |os: usize, i: usize| format!("ip-10-{os}-{}-{}", i / 100, i % 100);
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for (os, label, count) in [(1, "windows", WINDOWS), (2, "linux", LINUX)] {
        for i in 0..count {
            let node_name = name(os, i);
            nodes.push(node(&node_name, label, node_name != DOWN));
            for p in 0..PODS_PER_NODE {
                let pod_name = format!("web-{os}-{i}-{p}");
                let status = if node_name == CRASHING && p == 0 {
                    crash_looping()
                } else {
                    running()
                };
                pods.push(pod(&pod_name, &node_name, status));
            }
        }
    }
    Arc::new(ClusterSnapshot::build(&nodes, &pods, [], [], None))
}

/// A harness of a 1,400 × 900 window that draws `board` on `snapshot`.
fn harness(board: BoardView, snapshot: Arc<ClusterSnapshot>) -> Harness<'static, BoardView> {
    harness_with_costs(board, snapshot, None)
}

/// The same, the board showing `costs`.
fn harness_with_costs(
    board: BoardView,
    snapshot: Arc<ClusterSnapshot>,
    costs: Option<CostReport>,
) -> Harness<'static, BoardView> {
    let mut harness = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(
            move |ui, board: &mut BoardView| {
                board.draw(ui, &snapshot, false, None, costs.as_ref());
            },
            board,
        );
    // Tooltips at once (the test's frames are not a person's half-second rest).
    harness.ctx.all_styles_mut(|style| {
        style.interaction.tooltip_delay = 0.0;
        style.interaction.show_tooltips_only_when_still = false;
    });
    harness.run_steps(2);
    harness
}

/// Whether some widget's words (a label's value, another widget's label) contain `text`.
fn shows(harness: &Harness<'_, BoardView>, text: &str) -> bool {
    harness
        .query_all(egui_kittest::kittest::By::new().predicate(|node| {
            node.label()
                .or_else(|| node.value())
                .is_some_and(|words| words.contains(text))
        }))
        .next()
        .is_some()
}

/// Every tile of the layout, on screen at the board's zoom and pan.
fn tiles_on_screen(board: &BoardView) -> Vec<egui::Rect> {
    let layout: &Layout = board.layout.as_ref().unwrap();
    let origin = board.viewport.min + egui::Vec2::splat(super::PADDING) + board.pan;
    layout
        .items
        .iter()
        .filter(|p| matches!(p.item, Item::Tile { .. }))
        .map(|p| {
            egui::Rect::from_min_size(
                origin + p.rect.min.to_vec2() * board.zoom,
                p.rect.size() * board.zoom,
            )
        })
        .collect()
}

#[test]
fn a_big_cluster_opens_fitted_with_every_node_on_screen_and_fit_brings_it_back() {
    let mut harness = harness(BoardView::default(), big_cluster());
    let viewport = harness.state().viewport;
    let tiles = tiles_on_screen(harness.state());
    assert_eq!(tiles.len(), WINDOWS + LINUX);
    let outside = tiles
        .iter()
        .filter(|t| !viewport.contains_rect(**t))
        .count();
    assert_eq!(
        outside, 0,
        "{outside} node tiles outside {viewport:?} when opened"
    );
    let zoom = harness.state().zoom;
    assert!(
        zoom < COMPACT_BELOW,
        "a 5,000-node board opens zoomed out (zoom {zoom})"
    );
    // Cells are still big enough to see: at least 4 points across.
    assert!(
        tiles.iter().all(|t| t.width() >= 4.0 && t.height() >= 4.0),
        "cells of {:?}",
        tiles[0].size()
    );

    // Zoomed in and panned away, Fit shows all of it again.
    harness.state_mut().zoom = 1.0;
    harness.state_mut().pan = egui::Vec2::new(-3000.0, -2000.0);
    harness.run_steps(1);
    harness.state_mut().fit();
    harness.run_steps(1);
    let tiles = tiles_on_screen(harness.state());
    assert!(tiles.iter().all(|t| viewport.contains_rect(*t)));
}

#[test]
fn zoomed_out_a_down_node_and_a_failing_pod_are_marked_and_named_on_hover() {
    let harness = harness(BoardView::default(), big_cluster());
    assert!(harness.state().zoom < COMPACT_BELOW);
    let down = harness.get_by_label(DOWN);
    let bounds = down.rect();
    assert!(harness.state().viewport.contains_rect(bounds));
    down.hover();
    let mut harness = harness;
    harness.run_steps(2);
    assert!(
        shows(&harness, "NotReady"),
        "the hovered down node is named with its state"
    );

    harness.get_by_label(CRASHING).hover();
    harness.run_steps(6);
    let words: Vec<String> = harness
        .query_all(egui_kittest::kittest::By::new().predicate(|_| true))
        .filter_map(|n| {
            n.accesskit_node()
                .label()
                .or_else(|| n.accesskit_node().value())
        })
        .filter(|w| w.contains("4004") || w.contains("ip-10-2-40-4") || w.contains("Crash"))
        .collect();
    assert!(
        shows(&harness, "pod shop/web-2-4004-0: CrashLoopBackOff"),
        "{words:?}"
    );
    // Every healthy node is drawn without a hover area of its own: only the two problems are.
    assert!(harness.query_by_label("ip-10-2-0-1").is_none());
}

#[test]
fn zoomed_in_pods_are_squares_and_a_search_zooms_to_its_match() {
    let mut harness = harness(BoardView::default(), big_cluster());
    assert!(harness.query_by_label("pod web-2-4321-1").is_none());
    harness.state_mut().search = "web-2-4321-1".into();
    harness.state_mut().search_moved = true;
    harness.run_steps(2);
    let board = harness.state();
    assert!(
        board.zoom >= 1.0,
        "the search zoomed in (zoom {})",
        board.zoom
    );
    let viewport = board.viewport;
    let pod = harness.get_by_label("pod web-2-4321-1");
    let square = pod.rect();
    assert!(viewport.contains_rect(square), "{square:?} in {viewport:?}");
    assert!((square.width() - square.height()).abs() < 1.0 && square.width() >= 10.0);
    // Its node's tile shows its name (the detailed tile, not a cell).
    harness.get_by_label("ip-10-2-43-21");
}

#[test]
fn clicking_a_node_group_summary_zooms_to_the_group() {
    let mut harness = harness(BoardView::default(), big_cluster());
    harness.get_by_label("node group windows").click();
    harness.run_steps(2);
    let board = harness.state();
    let layout = board.layout.as_ref().unwrap();
    let windows = layout.groups[0].1;
    let origin = board.viewport.min + egui::Vec2::splat(super::PADDING) + board.pan;
    let on_screen = egui::Rect::from_min_size(
        origin + windows.min.to_vec2() * board.zoom,
        windows.size() * board.zoom,
    );
    assert!(
        board.viewport.expand(1.0).contains_rect(on_screen),
        "{on_screen:?} in {:?}",
        board.viewport
    );
    // Filling the window: wider or taller than half of it.
    assert!(
        on_screen.width() > board.viewport.width() / 2.0
            || on_screen.height() > board.viewport.height() / 2.0
    );
}

#[test]
fn a_search_looks_again_through_changed_tiles_only_and_finds_what_changed() {
    use crate::model::{PodPlacement, PodsByNode, Search};
    let mut nodes = [node("n1", "linux", true), node("n2", "linux", true)];
    // A tile is shared with the next snapshot only when its Node's version is known.
    for n in &mut nodes {
        n.metadata.resource_version = Some("7".into());
    }
    let placed = |name: &str, node: &str| Arc::new(PodPlacement::of(&pod(name, node, running())));
    let mut by_node: PodsByNode = [placed("web-a", "n1"), placed("web-b", "n2")]
        .into_iter()
        .collect();
    let first = Arc::new(ClusterSnapshot::from_placements(
        &nodes,
        &by_node,
        [],
        [],
        None,
        None,
    ));
    let viewport = egui::vec2(1400.0, 900.0);
    let tile_hits = |board: &mut BoardView, snapshot: &Arc<ClusterSnapshot>, search: &Search| {
        let layout = Layout::new(snapshot, None, viewport, None);
        let hits = board.search_hits(&layout, search).unwrap().to_vec();
        layout
            .items
            .iter()
            .zip(hits)
            .filter_map(|(placed, hit)| Some((layout.tile(&placed.item)?.name.clone(), hit)))
            .collect::<Vec<_>>()
    };
    let mut board = BoardView::default();
    let search = Search::new("DB-");
    assert_eq!(
        tile_hits(&mut board, &first, &search),
        [("n1".to_owned(), false), ("n2".to_owned(), false)]
    );
    // Mark n1's remembered answer as found: were n1's tile looked through again, it would say
    // no.
    for (tile, hit) in board.hits.as_mut().unwrap().tiles.values_mut() {
        *hit = tile.name == "n1";
    }
    // A matching pod arrives on n2: n2's tile is new and looked through; n1's is shared with
    // the snapshot before and its answer reused.
    by_node.insert(placed("db-c", "n2"));
    let second = Arc::new(ClusterSnapshot::from_placements(
        &nodes,
        &by_node,
        [],
        [],
        None,
        Some(&first),
    ));
    assert_eq!(
        tile_hits(&mut board, &second, &search),
        [("n1".to_owned(), true), ("n2".to_owned(), true)]
    );
    let cached = &board.hits.as_ref().unwrap().tiles;
    assert_eq!(cached.len(), 2, "one entry per tile of the current layout");
    // Another search looks through everything again.
    assert_eq!(
        tile_hits(&mut board, &second, &Search::new("web-a")),
        [("n1".to_owned(), true), ("n2".to_owned(), false)]
    );
    // Blank: no search, nothing kept.
    let layout = Layout::new(&second, None, viewport, None);
    assert!(board.search_hits(&layout, &Search::new(" ")).is_none());
    assert!(board.hits.is_none());
}

/// A Windows node of `build` in node group `windows`.
fn windows_node(name: &str, build: &str, os_image: &str) -> Node {
    let mut node = node(name, "windows", true);
    if let Some(labels) = node.metadata.labels.as_mut() {
        labels.insert("node.kubernetes.io/windows-build".into(), build.into());
    }
    if let Some(status) = node.status.as_mut() {
        status.node_info = serde_json::from_value(json!({
            "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "containerd://1.7.20",
            "kernelVersion": format!("{build}.1"), "kubeProxyVersion": "", "kubeletVersion": "v1.33.0",
            "machineID": "", "operatingSystem": "windows", "osImage": os_image, "systemUUID": ""
        }))
        .ok();
    }
    node
}

#[test]
fn a_windows_group_of_two_builds_is_marked_and_a_pod_of_the_wrong_build_is_named() {
    let nodes = [
        windows_node(
            "ip-10-1-0-1",
            "10.0.17763",
            "Windows Server 2019 Datacenter",
        ),
        windows_node(
            "ip-10-1-0-2",
            "10.0.20348",
            "Windows Server 2022 Datacenter",
        ),
    ];
    let refused = json!({"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false,
            "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container=c"}},
            "lastState": {"waiting": {"reason": "RunContainerError", "message": "failed to create containerd task: failed to create shim task: hcs::CreateComputeSystem 0a1b: The container operating system does not match the host operating system.: unknown"}}}]});
    let pods = [pod("legacy-1", "ip-10-1-0-2", refused)];
    let snapshot = Arc::new(ClusterSnapshot::build(&nodes, &pods, [], [], None));
    let mut harness = harness(BoardView::default(), snapshot);
    harness.get_by_label("node group windows").hover();
    harness.run_steps(3);
    assert!(
        shows(
            &harness,
            "Its Windows nodes run different builds (10.0.17763 ×1, 10.0.20348 ×1)"
        ),
        "the mixed group is said on hover"
    );
    harness.get_by_label("ip-10-1-0-2").hover();
    harness.run_steps(3);
    assert!(
        shows(
            &harness,
            "Windows Server 2022 Datacenter · build 10.0.20348: runs images built on it"
        ),
        "the node's build is said"
    );
    assert!(
        shows(
            &harness,
            "pod shop/legacy-1: image's Windows build does not suit this node's (10.0.20348)"
        ),
        "the refused pod is named with why"
    );
}

#[test]
fn a_groups_cost_is_said_with_how_it_was_computed() {
    let in_oregon = |name: &str, os: &str| {
        let mut node = node(name, os, true);
        if let Some(labels) = node.metadata.labels.as_mut() {
            labels.insert("topology.kubernetes.io/zone".into(), "us-west-2a".into());
        }
        node
    };
    let nodes = [
        in_oregon("ip-10-1-0-1", "windows"),
        in_oregon("ip-10-1-0-2", "windows"),
        in_oregon("ip-10-2-0-1", "linux"),
    ];
    let snapshot = Arc::new(ClusterSnapshot::build(&nodes, &[], [], [], None));
    let prices = PriceList::built_in();
    let estimate = cost::estimate(&snapshot, &prices, None);
    let mut harness = harness_with_costs(
        BoardView::default(),
        snapshot.clone(),
        Some(estimate.clone()),
    );
    harness.get_by_label("node group windows").hover();
    harness.run_steps(3);
    // m5.large: $0.188 an hour with Windows, $0.096 without; two of them for 730 hours.
    assert!(
        shows(
            &harness,
            "Cost: estimate: 2 m5.large in us-west-2 × 730 h at on-demand prices (2025-06-01); of which Windows licences ≈ $134/month"
        ),
        "the estimate is said on hover"
    );
    // Cost Explorer's figures for the group replace the estimate, and say so.
    let days = [DayCost {
        day: "2026-12-06".into(),
        group: "windows".into(),
        amount: 8.0,
    }];
    let measured = cost::combine(estimate, "hybrid", Some(&Ok(days.to_vec())), &prices);
    let mut harness = harness_with_costs(BoardView::default(), snapshot, Some(measured));
    harness.get_by_label("node group windows").hover();
    harness.run_steps(3);
    assert!(
        shows(
            &harness,
            "Cost: Cost Explorer: $8 over 1 day(s) by tag eks:nodegroup-name; run rate $8 on 2026-12-06 × 30.4 days"
        ),
        "Cost Explorer's figure is said on hover"
    );
}

/// Thousands of pods waiting for room (a cluster past its capacity): the board says how many,
/// lists a few, and fitted it still shows the nodes at nearly the zoom it would without them.
#[test]
fn many_waiting_pods_are_counted_and_the_fitted_board_keeps_its_nodes_readable() {
    let build = |waiting: usize| {
        let mut nodes = Vec::new();
        let mut pods = Vec::new();
        for (os, label, count) in [(1, "windows", 10), (2, "linux", 90)] {
            for i in 0..count {
                let node_name = format!("ip-10-{os}-0-{i}");
                nodes.push(node(&node_name, label, true));
                for p in 0..PODS_PER_NODE {
                    pods.push(pod(&format!("web-{os}-{i}-{p}"), &node_name, running()));
                }
            }
        }
        for i in 0..waiting {
            let mut pending = pod(&format!("waiting-{i}"), "", json!({"phase": "Pending"}));
            pending.spec.as_mut().unwrap().node_name = None;
            pods.push(pending);
        }
        Arc::new(ClusterSnapshot::build(&nodes, &pods, [], [], None))
    };
    let fitted_zoom = |snapshot: Arc<ClusterSnapshot>| {
        let mut harness = harness(BoardView::default(), snapshot);
        harness.state_mut().fit();
        harness.run_steps(2);
        harness
    };
    let without = fitted_zoom(build(0)).state().zoom;
    let harness = fitted_zoom(build(1_170));
    let with = harness.state().zoom;
    assert!(
        with >= without * 0.6,
        "fitted zoom {with} with 1,170 waiting pods against {without} without"
    );
    assert!(
        shows(&harness, "Unscheduled  ·  1170 pods (the first 20 listed)"),
        "the waiting pods are counted"
    );
    let listed = harness
        .state()
        .layout
        .as_ref()
        .unwrap()
        .items
        .iter()
        .filter(|p| matches!(p.item, Item::Unscheduled { .. }))
        .count();
    assert_eq!(listed, 20);
}
