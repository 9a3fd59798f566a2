//! A progressive move inside the monolith, end to end on a local cluster: the CLI's
//! `migrate sum --to linux --progressive` while a probe asks the calculator 20 times a second
//! through the front Service (inputs that binary floating point gets wrong among them) and
//! notes who computed each sum and at which step of the move (read from the move's record in
//! the cluster's store). A sound build goes through shadow, 10 %, 50 % and 100 % with no failed
//! answer and each share within ±5 points; a drifting build is stopped at shadow with its
//! mismatch in full; an error-injecting build is rolled back from 10 % by itself, naming the
//! threshold it broke; nothing is left behind by either.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hybrid_console::cluster::connection::{self, ConnectionTarget};
use hybrid_console::cluster::proxy::proxy_get;
use local_cluster::registry::Registry;
use support::{TestCluster, monolith_env, move_record, names, text};

/// The front Service's calculate endpoint, through the API server's service proxy.
const FRONT: &str = "/api/v1/namespaces/calculator/services/calculator:http/proxy/api/calculate";

/// Operands and the exact sum: two that binary floating point gets wrong.
const INPUTS: [(&str, &str, &str); 3] = [
    ("0.1", "0.2", "0.3"),
    ("6", "3", "9"),
    ("1.1", "2.2", "3.3"),
];

/// One probe answer.
#[derive(Debug)]
struct Answer {
    at: Instant,
    /// The move's step and share when it was asked (`none`: no move recorded).
    step: String,
    share: Option<u64>,
    /// Whether it was a 200 with the exact sum.
    ok: bool,
    /// Whether the sum was computed by the sum service's pods (not the monolith's).
    by_service: bool,
    detail: String,
}

/// The move's step and share, read from the store (no API round trip).
fn step_of(registry: &Registry) -> (String, Option<u64>) {
    let stored = registry.get(
        local_cluster::resources::deployments(),
        "calculator",
        "monolith",
    );
    let record = stored.ok().and_then(|s| {
        let monolith: serde_json::Value = serde_json::from_slice(&s.json).ok()?;
        let text = monolith["metadata"]["annotations"]["hybrid-console.io/move"].as_str()?;
        serde_json::from_str::<serde_json::Value>(text).ok()
    });
    match record {
        Some(r) => (
            r["step"].as_str().unwrap_or("?").to_owned(),
            r["share"].as_u64(),
        ),
        None => ("none".into(), None),
    }
}

/// Asks the calculator 20 times a second until `stop`, noting each answer.
fn probe(cluster: &TestCluster, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Answer>> {
    let registry = cluster.registry().clone();
    let target = ConnectionTarget::Kubeconfig {
        path: Some(cluster.kubeconfig.clone()),
        context: None,
    };
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let connection = connection::open(&target, None).await.unwrap();
            let mut answers = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let (a, b, sum) = INPUTS[n % INPUTS.len()];
                n += 1;
                let (step, share) = step_of(&registry);
                let at = Instant::now();
                let answer = proxy_get(&connection.proxy, &format!("{FRONT}?a={a}&b={b}")).await;
                let (ok, by_service, detail) = match answer {
                    Ok((200, body)) => {
                        let json: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        let total = json["results"][0]["total"].to_string();
                        let pod = json["results"][0]["served-by"]["pod"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        (
                            total == sum,
                            pod.starts_with("sum-service"),
                            format!("{a}+{b}={total} by {pod}"),
                        )
                    }
                    Ok((status, body)) => (
                        false,
                        false,
                        format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
                    ),
                    Err(e) => (false, false, format!("no answer: {e}")),
                };
                answers.push(Answer {
                    at,
                    step,
                    share,
                    ok,
                    by_service,
                    detail,
                });
            }
            answers
        })
    })
}

/// Runs `migrate <args>` while the probe asks; the console's output and the probe's answers.
fn move_under_probe(cluster: &TestCluster, args: &[&str]) -> (Output, Vec<Answer>) {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe(cluster, stop.clone());
    // The probe's first answers come before the move: the monolith's own.
    std::thread::sleep(Duration::from_secs(1));
    let output = Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .arg("migrate")
        .args(args)
        .env("HOME", cluster.dir())
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    (output, probe.join().unwrap())
}

