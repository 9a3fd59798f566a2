//! Typed decoding: an object read as its k8s-openapi type, the fields the type does not know,
//! and what `fieldValidation` makes of them (dropped, warned about, or refused).

use serde_json::Value;

use crate::errors::ApiError;
use crate::resources::ResourceKind;

/// Decodes `object` as its typed k8s-openapi struct. Returns the object as the type re-encodes
/// it (unknown fields dropped, quantities as strings — what a real server stores) and the fields
/// the type did not know (paths like `spec.template.spec.containers[0].readinesProbe`).
///
/// A type error is a 400 worded like the real server's strict decoder.
pub fn decode(kind: &ResourceKind, object: &Value) -> Result<(Value, Vec<String>), ApiError> {
    use k8s_openapi::api::{
        apps::v1 as apps, authentication::v1 as authentication, authorization::v1 as authorization,
        coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
        policy::v1 as policy, rbac::v1 as rbac,
    };
    let mut normalized = object.clone();
    quantities_as_strings(&mut normalized);
    macro_rules! typed {
        ($t:ty) => {{
            let decoded: $t =
                serde_path_to_error::deserialize(normalized.clone()).map_err(|e| {
                    let path = e.path().to_string();
                    let at = if path == "." {
                        String::new()
                    } else {
                        format!(" at {path}")
                    };
                    ApiError::bad_request(format!(
                        "{} in version \"{}\" cannot be handled as a {}: {}{at}",
                        kind.kind,
                        kind.version,
                        kind.kind,
                        e.inner()
                    ))
                })?;
            serde_json::to_value(decoded).map_err(|e| ApiError::internal(e.to_string()))?
        }};
    }
    let typed = match (kind.group, kind.kind) {
        ("", "Namespace") => typed!(core::Namespace),
        ("", "Node") => typed!(core::Node),
        ("", "Pod") => typed!(core::Pod),
        ("", "Service") => typed!(core::Service),
        ("", "Endpoints") => typed!(core::Endpoints),
        ("", "ConfigMap") => typed!(core::ConfigMap),
        ("", "Secret") => typed!(core::Secret),
        ("", "Event") => typed!(core::Event),
        ("", "ServiceAccount") => typed!(core::ServiceAccount),
        ("", "ResourceQuota") => typed!(core::ResourceQuota),
        ("", "LimitRange") => typed!(core::LimitRange),
        ("apps", "Deployment") => typed!(apps::Deployment),
        ("apps", "ReplicaSet") => typed!(apps::ReplicaSet),
        ("apps", "DaemonSet") => typed!(apps::DaemonSet),
        ("apps", "StatefulSet") => typed!(apps::StatefulSet),
        ("", "ReplicationController") => typed!(core::ReplicationController),
        ("batch", "Job") => typed!(k8s_openapi::api::batch::v1::Job),
        ("batch", "CronJob") => typed!(k8s_openapi::api::batch::v1::CronJob),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            typed!(k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler)
        }
        ("policy", "PodDisruptionBudget") => typed!(policy::PodDisruptionBudget),
        ("discovery.k8s.io", "EndpointSlice") => typed!(discovery::EndpointSlice),
        ("coordination.k8s.io", "Lease") => typed!(coordination::Lease),
        ("apiregistration.k8s.io", "APIService") => {
            typed!(k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            typed!(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition)
        }
        ("node.k8s.io", "RuntimeClass") => typed!(k8s_openapi::api::node::v1::RuntimeClass),
        ("networking.k8s.io", "NetworkPolicy") => {
            typed!(k8s_openapi::api::networking::v1::NetworkPolicy)
        }
        ("networking.k8s.io", "Ingress") => typed!(k8s_openapi::api::networking::v1::Ingress),
        ("networking.k8s.io", "IngressClass") => {
            typed!(k8s_openapi::api::networking::v1::IngressClass)
        }
        ("rbac.authorization.k8s.io", "Role") => typed!(rbac::Role),
        ("rbac.authorization.k8s.io", "RoleBinding") => typed!(rbac::RoleBinding),
        ("rbac.authorization.k8s.io", "ClusterRole") => typed!(rbac::ClusterRole),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => typed!(rbac::ClusterRoleBinding),
        ("authentication.k8s.io", "SelfSubjectReview") => typed!(authentication::SelfSubjectReview),
        ("authorization.k8s.io", "SelfSubjectAccessReview") => {
            typed!(authorization::SelfSubjectAccessReview)
        }
        ("authorization.k8s.io", "SelfSubjectRulesReview") => {
            typed!(authorization::SelfSubjectRulesReview)
        }
        _ => normalized.clone(),
    };
    let mut unknown = Vec::new();
    unknown_fields(&normalized, &typed, String::new(), &mut unknown);
    Ok((typed, unknown))
}

