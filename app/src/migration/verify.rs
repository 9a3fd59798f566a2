//! Checking a service by calling it, as a user would, through the API server's service proxy:
//! the status and the values the plan expects, and which pod answered — it must be one of the
//! pods the move expects, on a node of the expected OS.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;
use serde_json::Value;
use tokio::time::Instant;

use super::StepFailure;
use crate::cluster::proxy::proxy_get;
use crate::model::migration_plan::HttpCheck;

/// The pods a check may be answered by.
#[derive(Clone, Debug)]
pub struct Answerers {
    /// Labels the pod must carry (the Deployment's selector).
    pub selector: BTreeMap<String, String>,
    /// The OS its node must run, if it matters.
    pub os: Option<String>,
    /// How to name them in a failure (`the new sum-service pods`).
    pub description: String,
}

/// Whether the value found matches the one expected: equal strings, booleans and nulls, or
/// numbers equal as written (`0.3` is not `0.30000000000000004`).
pub fn scalar_matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(e), Value::Number(a)) => match (e.as_f64(), a.as_f64()) {
            (Some(e), Some(a)) => e == a,
            _ => e == a,
        },
        (e, a) => e == a,
    }
}

/// Checks one answer against what `check` expects; the pod named at `answered_by` is returned.
pub fn judge(check: &HttpCheck, status: u16, body: &[u8]) -> Result<Option<String>, String> {
    let text = || {
        String::from_utf8_lossy(body)
            .chars()
            .take(300)
            .collect::<String>()
    };
    if status != check.status {
        return Err(format!(
            "GET {} answered {status}, expected {}: {}",
            check.path,
            check.status,
            text()
        ));
    }
    if check.expect.is_empty() && check.answered_by.is_none() {
        return Ok(None);
    }
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| format!("GET {} did not answer JSON ({e}): {}", check.path, text()))?;
    for (pointer, expected) in &check.expect {
        match json.pointer(pointer) {
            Some(actual) if scalar_matches(expected, actual) => {}
            Some(actual) => {
                return Err(format!(
                    "GET {} gave {actual} at {pointer}, expected {expected}",
                    check.path
                ));
            }
            None => {
                return Err(format!(
                    "GET {} has nothing at {pointer} (expected {expected}): {}",
                    check.path,
                    text()
                ));
            }
        }
    }
    match &check.answered_by {
        None => Ok(None),
        Some(pointer) => match json.pointer(pointer).and_then(Value::as_str) {
            Some(pod) => Ok(Some(pod.to_owned())),
            None => Err(format!(
                "GET {} does not say which pod answered (nothing at {pointer})",
                check.path
            )),
        },
    }
}

/// Whether a proxied answer came from the API server (no endpoints yet, a connection refused,
/// too many requests) rather than from the service: worth a retry.
fn from_the_proxy(status: u16, body: &[u8]) -> bool {
    (status >= 500 || status == 429)
        && serde_json::from_slice::<Value>(body)
            .is_ok_and(|v| v["kind"] == "Status" && v["apiVersion"] == "v1")
}

