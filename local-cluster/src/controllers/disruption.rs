//! The disruption controller: keeps each PodDisruptionBudget's status (expected, healthy and
//! desired-healthy pods, disruptions allowed) current, so the eviction subresource can refuse
//! an eviction that would break the budget, as `kubectl drain` relies on.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::ObjectRef;
use super::replicaset::{is_active, is_ready};
use super::runtime::{Action, Context, Controller, Reconciled};
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;
use crate::store::Change;
use crate::validation::selector_matches;

/// How long an eviction the API server granted counts against the budget while its pod has
/// not yet been marked for deletion (the real controller's `DeletionTimeout`).
const DELETION_TIMEOUT_SECONDS: i64 = 120;

/// Starts the controller: any pod or ReplicaSet change in a namespace may change the counts
/// of its budgets.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    Controller::new(
        registry,
        resources::poddisruptionbudgets(),
        "disruption-controller",
    )
    .watches(resources::pods(), budgets_in_namespace)
    .watches(resources::replicasets(), budgets_in_namespace)
    .run(reconcile)
    .tasks
}

/// The budgets in the namespace of the changed object.
fn budgets_in_namespace(registry: &Registry, change: &Change) -> Vec<ObjectRef> {
    let namespace = &change.object.index.namespace;
    registry
        .store
        .list(
            resources::poddisruptionbudgets(),
            Some(namespace),
            |_| true,
            0,
            None,
        )
        .items
        .iter()
        .map(|budget| (namespace.clone(), budget.index.name.clone()))
        .collect()
}

/// An `IntOrString` count: an integer, or a percentage of `total` rounded up, as the real
/// controller scales `minAvailable` and `maxUnavailable`.
pub fn scaled(value: &Value, total: i64) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let percent: i64 = s.strip_suffix('%')?.trim().parse().ok()?;
            Some((percent * total + 99) / 100)
        }
        _ => None,
    }
}

/// The pods the budget's selector chooses (a null selector chooses none, as in `policy/v1`).
pub fn selected<'a>(budget: &Value, pods: &'a [Value]) -> Vec<&'a Value> {
    let selector = &budget["spec"]["selector"];
    if selector.is_null() {
        return Vec::new();
    }
    pods.iter()
        .filter(|p| selector_matches(selector, p["metadata"]["labels"].as_object()))
        .collect()
}

