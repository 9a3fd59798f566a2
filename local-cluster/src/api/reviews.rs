//! Questions a client asks by creating them, answered from the RBAC this server enforces and
//! never stored: `SelfSubjectAccessReview` (`kubectl auth can-i`), `SelfSubjectRulesReview`
//! (`kubectl auth can-i --list`) and `SelfSubjectReview` (`kubectl auth whoami`).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::objects::body_value;
use super::{RequestContext, json_response};
use crate::authorization::{self, Attributes, NonResourceAttributes, UserInfo};
use crate::errors::ApiError;
use crate::resources::ResourceKind;
use crate::validation::{FieldValidation, decode_checked};

/// Answers a review: the request echoed back with its `status` filled in, `201 Created`.
pub(super) fn create(context: &RequestContext) -> Result<Response, ApiError> {
    let kind = context.target.kind;
    let object = body_value(context)?;
    let mode = FieldValidation::parse(context.param("fieldValidation"))?;
    let (mut review, _) = decode_checked(kind, &object, mode)?;
    let user = context.user.as_ref().ok_or_else(ApiError::unauthorized)?;
    let registry = &context.state.registry;
    let status = match kind.kind {
        "SelfSubjectAccessReview" => access_review(kind, registry, user, &review["spec"])?,
        "SelfSubjectRulesReview" => {
            let namespace = review["spec"]["namespace"].as_str().unwrap_or_default();
            rules_review(registry, user, namespace)
        }
        _ => json!({"userInfo": {"username": user.name, "groups": user.groups}}),
    };
    review["apiVersion"] = json!(kind.api_version());
    review["kind"] = json!(kind.kind);
    review["metadata"] = json!({"creationTimestamp": null});
    review["status"] = status;
    Ok(json_response(StatusCode::CREATED, review.to_string()))
}

fn invalid(kind: &ResourceKind, field: &str, why: &str) -> ApiError {
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!(
            "{} \"\" is invalid: {field}: Invalid value: {why}",
            kind.qualified_kind()
        ),
        details: Some(json!({
            "group": kind.group,
            "kind": kind.kind,
            "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {why}"), "field": field}],
        })),
    }
}

fn access_review(
    kind: &ResourceKind,
    registry: &crate::registry::Registry,
    user: &UserInfo,
    spec: &Value,
) -> Result<Value, ApiError> {
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let decision = match (
        spec.get("resourceAttributes").filter(|v| v.is_object()),
        spec.get("nonResourceAttributes").filter(|v| v.is_object()),
    ) {
        (Some(resource), None) => {
            let (verb, group, plural, subresource, namespace, name) = (
                text(resource, "verb"),
                text(resource, "group"),
                text(resource, "resource"),
                text(resource, "subresource"),
                text(resource, "namespace"),
                text(resource, "name"),
            );
            authorization::decide(
                registry,
                user,
                &Attributes {
                    verb: &verb,
                    group: &group,
                    resource: &plural,
                    subresource: non_empty(&subresource),
                    namespace: non_empty(&namespace),
                    name: non_empty(&name),
                },
            )
        }
        (None, Some(path)) => authorization::decide_non_resource(
            registry,
            user,
            &NonResourceAttributes {
                verb: &text(path, "verb"),
                path: &text(path, "path"),
            },
        ),
        _ => {
            return Err(invalid(
                kind,
                "spec.resourceAttributes",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ));
        }
    };
    Ok(match decision {
        Some(reason) => json!({"allowed": true, "reason": reason}),
        None => json!({"allowed": false}),
    })
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn rules_review(registry: &crate::registry::Registry, user: &UserInfo, namespace: &str) -> Value {
    let namespace = non_empty(namespace);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in authorization::rules_of(registry, user, namespace) {
        if rule.get("nonResourceURLs").is_some_and(|v| v.is_array()) {
            non_resource_rules
                .push(json!({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}));
        }
        if rule.get("resources").is_some_and(|v| v.is_array()) {
            let mut entry = json!({
                "verbs": rule["verbs"],
                "apiGroups": rule["apiGroups"],
                "resources": rule["resources"],
            });
            if rule["resourceNames"].is_array() {
                entry["resourceNames"] = rule["resourceNames"].clone();
            }
            resource_rules.push(entry);
        }
    }
    json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": false,
    })
}
