//! The same counters read from a Prometheus instead of the pods: the instant query that asks
//! for the calculator's series of some pods, and its answer turned into the [`Reading`] a
//! window is computed from — so a step is judged alike either way. The series must carry the
//! pod's name in a `pod` label and its namespace in `namespace` (as the usual `kubernetes-pods`
//! scrape job relabels them).

use serde_json::Value;

use super::scrape::Histogram;
use super::window::Reading;

/// The series a window is computed from.
const FAMILIES: &str = "calculator_(operation_answers_total|shadow_comparisons_total|http_requests_total|operation_duration_seconds_bucket|http_request_duration_seconds_bucket)";

/// A Prometheus answer that is not the calculator's series.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PromError {
    /// Prometheus refused the query.
    #[error("Prometheus answered {status}: {error}")]
    Refused {
        /// Its `errorType`.
        status: String,
        /// Its `error`.
        error: String,
    },
    /// Not an instant vector.
    #[error("Prometheus's answer is not an instant vector: {0}")]
    NotAVector(String),
}

/// The instant query for the calculator's series of `pods` in `namespace`.
pub fn query(namespace: &str, pods: &[String]) -> String {
    let pods: Vec<String> = pods.iter().map(|p| regex_literal(p)).collect();
    format!(
        "{{__name__=~\"{FAMILIES}\",namespace=\"{}\",pod=~\"{}\"}}",
        label_literal(namespace),
        label_literal(&pods.join("|"))
    )
}

/// A pod name as a regular expression matching only itself (names hold `.` at most).
fn regex_literal(text: &str) -> String {
    text.replace('.', "\\.")
}

/// A label value inside PromQL's double quotes.
fn label_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The pods' counters from the answer of [`query`] (`/api/v1/query`).
pub fn reading(answer: &Value) -> Result<Reading, PromError> {
    if answer["status"] != "success" {
        return Err(PromError::Refused {
            status: answer["errorType"].as_str().unwrap_or("error").to_owned(),
            error: answer["error"].as_str().unwrap_or_default().to_owned(),
        });
    }
    if answer["data"]["resultType"] != "vector" {
        return Err(PromError::NotAVector(
            answer["data"]["resultType"].to_string(),
        ));
    }
    let mut reading = Reading::new();
    for series in answer["data"]["result"].as_array().into_iter().flatten() {
        let labels = &series["metric"];
        let label = |name: &str| labels[name].as_str().unwrap_or_default().to_owned();
        let Some(value) = series["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        let pod = reading.entry(label("pod")).or_default();
        let le = || match label("le").as_str() {
            "+Inf" => Some(f64::INFINITY),
            other => other.parse::<f64>().ok(),
        };
        match label("__name__").as_str() {
            "calculator_operation_answers_total" => {
                pod.answers.insert(
                    (label("operation"), label("route"), label("outcome")),
                    value,
                );
            }
            "calculator_shadow_comparisons_total" => {
                pod.comparisons
                    .insert((label("operation"), label("result")), value);
            }
            "calculator_http_requests_total" => {
                if let Ok(status) = label("status").parse() {
                    pod.requests.insert((label("path"), status), value);
                }
            }
            "calculator_operation_duration_seconds_bucket" => {
                if let Some(le) = le() {
                    add_bucket(
                        pod.answer_latency
                            .entry((label("operation"), label("route")))
                            .or_default(),
                        le,
                        value,
                    );
                }
            }
            "calculator_http_request_duration_seconds_bucket" => {
                if let Some(le) = le() {
                    add_bucket(
                        pod.request_latency.entry(label("path")).or_default(),
                        le,
                        value,
                    );
                }
            }
            _ => {}
        }
    }
    Ok(reading)
}

fn add_bucket(histogram: &mut Histogram, le: f64, count: f64) {
    histogram.buckets.push((le, count));
    histogram.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::scrape::PodMetrics;
    use super::super::scrape::tests::MONOLITH;
    use super::*;

    #[test]
    fn the_query_names_the_pods_and_the_families() {
        let q = query("calculator", &["monolith-1".into(), "monolith-2".into()]);
        assert!(q.contains("namespace=\"calculator\""));
        assert!(q.contains("pod=~\"monolith-1|monolith-2\""));
        assert!(q.contains("operation_answers_total"));
    }

    /// The pod's own text and Prometheus's answer for the same series give the same counters.
    #[test]
    fn prometheus_s_answer_reads_as_the_pod_s_own_metrics() {
        let series = |name: &str, labels: Value, value: &str| {
            let mut metric = labels;
            metric["__name__"] = json!(name);
            metric["pod"] = json!("monolith-1");
            metric["namespace"] = json!("calculator");
            json!({"metric": metric, "value": [1_700_000_000.0, value]})
        };
        let answer = json!({"status": "success", "data": {"resultType": "vector", "result": [
            series("calculator_http_requests_total", json!({"path": "/sum/{a}/{b}", "status": "200"}), "7"),
            series("calculator_http_requests_total", json!({"path": "/sum/{a}/{b}", "status": "500"}), "1"),
            series("calculator_operation_answers_total", json!({"operation": "sum", "route": "in-process", "outcome": "ok"}), "5"),
            series("calculator_operation_answers_total", json!({"operation": "sum", "route": "service", "outcome": "failed"}), "1"),
            series("calculator_operation_duration_seconds_bucket", json!({"operation": "sum", "route": "in-process", "le": "+Inf"}), "5"),
            series("calculator_operation_duration_seconds_bucket", json!({"operation": "sum", "route": "in-process", "le": "0.0001"}), "1"),
            series("calculator_operation_duration_seconds_bucket", json!({"operation": "sum", "route": "in-process", "le": "0.0002"}), "4"),
            series("calculator_shadow_comparisons_total", json!({"operation": "sum", "result": "mismatch"}), "2"),
        ]}});
        let from_prometheus = reading(&answer).unwrap();
        let own = PodMetrics::parse(MONOLITH).unwrap();
        let pod = &from_prometheus["monolith-1"];
        assert_eq!(pod.answers, own.answers);
        assert_eq!(pod.comparisons, own.comparisons);
        assert_eq!(pod.requests, own.requests);
        assert_eq!(pod.answer_latency, own.answer_latency);
    }

    #[test]
    fn a_refusal_says_why() {
        let answer = json!({"status": "error", "errorType": "bad_data", "error": "parse error"});
        assert_eq!(
            reading(&answer).unwrap_err().to_string(),
            "Prometheus answered bad_data: parse error"
        );
        let matrix = json!({"status": "success", "data": {"resultType": "matrix", "result": []}});
        assert!(matches!(reading(&matrix), Err(PromError::NotAVector(_))));
    }
}