/// The service's share of the answers given at `step` (`*`: any step) with `share`, leaving
/// out the first `settle` of it (the routing file reaching every monolith pod), as (percent,
/// answers).
fn measured(answers: &[Answer], step: &str, share: Option<u64>, settle: Duration) -> (f64, usize) {
    let at_step: Vec<&Answer> = answers
        .iter()
        .filter(|a| (step == "*" || a.step == step) && a.share == share)
        .collect();
    let Some(first) = at_step.first() else {
        return (f64::NAN, 0);
    };
    let counted: Vec<&&Answer> = at_step
        .iter()
        .filter(|a| a.at >= first.at + settle)
        .collect();
    let by_service = counted.iter().filter(|a| a.by_service).count();
    (
        by_service as f64 * 100.0 / counted.len().max(1) as f64,
        counted.len(),
    )
}

/// Nothing of a stopped move is left: no sum Deployment or Service, no record, no routing
/// file the move created, the monolith still computes the sum.
fn nothing_left(cluster: &TestCluster) {
    assert!(move_record(cluster).is_none());
    assert!(!names(cluster, "deployments").contains("sum-service"));
    assert!(!names(cluster, "services").contains("sum-service"));
    assert!(!names(cluster, "configmaps").contains("monolith-routing"));
    assert!(!monolith_env(cluster).contains("SUM_SERVICE_URL"));
    assert!(
        !monolith_field_annotations(cluster).contains("move-control"),
        "a control word was left on the monolith"
    );
}

fn monolith_field_annotations(cluster: &TestCluster) -> String {
    support::monolith_field(cluster, ".metadata.annotations")
}

#[test]
fn a_sound_build_goes_through_every_share_with_no_failed_answer() {
    let cluster = TestCluster::start(true);
    let (output, answers) = move_under_probe(
        &cluster,
        &[
            "sum",
            "--to",
            "linux",
            "--progressive",
            "--weights",
            "10,50",
            "--hold",
            "8s",
            "--shadow",
            "100",
            "--settle",
            "3s",
            "--yes",
        ],
    );
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    let failed: Vec<&str> = answers
        .iter()
        .filter(|a| !a.ok)
        .map(|a| a.detail.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed answers: {failed:?}\n{said}",
        failed.len()
    );
    // Every step's share, as the probe counted who computed each sum.
    let settle = Duration::from_millis(2500);
    for (step, share, target) in [
        ("shadow", Some(0), 0.0),
        ("canary", Some(10), 10.0),
        ("canary", Some(50), 50.0),
        // 100 % from the routing file, then from the variable (settle, re-route, hand-over).
        ("*", Some(100), 100.0),
    ] {
        let (percent, counted) = measured(&answers, step, share, settle);
        eprintln!("{step} {share:?}: the service computed {percent:.1} % of {counted} answers");
        assert!(
            counted >= 20,
            "{step} {share:?}: only {counted} answers counted\n{said}"
        );
        assert!(
            (percent - target).abs() <= 5.0,
            "{step} {share:?}: the service computed {percent:.1} % of {counted} answers, not {target} % ± 5\n{said}"
        );
    }
    // The progress lines carry each step's figures.
    assert!(said.contains("compared: "), "{said}");
    assert!(said.contains("0 mismatched"), "{said}");
    assert!(
        said.contains("10 % of sum answered by the service, held 8 s"),
        "{said}"
    );
    // The end: the routing variable carries the route, the file's entry is gone (the move had
    // created the ConfigMap, so it is deleted), and the sum is the service's.
    assert!(move_record(&cluster).is_none());
    assert!(monolith_env(&cluster).contains("SUM_SERVICE_URL"));
    assert!(!names(&cluster, "configmaps").contains("monolith-routing"));
    let last: Vec<&Answer> = answers.iter().rev().take(10).collect();
    assert!(last.iter().all(|a| a.by_service), "{last:?}");
}

