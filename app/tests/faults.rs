//! The console against a local cluster that misbehaves on purpose (`local-cluster up --inject`):
//! refused requests and cut watches never leave a silently stale board, an API server outage
//! shows the last board as stale and the changes made meanwhile arrive after it, and the CLI
//! asks again what is safe to ask again.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::time::Duration;

use hybrid_console::backend::Backend;
use hybrid_console::cluster::connection::ConnectionTarget;
use hybrid_console::protocol::ConnectionStatus;
use local_cluster::registry::{DeleteOptions, WriteOptions};
use local_cluster::resources;
use support::{Seen, TestCluster, monolith_env, move_record, names, sum_served_by, wait_for};

fn connect(cluster: &TestCluster) -> (Backend, Seen) {
    let backend = support::backend_connected_to(&cluster.kubeconfig);
    let mut seen = Seen::default();
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(60),
        "a board with four nodes",
        |s| s.snapshot.as_ref().is_some_and(|b| b.nodes().count() == 4),
    );
    (backend, seen)
}

/// Creates a pod bound to `node` straight in the cluster's store: the API server may be
/// refusing requests or stopped, the cluster's nodes still run what is bound to them.
fn place_pod(cluster: &TestCluster, name: &str, node: &str) {
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 0,
            "tolerations": [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}],
            "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}],
        },
    });
    cluster
        .registry()
        .create(resources::pods(), "default", pod, &WriteOptions::default())
        .unwrap();
}

fn remove_pod(cluster: &TestCluster, name: &str) {
    let now = DeleteOptions {
        grace_period_seconds: Some(0),
        ..DeleteOptions::default()
    };
    cluster
        .registry()
        .delete(resources::pods(), "default", name, &now)
        .unwrap();
}

fn stale_banners(seen: &Seen) -> Vec<String> {
    seen.statuses
        .iter()
        .filter_map(|s| match s {
            ConnectionStatus::Resuming { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn refused_requests_and_cut_watches_never_leave_a_silently_stale_board() {
    let cluster = TestCluster::start_with_faults("error-rate=0.3,drop-watch-every=1.5");
    let (backend, mut seen) = connect(&cluster);
    let nodes: Vec<String> = {
        let board = seen.snapshot.clone().unwrap();
        let mut names: Vec<String> = board.nodes().map(|n| n.name.clone()).collect();
        names.sort();
        names
    };

    // Changes spread over several watch cuts, each one must reach the board.
    for (i, node) in nodes.iter().enumerate() {
        place_pod(&cluster, &format!("placed-{i}"), node);
        std::thread::sleep(Duration::from_millis(800));
    }
    remove_pod(&cluster, "placed-0");
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(60),
        "every placed pod on its node, the removed one gone",
        |s| {
            s.node_of("default", "placed-0").is_none()
                && (1..nodes.len()).all(|i| {
                    s.node_of("default", &format!("placed-{i}")).as_deref() == Some(&nodes[i])
                })
        },
    );
    // A watch whose restart is refused with a 500 (kube-rs asks 429 and 503 again by itself)
    // fails; whenever one has, the console says the board may be stale. Refusals are random:
    // keep watching until one comes.
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(60),
        "the stale banner after a failed watch",
        |s| {
            stale_banners(s)
                .iter()
                .any(|b| b.contains("a watch failed"))
        },
    );
    // The server answered all along (refusals are answers): the console never said it was
    // gone, only that a watch was being resumed.
    assert!(
        !seen
            .statuses
            .iter()
            .any(|s| matches!(s, ConnectionStatus::Reconnecting { .. })),
        "said to be reconnecting to a server that answers: {:?}",
        seen.statuses
    );
    // And the board is still true.
    assert!(seen.node_of("default", "placed-0").is_none());
    for (i, node) in nodes.iter().enumerate().skip(1) {
        assert_eq!(
            seen.node_of("default", &format!("placed-{i}")).as_deref(),
            Some(node.as_str())
        );
    }
}

#[test]
fn an_api_server_outage_shows_the_board_stale_and_the_changes_made_meanwhile_arrive_after() {
    let cluster = TestCluster::start(false);
    let (backend, mut seen) = connect(&cluster);
    let windows = cluster.nodes_of("windows");
    place_pod(&cluster, "before", &windows[0]);
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(20),
        "the first pod on the board",
        |s| s.is_live() && s.node_of("default", "before").is_some(),
    );

    cluster.stop_api_server();
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(30),
        "the board marked stale",
        Seen::is_reconnecting,
    );
    // The cluster goes on without its API server: a pod leaves, another is placed.
    remove_pod(&cluster, "before");
    place_pod(&cluster, "during", &windows[1]);
    std::thread::sleep(Duration::from_secs(3));
    while let Some(event) = backend.next_event(Duration::from_millis(100)) {
        if let hybrid_console::protocol::Event::Snapshot(board) = event {
            panic!("a board arrived while the API server was away: {board:?}");
        }
    }
    assert!(
        seen.node_of("default", "before").is_some(),
        "the last board is kept"
    );

    cluster.restart_api_server();
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(60),
        "live again with what changed meanwhile",
        |s| {
            s.is_live()
                && s.node_of("default", "before").is_none()
                && s.node_of("default", "during").as_deref() == Some(windows[1].as_str())
        },
    );
}

