//! Is this object well-formed? Typed decoding (via k8s-openapi's types), unknown fields for
//! `fieldValidation`, and the semantic checks real clients run into.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::errors::{ApiError, FieldError};
use crate::resources::ResourceKind;
use crate::selectors::{LabelSelector, check_key, check_value};

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
        ("apps", "Deployment") => typed!(apps::Deployment),
        ("apps", "ReplicaSet") => typed!(apps::ReplicaSet),
        ("apps", "DaemonSet") => typed!(apps::DaemonSet),
        ("apps", "StatefulSet") => typed!(apps::StatefulSet),
        ("", "ReplicationController") => typed!(core::ReplicationController),
        ("batch", "Job") => typed!(k8s_openapi::api::batch::v1::Job),
        ("batch", "CronJob") => typed!(k8s_openapi::api::batch::v1::CronJob),
        ("policy", "PodDisruptionBudget") => typed!(policy::PodDisruptionBudget),
        ("discovery.k8s.io", "EndpointSlice") => typed!(discovery::EndpointSlice),
        ("coordination.k8s.io", "Lease") => typed!(coordination::Lease),
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
    if unknown.is_empty() || mode == FieldValidation::Ignore {
        return Ok((typed, Vec::new()));
    }
    if mode == FieldValidation::Strict {
        let list: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            kind.kind,
            kind.version,
            kind.kind,
            list.join(", ")
        )));
    }
    Ok((
        typed,
        unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect(),
    ))
}