#[test]
fn a_drifting_build_is_stopped_at_shadow_with_its_mismatch_shown() {
    let cluster = TestCluster::start(true);
    // A plan whose checks of the new service do not think of binary fractions: what shadow
    // traffic is for.
    let plan = support::plan_copy(&cluster.path("plan"), |plan| {
        plan.replacen(
            "      - path: /sum/0.1/0.2\n        expect: {/total: 0.3}\n",
            "",
            1,
        )
    });
    let plan = plan.to_string_lossy().into_owned();
    let (output, answers) = move_under_probe(
        &cluster,
        &[
            "--plan",
            &plan,
            "sum",
            "--to",
            "linux",
            "--progressive",
            "--image",
            "ghcr.io/hybrid-console/calculator:0.1.0-float",
            "--shadow",
            "100",
            "--yes",
        ],
    );
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("Verify service: done"), "{said}");
    assert!(said.contains("shadow answers differed"), "{said}");
    assert!(
        said.contains("the monolith answered 0.3, the service 0.30000000000000004"),
        "{said}"
    );
    // The client was always answered by the monolith, and rightly.
    let wrong: Vec<&str> = answers
        .iter()
        .filter(|a| !a.ok || a.by_service)
        .map(|a| a.detail.as_str())
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
    assert!(
        !answers.iter().any(|a| a.step == "canary"),
        "it went past shadow"
    );
    nothing_left(&cluster);
}

#[test]
fn an_error_injecting_build_is_rolled_back_from_its_first_share() {
    let cluster = TestCluster::start(true);
    let (output, answers) = move_under_probe(
        &cluster,
        &[
            "sum",
            "--to",
            "linux",
            "--progressive",
            "--image",
            "ghcr.io/hybrid-console/calculator:0.1.0-fail5",
            // Its shadow calls would fail too and stop it there; this is about the canary.
            "--shadow",
            "0",
            "--hold",
            "60s",
            "--yes",
        ],
    );
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("error rate"), "{said}");
    assert!(said.contains("is above its limit 1.0 %"), "{said}");
    let steps: Vec<(String, Option<u64>)> =
        answers.iter().map(|a| (a.step.clone(), a.share)).collect();
    assert!(
        steps.contains(&("canary".into(), Some(10))),
        "never at 10 %"
    );
    assert!(
        !steps.contains(&("canary".into(), Some(50))),
        "it went on to 50 %"
    );
    // Rolled back before the hold ran out: the breach, not the clock, ended the step.
    let at_ten: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.step == "canary" && a.share == Some(10))
        .collect();
    let held = at_ten.last().unwrap().at - at_ten.first().unwrap().at;
    assert!(held < Duration::from_secs(60), "held {held:?}");
    nothing_left(&cluster);
}

/// Starts `migrate <args>` in the background; returns it once the move's record names `step`
/// at `share`.
fn console_until(
    cluster: &TestCluster,
    args: &[&str],
    step: &str,
    share: u64,
) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .arg("migrate")
        .args(args)
        .env("HOME", cluster.dir())
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if step_of(cluster.registry()) == (step.to_owned(), Some(share)) {
            return child;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the move ended ({status}) before {step} at {share} %");
        }
        assert!(Instant::now() < deadline, "{step} at {share} % never came");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_console_killed_at_fifty_percent_is_resumed_by_the_next() {
    let cluster = TestCluster::start(true);
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe(&cluster, stop.clone());
    let mut console = console_until(
        &cluster,
        &[
            "sum",
            "--to",
            "linux",
            "--progressive",
            "--shadow",
            "40",
            "--hold",
            "6s",
            "--settle",
            "2s",
            "--yes",
        ],
        "canary",
        50,
    );
    console.kill().unwrap();
    console.wait().unwrap();
    // The next console sees where the move stands.
    let status = support::migrate(&cluster, &["--status"]);
    assert!(
        text(&status).contains("step \"Canary\" at 50 %"),
        "{}",
        text(&status)
    );
    // With the figures of the last two seconds: the probe's sums, some of them the service's
    // (the 50 % share may still be reaching the monolith's pods: killed as soon as it began).
    assert!(
        text(&status).contains("over the last 2 s: service "),
        "{}",
        text(&status)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&support::migrate(&cluster, &["--status", "-o", "json"]).stdout)
            .unwrap();
    assert_eq!(json["share"], 50, "{json}");
    let answered = json["figures"]["service"]["answered"].as_u64().unwrap();
    let all = answered + json["figures"]["monolith"]["answered"].as_u64().unwrap();
    assert!(all >= 20 && answered > 0, "{json}");
    // Killed at 50 %, the monolith goes on sharing by its routing file meanwhile.
    let resumed = support::migrate(&cluster, &["--resume", "--yes"]);
    let said = text(&resumed);
    assert!(resumed.status.success(), "{said}");
    assert!(said.contains("done before the console restarted"), "{said}");
    stop.store(true, Ordering::Relaxed);
    let answers = probe.join().unwrap();
    let failed: Vec<&str> = answers
        .iter()
        .filter(|a| !a.ok)
        .map(|a| a.detail.as_str())
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(move_record(&cluster).is_none());
    assert!(monolith_env(&cluster).contains("SUM_SERVICE_URL"));
    assert!(!names(&cluster, "configmaps").contains("monolith-routing"));
    assert!(answers.iter().rev().take(10).all(|a| a.by_service));
}

