//! The monolith's routing file over HTTP, with real operation processes behind it: each mode
//! (`in-process`, `shadow`, `split`, `service`) taken up while the monolith runs, shares that
//! hold exactly, shadow comparisons that find a drifting build's answers and ignore a dead
//! service, and a bad file that changes nothing.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Service, get, get_json};

/// Replaces the routing file in one rename, as the kubelet swaps a ConfigMap's files.
fn write_routing(dir: &Path, text: &str) {
    let staged = dir.join(".routing.yaml.new");
    std::fs::write(&staged, text).expect("write the staged routing file");
    std::fs::rename(&staged, dir.join("routing.yaml")).expect("swap the routing file in");
}

/// A monolith reading its routing from `dir/routing.yaml`.
fn monolith_routed_by(dir: &Path) -> Service {
    let file = dir.join("routing.yaml");
    Service::start(
        "monolith",
        &[("CALC_ROUTING_FILE", file.to_str().expect("utf-8 path"))],
    )
}

/// Waits until `/api/routes` says `route` for `op`.
async fn wait_for_route(monolith: &Service, op: &str, route: &str) {
    let started = Instant::now();
    loop {
        let (_, routes) = get_json(&format!("{}/api/routes", monolith.url)).await;
        if routes[op] == route {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{op} still routed {} instead of {route}",
            routes[op]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asks the monolith `/sum/2/3` `n` times and counts the answers by the service that served them.
async fn served_by(monolith: &Service, n: usize) -> (usize, usize, usize) {
    let (mut by_monolith, mut by_sum, mut failed) = (0, 0, 0);
    for _ in 0..n {
        let (status, json) = get_json(&format!("{}/sum/2/3", monolith.url)).await;
        match (status, json["served-by"]["service"].as_str()) {
            (200, Some("monolith")) => by_monolith += 1,
            (200, Some("sum")) => by_sum += 1,
            _ => failed += 1,
        }
        if status == 200 {
            assert_eq!(json["total"], 5, "{json}");
        }
    }
    (by_monolith, by_sum, failed)
}

/// The value of the metric line that starts with `prefix` (labels included), or 0.
async fn metric(service: &Service, prefix: &str) -> f64 {
    let (_, text) = get(&format!("{}/metrics", service.url)).await;
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn each_mode_is_taken_up_while_the_monolith_runs_and_a_split_holds_its_share() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let sum = Service::start("sum", &[("POD_NAME", "sum-1")]);
    let routing_file = dir.path().join("routing.yaml");
    let monolith = Service::start(
        "monolith",
        &[
            (
                "CALC_ROUTING_FILE",
                routing_file.to_str().expect("utf-8 path"),
            ),
            ("SUM_SERVICE_URL", ""),
        ],
    );
    // No file yet (an optional ConfigMap not created): the routing variables rule.
    assert_eq!(served_by(&monolith, 10).await, (10, 0, 0));

    write_routing(
        dir.path(),
        &format!(
            "sum:\n  mode: split\n  percent: 10\n  service: {}\n",
            sum.url
        ),
    );
    // Taken up while it runs (how fast is measured by scripts/bench-reload.sh, not here).
    wait_for_route(&monolith, "sum", &format!("split 10% {}", sum.url)).await;
    // Evenly picked: exactly 10 of 100, not about 10.
    assert_eq!(served_by(&monolith, 100).await, (90, 10, 0));
    assert_eq!(
        metric(
            &monolith,
            "calculator_operation_service_percent{operation=\"sum\"}"
        )
        .await,
        10.0
    );

    write_routing(
        dir.path(),
        &format!(
            "sum: {{mode: split, percent: 50, service: '{}'}}\n",
            sum.url
        ),
    );
    wait_for_route(&monolith, "sum", &format!("split 50% {}", sum.url)).await;
    let (here, there, failed) = served_by(&monolith, 100).await;
    assert_eq!((here + there, failed), (100, 0));
    assert!((49..=51).contains(&there), "{there} of 100 by the service");

    write_routing(
        dir.path(),
        &format!("sum: {{mode: service, service: '{}'}}\n", sum.url),
    );
    wait_for_route(&monolith, "sum", &sum.url).await;
    assert_eq!(served_by(&monolith, 20).await, (0, 20, 0));
    // The fan-out follows the same table.
    let (_, json) = get_json(&format!("{}/api/calculate?a=2&b=3", monolith.url)).await;
    assert_eq!(json["results"][0]["served-by"]["pod"], "sum-1");
    assert_eq!(json["results"][1]["served-by"]["service"], "monolith");

    // A broken file changes nothing and is counted; the last good table stays in force.
    write_routing(dir.path(), "sum: {mode: split}\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(
        &monolith,
        "calculator_routing_file_reloads_total{result=\"rejected\"}",
    )
    .await
        < 1.0
    {
        assert!(Instant::now() < deadline, "the broken file was not noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served_by(&monolith, 10).await, (0, 10, 0));
    assert!(
        monolith
            .drain_logs()
            .iter()
            .any(|line| line.contains("routing file rejected") && line.contains("percent")),
        "the log says why the file was rejected"
    );

    // The ConfigMap removed: back to the routing variables (in-process here).
    std::fs::remove_file(&routing_file).expect("remove the routing file");
    wait_for_route(&monolith, "sum", "in-process").await;
    assert_eq!(served_by(&monolith, 10).await, (10, 0, 0));
    // Answers by route and outcome, as a move's analysis reads them: 10 at 10 %, `there` at
    // 50 %, then 20, the fan-out's one and 10 more by the service.
    let by_service = metric(
        &monolith,
        "calculator_operation_answers_total{operation=\"sum\",route=\"service\",outcome=\"ok\"}",
    )
    .await;
    assert_eq!(by_service, (10 + there + 31) as f64);
}

#[tokio::test]
async fn a_shadow_finds_a_drifting_build_and_the_client_never_sees_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // The drifting build: binary floating point, as the reference app's JavaScript services.
    let drifting = Service::start(
        "sum",
        &[("CALC_MISBEHAVE", "float"), ("POD_NAME", "sum-float")],
    );
    write_routing(
        dir.path(),
        &format!("sum: {{mode: shadow, service: '{}'}}\n", drifting.url),
    );
    let monolith = monolith_routed_by(dir.path());
    for (a, b, total) in [
        ("2", "3", "5"),
        ("0.1", "0.2", "0.3"),
        ("10", "-4", "6"),
        ("1.1", "2.2", "3.3"),
    ] {
        let (status, json) = get_json(&format!("{}/sum/{a}/{b}", monolith.url)).await;
        assert_eq!(
            (status, json["total"].to_string()),
            (200, total.to_owned()),
            "{json}"
        );
        assert_eq!(json["served-by"]["service"], "monolith");
    }
    // Errors compare by code: both refuse division by zero alike (not shadowed here), and both
    // refuse a bad number with the same code.
    let (status, _) = get(&format!("{}/sum/1/x", monolith.url)).await;
    assert_eq!(status, 400);

    let deadline = Instant::now() + Duration::from_secs(5);
    let record = loop {
        let (_, report) = get_json(&format!("{}/api/shadow", monolith.url)).await;
        if report["sum"]["compared"] == 4 {
            break report["sum"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "comparisons not recorded: {report}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record["active"], true);
    assert_eq!(
        (record["matched"].as_u64(), record["mismatched"].as_u64()),
        (Some(2), Some(2)),
        "{record}"
    );
    let first = &record["mismatches"][0];
    assert_eq!(first["a"].to_string(), "0.1");
    assert_eq!(first["monolith"]["total"].to_string(), "0.3");
    assert_eq!(first["service"]["total"].to_string(), "0.30000000000000004");
    assert_eq!(first["service"]["served-by"]["pod"], "sum-float");
    assert_eq!(
        record["mismatches"][1]["service"]["total"].to_string(),
        "3.3000000000000003"
    );
    assert_eq!(
        metric(
            &monolith,
            "calculator_shadow_comparisons_total{operation=\"sum\",result=\"mismatch\"}"
        )
        .await,
        2.0
    );
    // An invalid operand is refused before any route, so it is neither answered nor compared.
    assert_eq!(record["failed"], 0);
}

#[tokio::test]
async fn a_shadowed_service_that_is_down_or_slow_costs_the_monolith_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let slow = Service::start("sum", &[("CALC_MISBEHAVE", "slow=1500")]);
    let mut dead = Service::start("subtraction", &[]);
    let dead_url = dead.url.clone();
    dead.signal("KILL");
    let _ = dead.wait_for_exit(Duration::from_secs(5));
    write_routing(
        dir.path(),
        &format!(
            "sum: {{mode: shadow, service: '{}'}}\nsubtraction: {{mode: shadow, service: '{dead_url}'}}\n",
            slow.url
        ),
    );
    let monolith = monolith_routed_by(dir.path());
    let started = Instant::now();
    for _ in 0..20 {
        let (status, json) = get_json(&format!("{}/api/calculate?a=6&b=3", monolith.url)).await;
        assert_eq!(status, 200);
        assert_eq!(json["results"][0]["total"], 9);
        assert_eq!(json["results"][1]["total"], 3);
    }
    // Twenty answers while every shadow call takes 1.5 s or fails: on the requests' path they
    // would take 30 s at least; off it, well under half that even on a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, report) = get_json(&format!("{}/api/shadow", monolith.url)).await;
        if report["sum"]["matched"] == 20 && report["subtraction"]["failed"] == 20 {
            assert_eq!(report["subtraction"]["compared"], 0);
            let why = report["subtraction"]["last-failure"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(why.contains("could not be reached"), "{why}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "comparisons not recorded: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_split_counts_a_failing_service_s_errors_against_its_route() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let failing = Service::start("sum", &[("CALC_MISBEHAVE", "fail-percent=20")]);
    write_routing(
        dir.path(),
        &format!(
            "sum: {{mode: split, percent: 50, service: '{}'}}\n",
            failing.url
        ),
    );
    let monolith = monolith_routed_by(dir.path());
    let (here, there, failed) = served_by(&monolith, 100).await;
    // 50 to the service, of which 20 % (10) fail with its own 500.
    assert_eq!((here, there, failed), (50, 40, 10));
    let count = |route: &'static str, outcome: &'static str| {
        format!(
            "calculator_operation_answers_total{{operation=\"sum\",route=\"{route}\",outcome=\"{outcome}\"}}"
        )
    };
    assert_eq!(metric(&monolith, &count("service", "failed")).await, 10.0);
    assert_eq!(metric(&monolith, &count("service", "ok")).await, 40.0);
    assert_eq!(metric(&monolith, &count("in-process", "ok")).await, 50.0);
}