/// Semantic validation of a whole object (after defaulting); `Ok` or a 422 with every problem.
pub fn validate(kind: &ResourceKind, object: &Value) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    validate_metadata(kind, &object["metadata"], &mut errors);
    match (kind.group, kind.kind) {
        ("", "Pod") => validate_pod_spec(&object["spec"], "spec", &mut errors),
        ("apps", "Deployment") | ("apps", "ReplicaSet") | ("apps", "StatefulSet") => {
            validate_workload(&object["spec"], &mut errors)
        }
        ("", "Service") => validate_service(&object["spec"], &mut errors),
        ("batch", "Job") => validate_job(&object["spec"], &mut errors),
        ("batch", "CronJob") => {
            let spec = &object["spec"];
            let schedule = spec["schedule"].as_str().unwrap_or_default();
            if let Err(why) = crate::schedule::parse_schedule(schedule) {
                errors.push(FieldError::invalid(
                    "spec.schedule",
                    format!("{schedule:?}"),
                    why,
                ));
            }
            if let Err(why) = crate::schedule::time_zone(spec) {
                errors.push(FieldError::invalid(
                    "spec.timeZone",
                    format!("{:?}", spec["timeZone"].as_str().unwrap_or_default()),
                    why,
                ));
            }
            let mut job_errors = Vec::new();
            validate_job(&spec["jobTemplate"]["spec"], &mut job_errors);
            for mut e in job_errors {
                e.field = format!("spec.jobTemplate.{}", e.field);
                errors.push(e);
            }
        }
        ("", "ConfigMap") | ("", "Secret") => {
            for field in ["data", "binaryData", "stringData"] {
                for key in object[field].as_object().into_iter().flat_map(|m| m.keys()) {
                    let ok = !key.is_empty()
                        && key.len() <= 253
                        && key
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
                    if !ok {
                        errors.push(FieldError::invalid(
                            format!("{field}[{key}]"),
                            format!("{key:?}"),
                            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(kind, name, &errors))
    }
}

/// DNS-1123 subdomain: lowercase alphanumerics, '-' and '.', at most 253 characters.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters.
pub fn is_dns_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

const SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// Why `name` cannot be a URL path segment (Kubernetes' `IsValidPathSegmentName`), if it cannot.
fn path_segment_problem(name: &str) -> Option<String> {
    if name == "." || name == ".." {
        return Some(format!("may not be '{name}'"));
    }
    ["/", "%"]
        .iter()
        .find(|bad| name.contains(*bad))
        .map(|bad| format!("may not contain '{bad}'"))
}

fn validate_metadata(kind: &ResourceKind, meta: &Value, errors: &mut Vec<FieldError>) {
    let name = meta["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        let label_only = matches!(kind.kind, "Namespace" | "Service");
        // RBAC names are path segments (`system:basic-user`), as the real validation has it.
        let path_segment = kind.group == "rbac.authorization.k8s.io";
        if path_segment {
            if let Some(why) = path_segment_problem(name) {
                errors.push(FieldError::invalid(
                    "metadata.name",
                    format!("{name:?}"),
                    why,
                ));
            }
        } else if label_only && !is_dns_label(name) {
            errors.push(FieldError::invalid(
                "metadata.name",
                format!("{name:?}"),
                LABEL_RULE,
            ));
        } else if !label_only && !is_dns_subdomain(name) {
            errors.push(FieldError::invalid(
                "metadata.name",
                format!("{name:?}"),
                SUBDOMAIN_RULE,
            ));
        }
    }
    if let Some(labels) = meta["labels"].as_object() {
        for (k, v) in labels {
            if let Err(e) = check_key(k) {
                errors.push(FieldError::invalid("metadata.labels", format!("{k:?}"), e));
            }
            if let Err(e) = check_value(v.as_str().unwrap_or_default()) {
                errors.push(FieldError::invalid("metadata.labels", format!("{v}"), e));
            }
        }
    }
    if let Some(annotations) = meta["annotations"].as_object() {
        for k in annotations.keys() {
            if let Err(e) = check_key(k) {
                errors.push(FieldError::invalid(
                    "metadata.annotations",
                    format!("{k:?}"),
                    e,
                ));
            }
        }
        let size: usize = annotations
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if size > 256 * 1024 {
            errors.push(FieldError::invalid(
                "metadata.annotations",
                "",
                "Too long: must have at most 262144 bytes",
            ));
        }
    }
}

fn validate_job(spec: &Value, errors: &mut Vec<FieldError>) {
    let template = &spec["template"]["spec"];
    validate_pod_spec(template, "spec.template.spec", errors);
    let policy = template["restartPolicy"].as_str().unwrap_or_default();
    if !matches!(policy, "OnFailure" | "Never") {
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            format!("{policy:?}"),
            &["OnFailure", "Never"],
        ));
    }
    for field in ["completions", "parallelism", "backoffLimit"] {
        if let Some(n) = spec[field].as_i64()
            && n < 0
        {
            errors.push(FieldError::invalid(
                format!("spec.{field}"),
                n.to_string(),
                "must be greater than or equal to 0",
            ));
        }
    }
}

fn validate_workload(spec: &Value, errors: &mut Vec<FieldError>) {
    if let Some(replicas) = spec["replicas"].as_i64()
        && replicas < 0
    {
        errors.push(FieldError::invalid(
            "spec.replicas",
            replicas.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    let selector = &spec["selector"];
    let match_labels = selector["matchLabels"].as_object();
    let expressions = selector["matchExpressions"].as_array();
    if match_labels.is_none_or(|m| m.is_empty()) && expressions.is_none_or(|e| e.is_empty()) {
        errors.push(FieldError::required("spec.selector", ""));
        errors.push(FieldError::invalid(
            "spec.selector",
            "null",
            "empty selector is invalid for deployment",
        ));
    }
    let template_labels = spec["template"]["metadata"]["labels"].as_object();
    let matches = selector_matches(selector, template_labels);
    if !matches {
        let rendered = template_labels
            .map(|m| {
                let pairs: Vec<String> = m.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                format!("map[string]string{{{}}}", pairs.join(", "))
            })
            .unwrap_or_else(|| "map[string]string(nil)".to_owned());
        errors.push(FieldError::invalid(
            "spec.template.metadata.labels",
            rendered,
            "`selector` does not match template `labels`",
        ));
    }
    if let Some(kind) = spec["strategy"]["type"].as_str()
        && !matches!(kind, "RollingUpdate" | "Recreate")
    {
        errors.push(FieldError::not_supported(
            "spec.strategy.type",
            format!("{kind:?}"),
            &["Recreate", "RollingUpdate"],
        ));
    }
    validate_pod_spec(&spec["template"]["spec"], "spec.template.spec", errors);
}

/// Whether a LabelSelector JSON (`matchLabels`, `matchExpressions`) selects `labels`.
pub fn selector_matches(selector: &Value, labels: Option<&serde_json::Map<String, Value>>) -> bool {
    let labels: std::collections::BTreeMap<String, String> = labels
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    label_selector_from_json(selector).is_some_and(|s| s.matches(&labels))
}

/// Converts a `metav1.LabelSelector` to the parsed form; `None` if it is malformed.
pub fn label_selector_from_json(selector: &Value) -> Option<LabelSelector> {
    use crate::selectors::LabelRequirement as R;
    let mut requirements = Vec::new();
    for (k, v) in selector["matchLabels"].as_object().into_iter().flatten() {
        requirements.push(R::Equals(k.clone(), v.as_str()?.to_owned()));
    }
    for expr in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = expr["key"].as_str()?.to_owned();
        let values: Vec<String> = expr["values"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        requirements.push(match expr["operator"].as_str()? {
            "In" => R::In(key, values),
            "NotIn" => R::NotIn(key, values),
            "Exists" => R::Exists(key),
            "DoesNotExist" => R::DoesNotExist(key),
            _ => return None,
        });
    }
    Some(LabelSelector(requirements))
}

fn validate_pod_spec(spec: &Value, at: &str, errors: &mut Vec<FieldError>) {
    let containers = spec["containers"].as_array();
    if containers.is_none_or(|c| c.is_empty()) {
        errors.push(FieldError::required(format!("{at}.containers"), ""));
        return;
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.into_iter().flatten().enumerate() {
        let path = format!("{at}.containers[{i}]");
        let name = c["name"].as_str().unwrap_or_default();
        if name.is_empty() {
            errors.push(FieldError::required(format!("{path}.name"), ""));
        } else if !is_dns_label(name) {
            errors.push(FieldError::invalid(
                format!("{path}.name"),
                format!("{name:?}"),
                LABEL_RULE,
            ));
        } else if !names.insert(name.to_owned()) {
            errors.push(FieldError::duplicate(
                format!("{path}.name"),
                format!("{name:?}"),
            ));
        }
        if c["image"].as_str().is_none_or(|s| s.trim().is_empty()) {
            errors.push(FieldError::required(format!("{path}.image"), ""));
        }
        for (j, p) in c["ports"].as_array().into_iter().flatten().enumerate() {
            let port = p["containerPort"].as_i64().unwrap_or(0);
            if !(1..=65535).contains(&port) {
                errors.push(FieldError::invalid(
                    format!("{path}.ports[{j}].containerPort"),
                    port.to_string(),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
    }
    if let Some(policy) = spec["restartPolicy"].as_str()
        && !matches!(policy, "Always" | "OnFailure" | "Never")
    {
        errors.push(FieldError::not_supported(
            format!("{at}.restartPolicy"),
            format!("{policy:?}"),
            &["Always", "OnFailure", "Never"],
        ));
    }
}

fn validate_service(spec: &Value, errors: &mut Vec<FieldError>) {
    let kind = spec["type"].as_str().unwrap_or("ClusterIP");
    if !matches!(
        kind,
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
    ) {
        errors.push(FieldError::not_supported(
            "spec.type",
            format!("{kind:?}"),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        ));
    }
    let ports = spec["ports"].as_array().cloned().unwrap_or_default();
    let headless = spec["clusterIP"].as_str() == Some("None");
    if ports.is_empty() && kind != "ExternalName" && !headless {
        errors.push(FieldError::required("spec.ports", ""));
    }
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let port = p["port"].as_i64().unwrap_or(0);
        if !(1..=65535).contains(&port) {
            errors.push(FieldError::invalid(
                format!("spec.ports[{i}].port"),
                port.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        let name = p["name"].as_str().unwrap_or_default();
        if ports.len() > 1 && name.is_empty() {
            errors.push(FieldError::required(format!("spec.ports[{i}].name"), ""));
        }
        if !name.is_empty() && !names.insert(name.to_owned()) {
            errors.push(FieldError::duplicate(
                format!("spec.ports[{i}].name"),
                format!("{name:?}"),
            ));
        }
        if let Some(protocol) = p["protocol"].as_str()
            && !matches!(protocol, "TCP" | "UDP" | "SCTP")
        {
            errors.push(FieldError::not_supported(
                format!("spec.ports[{i}].protocol"),
                format!("{protocol:?}"),
                &["SCTP", "TCP", "UDP"],
            ));
        }
        if let Some(node_port) = p["nodePort"].as_i64()
            && node_port != 0
            && !(30000..=32767).contains(&node_port)
        {
            errors.push(FieldError::invalid(
                format!("spec.ports[{i}].nodePort"),
                node_port.to_string(),
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
            ));
        }
    }
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

    #[test]
    fn a_selector_that_misses_the_template_is_invalid() {
        let deploy = json!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "other"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let err = validate(crate::resources::deployments(), &deploy).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(
            err.message.starts_with(
                "Deployment.apps \"web\" is invalid: spec.template.metadata.labels: Invalid value"
            ),
            "{}",
            err.message
        );
    }
}