#[test]
fn pause_holds_a_step_past_its_time_and_promote_skips_ahead() {
    let cluster = TestCluster::start(true);
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe(&cluster, stop.clone());
    let console = console_until(
        &cluster,
        &[
            "sum",
            "--to",
            "linux",
            "--progressive",
            "--shadow",
            "40",
            "--hold",
            "4s",
            "--settle",
            "2s",
            "--yes",
        ],
        "canary",
        10,
    );
    let paused = support::migrate(&cluster, &["--pause"]);
    assert!(paused.status.success(), "{}", text(&paused));
    assert!(text(&paused).contains("paused"), "{}", text(&paused));
    // Held well past its 4 s.
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(step_of(cluster.registry()), ("canary".to_owned(), Some(10)));
    let promoted = support::migrate(&cluster, &["--promote"]);
    assert!(promoted.status.success(), "{}", text(&promoted));
    let deadline = Instant::now() + Duration::from_secs(15);
    while step_of(cluster.registry()) != ("canary".to_owned(), Some(50)) {
        assert!(Instant::now() < deadline, "promote did not pass the step");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = console.wait_with_output().unwrap();
    assert!(output.status.success());
    stop.store(true, Ordering::Relaxed);
    let answers = probe.join().unwrap();
    assert!(answers.iter().all(|a| a.ok));
    assert!(move_record(&cluster).is_none());
    // No word is left on the monolith to steer the next move.
    assert!(!monolith_field_annotations(&cluster).contains("move-control"));
    // Steering with no move in progress says so.
    let nothing = support::migrate(&cluster, &["--promote"]);
    assert!(!nothing.status.success());
    assert!(
        text(&nothing).contains("no move is in progress"),
        "{}",
        text(&nothing)
    );
}

/// Asks `/sum/{a}/{b}` through the Gateway 20 times a second until `stop`, noting each answer.
fn edge_probe(
    cluster: &TestCluster,
    edge: String,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<Answer>> {
    let registry = cluster.registry().clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let client = test_harness::http_client();
            let mut answers = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let (a, b, sum) = INPUTS[n % INPUTS.len()];
                n += 1;
                let (step, share) = step_of(&registry);
                let at = Instant::now();
                let answer = client.get(format!("{edge}/sum/{a}/{b}")).send().await;
                let (ok, by_service, detail) = match answer {
                    Ok(response) if response.status() == 200 => {
                        let json: serde_json::Value = response.json().await.unwrap_or_default();
                        let total = json["total"].to_string();
                        let by = json["served-by"]["service"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        (
                            total == sum,
                            by == "sum",
                            format!("{a}+{b}={total} by {by}"),
                        )
                    }
                    Ok(response) => (false, false, format!("HTTP {}", response.status())),
                    Err(e) => (false, false, format!("no answer: {e}")),
                };
                answers.push(Answer {
                    at,
                    step,
                    share,
                    ok,
                    by_service,
                    detail,
                });
            }
            answers
        })
    })
}

