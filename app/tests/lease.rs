//! The claim on a move (its Lease) never outlives the move: a move aborted from the window
//! rolls back and releases it, and a move whose task is dropped half-way releases it too — and
//! in both cases nothing goes on renewing it (the audit log shows no request for it after).

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hybrid_console::cluster::connection::{self, ConnectionTarget};
use hybrid_console::migration::{Mover, Reporter, plan_file};
use hybrid_console::model::move_progress::{MoveEvent, MoveOutcome};
use hybrid_console::model::moves::{Direction, StepKind};
use hybrid_console::protocol::{Command, Event};
use support::{Seen, TestCluster, backend_connected_to, wait_for};

const LEASE: &str = "hybrid-console-move-monolith";

/// Whether the move's Lease exists.
fn lease_exists(cluster: &TestCluster) -> bool {
    let names = cluster
        .kubectl()
        .ok(&["get", "leases", "-n", "calculator", "-o", "name"]);
    names
        .lines()
        .any(|l| l == format!("lease.coordination.k8s.io/{LEASE}"))
}

/// Requests for the move's Lease the API server received after `after`.
fn lease_requests_after(cluster: &TestCluster, after: SystemTime) -> Vec<String> {
    let after = jiff::Timestamp::try_from(after).expect("a time");
    cluster
        .audit_events()
        .iter()
        .filter(|e| {
            e["requestURI"]
                .as_str()
                .is_some_and(|u| u.contains(&format!("leases/{LEASE}")))
        })
        .filter(|e| {
            e["requestReceivedTimestamp"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| t > after)
        })
        .map(|e| format!("{} {}", e["verb"], e["requestURI"]))
        .collect()
}

/// Waits `what` to become true, for at most `timeout`.
fn eventually(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Longer than two renewals (every 5 s): a renewer left running would have asked by then.
const QUIET: Duration = Duration::from_secs(12);

#[test]
fn a_move_aborted_from_the_window_leaves_no_lease_and_no_renewer() {
    let cluster = TestCluster::start(true);
    let backend = backend_connected_to(&cluster.kubeconfig);
    let mut seen = Seen::default();
    wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(60),
        "a live board",
        |s| s.is_live(),
    );
    backend.send(Command::PlanMove {
        service: "sum".into(),
        direction: Direction::Extract,
        progressive: None,
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let plan = loop {
        assert!(Instant::now() < deadline, "no plan arrived");
        match backend.next_event(Duration::from_millis(200)) {
            Some(Event::MovePlanned(Ok(plan))) => break plan,
            Some(Event::MovePlanned(Err(why))) => panic!("the move was not planned: {why}"),
            _ => {}
        }
    };
    backend.send(Command::StartMove {
        plan,
        prometheus: None,
    });
    // Abort once the claim is held and the move is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "the move did not reach its rollout"
        );
        if let Some(Event::Move(MoveEvent::Step {
            step: StepKind::WaitService,
            ..
        })) = backend.next_event(Duration::from_millis(200))
        {
            break;
        }
    }
    assert!(lease_exists(&cluster), "the move holds its Lease");
    backend.send(Command::AbortMove);
    let deadline = Instant::now() + Duration::from_secs(120);
    let outcome = loop {
        assert!(Instant::now() < deadline, "the aborted move did not finish");
        if let Some(Event::Move(MoveEvent::Finished(outcome))) =
            backend.next_event(Duration::from_millis(200))
        {
            break outcome;
        }
    };
    assert!(
        matches!(outcome, MoveOutcome::RolledBack { .. }),
        "{outcome:?}"
    );
    let finished = SystemTime::now();
    assert!(!lease_exists(&cluster), "the Lease was released");
    std::thread::sleep(QUIET);
    assert!(!lease_exists(&cluster), "nothing claimed it again");
    let asked = lease_requests_after(&cluster, finished + Duration::from_secs(1));
    assert!(asked.is_empty(), "a renewer is still running: {asked:?}");
}

#[test]
fn a_move_whose_task_is_dropped_half_way_releases_its_lease_and_stops_renewing() {
    let cluster = TestCluster::start(true);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let target = ConnectionTarget::Kubeconfig {
        path: Some(cluster.kubeconfig.clone()),
        context: None,
    };
    let (steps_tx, mut steps) = tokio::sync::mpsc::unbounded_channel::<StepKind>();
    let (mover, planned) = runtime.block_on(async {
        let connection = connection::open(&target, None).await.expect("connected");
        let plan = Arc::new(plan_file::load(None).expect("the built-in plan"));
        let mover = Mover::new(&connection, plan).await;
        let planned = mover
            .prepare("sum", Direction::Extract, None)
            .await
            .expect("a plan");
        (mover, planned)
    });
    let report: Reporter = Arc::new(move |event| {
        if let MoveEvent::Step { step, .. } = event {
            let _ = steps_tx.send(step);
        }
    });
    let task = runtime.spawn(async move {
        let _ = mover
            .execute(planned, report, tokio_util::sync::CancellationToken::new())
            .await;
    });
    runtime.block_on(async {
        let reached = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(step) = steps.recv().await {
                if step == StepKind::WaitService {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(reached, Ok(true), "the move reached its rollout");
    });
    assert!(lease_exists(&cluster), "the move holds its Lease");
    // The task is dropped as a closing console drops it: no rollback, no release of its own.
    task.abort();
    eventually(Duration::from_secs(10), "the Lease released", || {
        !lease_exists(&cluster)
    });
    let released = SystemTime::now();
    std::thread::sleep(QUIET);
    assert!(!lease_exists(&cluster), "nothing claimed it again");
    let asked = lease_requests_after(&cluster, released + Duration::from_secs(1));
    assert!(asked.is_empty(), "a renewer is still running: {asked:?}");
    // The move itself stays recorded for the next console to resume or roll back.
    assert!(support::move_record(&cluster).is_some());
    drop(runtime);
}
