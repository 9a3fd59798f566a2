//! The `monolith` and `ui` roles over HTTP, with real operation processes behind them: in-process
//! and forwarded operations, fan-out with a stopped, frozen or misbehaving backend, and graceful
//! shutdown.

mod support;

use std::time::Duration;

use support::{Service, get, get_json};

/// (operation, total, served-by service, error code) of one result entry.
type Row = (String, Option<String>, Option<String>, Option<String>);

fn results(json: &serde_json::Value) -> Vec<Row> {
    json["results"]
        .as_array()
        .expect("results array")
        .iter()
        .map(|r| {
            (
                r["operation"].as_str().expect("operation name").to_owned(),
                r.get("total").map(|t| t.to_string()),
                r["served-by"]["service"].as_str().map(str::to_owned),
                r["error"]["code"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn ok(op: &str, total: &str, by: &str) -> Row {
    (op.into(), Some(total.into()), Some(by.into()), None)
}

#[tokio::test]
async fn monolith_computes_everything_in_process_at_the_start() {
    let monolith = Service::start(
        "monolith",
        &[("POD_NAME", "monolith-abc"), ("NODE_NAME", "win-node-1")],
    );
    let (status, json) = get_json(&format!("{}/api/calculate?a=6&b=3", monolith.url)).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        results(&json),
        vec![
            ok("sum", "9", "monolith"),
            ok("subtraction", "3", "monolith"),
            ok("multiplication", "18", "monolith"),
            ok("division", "2", "monolith"),
        ]
    );
    assert_eq!(json["frontend"]["pod"], "monolith-abc");
    assert!(json["results"][0]["latency-ms"].as_f64().is_some());
    let (_, routes) = get_json(&format!("{}/api/routes", monolith.url)).await;
    assert_eq!(
        routes,
        serde_json::json!({"sum": "in-process", "subtraction": "in-process", "multiplication": "in-process", "division": "in-process"})
    );
    let (status, page) = get(&format!("{}/", monolith.url)).await;
    assert_eq!(status, 200);
    for text in [
        "First Number",
        "Second Number",
        "Calculate",
        "Operation",
        "Result",
        "Served by",
    ] {
        assert!(page.contains(text), "page lacks {text}");
    }
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "page must not load external assets"
    );
    // Its own operation paths work too.
    let (_, json) = get_json(&format!("{}/division/6/3", monolith.url)).await;
    assert_eq!(
        (
            json["total"].as_i64(),
            json["served-by"]["service"].as_str()
        ),
        (Some(2), Some("monolith"))
    );
}

#[tokio::test]
async fn monolith_forwards_an_extracted_operation_to_its_service() {
    let sum = Service::start("sum", &[("POD_NAME", "sum-service-1")]);
    let monolith = Service::start("monolith", &[("SUM_SERVICE_URL", &sum.url)]);
    let (status, json) = get_json(&format!("{}/sum/2/3", monolith.url)).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["total"], 5);
    assert_eq!(json["served-by"]["service"], "sum");
    assert_eq!(json["served-by"]["pod"], "sum-service-1");

    let (_, json) = get_json(&format!("{}/api/calculate?a=6&b=3", monolith.url)).await;
    let r = results(&json);
    assert_eq!(r[0], ok("sum", "9", "sum"));
    assert_eq!(r[1], ok("subtraction", "3", "monolith"));
    let (_, routes) = get_json(&format!("{}/api/routes", monolith.url)).await;
    assert_eq!(routes["sum"], sum.url);
    assert_eq!(routes["division"], "in-process");

    // The service's own errors come back unchanged, status included.
    let (status, json) = get_json(&format!("{}/sum/1/abc", monolith.url)).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (400, Some("invalid_number"))
    );
}

#[tokio::test]
async fn ui_fans_out_to_four_services_and_one_stopped_backend_fails_alone() {
    let sum = Service::start("sum", &[]);
    let subtraction = Service::start("subtraction", &[]);
    let multiplication = Service::start("multiplication", &[]);
    let mut division = Service::start("division", &[]);
    let ui = Service::start(
        "ui",
        &[
            ("SUM_SERVICE_URL", &sum.url),
            ("SUBTRACTION_SERVICE_URL", &subtraction.url),
            ("MULTIPLICATION_SERVICE_URL", &multiplication.url),
            ("DIVISION_SERVICE_URL", &division.url),
        ],
    );
    let (status, json) = get_json(&format!("{}/api/calculate?a=6&b=3", ui.url)).await;
    assert_eq!(status, 200);
    assert_eq!(
        results(&json),
        vec![
            ok("sum", "9", "sum"),
            ok("subtraction", "3", "subtraction"),
            ok("multiplication", "18", "multiplication"),
            ok("division", "2", "division"),
        ]
    );
    assert_eq!(json["frontend"]["service"], "ui");

    // Division by zero is the division service's own answer, not a transport failure.
    let (_, json) = get_json(&format!("{}/api/calculate?a=6&b=0", ui.url)).await;
    assert_eq!(results(&json)[3].3.as_deref(), Some("division_by_zero"));
    assert_eq!(results(&json)[3].2.as_deref(), Some("division"));

    division.signal("KILL");
    division.wait_for_exit(Duration::from_secs(5));
    let (status, json) = get_json(&format!("{}/api/calculate?a=6&b=3", ui.url)).await;
    assert_eq!(status, 200);
    let r = results(&json);
    assert_eq!(r[0], ok("sum", "9", "sum"));
    assert_eq!(r[2], ok("multiplication", "18", "multiplication"));
    assert_eq!(r[3].3.as_deref(), Some("backend_unavailable"), "{json}");
    assert!(
        json["results"][3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DIVISION_SERVICE_URL")
    );
}

#[tokio::test]
async fn a_frozen_backend_times_out_without_holding_up_the_others() {
    let sum = Service::start("sum", &[]);
    let division = Service::start("division", &[]);
    let monolith = Service::start(
        "monolith",
        &[
            ("SUM_SERVICE_URL", &sum.url),
            ("DIVISION_SERVICE_URL", &division.url),
            ("BACKEND_TIMEOUT_MS", "400"),
        ],
    );
    division.signal("STOP");
    let started = std::time::Instant::now();
    let (status, json) = get_json(&format!("{}/api/calculate?a=6&b=3", monolith.url)).await;
    division.signal("CONT");
    assert_eq!(status, 200);
    let r = results(&json);
    assert_eq!(r[0], ok("sum", "9", "sum"));
    assert_eq!(r[1], ok("subtraction", "3", "monolith"));
    assert_eq!(r[3].3.as_deref(), Some("backend_timeout"), "{json}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "timeout of 400 ms was not applied"
    );
}

#[tokio::test]
async fn calculate_rejects_missing_and_bad_operands() {
    let monolith = Service::start("monolith", &[]);
    let (status, json) = get_json(&format!("{}/api/calculate?a=6", monolith.url)).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (400, Some("invalid_number"))
    );
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("second number is missing"),
        "{json}"
    );
    let (status, json) = get_json(&format!("{}/api/calculate?a=Infinity&b=1", monolith.url)).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (400, Some("invalid_number"))
    );
    let (status, _) = get_json(&format!("{}/api/calculate?a=&b=1", monolith.url)).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn sigterm_finishes_the_in_flight_request_then_exits_cleanly() {
    let sum = Service::start("sum", &[]);
    let mut ui = Service::start(
        "ui",
        &[
            ("SUM_SERVICE_URL", &sum.url),
            ("BACKEND_TIMEOUT_MS", "10000"),
        ],
    );
    // Warm the connection, then freeze the backend so the next request is in flight for a while.
    get(&format!("{}/api/calculate?a=1&b=1", ui.url)).await;
    sum.signal("STOP");
    let url = format!("{}/api/calculate?a=2&b=3", ui.url);
    let in_flight = tokio::spawn(async move { get_json(&url).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    ui.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        ui.wait_for_exit(Duration::ZERO).is_none(),
        "ui exited with a request in flight"
    );
    sum.signal("CONT");
    let (status, json) = in_flight.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(results(&json)[0], ok("sum", "5", "sum"));
    assert_eq!(
        ui.wait_for_exit(Duration::from_secs(10)),
        Some(true),
        "ui did not exit cleanly"
    );
    let logs = ui.drain_logs().join("\n");
    assert!(logs.contains("shutting down"), "{logs}");
}

#[test]
fn unknown_roles_and_bad_variables_exit_non_zero_with_a_message() {
    let bin = env!("CARGO_BIN_EXE_calc-services");
    let output = std::process::Command::new(bin)
        .arg("adder")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value 'adder'") && stderr.contains("monolith"),
        "{stderr}"
    );

    for (key, value, expected) in [
        ("PORT", "eighty", "PORT=\"eighty\" is not a port number"),
        (
            "HOST",
            "example.com",
            "HOST=\"example.com\" is not an IP address",
        ),
        (
            "SUM_SERVICE_URL",
            "sum-service",
            "SUM_SERVICE_URL=\"sum-service\" is not a usable base URL",
        ),
    ] {
        let output = std::process::Command::new(bin)
            .arg("monolith")
            .env(key, value)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = blocker.local_addr().unwrap().port().to_string();
    let output = std::process::Command::new(bin)
        .arg("sum")
        .env("HOST", "127.0.0.1")
        .env("PORT", &port)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen on"));
}

#[tokio::test]
async fn misbehaving_services_fail_their_own_operation_with_502_or_504_and_no_other() {
    // Each operation service goes wrong its own way (CALC_MISBEHAVE).
    let sum = Service::start("sum", &[("CALC_MISBEHAVE", "garbage")]);
    let subtraction = Service::start("subtraction", &[("CALC_MISBEHAVE", "slow=3000")]);
    let multiplication = Service::start("multiplication", &[("CALC_MISBEHAVE", "hang")]);
    let mut division = Service::start("division", &[("CALC_MISBEHAVE", "die-after=1")]);
    // The monolith with every operation extracted: it forwards each, and answers single ones too.
    let ui = Service::start(
        "monolith",
        &[
            ("SUM_SERVICE_URL", &sum.url),
            ("SUBTRACTION_SERVICE_URL", &subtraction.url),
            ("MULTIPLICATION_SERVICE_URL", &multiplication.url),
            ("DIVISION_SERVICE_URL", &division.url),
            ("BACKEND_TIMEOUT_MS", "400"),
        ],
    );
    let (status, json) = get_json(&format!("{}/api/calculate?a=6&b=3", ui.url)).await;
    assert_eq!(status, 200);
    let r = results(&json);
    assert_eq!(r[0].3.as_deref(), Some("backend_invalid"), "{json}");
    assert_eq!(r[1].3.as_deref(), Some("backend_timeout"), "{json}");
    assert_eq!(r[2].3.as_deref(), Some("backend_timeout"), "{json}");
    // The dying one answered once, correctly.
    assert_eq!(r[3], ok("division", "2", "division"));

    // Asked for one operation, the front answers with the gateway's status for it.
    let (status, body) = get_json(&format!("{}/sum/6/3", ui.url)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("backend_invalid"))
    );
    let (status, body) = get_json(&format!("{}/multiplication/6/3", ui.url)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (504, Some("backend_timeout"))
    );

    // The division service exits on its second call: from then on that operation alone is 502.
    let (status, body) = get_json(&format!("{}/division/6/3", ui.url)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(division.wait_for_exit(Duration::from_secs(5)), Some(false));
    let (_, json) = get_json(&format!("{}/api/calculate?a=6&b=3", ui.url)).await;
    let r = results(&json);
    assert_eq!(r[3].3.as_deref(), Some("backend_unavailable"), "{json}");
    assert_eq!(r[0].3.as_deref(), Some("backend_invalid"), "{json}");
}

#[test]
fn an_unknown_misbehaviour_is_refused_at_start_with_the_choices() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_calc-services"))
        .arg("sum")
        .env("CALC_MISBEHAVE", "explode")
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CALC_MISBEHAVE=\"explode\" is not a misbehaviour"),
        "{stderr}"
    );
}
