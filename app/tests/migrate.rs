//! Moving services out of the monolith and back with `hybrid-console migrate`, against the local
//! cluster, checked with kubectl and the calculator itself: the happy paths, a move that must
//! roll back, a refusal at the pre-flight, a console killed half-way, and a second monolith
//! described only by another plan file.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hybrid_console::calculator;
use hybrid_console::cluster::connection::{self, ConnectionTarget};
use hybrid_console::model::calculation::CalcTarget;
use serde_json::Value;
use support::TestCluster;
use support::{migrate, monolith_env, monolith_field, names, text};

fn moved(cluster: &TestCluster, args: &[&str]) -> String {
    let output = migrate(cluster, args);
    assert!(
        output.status.success(),
        "migrate {args:?} failed:\n{}",
        text(&output)
    );
    text(&output)
}

/// `hybrid-console calc 6 3 -o json` through the front Service.
fn calc(cluster: &TestCluster) -> Value {
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let output = cluster.console(&["--kubeconfig", &kubeconfig, "calc", "6", "3", "-o", "json"]);
    assert!(output.status.success(), "calc failed:\n{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Which pod served `operation`, and its total.
fn served(answer: &Value, operation: &str) -> (String, String) {
    let entry = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operation"] == operation)
        .unwrap();
    (
        entry["served-by"]["pod"].as_str().unwrap().to_owned(),
        entry["total"].to_string(),
    )
}

fn node_os(cluster: &TestCluster, pod: &str, namespace: &str) -> String {
    let node = cluster.kubectl().ok(&[
        "get",
        "pod",
        pod,
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.nodeName}",
    ]);
    cluster.kubectl().ok(&[
        "get",
        "node",
        &node,
        "-o",
        "jsonpath={.metadata.labels.kubernetes\\.io/os}",
    ])
}

/// Calls the calculator through the front Service `per_second` times a second until stopped;
/// counts calls and failures (with the first failure's words).
struct Probe {
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Probe {
    fn start(cluster: &TestCluster, per_second: u32) -> Probe {
        let target = ConnectionTarget::Kubeconfig {
            path: Some(cluster.kubeconfig.clone()),
            context: None,
        };
        let (stop, calls, failures) = (
            Arc::<AtomicBool>::default(),
            Arc::<AtomicUsize>::default(),
            Arc::<std::sync::Mutex<Vec<String>>>::default(),
        );
        let (s, c, f) = (stop.clone(), calls.clone(), failures.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let connection = connection::open(&target, None).await.unwrap();
                let http = calculator::http_client();
                let mut tick =
                    tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second)));
                while !s.load(Ordering::SeqCst) {
                    tick.tick().await;
                    let outcome = calculator::calculate(
                        0,
                        Some(&connection.proxy),
                        &http,
                        &CalcTarget::default(),
                        "6",
                        "3",
                    )
                    .await;
                    c.fetch_add(1, Ordering::SeqCst);
                    if !outcome.all_ok() {
                        f.lock()
                            .unwrap()
                            .push(outcome.first_error().unwrap_or_default());
                    }
                }
            });
        });
        Probe {
            stop,
            calls,
            failures,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (
            self.calls.load(Ordering::SeqCst),
            self.failures.lock().unwrap().clone(),
        )
    }
}