/// How many pods the budget's owners want: each owning ReplicaSet's replicas (and each
/// DaemonSet's scheduled count), or the pods themselves for pods no controller owns.
fn expected_pods(registry: &Registry, namespace: &str, pods: &[&Value]) -> i64 {
    let mut owners: Vec<(String, String)> = Vec::new();
    let mut expected = 0;
    for pod in pods {
        let owner = pod["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["controller"] == true);
        let Some(owner) = owner else {
            expected += 1;
            continue;
        };
        let key = (
            owner["kind"].as_str().unwrap_or_default().to_owned(),
            owner["name"].as_str().unwrap_or_default().to_owned(),
        );
        if owners.contains(&key) {
            continue;
        }
        let scale = match key.0.as_str() {
            "ReplicaSet" => registry
                .store
                .get(resources::replicasets(), namespace, &key.1)
                .and_then(|s| s.value()["spec"]["replicas"].as_i64()),
            "DaemonSet" => registry
                .store
                .get(resources::daemonsets(), namespace, &key.1)
                .and_then(|s| s.value()["status"]["desiredNumberScheduled"].as_i64()),
            _ => None,
        };
        match scale {
            Some(n) => expected += n,
            None => expected += 1,
        }
        owners.push(key);
    }
    expected
}

/// The budget's status from its pods: `disrupted` are evictions granted whose pods have not
/// gone yet (pod name → time granted); they count as already unhealthy.
pub fn budget_status(
    budget: &Value,
    pods: &[&Value],
    expected: i64,
    disrupted: &serde_json::Map<String, Value>,
    now: jiff::Timestamp,
) -> Value {
    let spec = &budget["spec"];
    let still_disrupted: serde_json::Map<String, Value> = disrupted
        .iter()
        .filter(|(name, granted)| {
            let recent = granted
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| (now - t).get_seconds() < DELETION_TIMEOUT_SECONDS);
            recent
                && pods
                    .iter()
                    .any(|p| p["metadata"]["name"] == name.as_str() && is_active(p))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let healthy = pods
        .iter()
        .filter(|p| is_active(p) && is_ready(p))
        .filter(|p| {
            !still_disrupted.contains_key(p["metadata"]["name"].as_str().unwrap_or_default())
        })
        .count() as i64;
    let desired = if !spec["minAvailable"].is_null() {
        scaled(&spec["minAvailable"], expected).unwrap_or(expected)
    } else if !spec["maxUnavailable"].is_null() {
        expected
            - scaled(&spec["maxUnavailable"], expected)
                .unwrap_or(0)
                .min(expected)
    } else {
        // Neither given: the API defaults to minAvailable 1.
        1
    };
    let allowed = (healthy - desired).max(0);
    let old_condition = budget["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "DisruptionAllowed"));
    let condition_status = if allowed > 0 { "True" } else { "False" };
    let transition = old_condition
        .filter(|c| c["status"] == condition_status)
        .map(|c| c["lastTransitionTime"].clone())
        .unwrap_or_else(|| json!(now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
    let generation = budget["metadata"]["generation"].clone();
    json!({
        "observedGeneration": generation,
        "disruptedPods": still_disrupted,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": [{
            "type": "DisruptionAllowed",
            "status": condition_status,
            "reason": if allowed > 0 { "SufficientPods" } else { "InsufficientPods" },
            "message": "",
            "observedGeneration": generation,
            "lastTransitionTime": transition,
        }],
    })
}

fn reconcile(context: &Context, (namespace, name): &ObjectRef, budget: &Value) -> Reconciled {
    let registry = context.registry.as_ref();
    let budgets = resources::poddisruptionbudgets();
    let pods: Vec<Value> = registry
        .store
        .list(resources::pods(), Some(namespace), |_| true, 0, None)
        .items
        .iter()
        .map(|p| p.value())
        .collect();
    let chosen = selected(budget, &pods);
    let expected = expected_pods(registry, namespace, &chosen);
    registry.update_with(
        budgets,
        namespace,
        name,
        Part::Status,
        &WriteOptions::default(),
        |old| {
            // Read the granted evictions inside the write, so one granted a moment ago counts.
            let disrupted = old["status"]["disruptedPods"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut next = old.clone();
            next["status"] =
                budget_status(old, &chosen, expected, &disrupted, jiff::Timestamp::now());
            Ok(next)
        },
    )?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool) -> Value {
        json!({
            "metadata": {"name": name, "labels": {"app": "sum"}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        })
    }

    #[test]
    fn budgets_count_healthy_pods_against_min_available_and_max_unavailable() {
        let pods = [pod("a", true), pod("b", true), pod("c", false)];
        let chosen: Vec<&Value> = pods.iter().collect();
        let now = jiff::Timestamp::now();
        let none = serde_json::Map::new();
        let min2 =
            json!({"spec": {"minAvailable": 2, "selector": {}}, "metadata": {"generation": 1}});
        let s = budget_status(&min2, &chosen, 3, &none, now);
        assert_eq!(
            (
                s["currentHealthy"].as_i64(),
                s["desiredHealthy"].as_i64(),
                s["disruptionsAllowed"].as_i64()
            ),
            (Some(2), Some(2), Some(0))
        );
        assert_eq!(s["conditions"][0]["reason"], "InsufficientPods");
        let max_third = json!({"spec": {"maxUnavailable": "34%", "selector": {}}});
        let s = budget_status(&max_third, &chosen, 3, &none, now);
        // 34 % of 3 rounds up to 2 unavailable allowed: 1 must stay healthy, 1 more may go.
        assert_eq!(
            (
                s["desiredHealthy"].as_i64(),
                s["disruptionsAllowed"].as_i64()
            ),
            (Some(1), Some(1))
        );
        // An eviction granted a moment ago makes its pod count as gone already.
        let mut granted = serde_json::Map::new();
        granted.insert(
            "a".into(),
            json!(now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
        let s = budget_status(&max_third, &chosen, 3, &granted, now);
        assert_eq!(s["disruptionsAllowed"].as_i64(), Some(0));
        assert_eq!(s["disruptedPods"].as_object().map(|m| m.len()), Some(1));
    }

    #[test]
    fn percentages_round_up_and_a_null_selector_selects_nothing() {
        assert_eq!(scaled(&json!("50%"), 3), Some(2));
        assert_eq!(scaled(&json!(4), 10), Some(4));
        assert_eq!(scaled(&json!("half"), 10), None);
        let pods = [pod("a", true)];
        assert!(selected(&json!({"spec": {}}), &pods).is_empty());
        assert_eq!(selected(&json!({"spec": {"selector": {}}}), &pods).len(), 1);
    }
}
