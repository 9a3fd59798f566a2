//! Is this object well-formed? Typed decoding (via k8s-openapi's types, in [`decode`]),
//! unknown fields for `fieldValidation`, and the semantic checks real clients run into.

mod decode;

use std::collections::BTreeSet;

use serde_json::Value;

pub use decode::{FieldValidation, decode_checked, unknown_fields_outcome};

use crate::errors::{ApiError, FieldError};
use crate::resources::ResourceKind;
use crate::selectors::{LabelSelector, check_key, check_value};

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
        ("apiregistration.k8s.io", "APIService") => {
            validate_api_service_name(name, &object["spec"], &mut errors)
        }
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

/// The aggregator finds an APIService by `version.group`, so its name must be exactly that.
fn validate_api_service_name(name: &str, spec: &Value, errors: &mut Vec<FieldError>) {
    let required = format!(
        "{}.{}",
        spec["version"].as_str().unwrap_or_default(),
        spec["group"].as_str().unwrap_or_default()
    );
    if !name.is_empty() && name != required {
        errors.push(FieldError::invalid(
            "metadata.name",
            format!("{name:?}"),
            format!("must be `spec.version+\".\"+spec.group`: {required:?}"),
        ));
    }
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
        // RBAC names are path segments (`system:basic-user`), as the real validation has it;
        // so are APIService names (the core group's is `v1.`, which no subdomain can be).
        let path_segment = matches!(
            kind.group,
            "rbac.authorization.k8s.io" | "apiregistration.k8s.io"
        );
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
