//! Whose name the console acts under, and what it never shows: the local cluster's audit log
//! records the console's requests under the kubeconfig's user (allowed or refused), and the
//! bearer token never reaches the console's output, its logs at `RUST_LOG=trace`, or the
//! events it sends the window. `manifests/console/rbac.yaml` grants each feature what it needs:
//! a user bound to it can use the feature, a user without it is told what is not allowed.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use hybrid_console::protocol::ConnectionStatus;
use support::TestCluster;

fn token_of(kubeconfig: &std::path::Path) -> String {
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    let config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    config["users"][0]["user"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The console binary with `args`, logging everything it can.
fn console_tracing(cluster: &TestCluster, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .args(args)
        .env("HOME", cluster.dir())
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap()
}

/// `(user, verb, resource, code)` of every audited resource request.
fn audited(cluster: &TestCluster) -> Vec<(String, String, String, u64)> {
    cluster
        .audit_events()
        .iter()
        .filter(|e| e["objectRef"].is_object())
        .map(|e| {
            (
                e["user"]["username"].as_str().unwrap().to_owned(),
                e["verb"].as_str().unwrap().to_owned(),
                e["objectRef"]["resource"].as_str().unwrap().to_owned(),
                e["responseStatus"]["code"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_audit_log_names_the_user_the_console_acted_as() {
    let cluster = TestCluster::start(false);
    let admin = cluster.kubeconfig.to_string_lossy().into_owned();
    let output = cluster.console(&["--kubeconfig", &admin, "status", "-o", "json"]);
    assert!(output.status.success());
    let entries = audited(&cluster);
    for resource in ["nodes", "pods", "deployments", "services"] {
        let entry = (
            "kubernetes-admin".to_owned(),
            "list".to_owned(),
            resource.to_owned(),
            200,
        );
        assert!(entries.contains(&entry), "{entry:?} not in {entries:?}");
    }

    // A user who may only read one namespace: the refusal is recorded under their name.
    let viewer = cluster.viewer("jane", "default");
    let output = cluster.console(&["--kubeconfig", &viewer.to_string_lossy(), "status"]);
    assert!(!output.status.success());
    let entries = audited(&cluster);
    let refused = (
        "jane".to_owned(),
        "list".to_owned(),
        "nodes".to_owned(),
        403,
    );
    assert!(entries.contains(&refused), "{refused:?} not in {entries:?}");
    assert!(
        !entries
            .iter()
            .any(|(user, _, _, code)| user == "jane" && *code == 200),
        "jane was let in: {entries:?}"
    );

    // A wrong token is nobody: recorded as anonymous and refused.
    let events = cluster.audit_events();
    let before = events.len();
    let wrong = cluster.path("wrong-token-kubeconfig");
    let text = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    std::fs::write(
        &wrong,
        text.replace(&token_of(&cluster.kubeconfig), "not-the-token"),
    )
    .unwrap();
    let output = cluster.console(&["--kubeconfig", &wrong.to_string_lossy(), "status"]);
    assert!(!output.status.success());
    let events = cluster.audit_events();
    assert!(events.len() > before);
    for event in &events[before..] {
        assert_eq!(event["user"]["username"], "system:anonymous", "{event}");
        // Only the public health and version endpoints answer anyone.
        if event["requestURI"] != "/version" {
            assert_eq!(event["responseStatus"]["code"], 401, "{event}");
        }
    }
}

#[test]
fn the_token_never_reaches_output_logs_or_the_events_panel() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let token = token_of(&cluster.kubeconfig);
    assert!(token.len() >= 16, "a token worth looking for: {token}");

    // Every subcommand that talks to the cluster, logging at trace level.
    let mut everything = String::new();
    for args in [
        vec!["--kubeconfig", kubeconfig.as_str(), "status"],
        vec!["--kubeconfig", kubeconfig.as_str(), "status", "-o", "json"],
        vec!["--kubeconfig", kubeconfig.as_str(), "calc", "6", "3"],
        vec!["--kubeconfig", kubeconfig.as_str(), "check"],
    ] {
        let output = console_tracing(&cluster, &args);
        everything.push_str(&String::from_utf8_lossy(&output.stdout));
        everything.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    assert!(
        everything.contains("TRACE") || everything.contains("DEBUG"),
        "trace logging was on"
    );
    assert!(!everything.contains(&token), "the token was printed");

    // A window's session: every event the backend sends the UI (the events panel among them).
    let backend = support::backend_connected_to(&cluster.kubeconfig);
    let mut events = Vec::new();
    let mut live = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // Everything sent until the board is live, and two quiet seconds after.
    while std::time::Instant::now() < deadline {
        match backend.next_event(Duration::from_secs(2)) {
            Some(event) => {
                live |= matches!(
                    event,
                    hybrid_console::protocol::Event::Connection(ConnectionStatus::Live { .. })
                );
                events.push(format!("{event:?}"));
            }
            None if live => break,
            None => {}
        }
    }
    assert!(live, "the session never went live: {events:?}");
    assert!(
        events.iter().any(|e| e.starts_with("Log")),
        "the events panel's entries were seen: {events:?}"
    );
    assert!(
        !events.iter().any(|e| e.contains(&token)),
        "the token reached the UI"
    );
}

fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn each_feature_works_under_its_role_from_the_rbac_manifest_and_is_refused_without_it() {
    let cluster = TestCluster::start(true);
    let manifest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../manifests/console/rbac.yaml"
    );
    cluster.kubectl().ok(&["apply", "-f", manifest]);
    let viewer = cluster.user_in_groups("vera", &["hybrid-console:viewers"]);
    let mover = cluster.user_in_groups("max", &["hybrid-console:movers"]);
    let nobody = cluster.user_in_groups("nina", &[]);
    let as_user = |kubeconfig: &std::path::Path, args: &[&str]| {
        let kubeconfig = kubeconfig.to_string_lossy().into_owned();
        let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
        all.extend_from_slice(args);
        cluster.console(&all)
    };

    // Viewing: the board's reads, the calculator through the proxy, the readiness check.
    for args in [
        &["status"][..],
        &["calc", "6", "3"],
        &["migrate", "--status"],
    ] {
        let output = as_user(&viewer, args);
        assert!(
            output.status.success(),
            "{args:?} as a viewer:\n{}",
            all_output(&output)
        );
    }
    let check = all_output(&as_user(&viewer, &["check"]));
    assert!(
        !check.contains("Forbidden") && !check.contains("forbidden"),
        "{check}"
    );

    // The window's session as a viewer: every watch allowed, the board live.
    let backend = support::backend_connected_to(&viewer);
    let mut seen = support::Seen::default();
    support::wait_for(
        &backend,
        &mut seen,
        Duration::from_secs(30),
        "a viewer's live board",
        |s| {
            s.is_live()
                && s.snapshot
                    .as_ref()
                    .is_some_and(|b| b.nodes().any(|n| !n.pods.is_empty()))
        },
    );
    drop(backend);

    // A viewer may not move: refused before anything changes, naming what is missing.
    let refused = all_output(&as_user(
        &viewer,
        &["migrate", "sum", "--to", "linux", "--yes"],
    ));
    assert!(refused.contains("not allowed: "), "{refused}");
    assert!(refused.contains("create deployments.apps"), "{refused}");
    let deployments =
        cluster
            .kubectl()
            .ok(&["get", "deployments", "-n", "calculator", "-o", "name"]);
    assert_eq!(deployments.trim(), "deployment.apps/monolith");

    // A mover moves the service out and back.
    for to in ["linux", "monolith"] {
        let output = as_user(&mover, &["migrate", "sum", "--to", to, "--yes"]);
        let said = all_output(&output);
        assert!(output.status.success(), "move to {to} as a mover:\n{said}");
        assert!(said.contains("as max"), "{said}");
        eprintln!("{said}");
    }

    // Nobody in particular: told which verb on which resource was refused.
    let output = as_user(&nobody, &["status"]);
    assert!(!output.status.success());
    let said = all_output(&output);
    assert!(
        said.contains("Forbidden (403): cannot list nodes"),
        "{said}"
    );
}