/// Calls `service` with every check through the service proxy (`client`), `rounds` times each
/// (round-robin spreads the rounds over the pods), waiting up to `settle` for the service to get
/// endpoints; which pods answered is checked through `api`.
#[allow(clippy::too_many_arguments)]
pub async fn verify(
    client: &kube::Client,
    api: &kube::Client,
    namespace: &str,
    service: &str,
    port: &str,
    checks: &[HttpCheck],
    answerers: &Answerers,
    rounds: usize,
    settle: Duration,
) -> Result<String, StepFailure> {
    let deadline = Instant::now() + settle;
    let mut answered = BTreeMap::<String, usize>::new();
    for _ in 0..rounds {
        for check in checks {
            let path = format!(
                "/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{}",
                check.path
            );
            // Until `settle` is over, a pod that should not answer is asked again: a pod of the
            // old ReplicaSet, terminating once its rollout is complete, can stay among the
            // Service's endpoints for a moment, on a real cluster as here.
            loop {
                let (status, body) = answer(client, namespace, service, &path, deadline).await?;
                let pod = judge(check, status, &body).map_err(StepFailure::plain)?;
                let Some(pod) = pod else { break };
                // Reads of the cluster go through the API client, which asks refusals again.
                match check_answerer(api, namespace, &pod, answerers).await {
                    Ok(()) => {
                        *answered.entry(pod).or_default() += 1;
                        break;
                    }
                    Err(failure) if Instant::now() < deadline => {
                        tracing::debug!(reason = %failure.reason, "not the pods expected yet; asking again");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    Err(failure) => return Err(failure),
                }
            }
        }
    }
    let pods: Vec<String> = answered.keys().cloned().collect();
    Ok(format!(
        "{} checks passed{}",
        checks.len() * rounds,
        if pods.is_empty() {
            String::new()
        } else {
            format!(", answered by {}", pods.join(", "))
        }
    ))
}

/// `path` through the service proxy, asked again while the proxy itself says the Service has
/// no endpoints yet (until `deadline`).
async fn answer(
    client: &kube::Client,
    namespace: &str,
    service: &str,
    path: &str,
    deadline: Instant,
) -> Result<(u16, bytes::Bytes), StepFailure> {
    loop {
        match proxy_get(client, path).await {
            Ok((status, body)) if !from_the_proxy(status, &body) => return Ok((status, body)),
            outcome if Instant::now() < deadline => {
                tracing::debug!(?outcome, "service not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok((status, body)) => {
                return Err(StepFailure::plain(format!(
                    "Service {namespace}/{service} is not reachable: HTTP {status}: {}",
                    String::from_utf8_lossy(&body)
                )));
            }
            Err(e) => {
                return Err(StepFailure::plain(format!(
                    "Service {namespace}/{service} is not reachable: {e}"
                )));
            }
        }
    }
}

async fn check_answerer(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    answerers: &Answerers,
) -> Result<(), StepFailure> {
    let selector = answerers
        .selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| StepFailure::plain(format!("cannot list the pods that should answer: {e}")))?;
    let Some(found) = pods
        .items
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(pod))
    else {
        return Err(StepFailure::plain(format!(
            "pod {pod} answered, which is not one of {}",
            answerers.description
        )));
    };
    if let Some(os) = &answerers.os {
        let node = found
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let node_os = Api::<Node>::all(client.clone())
            .get_opt(&node)
            .await
            .ok()
            .flatten()
            .and_then(|n| n.metadata.labels)
            .and_then(|l| l.get("kubernetes.io/os").cloned())
            .unwrap_or_default();
        if &node_os != os {
            return Err(StepFailure::plain(format!(
                "pod {pod} answered from node {node}, which runs {}, not {os}",
                if node_os.is_empty() {
                    "an unknown OS"
                } else {
                    &node_os
                }
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(expect: Value, answered_by: Option<&str>, status: u16) -> HttpCheck {
        HttpCheck {
            path: "/sum/0.1/0.2".into(),
            status,
            expect: serde_json::from_value(expect).unwrap(),
            answered_by: answered_by.map(str::to_owned),
        }
    }

    #[test]
    fn exact_decimals_pass_and_float_noise_fails() {
        let c = check(json!({"/total": 0.3}), Some("/served-by/pod"), 200);
        assert_eq!(
            judge(&c, 200, br#"{"total":0.3,"served-by":{"pod":"sum-1"}}"#),
            Ok(Some("sum-1".into()))
        );
        assert_eq!(
            judge(
                &c,
                200,
                br#"{"total":0.30000000000000004,"served-by":{"pod":"sum-1"}}"#
            ),
            Err("GET /sum/0.1/0.2 gave 0.30000000000000004 at /total, expected 0.3".into())
        );
        assert!(
            judge(&c, 500, b"oops")
                .unwrap_err()
                .contains("answered 500, expected 200")
        );
        assert!(
            judge(&c, 200, br#"{"total":0.3}"#)
                .unwrap_err()
                .contains("does not say which pod")
        );
        let error = check(json!({"/error/code": "invalid_number"}), None, 400);
        assert_eq!(
            judge(
                &error,
                400,
                br#"{"error":{"code":"invalid_number","message":"x"}}"#
            ),
            Ok(None)
        );
    }

    #[test]
    fn the_proxys_own_errors_are_told_apart_from_the_services() {
        assert!(from_the_proxy(
            503,
            br#"{"kind":"Status","apiVersion":"v1","message":"no endpoints available for service \"sum-service\"","code":503}"#
        ));
        assert!(!from_the_proxy(
            502,
            br#"{"error":{"code":"backend_unavailable","message":"x"}}"#
        ));
        assert!(!from_the_proxy(
            400,
            br#"{"kind":"Status","apiVersion":"v1"}"#
        ));
        // The API server refusing under load (API Priority and Fairness) is passing too.
        assert!(from_the_proxy(
            429,
            br#"{"kind":"Status","apiVersion":"v1","reason":"TooManyRequests","code":429}"#
        ));
    }
}
