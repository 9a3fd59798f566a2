//! The window, driven through its accessibility tree (egui_kittest) against the local cluster:
//! what an operator sees and clicks.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use hybrid_console::cluster::connection::ConnectionTarget;
use hybrid_console::live::embedded::EmbeddedOptions;
use hybrid_console::model::tour::{TourProgress, TourStep};
use hybrid_console::protocol::EmbeddedAwsState;
use hybrid_console::ui::{ConsoleApp, Persisted};
use support::TestCluster;

/// What a node says: AccessKit keeps a `Label`'s text in its value, other widgets' in the label.
fn text_of(node: &egui_kittest::Node<'_>) -> String {
    let node = node.accesskit_node();
    node.label().or_else(|| node.value()).unwrap_or_default()
}

fn open(cluster: &TestCluster, kubeconfig: std::path::PathBuf) -> Harness<'static, ConsoleApp> {
    let _ = cluster;
    open_with_plan(
        kubeconfig,
        hybrid_console::migration::plan_file::load(None).unwrap(),
    )
}

fn open_with_plan(
    kubeconfig: std::path::PathBuf,
    plan: hybrid_console::model::migration_plan::MigrationPlan,
) -> Harness<'static, ConsoleApp> {
    open_as_left(kubeconfig, plan, Persisted::default())
}

/// The window as a start with `persisted` (what the last one kept) opens it.
fn open_as_left(
    kubeconfig: std::path::PathBuf,
    plan: hybrid_console::model::migration_plan::MigrationPlan,
    persisted: Persisted,
) -> Harness<'static, ConsoleApp> {
    let app = ConsoleApp::new(
        || {},
        ConnectionTarget::Kubeconfig {
            path: Some(kubeconfig.clone()),
            context: None,
        },
        Some(kubeconfig),
        std::sync::Arc::new(plan),
        persisted,
        false,
        EmbeddedOptions::default(),
    );
    Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .build_ui_state(|ui, app: &mut ConsoleApp| app.ui(ui), app)
}

/// Steps the window (as its repaint timer would) until `found` sees what it looks for.
fn step_until(
    harness: &mut Harness<'_, ConsoleApp>,
    timeout: Duration,
    what: &str,
    found: impl Fn(&Harness<'_, ConsoleApp>) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        harness.step();
        if found(harness) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status {:?}; the console's last actions: {:#?}",
            harness.state().state.status,
            harness
                .state()
                .state
                .log
                .console
                .iter()
                .rev()
                .take(8)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_board_shows_both_lanes_with_their_nodes_and_the_monolith_chips() {
    let cluster = TestCluster::start(true);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    let windows = cluster.nodes_of("windows");
    let linux = cluster.nodes_of("linux");
    step_until(&mut harness, Duration::from_secs(30), "the nodes", |h| {
        windows
            .iter()
            .chain(&linux)
            .all(|n| h.query_by_label(n).is_some())
    });
    harness.get_by_label("Windows");
    harness.get_by_label("Linux");
    // Each node tile sits in its OS's lane: the lanes are columns, headed by their OS.
    let in_lane = |lane: egui::Rect, tile: egui::Rect| {
        tile.left() >= lane.left()
            && tile.right() <= lane.right() + 0.5
            && tile.top() >= lane.bottom()
    };
    let windows_lane = harness.get_by_label("Windows").rect();
    let linux_lane = harness.get_by_label("Linux").rect();
    for node in &windows {
        let tile = harness.get_by_label(node).rect();
        assert!(
            in_lane(windows_lane, tile),
            "{node} {tile:?} not in {windows_lane:?}"
        );
        assert!(!in_lane(linux_lane, tile));
    }
    for node in &linux {
        let tile = harness.get_by_label(node).rect();
        assert!(
            in_lane(linux_lane, tile),
            "{node} {tile:?} not in {linux_lane:?}"
        );
        assert!(!in_lane(windows_lane, tile));
    }
    // The monolith pods, and the four operations each still serves in-process, as chips.
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "monolith chips",
        |h| {
            h.query_all_by_label_contains("(in-process in monolith-")
                .count()
                == 10
        },
    );
    let pods: Vec<String> = harness
        .query_all_by_label_contains("pod monolith-")
        .map(|n| text_of(&n))
        .collect();
    assert_eq!(pods.len(), 2, "{pods:?}");
    for op in ["sum", "subtraction", "multiplication", "division", "ui"] {
        assert_eq!(
            harness
                .query_all_by_label_contains(&format!("{op} (in-process in monolith-"))
                .count(),
            2
        );
    }
    // Not the embedded cluster: the tour waits for the top bar's button.
    assert!(harness.query_by_label_contains("Step 1 of 8").is_none());
    harness.get_by_label("Tour").click();
    harness.run_steps(2);
    tour_at(
        &mut harness,
        "Step 1 of 8: A hybrid cluster: two lanes",
        "Done: 2 Windows and 2 Linux nodes on the board",
    );
}

#[test]
fn the_calculator_panel_shows_the_four_results_after_calculate() {
    let cluster = TestCluster::start(true);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(&mut harness, Duration::from_secs(30), "a live board", |h| {
        h.query_all_by_label_contains("Live · ").next().is_some()
    });
    // Type 12 and 4 into the two number fields, as a user would.
    for (field, value) in [("First Number", "12"), ("Second Number", "4")] {
        let node = harness.get_by_label(field);
        node.focus();
        harness.step();
        harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        harness.step();
        harness.get_by_label(field).type_text(value);
        harness.step();
    }
    harness.get_by_label("Calculate").click();
    step_until(&mut harness, Duration::from_secs(20), "the results", |h| {
        h.query_by_label("division").is_some() && h.query_by_label("48").is_some()
    });
    for (operation, total) in [
        ("sum", "16"),
        ("subtraction", "8"),
        ("multiplication", "48"),
        ("division", "3"),
    ] {
        harness.get_by_label(operation);
        harness.get_by_label(total);
    }
    // Who answered: a monolith pod on a Windows node.
    let windows = cluster.nodes_of("windows");
    let served: Vec<String> = harness
        .query_all_by_label_contains(" node ip-")
        .map(|n| text_of(&n))
        .collect();
    assert!(served.len() >= 4, "{served:?}");
    for line in &served {
        assert!(line.to_lowercase().starts_with("windows node "), "{line}");
        assert!(windows.iter().any(|w| line.ends_with(w.as_str())), "{line}");
    }
    assert!(harness.query_all_by_label_contains("monolith-").count() >= 4);
}

#[test]
fn the_connection_view_lists_the_contexts_and_switches_between_them() {
    let cluster = TestCluster::start(false);
    // A kubeconfig with the local cluster and a second context whose server is not there.
    let text = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let mut config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut staging_cluster = config["clusters"][0].clone();
    staging_cluster["name"] = "staging".into();
    staging_cluster["cluster"]["server"] = "https://127.0.0.1:9".into();
    config["clusters"]
        .as_sequence_mut()
        .unwrap()
        .push(staging_cluster);
    let mut staging_context = config["contexts"][0].clone();
    staging_context["name"] = "staging".into();
    staging_context["context"]["cluster"] = "staging".into();
    config["contexts"]
        .as_sequence_mut()
        .unwrap()
        .push(staging_context);
    let two = cluster.path("two-contexts");
    std::fs::write(&two, serde_yaml::to_string(&config).unwrap()).unwrap();

    let mut harness = open(&cluster, two);
    step_until(&mut harness, Duration::from_secs(30), "the contexts", |h| {
        h.query_by_label("local-hybrid (current)").is_some()
            && h.query_by_label("staging").is_some()
    });
    harness.get_by_label("Local hybrid cluster");
    step_until(&mut harness, Duration::from_secs(30), "live", |h| {
        h.query_all_by_label_contains("Live · ").next().is_some()
    });

    // Switch to the context whose server is down: the failure is shown, with the address.
    harness.get_by_label("staging").click();
    step_until(&mut harness, Duration::from_secs(30), "the failure", |h| {
        h.query_all_by_label_contains("127.0.0.1:9")
            .next()
            .is_some()
            && h.query_all_by_label_contains("cannot connect to")
                .next()
                .is_some()
    });
    // And back, without restarting.
    harness.get_by_label("local-hybrid (current)").click();
    let node = cluster.nodes_of("linux").remove(0);
    step_until(&mut harness, Duration::from_secs(30), "live again", |h| {
        h.query_all_by_label_contains("Live · ").next().is_some()
            && h.query_by_label(&node).is_some()
    });
}

#[test]
fn clicking_a_pod_opens_its_containers_events_and_log_and_the_events_panel_fills() {
    let cluster = TestCluster::start(true);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "a monolith pod",
        |h| {
            h.query_all_by_label_contains("pod monolith-")
                .next()
                .is_some()
        },
    );
    // The namespace's Events arrive in the bottom panel: the scheduler placed the monolith.
    step_until(&mut harness, Duration::from_secs(20), "events", |h| {
        h.query_all_by_label("Scheduled").next().is_some()
    });
    let pod = harness
        .query_all_by_label_contains("pod monolith-")
        .next()
        .map(|n| text_of(&n))
        .unwrap();
    let name = pod.trim_start_matches("pod ").to_owned();
    harness.get_by_label(&pod).click();
    // The log's tail is the container's real output: calc-services says where it listens.
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the pod's details",
        |h| {
            h.query_all_by_label_contains("container calculator")
                .next()
                .is_some()
                && h.query_all_by_label_contains("node ip-").next().is_some()
                && h.query_by_label("Last 40 lines, followed live")
                    .and_then(|log| log.value())
                    .is_some_and(|text| text.contains("listening"))
        },
    );
    harness.get_by_label(&format!("Pod {name}"));
    harness.get_by_label_contains("image ghcr.io/hybrid-console/calculator:");
    // The downward-API variables, shown as where they come from.
    harness.get_by_label("POD_NAME");
    harness.get_by_label("(field metadata.name)");
    // The pod's own events, in its panel.
    assert!(
        harness
            .query_all_by_label_contains("Successfully assigned calculator/")
            .any(|n| text_of(&n).contains(&name))
    );
}