#[test]
fn sum_moves_to_linux_and_back_with_no_failed_request() {
    let cluster = TestCluster::start(true);
    let probe = Probe::start(&cluster, 20);
    std::thread::sleep(Duration::from_millis(500));

    // The plan first: nothing changes.
    let plan = moved(&cluster, &["sum", "--to", "linux", "--dry-run"]);
    assert!(plan.contains("create  Deployment/sum-service"), "{plan}");
    assert!(
        plan.contains("set SUM_SERVICE_URL=http://sum-service:3000"),
        "{plan}"
    );
    assert!(plan.contains("all allowed"), "{plan}");
    assert_eq!(names(&cluster, "deployments"), "monolith");

    let out = moved(&cluster, &["sum", "--to", "linux", "--yes"]);
    for step in [
        "Deploy: done",
        "Wait for rollout: done",
        "Verify service: done",
        "Re-route: done",
        "Wait for redeploy: done",
        "Verify end to end: done",
        "completed",
    ] {
        assert!(out.contains(step), "{step} missing in\n{out}");
    }
    let answer = calc(&cluster);
    let (pod, total) = served(&answer, "sum");
    assert!(pod.starts_with("sum-service-"), "{answer}");
    assert_eq!(total, "9");
    assert_eq!(node_os(&cluster, &pod, "calculator"), "linux");
    assert_eq!(served(&answer, "division").1, "2");
    assert!(monolith_env(&cluster).contains("SUM_SERVICE_URL"));
    let events = cluster.kubectl().ok(&[
        "get",
        "events",
        "-n",
        "calculator",
        "--field-selector",
        "involvedObject.name=monolith",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    for reason in ["MigrationStarted", "StepCompleted", "MigrationCompleted"] {
        assert!(events.contains(reason), "{events}");
    }

    // And back: the monolith computes it again, the service is gone.
    let out = moved(&cluster, &["sum", "--to", "monolith", "--yes"]);
    assert!(out.contains("Remove service: done"), "{out}");
    let (pod, total) = served(&calc(&cluster), "sum");
    assert!(pod.starts_with("monolith-"), "{pod}");
    assert_eq!(total, "9");
    assert!(!monolith_env(&cluster).contains("SUM_SERVICE_URL"));
    assert_eq!(names(&cluster, "deployments"), "monolith");
    assert!(!names(&cluster, "services").contains("sum-service"));
    assert_eq!(
        moved(&cluster, &["--status"]).trim(),
        "no move is in progress"
    );

    let (calls, failures) = probe.finish();
    assert!(calls > 40, "the probe made only {calls} calls");
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed: {failures:?}",
        failures.len()
    );
}

#[test]
fn a_move_whose_image_cannot_start_rolls_back_and_leaves_nothing_behind() {
    let cluster = TestCluster::start(true);
    let output = migrate(
        &cluster,
        &[
            "sum",
            "--to",
            "linux",
            "--yes",
            "--image",
            "ghcr.io/hybrid-console/calculator:0.1.0-windows-ltsc2022",
        ],
    );
    let out = text(&output);
    assert!(!output.status.success(), "{out}");
    assert!(
        out.contains("the move rolled back: step \"Wait for rollout\" failed: ErrImagePull"),
        "{out}"
    );
    assert!(out.contains("no match for platform in manifest"), "{out}");
    assert!(
        out.contains(
            "Remove created objects: done deleted Deployment/sum-service, Service/sum-service"
        ),
        "{out}"
    );
    // Nothing left: no Deployment, Service or pod of the service, no routing, no record, no Lease.
    assert_eq!(names(&cluster, "deployments"), "monolith");
    assert!(!names(&cluster, "services").contains("sum-service"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while names(&cluster, "pods").contains("sum-service") {
        assert!(Instant::now() < deadline, "sum-service pods remain");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!monolith_env(&cluster).contains("SUM_SERVICE_URL"));
    let annotations = monolith_field(&cluster, ".metadata.annotations");
    assert!(
        !annotations.contains("hybrid-console.io/move"),
        "{annotations}"
    );
    assert_eq!(names(&cluster, "leases"), "");
    let events = cluster.kubectl().ok(&[
        "get",
        "events",
        "-n",
        "calculator",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    assert!(events.contains("MigrationRolledBack"), "{events}");
    // The monolith still computes it.
    let (pod, total) = served(&calc(&cluster), "sum");
    assert!(
        pod.starts_with("monolith-") && total == "9",
        "{pod} {total}"
    );

    // An image that runs but answers nothing (simulated here: Running and Ready, no process)
    // fails at verification, and rolls back too.
    let output = migrate(
        &cluster,
        &["sum", "--to", "linux", "--yes", "--image", "redis:7.2"],
    );
    let out = text(&output);
    assert!(!output.status.success(), "{out}");
    assert!(out.contains("step \"Verify service\" failed"), "{out}");
    assert_eq!(names(&cluster, "deployments"), "monolith");
}

/// The built-in plan written to `dir`, with `sum-service` deployed misbehaving as `how`
/// (`CALC_MISBEHAVE`); returns the plan's path.
fn plan_with_misbehaving_sum(dir: &std::path::Path, how: &str) -> std::path::PathBuf {
    let files = hybrid_console::model::migration_plan::PlanFiles::built_in();
    for (path, text) in &files.others {
        let text = if path.ends_with("sum-service.yaml") {
            let marker = "          env:\n";
            assert!(text.contains(marker), "the sum manifest has no env list");
            text.replacen(
                marker,
                &format!(
                    "{marker}            - name: CALC_MISBEHAVE\n              value: {how}\n"
                ),
                1,
            )
        } else {
            text.clone()
        };
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let plan = dir.join("calculator-migration.yaml");
    std::fs::write(&plan, &files.plan).unwrap();
    plan
}

#[test]
fn a_service_that_answers_wrong_or_slowly_is_caught_by_verification_and_rolled_back() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    for (how, why) in [
        ("wrong-answer", "Verify service"),
        ("hang", "Verify service"),
    ] {
        let dir = cluster.path(how);
        let plan = plan_with_misbehaving_sum(&dir, how);
        let output = cluster.console(&[
            "--kubeconfig",
            &kubeconfig,
            "--plan",
            &plan.to_string_lossy(),
            "migrate",
            "sum",
            "--to",
            "linux",
            "--yes",
        ]);
        let out = text(&output);
        assert!(!output.status.success(), "{how}: {out}");
        assert!(
            out.contains(&format!("step \"{why}\" failed")),
            "{how}: {out}"
        );
        assert!(out.contains("the move rolled back"), "{how}: {out}");
        // Nothing left, and the monolith still answers right.
        assert_eq!(names(&cluster, "deployments"), "monolith", "{how}");
        assert!(
            !names(&cluster, "services").contains("sum-service"),
            "{how}"
        );
        assert!(!monolith_env(&cluster).contains("SUM_SERVICE_URL"), "{how}");
        assert_eq!(names(&cluster, "leases"), "", "{how}");
        let (pod, total) = served(&calc(&cluster), "sum");
        assert!(
            pod.starts_with("monolith-") && total == "9",
            "{how}: {pod} {total}"
        );
    }
}

#[test]
fn a_user_without_patch_on_deployments_is_refused_at_the_preflight() {
    let cluster = TestCluster::start(true);
    let dev = cluster.user_with_role(
        "dev",
        "calculator",
        "- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, delete]
- apiGroups: [\"\"]
  resources: [services, pods, events, services/proxy, pods/log]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update, delete]",
    );
    let output = cluster.console(&[
        "--kubeconfig",
        &dev.to_string_lossy(),
        "migrate",
        "sum",
        "--to",
        "linux",
        "--yes",
    ]);
    let out = text(&output);
    assert!(!output.status.success(), "{out}");
    assert!(
        out.contains("not allowed: patch deployments.apps monolith, patch deployments.apps sum-service (in namespace calculator)"),
        "{out}"
    );
    assert!(out.contains("as dev in namespace calculator"), "{out}");
    assert_eq!(
        names(&cluster, "deployments"),
        "monolith",
        "nothing was created"
    );
    // kubectl agrees: the local cluster answers access reviews as a real server does.
    let can = cluster.kubectl().as_user(&dev).run(&[
        "auth",
        "can-i",
        "patch",
        "deployments",
        "-n",
        "calculator",
    ]);
    assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "no");
}

#[test]
fn a_console_killed_mid_move_is_shown_and_resumed_by_the_next() {
    let cluster = TestCluster::start(true);
    // Kill it as soon as the move is recorded on the monolith, half-way through.
    let mut child = cluster.move_in_background(&["sum", "--to", "linux", "--yes"]);
    child.kill().unwrap();
    child.wait().unwrap();
    let status = moved(&cluster, &["--status"]);
    assert!(
        status.starts_with("moving sum out of the monolith: step"),
        "{status}"
    );
    let json: Value = serde_json::from_str(&moved(&cluster, &["--status", "-o", "json"])).unwrap();
    assert_eq!(
        (
            json["service"].as_str(),
            json["direction"].as_str(),
            json["by"].as_str()
        ),
        (Some("sum"), Some("extract"), Some("kubernetes-admin"))
    );
    // Another move is refused meanwhile, naming the one in progress.
    let output = migrate(&cluster, &["division", "--to", "linux", "--yes"]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("another move is in progress (moving sum out of the monolith"),
        "{}",
        text(&output)
    );

    // The next console waits out the dead one's claim, then finishes the move.
    let out = moved(&cluster, &["--resume", "--yes"]);
    assert!(out.contains("completed"), "{out}");
    let (pod, total) = served(&calc(&cluster), "sum");
    assert!(
        pod.starts_with("sum-service-") && total == "9",
        "{pod} {total}"
    );
    assert_eq!(
        moved(&cluster, &["--status"]).trim(),
        "no move is in progress"
    );
    assert_eq!(names(&cluster, "leases"), "");
}

#[test]
fn every_service_moves_out_the_monolith_retires_and_the_calculator_still_answers() {
    let cluster = TestCluster::start(true);
    for service in ["sum", "subtraction", "multiplication", "division"] {
        moved(&cluster, &[service, "--to", "linux", "--yes"]);
    }
    // Retiring is refused while the monolith still serves the page.
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let early = cluster.console(&[
        "--kubeconfig",
        &kubeconfig,
        "retire",
        "--stage",
        "scale-to-zero",
        "--yes",
    ]);
    assert!(!early.status.success());
    assert!(
        text(&early).contains("the monolith still serves ui; move it first"),
        "{}",
        text(&early)
    );

    let out = moved(&cluster, &["ui", "--to", "linux", "--yes"]);
    assert!(
        out.contains("selector set to app.kubernetes.io/component=ui"),
        "{out}"
    );
    let answer = calc(&cluster);
    assert!(
        answer["frontend"]["pod"]
            .as_str()
            .unwrap()
            .starts_with("ui-service-"),
        "{answer}"
    );

    for stage in ["scale-to-zero", "delete"] {
        let output = cluster.console(&[
            "--kubeconfig",
            &kubeconfig,
            "retire",
            "--stage",
            stage,
            "--yes",
        ]);
        assert!(
            output.status.success(),
            "retire {stage}:\n{}",
            text(&output)
        );
    }
    assert!(!names(&cluster, "deployments").contains("monolith"));
    let answer = calc(&cluster);
    for (operation, total) in [
        ("sum", "9"),
        ("subtraction", "3"),
        ("multiplication", "18"),
        ("division", "2"),
    ] {
        let (pod, got) = served(&answer, operation);
        assert_eq!(got, total, "{answer}");
        assert_eq!(node_os(&cluster, &pod, "calculator"), "linux");
    }
    // Nothing runs on Windows any more.
    let status = cluster.console(&["--kubeconfig", &kubeconfig, "status", "-o", "json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let windows = &status["lanes"][0];
    assert_eq!(windows["os"], "windows");
    let pods_on_windows: Vec<String> = windows["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["nodes"].as_array().unwrap().iter())
        .flat_map(|n| n["pods"].as_array().unwrap().iter())
        .filter(|p| p["namespace"] == "calculator" && p["state"] != "terminating")
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(pods_on_windows.is_empty(), "{pods_on_windows:?}");
}

/// A monolith with other names in another namespace: only a plan file says what it is.
#[test]
fn a_second_monolith_moves_with_its_own_plan_file_and_no_code_change() {
    let cluster = TestCluster::start(false);
    cluster.apply(
        "apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy-store, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: legacy-store}}
  template:
    metadata: {labels: {app: legacy-store}}
    spec:
      nodeSelector: {kubernetes.io/os: windows}
      tolerations: [{key: os, operator: Equal, value: windows, effect: NoSchedule}]
      containers:
      - name: store
        image: registry.example.com/shop/calculator:7
        args: [monolith]
        ports: [{name: web, containerPort: 3000}]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        readinessProbe: {httpGet: {path: /readyz, port: web}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: legacy-store, namespace: shop}
spec:
  selector: {app: legacy-store}
  ports: [{name: web, port: 3000, targetPort: web}]
---
apiVersion: v1
kind: Service
metadata: {name: storefront, namespace: shop}
spec:
  selector: {app: legacy-store}
  ports: [{name: web, port: 80, targetPort: web}]
",
    );
    let dir = cluster.dir().join("shop-plan");
    std::fs::create_dir_all(dir.join("extracted")).unwrap();
    std::fs::write(
        dir.join("extracted/adder.yaml"),
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: adder}
spec:
  replicas: 1
  selector: {matchLabels: {app: adder}}
  template:
    metadata: {labels: {app: adder}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers:
      - name: adder
        image: registry.example.com/shop/calculator:7
        args: [sum]
        ports: [{name: web, containerPort: 3000}]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        readinessProbe: {httpGet: {path: /readyz, port: web}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: adder}
spec:
  selector: {app: adder}
  ports: [{name: web, port: 3000, targetPort: web}]
",
    )
    .unwrap();
    let plan = dir.join("shop-plan.yaml");
    std::fs::write(
        &plan,
        "apiVersion: hybrid-console.io/v1alpha1
kind: MigrationPlan
metadata: {name: shop}
monolith: {namespace: shop, deployment: legacy-store, service: legacy-store, container: store, url: 'http://legacy-store:3000'}
front:
  service: storefront
  port: web
  monolithSelector: {app: legacy-store}
  check:
    path: /api/calculate?a=6&b=3
    expect: {/results/0/total: 9, /results/3/total: 2}
services:
  - name: adder
    manifest: extracted/adder.yaml
    route: {variable: SUM_SERVICE_URL, url: 'http://adder:3000'}
    answeredBy: /results/0/served-by/pod
    verify:
      - {path: /sum/2/3, expect: {/total: 5}, answeredBy: /served-by/pod}
",
    )
    .unwrap();
    cluster.kubectl().ok(&[
        "rollout",
        "status",
        "deployment/legacy-store",
        "-n",
        "shop",
        "--timeout=60s",
    ]);
    let plan = plan.to_string_lossy().into_owned();
    let out = moved(
        &cluster,
        &["--plan", &plan, "adder", "--to", "linux", "--yes"],
    );
    assert!(
        out.contains("Move adder out of the monolith (plan shop"),
        "{out}"
    );
    assert!(out.contains("completed"), "{out}");
    let answer: Value = serde_json::from_str(&cluster.kubectl().ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/shop/services/storefront:web/proxy/api/calculate?a=6&b=3",
    ]))
    .unwrap();
    let (pod, total) = served(&answer, "sum");
    assert!(pod.starts_with("adder-") && total == "9", "{answer}");
    assert!(
        served(&answer, "division").0.starts_with("legacy-store-"),
        "{answer}"
    );
    moved(
        &cluster,
        &["--plan", &plan, "adder", "--to", "monolith", "--yes"],
    );
    assert_eq!(
        cluster.kubectl().ok(&[
            "get",
            "deployments",
            "-n",
            "shop",
            "-o",
            "jsonpath={.items[*].metadata.name}"
        ]),
        "legacy-store"
    );
}

#[test]
fn ctrl_c_aborts_a_move_and_rolls_it_back() {
    let cluster = TestCluster::start(true);
    let child = cluster.move_in_background(&["division", "--to", "linux", "--yes"]);
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = child.wait_with_output().unwrap();
    let out = text(&output);
    if out.contains("completed\n") && !out.contains("rolled back") {
        // The move beat the signal: nothing to abort. Undo it and say so.
        moved(&cluster, &["division", "--to", "monolith", "--yes"]);
        panic!("the move finished before Ctrl-C reached it:\n{out}");
    }
    assert!(!output.status.success(), "{out}");
    assert!(out.contains("aborting the move and rolling back"), "{out}");
    assert!(out.contains("aborted by kubernetes-admin"), "{out}");
    assert_eq!(names(&cluster, "deployments"), "monolith", "{out}");
    assert!(
        !monolith_env(&cluster).contains("DIVISION_SERVICE_URL"),
        "{out}"
    );
    let (pod, total) = served(&calc(&cluster), "division");
    assert!(
        pod.starts_with("monolith-") && total == "2",
        "{pod} {total}"
    );
}

#[test]
fn two_consoles_starting_moves_at_once_cannot_both_go_ahead() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let start = |service: &str| {
        Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
            .args([
                "--kubeconfig",
                &kubeconfig,
                "migrate",
                service,
                "--to",
                "linux",
                "--yes",
            ])
            .env("HOME", cluster.dir())
            .env_remove("KUBECONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (start("sum"), start("division"));
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let succeeded: Vec<bool> = outputs.iter().map(|o| o.status.success()).collect();
    let texts: Vec<String> = outputs.iter().map(text).collect();
    // One of them went ahead; the other was stopped by the Lease or the record, and said so.
    assert_eq!(succeeded.iter().filter(|s| **s).count(), 1, "{texts:#?}");
    let loser = &texts[succeeded.iter().position(|s| !s).unwrap()];
    assert!(
        loser.contains("another console") || loser.contains("another move is"),
        "{loser}"
    );
    let env = monolith_env(&cluster);
    assert_eq!(
        ["SUM_SERVICE_URL", "DIVISION_SERVICE_URL"]
            .iter()
            .filter(|v| env.contains(*v))
            .count(),
        1,
        "{env}"
    );
    assert_eq!(
        moved(&cluster, &["--status"]).trim(),
        "no move is in progress"
    );
}
