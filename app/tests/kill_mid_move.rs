//! The console killed (SIGKILL: no rollback of its own) at each step of a move, and the next
//! console finishing or rolling back what it left (and the console rolling back killed at each
//! step of the rollback): the move is shown meanwhile, and afterwards
//! nothing is left behind — no orphaned Deployment or Service, no move record, no Lease, no
//! routing variable — and the calculator answers.
//!
//! Every API request is slowed by 100 ms (`local-cluster up --inject latency=100`) so each step
//! lasts long enough to be caught in the act; the test watches the move's record in the
//! cluster's store (no API round trip) and kills the console the moment it names the step.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::TestCluster;
use support::{migrate, monolith_env, move_record as record, names, sum_served_by, text};

/// Starts `migrate sum --to linux` and SIGKILLs it as soon as its record names `step`.
fn kill_at(cluster: &TestCluster, step: &str) {
    kill_console_at(cluster, &["sum", "--to", "linux", "--yes"], step, "running");
}

/// Starts `migrate <args>` and SIGKILLs it as soon as the record names `step` in `phase`.
fn kill_console_at(cluster: &TestCluster, args: &[&str], step: &str, phase: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .arg("migrate")
        .args(args)
        .env("HOME", cluster.dir())
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if record(cluster).is_some_and(|r| r["step"] == step && r["phase"] == phase) {
            child.kill().unwrap();
            child.wait().unwrap();
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the move ended ({status}) before step {step} was seen");
        }
        assert!(Instant::now() < deadline, "step {step} never came");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Kills the console at `step`, checks the move is shown, then lets the next console `recover`
/// (`--resume` or `--rollback`) and checks what is left.
fn kill_at_then(cluster: &TestCluster, step: &str, recover: &str) {
    kill_at(cluster, step);

    let status = migrate(cluster, &["--status"]);
    let shown = text(&status);
    assert!(
        shown.starts_with("moving sum out of the monolith: step"),
        "{shown}"
    );

    let output = migrate(cluster, &[recover, "--yes"]);
    let said = text(&output);
    assert!(
        output.status.success(),
        "{recover} after a kill at {step}:\n{said}"
    );

    // Whichever way it went, the move is over and holds nothing.
    assert!(record(cluster).is_none(), "the move record is left");
    assert_eq!(names(cluster, "leases"), "", "the move's Lease is left");
    let env = monolith_env(cluster);
    if recover == "--resume" {
        assert_eq!(names(cluster, "deployments"), "monolith sum-service");
        assert_eq!(
            names(cluster, "services"),
            "calculator monolith sum-service"
        );
        assert!(env.contains("SUM_SERVICE_URL"), "{env}");
        assert!(sum_served_by(cluster).starts_with("sum-service-"));
    } else {
        assert_eq!(
            names(cluster, "deployments"),
            "monolith",
            "an orphaned Deployment"
        );
        assert_eq!(
            names(cluster, "services"),
            "calculator monolith",
            "an orphaned Service"
        );
        assert!(
            !env.contains("SUM_SERVICE_URL"),
            "a routing variable is left: {env}"
        );
        assert!(sum_served_by(cluster).starts_with("monolith-"));
    }
}

/// Both ways out of a move killed at `step`: rolled back by the next console, then, the move
/// started again and killed at the same step, finished by the next console.
fn killed_at_then_rolled_back_and_resumed(step: &str) {
    let cluster = TestCluster::start_with_faults_and_calculator("latency=100");
    kill_at_then(&cluster, step, "--rollback");
    kill_at_then(&cluster, step, "--resume");
}

#[test]
fn killed_while_deploying_then_rolled_back_or_resumed() {
    killed_at_then_rolled_back_and_resumed("deploy");
}

#[test]
fn killed_while_waiting_for_the_rollout_then_rolled_back_or_resumed() {
    killed_at_then_rolled_back_and_resumed("wait-service");
}

#[test]
fn killed_while_verifying_the_service_then_rolled_back_or_resumed() {
    killed_at_then_rolled_back_and_resumed("verify-service");
}

#[test]
fn killed_while_rerouting_then_rolled_back_or_resumed() {
    killed_at_then_rolled_back_and_resumed("reroute");
}

#[test]
fn killed_while_waiting_for_the_redeploy_then_rolled_back_or_resumed() {
    killed_at_then_rolled_back_and_resumed("wait-reroute");
}

#[test]
fn killed_while_verifying_end_to_end_then_rolled_back_or_resumed() {
    killed_at_then_rolled_back_and_resumed("verify-front");
}

/// Kills the console during the move, then the console rolling it back at `step` of the
/// rollback; a third console finishes the rollback (`--rollback`, or `--resume`, which goes on
/// with a rollback it finds begun).
fn killed_while_rolling_back_at(step: &str, recover: &str) {
    let cluster = TestCluster::start_with_faults_and_calculator("latency=100");
    kill_at(&cluster, "wait-reroute");
    kill_console_at(&cluster, &["--rollback", "--yes"], step, "rolling-back");
    let shown = text(&migrate(&cluster, &["--status"]));
    assert!(shown.contains("rolling back"), "{shown}");

    let output = migrate(&cluster, &[recover, "--yes"]);
    let said = text(&output);
    if recover == "--resume" {
        // What was recorded was a rollback: finished, and the move is not done, so the exit
        // code says so.
        assert!(
            !output.status.success()
                && said.contains("the move rolled back")
                && said.contains("a rollback was in progress when the console stopped"),
            "--resume after a kill at {step} of the rollback:\n{said}"
        );
    } else {
        assert!(
            output.status.success(),
            "{recover} after a kill at {step} of the rollback:\n{said}"
        );
    }
    assert!(record(&cluster).is_none(), "the move record is left");
    assert_eq!(names(&cluster, "leases"), "", "the move's Lease is left");
    assert_eq!(
        names(&cluster, "deployments"),
        "monolith",
        "an orphaned Deployment"
    );
    assert_eq!(
        names(&cluster, "services"),
        "calculator monolith",
        "an orphaned Service"
    );
    let env = monolith_env(&cluster);
    assert!(
        !env.contains("SUM_SERVICE_URL"),
        "a routing variable is left: {env}"
    );
    assert!(sum_served_by(&cluster).starts_with("monolith-"));
}

/// The rollback records "restore-route" in the same write that puts the monolith's routing
/// back, then waits for the monolith's redeploy without writing the record again: killed at
/// "restore-route", the console dies during that wait (the wait-restore step).
#[test]
fn killed_while_the_rollback_waits_for_the_restored_monolith_then_rolled_back() {
    killed_while_rolling_back_at("restore-route", "--rollback");
}

#[test]
fn killed_while_removing_what_the_move_created_then_resumed() {
    killed_while_rolling_back_at("remove-created", "--resume");
}