#[test]
fn the_probe_calls_the_calculator_continuously_until_switched_off() {
    let cluster = TestCluster::start(true);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(&mut harness, Duration::from_secs(30), "a live board", |h| {
        h.query_all_by_label_contains("Live · ").next().is_some()
    });
    harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "Probe")
        .click();
    let calls = |h: &Harness<'_, ConsoleApp>| -> Option<(usize, usize)> {
        let line = h
            .query_all_by_label_contains(" calls, ")
            .next()
            .map(|n| text_of(&n))?;
        let mut words = line.split_whitespace();
        let calls = words.next()?.parse().ok()?;
        let failed = words.nth(1)?.parse().ok()?;
        Some((calls, failed))
    };
    // Five a second by default: ten calls take about two seconds.
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "ten probe calls",
        |h| calls(h).is_some_and(|(n, _)| n >= 10),
    );
    assert_eq!(calls(&harness).unwrap().1, 0, "no call failed");
    harness.get_by_label("latency");

    harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "Probe")
        .click();
    harness.step();
    std::thread::sleep(Duration::from_millis(300));
    harness.step();
    let stopped = calls(&harness).unwrap().0;
    std::thread::sleep(Duration::from_secs(1));
    harness.step();
    assert_eq!(
        calls(&harness).unwrap().0,
        stopped,
        "calls after the probe was switched off"
    );
}

/// Drags the chip labelled `chip` to a point in the lane headed `lane`, below its header, the
/// way a mouse would: press, move in steps, release.
fn drag_chip_to_lane(harness: &mut Harness<'_, ConsoleApp>, chip: &str, lane: &str) {
    let from = harness
        .get_all_by_label_contains(chip)
        .next()
        .unwrap()
        .rect()
        .center();
    let header = harness.get_by_label(lane).rect();
    let to = egui::pos2(header.center().x, header.bottom() + 420.0);
    harness.hover_at(from);
    harness.step();
    harness.drag_at(from);
    harness.step();
    for i in 1..=8 {
        let t = i as f32 / 8.0;
        harness.hover_at(from + (to - from) * t);
        harness.step();
    }
    harness.drop_at(to);
    harness.step();
    harness.step();
}

/// Waits for the plan dialog, presses Move, and waits for the move to finish.
fn confirm_and_finish(harness: &mut Harness<'_, ConsoleApp>, title: &str) {
    step_until(harness, Duration::from_secs(20), "the plan dialog", |h| {
        h.query_by_label(title).is_some()
            && h.query_all_by_label_contains("all allowed")
                .next()
                .is_some()
    });
    // A modal is measured on its first frame and placed on the next: click where it is shown.
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Move")
        .click();
    step_until(
        harness,
        Duration::from_secs(60),
        "the move to finish",
        |h| {
            h.query_by_label("Move completed").is_some()
                || h.query_all_by_label_contains("Move rolled back")
                    .next()
                    .is_some()
        },
    );
    assert!(
        harness.query_by_label("Move completed").is_some(),
        "{:?}",
        harness.state().state.moves.progress
    );
    // Every step is there for a screen reader, with its outcome.
    for step in ["Deploy: done", "Re-route: done", "Verify end to end: done"] {
        if title.contains("out of") || !step.starts_with("Deploy") {
            assert!(
                harness.query_all_by_label_contains(step).next().is_some(),
                "{step}"
            );
        }
    }
    harness.get_by_label("Close").click();
    harness.step();
}