#[test]
fn the_status_command_asks_again_when_the_server_says_to() {
    let cluster = TestCluster::start_with_faults("error-rate=0.5");
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    // Each run makes about eight requests; half are refused (a third of those with 500). Without
    // asking again, nearly every run fails.
    for _ in 0..3 {
        let output = cluster.console(&["--kubeconfig", &kubeconfig, "status", "-o", "json"]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let board: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let nodes = board["lanes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|lane| lane["groups"].as_array().unwrap())
            .flat_map(|group| group["nodes"].as_array().unwrap())
            .count();
        assert_eq!(nodes, 4, "{board}");
    }
}

/// The names of `kind` objects in namespace `calculator`, read from the store (the API server
/// is refusing requests).
fn stored_names(
    cluster: &TestCluster,
    kind: &'static local_cluster::resources::ResourceKind,
) -> Vec<String> {
    cluster
        .registry()
        .store
        .list(kind, Some("calculator"), |_| true, 0, None)
        .items
        .iter()
        .map(|item| item.index.name.clone())
        .collect()
}

#[test]
fn moves_under_refused_requests_complete_or_roll_back_by_themselves() {
    let cluster = TestCluster::start_with_faults_and_calculator("error-rate=0.2");
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    for round in 0..2 {
        for to in ["linux", "monolith"] {
            let output = cluster.console(&[
                "--kubeconfig",
                &kubeconfig,
                "migrate",
                "sum",
                "--to",
                to,
                "--yes",
            ]);
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            // Finished either way by itself: never left for an operator to resume.
            let rolled_back = said.contains("the move rolled back");
            let refused = said.contains("the move is refused");
            assert!(
                output.status.success() || rolled_back || refused,
                "round {round}, to {to}: {said}"
            );
            assert!(
                !said.contains("INCOMPLETE") && !said.contains("interrupted"),
                "{said}"
            );
            let monolith = cluster
                .registry()
                .get(resources::deployments(), "calculator", "monolith")
                .unwrap();
            let monolith: serde_json::Value = serde_json::from_slice(&monolith.json).unwrap();
            assert!(
                monolith["metadata"]["annotations"]["hybrid-console.io/move"].is_null(),
                "a move record is left: {said}"
            );
            assert!(
                stored_names(&cluster, resources::leases()).is_empty(),
                "a Lease is left"
            );
            // The routing and the objects agree: the sum is served by exactly one side.
            let routed = monolith["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v["name"] == "SUM_SERVICE_URL");
            let deployed = stored_names(&cluster, resources::deployments())
                .contains(&"sum-service".to_owned());
            assert_eq!(
                routed, deployed,
                "round {round}, to {to}: half a move is left: {said}"
            );
        }
    }
    // The front moves by a selector switch, a write made against the version it read.
    for to in ["linux", "monolith"] {
        let output = cluster.console(&[
            "--kubeconfig",
            &kubeconfig,
            "migrate",
            "ui",
            "--to",
            to,
            "--yes",
        ]);
        let said = support::text(&output);
        assert!(
            output.status.success()
                || said.contains("the move rolled back")
                || said.contains("the move is refused"),
            "ui to {to}: {said}"
        );
        assert!(
            move_record(&cluster).is_none(),
            "a move record is left: {said}"
        );
        let front = cluster
            .registry()
            .get(resources::services(), "calculator", "calculator")
            .unwrap();
        let front: serde_json::Value = serde_json::from_slice(&front.json).unwrap();
        let selected = front["spec"]["selector"]["app.kubernetes.io/component"].clone();
        let deployed =
            stored_names(&cluster, resources::deployments()).contains(&"ui-service".to_owned());
        assert_eq!(
            selected,
            if deployed { "ui" } else { "monolith" },
            "ui to {to}: half a move is left: {said}"
        );
    }
}

/// Starts `migrate sum --to <to>`, stops the API server for `outage` the moment the move's
/// record names `step`, and returns whether the console succeeded and what it said once it ended
/// by itself.
fn move_through_an_outage(
    cluster: &TestCluster,
    to: &str,
    step: &str,
    outage: Duration,
) -> (bool, String) {
    let log = cluster.dir().join(format!("move-{to}-{step}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(["migrate", "sum", "--to", to, "--yes"])
        .env("HOME", cluster.dir())
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "warn")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !move_record(cluster).is_some_and(|r| r["step"] == step) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the move ended before step {step}:\n{}",
            said()
        );
        assert!(
            std::time::Instant::now() < deadline,
            "step {step} never came"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    cluster.stop_api_server();
    std::thread::sleep(outage);
    cluster.restart_api_server();
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.success(), said());
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the move never ended after the outage:\n{}", said());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Nothing of the move is left but what it was asked to do: no record, no Lease, and the sum
/// routed to and answered by `side` (`sum-service` or `monolith`).
fn only_the_move_is_left(cluster: &TestCluster, side: &str, said: &str) {
    assert!(
        move_record(cluster).is_none(),
        "a move record is left:\n{said}"
    );
    assert_eq!(names(cluster, "leases"), "", "a Lease is left:\n{said}");
    let routed = monolith_env(cluster).contains("SUM_SERVICE_URL");
    let deployed = names(cluster, "deployments").contains("sum-service");
    assert_eq!(routed, side == "sum-service", "{said}");
    assert_eq!(deployed, side == "sum-service", "{said}");
    let pod = sum_served_by(cluster);
    assert!(pod.starts_with(&format!("{side}-")), "{pod}:\n{said}");
}

#[test]
fn a_move_outlasts_an_api_server_outage_and_completes_by_itself() {
    let cluster = TestCluster::start_with_faults_and_calculator("latency=100");
    // Out while the new service is verified through the service proxy (an outage longer than
    // the verification's patience and than the move's Lease), back while the monolith rolls out
    // again with its own sum.
    for (to, step, seconds, side) in [
        ("linux", "verify-service", 20, "sum-service"),
        ("monolith", "wait-reroute", 5, "monolith"),
    ] {
        let outage = Duration::from_secs(seconds);
        let (succeeded, said) = move_through_an_outage(&cluster, to, step, outage);
        assert!(succeeded, "to {to}, outage at {step}:\n{said}");
        // A step that failed for the outage is said to wait for the server (the rollout's
        // watches just resume).
        if step == "verify-service" {
            assert!(
                said.contains("the API server does not answer"),
                "the wait was not shown:\n{said}"
            );
        }
        only_the_move_is_left(&cluster, side, &said);
    }
}

#[test]
fn a_move_whose_api_server_stays_away_is_left_recorded_and_resumed_later() {
    use hybrid_console::cluster::connection;
    use hybrid_console::migration::plan_file;
    use hybrid_console::migration::{Mover, Timeouts};
    use hybrid_console::model::move_progress::{MoveEvent, MoveOutcome};
    use hybrid_console::model::moves::Direction;

    let cluster = TestCluster::start_with_faults_and_calculator("latency=100");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let outcome = std::thread::scope(|scope| {
        // The API server goes away while the new service is verified, and stays away.
        scope.spawn(|| {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !move_record(&cluster).is_some_and(|r| r["step"] == "verify-service") {
                assert!(std::time::Instant::now() < deadline, "never verified");
                std::thread::sleep(Duration::from_millis(2));
            }
            cluster.stop_api_server();
        });
        runtime.block_on(async {
            let target = ConnectionTarget::Kubeconfig {
                path: Some(cluster.kubeconfig.clone()),
                context: None,
            };
            let connection = connection::open(&target, None).await.unwrap();
            let plan = std::sync::Arc::new(plan_file::load(None).unwrap());
            let mut mover = Mover::new(&connection, plan).await;
            mover.timeouts = Timeouts {
                outage: Duration::from_secs(3),
                ..Timeouts::default()
            };
            let planned = mover
                .prepare("sum", Direction::Extract, None)
                .await
                .unwrap();
            let heard = said.clone();
            let report = std::sync::Arc::new(move |event: MoveEvent| {
                heard.lock().unwrap().push(format!("{event:?}"));
            });
            mover
                .execute(planned, report, tokio_util::sync::CancellationToken::new())
                .await
                .unwrap()
        })
    });
    let said = said.lock().unwrap().join("\n");
    let MoveOutcome::Interrupted { step, reason } = &outcome else {
        panic!("{outcome:?}\n{said}");
    };
    assert_eq!(step.title(), "Verify service", "{said}");
    assert!(
        reason.contains("the API server did not answer for 3 s")
            && reason.contains("hybrid-console migrate --resume"),
        "{reason}"
    );
    assert!(said.contains("the API server does not answer"), "{said}");
    // Nothing was undone or lost while it was away: the record still names the step.
    assert_eq!(move_record(&cluster).unwrap()["step"], "verify-service");

    cluster.restart_api_server();
    let output = support::migrate(&cluster, &["--resume", "--yes"]);
    assert!(output.status.success(), "{}", support::text(&output));
    only_the_move_is_left(&cluster, "sum-service", &support::text(&output));
}