/// YAML writes `cpu: 1` as a number; a Quantity is a string on the wire. The real server accepts
/// both, so numbers under resource maps become strings before typed decoding.
fn quantities_as_strings(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let is_quantity_map = matches!(
                    key.as_str(),
                    "requests"
                        | "limits"
                        | "capacity"
                        | "allocatable"
                        | "hard"
                        | "used"
                        | "overhead"
                );
                if is_quantity_map && let Value::Object(q) = child {
                    for v in q.values_mut() {
                        if let Value::Number(n) = v {
                            *v = Value::String(n.to_string());
                        }
                    }
                }
                if key == "sizeLimit"
                    && let Value::Number(n) = child
                {
                    *child = Value::String(n.to_string());
                    continue;
                }
                quantities_as_strings(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(quantities_as_strings),
        _ => {}
    }
}

fn unknown_fields(input: &Value, typed: &Value, path: String, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match b.get(key) {
                    Some(t) => unknown_fields(value, t, child, out),
                    None if value.is_null() => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                unknown_fields(x, y, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// How `fieldValidation` asks unknown fields to be treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (the server default).
    Warn,
    /// Reject the request.
    Strict,
}

impl FieldValidation {
    /// Reads the query parameter; unknown values are a 400 as on a real server.
    pub fn parse(value: Option<&str>) -> Result<FieldValidation, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}; valid values are Ignore, Warn, Strict"
            ))),
        }
    }
}

/// Decodes `object` and applies `mode` to its unknown fields: an error (Strict), or the object
/// to store with the warnings to send.
pub fn decode_checked(
    kind: &ResourceKind,
    object: &Value,
    mode: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let (typed, unknown) = decode(kind, object)?;
    let warnings = unknown_fields_outcome(kind, &unknown, mode)?;
    Ok((typed, warnings))
}

/// What `mode` makes of the unknown fields found decoding a `kind`: nothing (Ignore), warnings
/// (Warn), or the real server's strict decoding error (Strict).
pub fn unknown_fields_outcome(
    kind: &ResourceKind,
    unknown: &[String],
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    if unknown.is_empty() || mode == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let list: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if mode == FieldValidation::Strict {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            kind.kind,
            kind.version,
            kind.kind,
            list.join(", ")
        )));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_found_with_their_paths() {
        let deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "bogus": 1,
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [
                    {"name": "c", "image": "i", "readinesProbe": {}, "resources": {"requests": {"cpu": 1}}}]}}}
        });
        let (typed, unknown) = decode(crate::resources::deployments(), &deploy).unwrap();
        assert_eq!(
            typed["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
            "1"
        );
        assert!(typed["spec"].get("bogus").is_none());
        assert_eq!(
            unknown,
            [
                "spec.bogus",
                "spec.template.spec.containers[0].readinesProbe"
            ]
        );
    }

    #[test]
    fn type_errors_name_the_path() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
            "spec": {"replicas": "three", "selector": {}, "template": {}}});
        let err = decode(crate::resources::deployments(), &deploy).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("spec.replicas"), "{}", err.message);
    }
}