#[test]
fn dragging_the_sum_chip_to_the_linux_lane_moves_sum_onto_linux() {
    let cluster = TestCluster::start(true);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(&mut harness, Duration::from_secs(30), "the chips", |h| {
        h.query_all_by_label_contains("sum (in-process in monolith-")
            .count()
            == 2
    });
    // Dropped on the Windows lane, it goes nowhere: services move to Linux.
    drag_chip_to_lane(&mut harness, "sum (in-process in monolith-", "Windows");
    harness.run_steps(5);
    assert!(
        harness.state().state.moves.planning.is_none()
            && harness.state().state.moves.planned.is_none()
    );

    drag_chip_to_lane(&mut harness, "sum (in-process in monolith-", "Linux");
    confirm_and_finish(&mut harness, "Move sum out of the monolith, onto Linux");
    // The board: sum is its own pods on Linux nodes; the monolith no longer holds it.
    let linux = cluster.nodes_of("linux");
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the new board",
        |h| {
            h.query_all_by_label_contains("sum (in-process in monolith-")
                .next()
                .is_none()
                && h.query_all_by_label_contains("sum (moved out, served by sum-service-")
                    .count()
                    == 2
        },
    );
    let linux_lane = harness.get_by_label("Linux").rect();
    for chip in harness.query_all_by_label_contains("sum (moved out, served by sum-service-") {
        let rect = chip.rect();
        assert!(rect.left() >= linux_lane.left() && rect.right() <= linux_lane.right() + 0.5);
    }
    let pods = cluster.kubectl().ok(&[
        "get",
        "pods",
        "-n",
        "calculator",
        "-l",
        "app.kubernetes.io/component=sum",
        "-o",
        "jsonpath={.items[*].spec.nodeName}",
    ]);
    assert!(
        pods.split_whitespace()
            .all(|n| linux.iter().any(|l| l == n)),
        "{pods}"
    );
}

#[test]
fn dragging_the_sum_chip_back_onto_the_monolith_returns_it() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let out = cluster.console(&[
        "--kubeconfig",
        &kubeconfig,
        "migrate",
        "sum",
        "--to",
        "linux",
        "--yes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "sum's own chips",
        |h| {
            h.query_all_by_label_contains("sum (moved out, served by sum-service-")
                .count()
                == 2
        },
    );
    drag_chip_to_lane(
        &mut harness,
        "sum (moved out, served by sum-service-",
        "Windows",
    );
    confirm_and_finish(&mut harness, "Move sum back into the monolith");
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "sum back in the monolith",
        |h| {
            h.query_all_by_label_contains("sum (moved out")
                .next()
                .is_none()
                && h.query_all_by_label_contains("sum (in-process in monolith-")
                    .count()
                    == 2
        },
    );
    assert_eq!(
        cluster.kubectl().ok(&[
            "get",
            "deployments",
            "-n",
            "calculator",
            "-o",
            "jsonpath={.items[*].metadata.name}"
        ]),
        "monolith"
    );
}

#[test]
fn a_chip_opens_its_move_without_a_mouse_drag_and_a_cancelled_plan_changes_nothing() {
    let cluster = TestCluster::start(true);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(&mut harness, Duration::from_secs(30), "the chips", |h| {
        h.query_all_by_label_contains("division (in-process in monolith-")
            .next()
            .is_some()
    });
    // From the keyboard: the chip takes focus, Enter plans the move; the dialog is answered
    // the way a screen reader activates a button.
    harness
        .get_all_by_label_contains("division (in-process in monolith-")
        .next()
        .unwrap()
        .focus();
    harness.step();
    harness.key_press(egui::Key::Enter);
    step_until(&mut harness, Duration::from_secs(20), "the plan", |h| {
        h.query_by_label("Move division out of the monolith, onto Linux")
            .is_some()
    });
    harness.get_by_label_contains("set DIVISION_SERVICE_URL=http://division-service:3000");
    harness.get_by_label("Cancel").click_accesskit();
    step_until(
        &mut harness,
        Duration::from_secs(5),
        "the dialog to close",
        |h| h.state().state.moves.planned.is_none(),
    );
    assert_eq!(
        cluster.kubectl().ok(&[
            "get",
            "deployments",
            "-n",
            "calculator",
            "-o",
            "jsonpath={.items[*].metadata.name}"
        ]),
        "monolith"
    );
}

#[test]
fn a_move_left_by_a_stopped_console_is_shown_and_rolled_back_from_the_window() {
    let cluster = TestCluster::start(true);
    // A console starts moving subtraction and is killed half-way.
    let mut child = cluster.move_in_background(&["subtraction", "--to", "linux", "--yes"]);
    child.kill().unwrap();
    child.wait().unwrap();
    // A new window shows the move the monolith records, and rolls it back on request.
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the recorded move",
        |h| {
            h.query_all_by_label_contains("moving subtraction out of the monolith: step")
                .next()
                .is_some()
        },
    );
    harness.run_steps(2);
    harness.get_by_label("Roll it back").click();
    step_until(&mut harness, Duration::from_secs(60), "the rollback", |h| {
        h.query_all_by_label_contains("Move rolled back")
            .next()
            .is_some()
    });
    harness.get_by_label_contains("Remove created objects: done");
    assert_eq!(
        cluster.kubectl().ok(&[
            "get",
            "deployments",
            "-n",
            "calculator",
            "-o",
            "jsonpath={.items[*].metadata.name}"
        ]),
        "monolith"
    );
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the record gone",
        |h| {
            h.state()
                .state
                .snapshot
                .topology
                .as_ref()
                .is_some_and(|t| t.moving.is_none())
        },
    );
}

#[test]
fn once_the_monolith_serves_nothing_the_window_retires_it_in_two_confirmed_stages() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    for service in ["sum", "subtraction", "multiplication", "division", "ui"] {
        let out = cluster.console(&[
            "--kubeconfig",
            &kubeconfig,
            "migrate",
            service,
            "--to",
            "linux",
            "--yes",
        ]);
        assert!(
            out.status.success(),
            "{service}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the offer to retire",
        |h| h.query_by_label("Scale it to zero…").is_some(),
    );
    harness.get_by_label_contains("serves nothing any more");
    harness.get_by_label("Scale it to zero…").click();
    step_until(
        &mut harness,
        Duration::from_secs(5),
        "the confirmation",
        |h| {
            h.query_all_by_label_contains(
                "Scale the monolith calculator/monolith to zero replicas?",
            )
            .next()
            .is_some()
        },
    );
    harness.get_by_label("Yes").click_accesskit();
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the monolith at zero",
        |h| {
            h.query_all_by_label_contains("scaled the monolith calculator/monolith to zero")
                .next()
                .is_some()
        },
    );
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "Delete enabled",
        |h| {
            h.query_by_label("Delete it…")
                .is_some_and(|n| !n.accesskit_node().is_disabled())
        },
    );
    harness.get_by_label("Delete it…").click();
    harness.run_steps(2);
    harness.get_by_label("Yes").click_accesskit();
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the monolith gone",
        |h| {
            h.state()
                .state
                .snapshot
                .topology
                .as_ref()
                .is_some_and(|t| t.monolith.is_none())
        },
    );
    assert_eq!(
        cluster.kubectl().ok(&[
            "get",
            "deployments",
            "-n",
            "calculator",
            "-o",
            "jsonpath={.items[*].metadata.name}"
        ]),
        "division-service multiplication-service subtraction-service sum-service ui-service"
    );
}