#[test]
fn a_progressive_move_at_the_edge_weights_the_route_with_no_failed_answer() {
    let cluster = TestCluster::start(true);
    let kubectl = cluster.kubectl();
    support::install_edge(&cluster, "local-cluster");
    kubectl.ok(&[
        "wait",
        "--for=condition=Programmed",
        "gateway/calculator",
        "-n",
        "calculator",
        "--timeout=30s",
    ]);
    let address = kubectl.ok(&[
        "get",
        "gateway",
        "calculator",
        "-n",
        "calculator",
        "-o",
        "jsonpath={.status.addresses[0].value}",
    ]);
    let edge = format!("http://{}:8080", address.trim());
    let stop = Arc::new(AtomicBool::new(false));
    let probe = edge_probe(&cluster, edge, stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    let output = support::migrate(
        &cluster,
        &[
            "sum",
            "--to",
            "linux",
            "--progressive",
            "--at",
            "edge",
            "--weights",
            "10,50",
            "--hold",
            "8s",
            "--shadow",
            "60",
            "--settle",
            "3s",
            "--yes",
        ],
    );
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let answers = probe.join().unwrap();
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    let failed: Vec<&str> = answers
        .iter()
        .filter(|a| !a.ok)
        .map(|a| a.detail.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed: {failed:?}\n{said}",
        failed.len()
    );
    // The gateway's weights are exact (smooth weighted round-robin) once taken up, and the
    // move waits for that, so nothing needs leaving out.
    for (step, share, target) in [
        ("shadow", Some(0), 0.0),
        ("canary", Some(10), 10.0),
        ("canary", Some(50), 50.0),
        ("*", Some(100), 100.0),
    ] {
        let (percent, counted) = measured(&answers, step, share, Duration::from_millis(500));
        eprintln!(
            "edge {step} {share:?}: the service computed {percent:.1} % of {counted} answers"
        );
        assert!(
            counted >= 20,
            "{step} {share:?}: only {counted} answers\n{said}"
        );
        assert!(
            (percent - target).abs() <= 5.0,
            "{step} {share:?}: {percent:.1} % of {counted}, not {target} % ± 5\n{said}"
        );
    }
    assert!(said.contains("mirrored to the service: "), "{said}");
    assert!(
        said.contains("at the edge (rule 0 of HTTPRoute calculator)"),
        "{said}"
    );
    // The route stays at 100 % to the service; the monolith's own calls go there too.
    let weights = kubectl.ok(&[
        "get",
        "httproute",
        "calculator",
        "-n",
        "calculator",
        "-o",
        "jsonpath={.spec.rules[0].backendRefs[*].weight}",
    ]);
    assert_eq!(weights.trim(), "0 100");
    assert!(monolith_env(&cluster).contains("SUM_SERVICE_URL"));
    assert!(move_record(&cluster).is_none());
}

/// The plan of a move at the edge, as `migrate --dry-run -o json` prints it.
fn edge_plan(cluster: &TestCluster) -> serde_json::Value {
    let output = support::migrate(
        cluster,
        &[
            "sum",
            "--to",
            "linux",
            "--progressive",
            "--at",
            "edge",
            "--dry-run",
            "-o",
            "json",
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_gateway_that_cannot_mirror_gets_no_shadow_step_and_the_plan_says_why() {
    let cluster = TestCluster::start(true);
    let kubectl = cluster.kubectl();
    support::install_edge(&cluster, "local-cluster");
    kubectl.ok(&[
        "wait",
        "--for=condition=Accepted",
        "gatewayclass/local-cluster",
        "--timeout=20s",
    ]);
    // The local cluster's class lists HTTPRouteRequestMirror: the move shadows at the edge.
    let plan = edge_plan(&cluster);
    assert_eq!(plan["steps"][3], "shadow", "{plan:#}");
    assert!(plan.get("notes").is_none(), "{plan:#}");

    // Another implementation's class that lists its features without mirroring (as an ALB's
    // cannot copy requests): its status is written here as its controller would.
    support::gateway_class_without_mirror(&cluster);
    let plan = edge_plan(&cluster);
    let steps: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(!steps.contains(&"shadow"), "{steps:?}");
    assert_eq!(steps[3], "canary", "{steps:?}");
    let notes = plan["notes"].to_string();
    assert!(
        notes.contains("GatewayClass alb does not list HTTPRouteRequestMirror")
            && notes.contains("no shadow step"),
        "{notes}"
    );
    assert_eq!(plan["progression"]["shadowRequests"], 0, "{plan:#}");

    // The table the operator reads says it too.
    let output = support::migrate(
        &cluster,
        &[
            "sum",
            "--to",
            "linux",
            "--progressive",
            "--at",
            "edge",
            "--dry-run",
        ],
    );
    let said = text(&output);
    assert!(said.contains("NOTE: GatewayClass alb"), "{said}");
    assert!(!said.contains("Shadow"), "{said}");

    // A class that lists nothing cannot be told: the shadow step stays, with a note.
    kubectl.ok(&[
        "patch",
        "gatewayclass",
        "alb",
        "--subresource=status",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/status/supportedFeatures"}]"#,
    ]);
    let plan = edge_plan(&cluster);
    assert_eq!(plan["steps"][3], "shadow", "{plan:#}");
    assert!(
        plan["notes"].to_string().contains("cannot be told"),
        "{plan:#}"
    );
    // Nothing was changed by planning.
    assert!(move_record(&cluster).is_none());
}
