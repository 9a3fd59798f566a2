//! The operation roles over HTTP, as real processes: results, exactness and every error case.

mod support;

use support::{Service, get, get_json};

const POD_ENV: &[(&str, &str)] = &[
    ("POD_NAME", "sum-service-7d9f-abcde"),
    ("POD_NAMESPACE", "calculator"),
    ("NODE_NAME", "ip-10-0-1-17"),
];

#[tokio::test]
async fn each_operation_role_answers_its_operation_with_the_reference_keys() {
    for (role, expected) in [
        ("sum", "9"),
        ("subtraction", "3"),
        ("multiplication", "18"),
        ("division", "2"),
    ] {
        let service = Service::start(role, POD_ENV);
        let (status, body) = get(&format!("{}/{role}/6/3", service.url)).await;
        assert_eq!(status, 200, "{role}: {body}");
        let expected_prefix = format!(
            r#"{{"first-number":6,"second-number":3,"operation":"{role}","total":{expected},"served-by":{{"service":"{role}","pod":"sum-service-7d9f-abcde","node":"ip-10-0-1-17","namespace":"calculator","os":"{}"}}}}"#,
            std::env::consts::OS
        );
        assert_eq!(body, expected_prefix);
        // An operation role serves only its own operation.
        let other = if role == "sum" { "division" } else { "sum" };
        let (status, json) = get_json(&format!("{}/{other}/6/3", service.url)).await;
        assert_eq!(status, 404);
        assert_eq!(json["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn served_by_fields_are_null_without_the_downward_api() {
    let service = Service::start("sum", &[]);
    let (_, json) = get_json(&format!("{}/sum/1/1", service.url)).await;
    assert_eq!(json["served-by"]["pod"], serde_json::Value::Null);
    assert_eq!(json["served-by"]["node"], serde_json::Value::Null);
    assert_eq!(json["served-by"]["namespace"], serde_json::Value::Null);
    assert_eq!(json["served-by"]["os"], std::env::consts::OS);
}

#[tokio::test]
async fn arithmetic_is_exact_decimal_in_shortest_form() {
    let sum = Service::start("sum", &[]);
    let division = Service::start("division", &[]);
    let multiplication = Service::start("multiplication", &[]);
    let cases = [
        (&sum, "/sum/0.1/0.2", r#""total":0.3,"#),
        (&sum, "/sum/2.5/1", r#""total":3.5,"#),
        (&sum, "/sum/-7.25/7.25", r#""total":0,"#),
        (&multiplication, "/multiplication/2.5/2", r#""total":5,"#),
        (
            &multiplication,
            "/multiplication/1e-3/1000",
            r#""total":1,"#,
        ),
        (
            &division,
            "/division/1/3",
            r#""total":0.3333333333333333333333333333,"#,
        ),
        (&division, "/division/10/4", r#""total":2.5,"#),
        (
            &sum,
            "/sum/79228162514264337593543950334/1",
            r#""total":79228162514264337593543950335,"#,
        ),
    ];
    for (service, path, expected) in cases {
        let (status, body) = get(&format!("{}{path}", service.url)).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.contains(expected), "{path}: {body} lacks {expected}");
    }
    // Operands are echoed normalised: "2.50" becomes 2.5.
    let (_, body) = get(&format!("{}/sum/2.50/1.0", sum.url)).await;
    assert!(
        body.starts_with(r#"{"first-number":2.5,"second-number":1,"#),
        "{body}"
    );
}

#[tokio::test]
async fn bad_numbers_are_400_with_a_readable_message() {
    let service = Service::start("sum", &[]);
    let long = "9".repeat(65);
    for bad in [
        "abc",
        "NaN",
        "Infinity",
        "-Infinity",
        "1,5",
        "0x1F",
        "%20",
        &long,
    ] {
        let (status, json) = get_json(&format!("{}/sum/{bad}/1", service.url)).await;
        assert_eq!(status, 400, "{bad}: {json}");
        assert_eq!(json["error"]["code"], "invalid_number", "{bad}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("first number") || message.contains("First number"),
            "{message}"
        );
    }
    let (status, json) = get_json(&format!("{}/sum/1/", service.url)).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (400, Some("invalid_number")),
        "{json}"
    );
    assert!(
        json["error"]["message"].as_str().unwrap().contains("empty"),
        "{json}"
    );
    let (_, json) = get_json(&format!("{}/sum/{long}/1", service.url)).await;
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("65 characters"),
        "{json}"
    );
}

#[tokio::test]
async fn division_by_zero_and_overflow_are_422_never_infinity() {
    let division = Service::start("division", &[]);
    let (status, json) = get_json(&format!("{}/division/1/0", division.url)).await;
    assert_eq!(status, 422);
    assert_eq!(json["error"]["code"], "division_by_zero");
    assert_eq!(json["served-by"]["service"], "division");

    let multiplication = Service::start("multiplication", &[]);
    let (status, json) = get_json(&format!(
        "{}/multiplication/79228162514264337593543950335/2",
        multiplication.url
    ))
    .await;
    assert_eq!(status, 422);
    assert_eq!(json["error"]["code"], "overflow");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outside the supported range")
    );

    let sum = Service::start("sum", &[]);
    let (status, json) = get_json(&format!("{}/sum/1e30/1", sum.url)).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (422, Some("out_of_range"))
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_are_served() {
    let service = Service::start("subtraction", &[]);
    assert_eq!(get(&format!("{}/healthz", service.url)).await.0, 200);
    assert_eq!(get(&format!("{}/readyz", service.url)).await.0, 200);
    for _ in 0..3 {
        get(&format!("{}/subtraction/5/2", service.url)).await;
    }
    get(&format!("{}/subtraction/x/2", service.url)).await;
    get(&format!("{}/nowhere", service.url)).await;
    let (status, metrics) = get(&format!("{}/metrics", service.url)).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            r#"calculator_http_requests_total{path="/subtraction/{a}/{b}",status="200"} 3"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"calculator_http_requests_total{path="/subtraction/{a}/{b}",status="400"} 1"#
        )
    );
    assert!(metrics.contains(r#"calculator_http_requests_total{path="unmatched",status="404"} 1"#));
    assert!(metrics.contains(
        r#"calculator_http_request_duration_seconds_count{path="/subtraction/{a}/{b}"} 4"#
    ));
}