/// The EKS view lists moto's clusters with each node group's OS and scaling. The AWS SDK reads
/// its endpoint and credentials from the environment, so the test runs itself again in a child
/// process with that environment (a test may not change its own process's environment).
#[test]
fn the_eks_view_lists_clusters_with_their_node_groups_os_and_scaling() {
    const NAME: &str = "the_eks_view_lists_clusters_with_their_node_groups_os_and_scaling";
    if std::env::var_os("HYBRID_CONSOLE_TEST_CHILD").is_none() {
        let moto = support::moto::Moto::start();
        moto.hybrid_cluster("us-west-2", "hybrid");
        // No AWS_REGION: the view's own Region field must be what picks the region.
        support::moto::run_again(
            NAME,
            &[
                ("HYBRID_CONSOLE_TEST_CHILD", "1"),
                ("AWS_ENDPOINT_URL", moto.url.as_str()),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ],
            &["AWS_PROFILE", "AWS_REGION"],
        );
        return;
    }
    let cluster = TestCluster::start(false);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    harness.get_by_label("Region").focus();
    harness.step();
    harness.get_by_label("Region").type_text("us-west-2");
    harness.step();
    harness.get_by_label("List clusters").click();
    step_until(&mut harness, Duration::from_secs(30), "the clusters", |h| {
        h.query_by_label("hybrid · ACTIVE").is_some()
    });
    harness.get_by_label_contains("Kubernetes 1.33");
    harness.get_by_label("windows · Windows · 2 nodes (0–4)");
    harness.get_by_label("linux · Linux · 2 nodes (0–4)");
}

#[test]
fn the_readiness_window_shows_each_finding_with_its_evidence_and_fix() {
    let cluster = TestCluster::start(false);
    let windows = cluster.nodes_of("windows");
    cluster
        .kubectl()
        .ok(&["taint", "nodes", &windows[0], "os=windows:NoSchedule-"]);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the live board",
        |h| h.state().state.snapshot.nodes().count() == 4,
    );
    harness.get_by_label("Readiness").click();
    step_until(&mut harness, Duration::from_secs(30), "the findings", |h| {
        h.query_by_label_contains("7 passed · 1 warning(s) · 0 failed · 1 skipped")
            .is_some()
    });
    harness.get_by_label("Windows nodes keep Linux pods off");
    harness.get_by_label_contains("1 of 2 Windows nodes lack the os=windows:NoSchedule taint");
    harness.get_by_label(&format!("{}: no os=windows:NoSchedule taint", windows[0]));
    harness.get_by_label_contains(&format!(
        "kubectl taint nodes {} os=windows:NoSchedule",
        windows[0]
    ));
    harness.get_by_label_contains("no EKS API for this cluster");
    // Put the taint back, check again: nothing left to warn about.
    cluster
        .kubectl()
        .ok(&["taint", "nodes", &windows[0], "os=windows:NoSchedule"]);
    harness.get_by_label("Check").click();
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the second check",
        |h| {
            h.query_by_label_contains("8 passed · 0 warning(s) · 0 failed · 1 skipped")
                .is_some()
        },
    );
}

/// In the open retire dialog of node group `windows`: types its name, as the dialog asks, and
/// presses *Scale to 0*.
fn scale_windows_group_to_zero(harness: &mut Harness<'_, ConsoleApp>) {
    harness.get_by_label("Type windows to confirm").focus();
    harness.step();
    harness
        .get_by_label("Type windows to confirm")
        .type_text("windows");
    harness.step();
    harness.get_by_label("Scale to 0").click();
}

