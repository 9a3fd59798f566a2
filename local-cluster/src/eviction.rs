//! Eviction: delete a pod only if its PodDisruptionBudget allows it, as the real API server's
//! `pods/eviction` does. Shared by that subresource and by node groups that drain nodes before
//! removing them, as managed node groups do.

use serde_json::{Value, json};

use crate::clock::now;
use crate::controllers::disruption::selected;
use crate::controllers::replicaset::{is_active, is_ready};
use crate::errors::ApiError;
use crate::registry::{DeleteOptions, Part, Registry, WriteOptions};
use crate::resources;

/// The real server's refusal, which tells a client to wait and try again (429).
pub const REFUSED: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

/// Evicts pod `namespace/name`: deletes it with `options` if no budget forbids it; a refusal is
/// a 429 [`ApiError`] naming the budget.
pub fn evict(
    registry: &Registry,
    namespace: &str,
    name: &str,
    options: &DeleteOptions,
) -> Result<(), ApiError> {
    let pod = registry.get_value(resources::pods(), namespace, name)?;
    let delete = || -> Result<(), ApiError> {
        registry.delete(resources::pods(), namespace, name, options)?;
        Ok(())
    };
    // A pod that has finished, is already going, or never started disrupts nothing.
    let scheduled = pod["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    if !is_active(&pod) || !scheduled || pod["status"]["phase"] == "Pending" {
        return delete();
    }
    let budgets: Vec<Value> = registry
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
        .map(|b| b.value())
        .filter(|b| !selected(b, std::slice::from_ref(&pod)).is_empty())
        .collect();
    let budget = match budgets.as_slice() {
        [] => return delete(),
        [one] => one,
        _ => {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
    };
    let budget_name = budget["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let status = &budget["status"];
    // An unready pod may go while the budget is met without it (the IfHealthyBudget policy).
    if !is_ready(&pod) {
        let always = budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow";
        let healthy_enough = status["currentHealthy"].as_i64().unwrap_or(0)
            >= status["desiredHealthy"].as_i64().unwrap_or(i64::MAX);
        if always || healthy_enough {
            return delete();
        }
    }
    if !options.dry_run {
        registry.update_with(
            resources::poddisruptionbudgets(),
            namespace,
            &budget_name,
            Part::Status,
            &WriteOptions::default(),
            |old| {
                let status = &old["status"];
                let refuse = |cause: String| {
                    ApiError::too_many_requests(
                        REFUSED,
                        json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]}),
                    )
                };
                if status["observedGeneration"].as_i64().unwrap_or(0)
                    < old["metadata"]["generation"].as_i64().unwrap_or(0)
                {
                    return Err(refuse(format!(
                        "The disruption budget {budget_name} is still being processed by the server."
                    )));
                }
                let allowed = status["disruptionsAllowed"].as_i64().unwrap_or(0);
                if allowed <= 0 {
                    return Err(refuse(format!(
                        "The disruption budget {budget_name} needs {} healthy pods and has {} currently",
                        status["desiredHealthy"].as_i64().unwrap_or(0),
                        status["currentHealthy"].as_i64().unwrap_or(0)
                    )));
                }
                let mut next = old.clone();
                next["status"]["disruptionsAllowed"] = json!(allowed - 1);
                if !next["status"]["disruptedPods"].is_object() {
                    next["status"]["disruptedPods"] = json!({});
                }
                next["status"]["disruptedPods"][name] = json!(now());
                Ok(next)
            },
        )?;
    } else if status["disruptionsAllowed"].as_i64().unwrap_or(0) <= 0 {
        return Err(ApiError::too_many_requests(REFUSED, json!({})));
    }
    delete()
}
