//! `pods/eviction`: delete a pod only if its PodDisruptionBudget allows it, as the real API
//! server does for `kubectl drain` and for managed node groups scaling down. A refusal is a 429
//! with the real message, which tells a client to wait and try again.

use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::{RequestContext, json_response};
use crate::controllers::disruption::selected;
use crate::controllers::replicaset::{is_active, is_ready};
use crate::errors::ApiError;
use crate::registry::{DeleteOptions, Part, WriteOptions, now};
use crate::resources;

const REFUSED: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

/// The Eviction body, from JSON or Protobuf.
fn eviction_body(context: &RequestContext) -> Result<Value, ApiError> {
    if context.body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; send a policy/v1 Eviction",
        ));
    }
    let content_type = context
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if content_type.starts_with(super::protobuf::MEDIA_TYPE) {
        return super::protobuf::decode_as("policy/v1", "Eviction", &context.body);
    }
    serde_json::from_slice(&context.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding Eviction: {e}")))
}

fn delete_options(eviction: &Value, dry_run: bool) -> DeleteOptions {
    let options = &eviction["deleteOptions"];
    DeleteOptions {
        grace_period_seconds: options["gracePeriodSeconds"].as_i64(),
        propagation_policy: options["propagationPolicy"].as_str().map(str::to_owned),
        precondition_uid: options["preconditions"]["uid"].as_str().map(str::to_owned),
        precondition_resource_version: options["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_owned),
        dry_run: dry_run
            || options["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "All")),
    }
}

pub(super) fn evict(context: &RequestContext) -> Result<Response, ApiError> {
    let eviction = eviction_body(context)?;
    let name = context.name().to_owned();
    let namespace = context.target.namespace_or_empty().to_owned();
    if let Some(sent) = eviction["metadata"]["name"].as_str()
        && !sent.is_empty()
        && sent != name
    {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object: {name} != {sent}"
        )));
    }
    let options = delete_options(&eviction, context.dry_run()?);
    let registry = &context.state.registry;
    let pod = registry.get_value(resources::pods(), &namespace, &name)?;
    let delete = || -> Result<Response, ApiError> {
        registry.delete(resources::pods(), &namespace, &name, &options)?;
        Ok(json_response(
            StatusCode::CREATED,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}).to_string(),
        ))
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
            Some(&namespace),
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
            &namespace,
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
                next["status"]["disruptedPods"][name.as_str()] = json!(now());
                Ok(next)
            },
        )?;
    } else if status["disruptionsAllowed"].as_i64().unwrap_or(0) <= 0 {
        return Err(ApiError::too_many_requests(REFUSED, json!({})));
    }
    delete()
}