#[test]
fn the_eks_view_offers_to_retire_the_windows_group_once_no_workload_runs_there() {
    const NAME: &str =
        "the_eks_view_offers_to_retire_the_windows_group_once_no_workload_runs_there";
    let Some(moto_url) = support::moto::in_aws_env(NAME, "us-west-2", |moto| {
        moto.hybrid_cluster("us-west-2", "hybrid");
        // What Cost Explorer says the groups cost: the Windows group $6.00 on its last day.
        let day = |day: &str, group: &str, amount: &str| {
            serde_json::json!({"TimePeriod": {"Start": day, "End": day}, "Total": {}, "Estimated": false,
                "Groups": [{"Keys": [format!("eks:nodegroup-name${group}")],
                    "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}]})
        };
        moto.queue_cost_results(&serde_json::json!([{
            "ResultsByTime": [day("2026-12-05", "windows", "5.00"), day("2026-12-06", "windows", "6.00")],
            "DimensionValueAttributes": [],
        }]));
    }) else {
        return;
    };
    let cluster = TestCluster::start_following("hybrid", &moto_url, true);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the live board",
        |h| h.state().state.snapshot.nodes().count() == 4,
    );
    harness.get_by_label("List clusters").click();
    step_until(&mut harness, Duration::from_secs(30), "the clusters", |h| {
        h.query_by_label("windows · Windows · 2 nodes (0–4)")
            .is_some()
    });
    // The monolith still runs on Windows: no offer, the count instead.
    harness.get_by_label("2 workload pod(s) on its nodes");
    assert!(harness.query_by_label("Scale to 0…").is_none());
    cluster.kubectl().ok(&[
        "-n",
        "calculator",
        "scale",
        "deployment",
        "monolith",
        "--replicas=0",
    ]);
    step_until(&mut harness, Duration::from_secs(30), "the offer", |h| {
        h.query_by_label("Scale to 0…").is_some()
    });
    harness.get_by_label("no workload pods on its nodes any more");
    // The tour's node-group step offers the same dialog for the group the EKS view listed.
    harness.state_mut().tour.progress = TourProgress {
        step: TourStep::WindowsGroup,
        open: true,
    };
    tour_at(
        &mut harness,
        "Step 7 of 8: Scale the Windows node group to zero",
        "Now: 2 Windows nodes: scale their node group to zero",
    );
    tour_button(&mut harness, "Scale hybrid/windows to zero…");
    step_until(&mut harness, Duration::from_secs(30), "the survey", |h| {
        h.query_by_label_contains("Its nodes are cordoned and drained")
            .is_some()
    });
    harness.get_by_label("cluster hybrid · node group windows");
    // What retiring it saves: Cost Explorer's run rate ($6.00 × 730/24), the licence share
    // from the price file's Windows − Linux difference, and how it was computed.
    step_until(&mut harness, Duration::from_secs(30), "the saving", |h| {
        h.query_by_label(
            "Retiring this group saves about $183 a month (of which about $45 Windows licences).",
        )
        .is_some()
    });
    harness.get_by_label_contains("Cost Explorer: $11 over 2 day(s) by tag eks:nodegroup-name");
    // The button waits for the group's name.
    let scale = harness.get_by_label("Scale to 0");
    assert!(scale.accesskit_node().is_disabled());
    scale_windows_group_to_zero(&mut harness);
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the group at zero",
        |h| {
            h.query_all_by_label_contains(
                "EKS is scaling node group windows of cluster hybrid to 0 nodes",
            )
            .next()
            .is_some()
                && h.query_by_label("windows · Windows · 0 nodes (0–4)")
                    .is_some()
        },
    );
    // The Windows lane empties as the local cluster follows EKS, and the tour says so.
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "an empty Windows lane",
        |h| {
            h.state()
                .state
                .snapshot
                .nodes()
                .all(|n| n.group != "windows")
        },
    );
    tour_at(
        &mut harness,
        "Step 7 of 8: Scale the Windows node group to zero",
        "Done: no Windows node is left: the lane is empty",
    );
}

#[test]
fn the_add_node_group_dialog_shows_the_findings_before_it_adds() {
    const NAME: &str = "the_add_node_group_dialog_shows_the_findings_before_it_adds";
    let Some(moto_url) = support::moto::in_aws_env(NAME, "us-west-2", |moto| {
        moto.hybrid_cluster("us-west-2", "hybrid");
    }) else {
        return;
    };
    let cluster = TestCluster::start_following("hybrid", &moto_url, false);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the live board",
        |h| h.state().state.snapshot.nodes().count() == 4,
    );
    harness.get_by_label("List clusters").click();
    step_until(&mut harness, Duration::from_secs(30), "the clusters", |h| {
        h.query_by_label("Add node group…").is_some()
    });
    harness.get_by_label("Add node group…").click();
    step_until(&mut harness, Duration::from_secs(5), "the dialog", |h| {
        h.query_by_label("eksctl file").is_some()
    });
    // The project's eksctl file: its Windows group exists already, which the review says.
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../manifests/cluster/hybrid-cluster.yaml"
    );
    // The field holds the path relative to the repository; the test runs elsewhere.
    harness
        .get_by_label("eksctl file")
        .set_text_value_accesskit(file);
    harness.step();
    harness.get_by_label("Review").click();
    step_until(&mut harness, Duration::from_secs(30), "the review", |h| {
        h.query_by_label_contains("already has a node group named windows")
            .is_some()
    });
    harness.get_by_label("A check failed: fix it, then review again.");
    assert!(
        harness
            .get_by_label("Add windows to hybrid")
            .accesskit_node()
            .is_disabled()
    );
    // Field by field: a Windows Server 2022 group on t3.large, tainted; every finding passes.
    harness.get_by_label("Field by field").click();
    harness.step();
    let name = harness.get_by_label("Name");
    name.focus();
    harness.step();
    harness.get_by_label("Name").type_text("-2022");
    harness.get_by_label("Node role ARN").focus();
    harness.step();
    harness
        .get_by_label("Node role ARN")
        .type_text("arn:aws:iam::123456789012:role/node");
    harness.step();
    // A taint of the operator's own: the review judges by it, and the new group carries it,
    // as `eks add-nodegroup --windows-taint` does on the command line.
    harness
        .get_by_label("Windows taint")
        .set_text_value_accesskit("dedicated=windows:NoSchedule");
    harness.step();
    harness.get_by_label("Review").click();
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the second review",
        |h| h.query_by_label("Add windows-2022 to hybrid").is_some(),
    );
    harness.get_by_label_contains("the nodes will be tainted dedicated=windows:NoSchedule");
    // The pods a node will hold, from EC2's facts of the type (moto's DescribeInstanceTypes).
    harness.get_by_label("WINDOWS_CORE_2022_x86_64 on t3.large (11 Windows pods a node)");
    assert!(
        harness
            .query_by_label_contains("the nodes will be tainted os=windows:NoSchedule")
            .is_none()
    );
    harness.get_by_label("Add windows-2022 to hybrid").click();
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the new group",
        |h| {
            h.query_by_label("windows-2022 · Windows · 2 nodes (0–3)")
                .is_some()
        },
    );
    // Its nodes join the board's Windows lane.
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the new nodes",
        |h| {
            h.state()
                .state
                .snapshot
                .nodes()
                .filter(|n| n.group == "windows-2022")
                .count()
                == 2
        },
    );
}

/// A background task that dies (a panic) is reported to the window as `TaskFailed`: whatever
/// waited on it stops waiting and says why, and the operator can ask again. A backend that is
/// gone says so above the board and leaves nothing waiting either.
#[test]
fn a_task_that_dies_leaves_no_window_waiting() {
    use hybrid_console::protocol::{Event, Task};
    let cluster = TestCluster::start(false);
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the live board",
        |h| h.state().state.snapshot.nodes().count() == 4,
    );
    // A readiness check is in flight in the window (its window open, the spinner on) when its
    // task dies before answering.
    harness.state_mut().readiness.open = true;
    harness.state_mut().state.readiness.running = true;
    harness.step();
    harness.state_mut().apply_event(Event::TaskFailed {
        task: Task::Readiness,
        why: "checking readiness stopped unexpectedly: the check fell over".into(),
    });
    harness.step();
    assert!(!harness.state().state.readiness.running);
    // Said in the readiness window (and in the log below).
    assert!(
        harness
            .query_all_by_label("checking readiness stopped unexpectedly: the check fell over")
            .count()
            >= 2
    );
    assert!(
        !harness.get_by_label("Check").accesskit_node().is_disabled(),
        "the check can be asked again"
    );
    // Its next action asks again, and a real check answers.
    harness.get_by_label("Try again").click();
    step_until(&mut harness, Duration::from_secs(30), "a report", |h| {
        matches!(h.state().state.readiness.report, Some(Ok(_)))
    });
    // A calculation waits when the backend goes away: the window stops waiting and says why.
    harness.state_mut().state.calculator.waiting = true;
    harness.state_mut().apply_event(Event::BackendStopped {
        why: "the console's background side has stopped: restart the console".into(),
    });
    harness.step();
    assert!(!harness.state().state.calculator.waiting);
    // Said above the board (and in the log below).
    assert!(
        harness
            .query_all_by_label("the console's background side has stopped: restart the console")
            .count()
            >= 2
    );
}

/// Waits for both sum chips, switches the calculator's probe on if asked (traffic for the
/// steps to judge), drags sum onto Linux and ticks the plan dialog's Progressive box, which
/// plans the move again.
fn plan_sum_progressively(harness: &mut Harness<'_, ConsoleApp>, probe: bool) {
    step_until(harness, Duration::from_secs(30), "the chips", |h| {
        h.query_all_by_label_contains("sum (in-process in monolith-")
            .count()
            == 2
    });
    if probe {
        harness
            .get_by_role_and_label(egui::accesskit::Role::CheckBox, "Probe")
            .click();
    }
    drag_chip_to_lane(harness, "sum (in-process in monolith-", "Linux");
    step_until(harness, Duration::from_secs(20), "the plan dialog", |h| {
        h.query_all_by_label_contains("all allowed")
            .next()
            .is_some()
    });
    harness.run_steps(2);
    harness
        .get_by_role_and_label(
            egui::accesskit::Role::CheckBox,
            "Progressive: shadow, then shares of the traffic, each proven by the pods' numbers",
        )
        .click();
}

#[test]
fn a_progressive_move_is_chosen_watched_and_promoted_through_the_window() {
    let cluster = TestCluster::start(true);
    // The shipped plan with a short shadow and holds longer than the test: only Promote ends
    // a canary step here.
    let plan = support::plan_copy(&cluster.path("plan"), |plan| {
        plan.replacen("shadowRequests: 200", "shadowRequests: 15", 1)
            .replacen("holdSeconds: 30", "holdSeconds: 600", 1)
            .replacen("settleSeconds: 10", "settleSeconds: 1", 1)
    });
    let plan = hybrid_console::migration::plan_file::load(Some(&plan)).unwrap();
    let mut harness = open_with_plan(cluster.kubeconfig.clone(), plan);
    plan_sum_progressively(&mut harness, true);
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the progressive plan",
        |h| {
            h.query_all_by_label_contains("5. Canary 10 %")
                .next()
                .is_some()
                && h.query_all_by_label_contains("all allowed")
                    .next()
                    .is_some()
        },
    );
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Move")
        .click();
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the shadow step passed",
        |h| {
            h.query_all_by_label_contains("Shadow and compare: done")
                .next()
                .is_some()
        },
    );
    for share in [10, 50] {
        step_until(
            &mut harness,
            Duration::from_secs(30),
            "the canary's charts",
            |h| {
                h.query_all_by_label_contains(&format!("Canary {share} %: answers a second"))
                    .next()
                    .is_some()
                    && h.query_all_by_label_contains("The service answered ")
                        .next()
                        .is_some()
            },
        );
        // The board marks the service in transit with its share, on both sides.
        step_until(
            &mut harness,
            Duration::from_secs(10),
            "the chips' share",
            |h| {
                h.query_all_by_label_contains(&format!("sum {share} % (in-process in monolith-"))
                    .next()
                    .is_some()
                    && h.query_all_by_label_contains(&format!(
                        "sum {share} % (moved out, served by sum-service-"
                    ))
                    .next()
                    .is_some()
            },
        );
        harness.get_by_label("Promote now").click();
        step_until(
            &mut harness,
            Duration::from_secs(20),
            "the step promoted",
            |h| {
                h.query_all_by_label_contains(&format!("Canary {share} %: done"))
                    .next()
                    .is_some()
            },
        );
    }
    step_until(
        &mut harness,
        Duration::from_secs(90),
        "the move to finish",
        |h| {
            h.query_by_label("Move completed").is_some()
                || h.query_all_by_label_contains("Move rolled back")
                    .next()
                    .is_some()
        },
    );
    assert!(
        harness.query_by_label("Move completed").is_some(),
        "{:?}",
        harness.state().state.moves.progress
    );
    assert!(
        harness
            .query_all_by_label_contains("promoted by the operator")
            .next()
            .is_some()
    );
}

#[test]
fn the_plan_dialog_shares_at_the_edge_and_says_when_the_gateway_cannot_mirror() {
    let cluster = TestCluster::start(true);
    support::install_edge(&cluster, "local-cluster");
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    plan_sum_progressively(&mut harness, false);
    step_until(&mut harness, Duration::from_secs(20), "inside", |h| {
        h.query_all_by_label_contains("Inside the monolith, by its routing file")
            .next()
            .is_some()
    });
    // The plan has both a routing file and the service's edge route: both ways are offered.
    harness.run_steps(2);
    let edge = "at the edge (the service's HTTPRoute rule)";
    harness
        .get_by_role_and_label(egui::accesskit::Role::RadioButton, edge)
        .click();
    step_until(&mut harness, Duration::from_secs(20), "at the edge", |h| {
        h.query_all_by_label_contains("At the edge, by the weights of HTTPRoute calculator rule 0")
            .next()
            .is_some()
    });
    // The local cluster's gateways mirror: a shadow step, no note.
    harness.get_by_label_contains("4. Shadow and compare");
    assert!(
        harness
            .query_all_by_label_contains("Note:")
            .next()
            .is_none()
    );

    // Behind a class that lists its features without mirroring, the dialog says so and the
    // plan starts with the first share.
    support::gateway_class_without_mirror(&cluster);
    harness
        .get_by_role_and_label(
            egui::accesskit::Role::RadioButton,
            "inside the monolith (its routing file)",
        )
        .click();
    step_until(&mut harness, Duration::from_secs(20), "inside again", |h| {
        h.query_all_by_label_contains("Inside the monolith, by its routing file")
            .next()
            .is_some()
    });
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::RadioButton, edge)
        .click();
    step_until(&mut harness, Duration::from_secs(20), "the note", |h| {
        h.query_all_by_label_contains("Note: GatewayClass alb does not list HTTPRouteRequestMirror")
            .next()
            .is_some()
    });
    harness.get_by_label_contains("4. Canary 10 %");
    assert!(
        harness
            .query_all_by_label_contains("Shadow and compare")
            .next()
            .is_none()
    );
    harness.get_by_label("Cancel").click_accesskit();
    step_until(
        &mut harness,
        Duration::from_secs(5),
        "the dialog to close",
        |h| h.state().state.moves.planned.is_none(),
    );
}

#[test]
fn shadow_mismatches_are_shown_in_full_while_the_step_runs() {
    let cluster = TestCluster::start(true);
    // A drifting build of sum, and a plan that allows a few mismatches (so the shadow step
    // runs on with them) and whose own checks do not think of binary fractions.
    let dir = cluster.path("plan");
    let plan = support::plan_copy(&dir, |plan| {
        plan.replacen("images: kustomization.yaml", "", 1)
            .replacen("maxMismatches: 0", "maxMismatches: 1000", 1)
            .replacen("shadowRequests: 200", "shadowRequests: 100000", 1)
            .replacen(
                "      - path: /sum/0.1/0.2\n        expect: {/total: 0.3}\n",
                "",
                1,
            )
    });
    let manifest = dir.join("calculator/services/sum-service.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("calculator:0.1.0", "calculator:0.1.0-float"),
    )
    .unwrap();
    let plan = hybrid_console::migration::plan_file::load(Some(&plan)).unwrap();
    let mut harness = open_with_plan(cluster.kubeconfig.clone(), plan);
    harness.state_mut().calculator.settings.a = "0.1".into();
    harness.state_mut().calculator.settings.b = "0.2".into();
    plan_sum_progressively(&mut harness, true);
    step_until(&mut harness, Duration::from_secs(20), "the plan", |h| {
        h.query_all_by_label_contains("calculator:0.1.0-float")
            .next()
            .is_some()
            && h.query_all_by_label_contains("4. Shadow and compare")
                .next()
                .is_some()
    });
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Move")
        .click();
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "a mismatch in full",
        |h| {
            h.query_all_by_label_contains(
                "a=0.1 b=0.2: the monolith answered 0.3, the service 0.30000000000000004",
            )
            .next()
            .is_some()
        },
    );
    // Still shadowing: the allowance holds, and the count says how many differ.
    harness.get_by_label_contains("Shadow and compare: running");
    harness.get_by_label_contains(" different · ");
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Roll back now")
        .click();
    step_until(&mut harness, Duration::from_secs(60), "the rollback", |h| {
        h.query_all_by_label_contains("Move rolled back")
            .next()
            .is_some()
    });
}

#[test]
fn the_readiness_window_judges_a_windows_upgrade_chosen_in_it() {
    use local_cluster::nodes::WindowsServer;
    let cluster = TestCluster::start_with_windows_servers(&[
        WindowsServer::Ltsc2019,
        WindowsServer::Ltsc2022,
    ]);
    cluster.apply(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy, namespace: default}
spec:
  replicas: 0
  selector: {matchLabels: {app: legacy}}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      nodeSelector: {kubernetes.io/os: windows, node.kubernetes.io/windows-build: "10.0.17763"}
      tolerations: [{key: os, operator: Equal, value: windows, effect: NoSchedule}]
      containers: [{name: app, image: "mcr.microsoft.com/dotnet/framework/aspnet:4.8-windowsservercore-ltsc2019"}]
"#,
    );
    let mut harness = open(&cluster, cluster.kubeconfig.clone());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the live board",
        |h| h.state().state.snapshot.nodes().count() == 4,
    );
    harness.get_by_label("Readiness").click();
    step_until(&mut harness, Duration::from_secs(30), "the findings", |h| {
        h.query_by_label_contains("Windows images suit their nodes' Windows build")
            .is_some()
    });
    assert!(
        harness
            .query_by_label_contains("Images ready for the Windows AMI upgrade")
            .is_none(),
        "no upgrade is judged until one is chosen"
    );
    harness.get_by_label("Windows upgrade to").click();
    harness.run_steps(2);
    harness.get_by_label("WINDOWS_CORE_2022_x86_64").click();
    harness.run_steps(2);
    harness.get_by_label("Check").click();
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the upgrade's finding",
        |h| {
            h.query_by_label_contains(
            "moving the Windows node groups to WINDOWS_CORE_2022_x86_64: 1 workload(s) need images built on ltsc2022 first",
        )
        .is_some()
        },
    );
    harness.get_by_label_contains(
        "default/legacy (Deployment): pinned to build 10.0.17763; after the upgrade no node of the Windows node groups matches",
    );
}

/// Presses a tour button through AccessKit, as a screen reader or the keyboard would.
fn tour_button(harness: &mut Harness<'_, ConsoleApp>, label: &str) {
    step_until(
        harness,
        Duration::from_secs(20),
        &format!("the tour's {label:?} enabled"),
        |h| {
            h.query_by_role_and_label(egui::accesskit::Role::Button, label)
                .is_some_and(|b| !b.accesskit_node().is_disabled())
        },
    );
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, label)
        .click_accesskit();
    harness.run_steps(2);
}

fn tour_at(harness: &mut Harness<'_, ConsoleApp>, heading: &str, shown: &str) {
    step_until(harness, Duration::from_secs(60), shown, |h| {
        h.query_by_label(heading).is_some() && h.query_all_by_label_contains(shown).next().is_some()
    });
}

/// The window on its embedded cluster, as a first start (or, with `persisted`, a later one)
/// opens it.
fn open_embedded(options: EmbeddedOptions, persisted: Persisted) -> Harness<'static, ConsoleApp> {
    let app = ConsoleApp::new(
        || {},
        ConnectionTarget::Local,
        None,
        std::sync::Arc::new(hybrid_console::migration::plan_file::load(None).unwrap()),
        persisted,
        false,
        options,
    );
    Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .build_ui_state(|ui, app: &mut ConsoleApp| app.ui(ui), app)
}

#[test]
fn the_tour_walks_the_talk_on_the_embedded_cluster_and_finds_its_place_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let options = support::embedded_options(&kubeconfig, Some("python3"));
    let mut harness = open_embedded(options.clone(), Persisted::default());
    // A first start on the embedded cluster opens the tour by itself.
    tour_at(
        &mut harness,
        "Step 1 of 8: A hybrid cluster: two lanes",
        "Done: 2 Windows and 2 Linux nodes on the board",
    );
    // Whether moto is installed is asked of Python itself, not of the code under test: where
    // it is, the embedded cluster must follow it.
    let moto_installed = std::process::Command::new("python3")
        .args(["-c", "import moto.server"])
        .output()
        .is_ok_and(|o| o.status.success());
    step_until(
        &mut harness,
        Duration::from_secs(30),
        "the embedded cluster's word on EKS",
        |h| h.state().state.eks.embedded.is_some(),
    );
    let following = match &harness.state().state.eks.embedded {
        Some(EmbeddedAwsState::Following { cluster, .. }) => {
            assert_eq!(cluster, "hybrid-calculator");
            true
        }
        Some(EmbeddedAwsState::Without { why }) => {
            assert!(!moto_installed, "moto is installed, yet: {why}");
            assert!(why.contains("pip install 'moto[server]'"), "{why}");
            eprintln!(
                "moto is not installed here: the tour's EKS step is checked as skipped ({why})"
            );
            false
        }
        None => panic!("the embedded cluster did not say whether it follows an AWS emulator"),
    };
    tour_button(&mut harness, "Next");
    tour_at(
        &mut harness,
        "Step 2 of 8: The Windows monolith",
        "serves sum, subtraction, multiplication, division, ui in-process",
    );
    tour_button(&mut harness, "Next");
    tour_at(
        &mut harness,
        "Step 3 of 8: Is the cluster ready for a move?",
        "Now: not checked yet",
    );
    tour_button(&mut harness, "Run the readiness check");
    tour_at(
        &mut harness,
        "Step 3 of 8: Is the cluster ready for a move?",
        "Done: checked",
    );
    tour_button(&mut harness, "Next");
    tour_at(
        &mut harness,
        "Step 4 of 8: Move sum to Linux",
        "Now: sum is computed in the monolith",
    );

    // A restart (a new embedded cluster, a new emulator) finds the tour where it was.
    let persisted = harness.state().persisted();
    drop(harness);
    let mut harness = open_embedded(options, persisted);
    tour_at(
        &mut harness,
        "Step 4 of 8: Move sum to Linux",
        "Now: sum is computed in the monolith",
    );
    assert!(harness.query_by_label_contains("Step 1 of 8").is_none());
    tour_button(&mut harness, "Move sum to Linux…");
    confirm_and_finish(&mut harness, "Move sum out of the monolith, onto Linux");
    tour_at(
        &mut harness,
        "Step 4 of 8: Move sum to Linux",
        "Done: sum runs in its own pods on Linux",
    );
    tour_button(&mut harness, "Next");

    // The rest, the page last; one move undone and done again on the way.
    tour_at(
        &mut harness,
        "Step 5 of 8: Move the rest, the page last",
        "Now: still in the monolith: subtraction, multiplication, division, ui",
    );
    tour_button(&mut harness, "Move subtraction to Linux…");
    confirm_and_finish(
        &mut harness,
        "Move subtraction out of the monolith, onto Linux",
    );
    tour_button(&mut harness, "Undo: move subtraction back…");
    confirm_and_finish(&mut harness, "Move subtraction back into the monolith");
    for service in ["subtraction", "multiplication", "division", "ui"] {
        tour_at(
            &mut harness,
            "Step 5 of 8: Move the rest, the page last",
            &format!("still in the monolith: {service}"),
        );
        tour_button(&mut harness, &format!("Move {service} to Linux…"));
        confirm_and_finish(
            &mut harness,
            &format!("Move {service} out of the monolith, onto Linux"),
        );
    }
    tour_at(
        &mut harness,
        "Step 5 of 8: Move the rest, the page last",
        "Done: every service runs on Linux",
    );
    tour_button(&mut harness, "Next");
    tour_at(
        &mut harness,
        "Step 6 of 8: Retire the monolith",
        "Now: the monolith serves nothing any more and can go",
    );
    let kubectl = test_harness::Kubectl::new(&kubeconfig, dir.path().join("kube-cache"));
    let monolith = |field: &str| {
        kubectl.ok(&[
            "get",
            "deployment/monolith",
            "-n",
            "calculator",
            "-o",
            &format!("jsonpath={{{field}}}"),
        ])
    };
    let before = monolith(".spec.replicas");
    assert_ne!(before, "0");
    // Retired, undone (back to the replicas it had, ready, the step to do again), retired again.
    for (press, shown, replicas) in [
        (
            "Scale the monolith to zero",
            "Done: the monolith calculator/monolith is at zero replicas",
            "0",
        ),
        (
            "Undo: scale the monolith back up",
            "Now: the monolith serves nothing any more and can go",
            before.as_str(),
        ),
        (
            "Scale the monolith to zero",
            "Done: the monolith calculator/monolith is at zero replicas",
            "0",
        ),
    ] {
        tour_button(&mut harness, press);
        tour_at(&mut harness, "Step 6 of 8: Retire the monolith", shown);
        assert_eq!(monolith(".spec.replicas"), replicas, "after {press}");
        if replicas != "0" {
            assert_eq!(
                monolith(".metadata.annotations.hybrid-console\\.io/replicas-before-retire"),
                "",
                "the recorded count goes once it is used"
            );
        }
    }
    tour_button(&mut harness, "Next");
    if following {
        // The embedded cluster follows the emulator's node groups, which the EKS view listed
        // by itself: the Windows one is scaled to zero, its nodes drained first.
        tour_at(
            &mut harness,
            "Step 7 of 8: Scale the Windows node group to zero",
            "Now: 2 Windows nodes: scale their node group to zero",
        );
        harness.get_by_label("windows · Windows · 2 nodes (0–3)");
        harness.get_by_label("The local hybrid cluster follows its node groups");
        tour_button(&mut harness, "Scale hybrid-calculator/windows to zero…");
        step_until(&mut harness, Duration::from_secs(30), "the survey", |h| {
            h.query_by_label_contains("Its nodes are cordoned and drained")
                .is_some()
        });
        harness.get_by_label("cluster hybrid-calculator · node group windows");
        scale_windows_group_to_zero(&mut harness);
        tour_at(
            &mut harness,
            "Step 7 of 8: Scale the Windows node group to zero",
            "Done: no Windows node is left: the lane is empty",
        );
        assert_eq!(
            kubectl.ok(&[
                "get",
                "nodes",
                "-l",
                "kubernetes.io/os=windows",
                "-o",
                "name"
            ]),
            ""
        );
        assert_eq!(
            kubectl
                .ok(&["get", "nodes", "-l", "kubernetes.io/os=linux", "-o", "name"])
                .lines()
                .count(),
            2
        );
        step_until(
            &mut harness,
            Duration::from_secs(30),
            "the listing after the change",
            |h| {
                h.query_by_label("windows · Windows · 0 nodes (0–3)")
                    .is_some()
            },
        );
        tour_button(&mut harness, "Next");
    } else {
        tour_at(
            &mut harness,
            "Step 7 of 8: Scale the Windows node group to zero",
            "Not here: The local hybrid cluster follows no EKS node groups here",
        );
        tour_button(&mut harness, "Skip");
    }
    tour_at(
        &mut harness,
        "Step 8 of 8: What next",
        "plan init --monolith",
    );
    tour_button(&mut harness, "Back");
    tour_at(
        &mut harness,
        "Step 7 of 8: Scale the Windows node group to zero",
        if following { "Done" } else { "Not here" },
    );
    tour_button(&mut harness, if following { "Next" } else { "Skip" });
    tour_button(&mut harness, "Close the tour");
    assert!(harness.query_by_label_contains("Step 8 of 8").is_none());
    assert!(!harness.state().persisted().tour.unwrap().open);
}

#[test]
fn without_moto_the_tour_skips_the_eks_step_saying_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let options =
        support::embedded_options(&dir.path().join("kubeconfig"), Some("python3-not-here"));
    let mut harness = open_embedded(options, Persisted::default());
    tour_at(
        &mut harness,
        "Step 1 of 8: A hybrid cluster: two lanes",
        "Done: 2 Windows and 2 Linux nodes on the board",
    );
    harness.state_mut().tour.progress.step = TourStep::WindowsGroup;
    tour_at(
        &mut harness,
        "Step 7 of 8: Scale the Windows node group to zero",
        "Not here: The local hybrid cluster follows no EKS node groups here: python3-not-here was not found",
    );
    assert!(
        harness
            .query_all_by_label_contains("run `pip install 'moto[server]'` (or scripts/install-deps.sh), then restart the console")
            .next()
            .is_some()
    );
    // The EKS view keeps its region and profile: no emulator to offer.
    assert!(harness.query_by_label("The AWS emulator").is_none());
    harness.get_by_label("Region");
    tour_button(&mut harness, "Skip");
    tour_at(
        &mut harness,
        "Step 8 of 8: What next",
        "plan init --monolith",
    );
}
