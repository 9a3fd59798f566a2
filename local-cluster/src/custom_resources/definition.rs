//! What a CustomResourceDefinition must say before the server accepts it: its name, group,
//! names, scope and versions, checked with the real server's messages, and what the server
//! fills in (`listKind`, `singular`, conversion `None`).

use serde_json::{Value, json};

use super::schema;
use crate::errors::FieldError;
use crate::validation::{is_dns_label, is_dns_subdomain};

/// Fills in what the real server defaults in a definition.
pub fn default(definition: &mut Value) {
    let spec = &mut definition["spec"];
    if !spec.is_object() {
        return;
    }
    let kind = spec["names"]["kind"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if spec["names"]["listKind"].is_null() && !kind.is_empty() {
        spec["names"]["listKind"] = json!(format!("{kind}List"));
    }
    if spec["names"]["singular"].is_null() && !kind.is_empty() {
        spec["names"]["singular"] = json!(kind.to_lowercase());
    }
    if spec["conversion"].is_null() {
        spec["conversion"] = json!({"strategy": "None"});
    }
    // A new definition's status, as the real server writes it on create (clients read
    // `storedVersions` and `acceptedNames` from the create response).
    if definition["status"].is_null() {
        let stored: Vec<Value> = definition["spec"]["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["storage"] == true)
            .map(|v| v["name"].clone())
            .collect();
        definition["status"] =
            json!({"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": stored});
    }
}

/// Every problem with `definition`, as field errors.
pub fn validate(definition: &Value, errors: &mut Vec<FieldError>) {
    let spec = &definition["spec"];
    let name = definition["metadata"]["name"].as_str().unwrap_or_default();
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errors.push(FieldError::invalid(
            "metadata.name",
            format!("{name:?}"),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errors.push(FieldError::required("spec.group", ""));
    } else if !group.contains('.') {
        errors.push(FieldError::invalid(
            "spec.group",
            format!("{group:?}"),
            "should be a domain with at least one dot",
        ));
    } else if !is_dns_subdomain(group) {
        errors.push(FieldError::invalid(
            "spec.group",
            format!("{group:?}"),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ));
    }
    match spec["scope"].as_str() {
        Some("Namespaced" | "Cluster") => {}
        None | Some("") => errors.push(FieldError::required("spec.scope", "")),
        Some(other) => errors.push(FieldError::not_supported(
            "spec.scope",
            format!("{other:?}"),
            &["Cluster", "Namespaced"],
        )),
    }
    validate_names(&spec["names"], errors);
    validate_versions(&spec["versions"], errors);
    if let Some(strategy) = spec["conversion"]["strategy"].as_str()
        && strategy != "None"
    {
        errors.push(FieldError::not_supported(
            "spec.conversion.strategy",
            format!("{strategy:?}"),
            &["None"],
        ));
    }
}

fn validate_names(names: &Value, errors: &mut Vec<FieldError>) {
    for field in ["plural", "singular"] {
        let value = names[field].as_str().unwrap_or_default();
        if value.is_empty() {
            if field == "plural" {
                errors.push(FieldError::required("spec.names.plural", ""));
            }
        } else if !is_dns_label(value) {
            errors.push(FieldError::invalid(
                format!("spec.names.{field}"),
                format!("{value:?}"),
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            ));
        }
    }
    for field in ["kind", "listKind"] {
        let value = names[field].as_str().unwrap_or_default();
        if value.is_empty() {
            if field == "kind" {
                errors.push(FieldError::required("spec.names.kind", ""));
            }
        } else if !value.starts_with(|c: char| c.is_ascii_alphabetic())
            || !value.chars().all(|c| c.is_ascii_alphanumeric())
        {
            errors.push(FieldError::invalid(
                format!("spec.names.{field}"),
                format!("{value:?}"),
                "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
            ));
        }
    }
    for (i, short) in names["shortNames"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let short = short.as_str().unwrap_or_default();
        if !is_dns_label(short) {
            errors.push(FieldError::invalid(
                format!("spec.names.shortNames[{i}]"),
                format!("{short:?}"),
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            ));
        }
    }
}

fn validate_versions(versions: &Value, errors: &mut Vec<FieldError>) {
    let list = versions.as_array().map(Vec::as_slice).unwrap_or_default();
    if list.is_empty() {
        errors.push(FieldError::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let storage = list.iter().filter(|v| v["storage"] == true).count();
    if storage != 1 {
        errors.push(FieldError::invalid(
            "spec.versions",
            format!("{versions}"),
            "must have exactly one version marked as storage version",
        ));
    }
    if !list.iter().any(|v| v["served"] == true) {
        errors.push(FieldError::invalid(
            "spec.versions",
            format!("{versions}"),
            "must have at least one served version",
        ));
    }
    for (i, version) in list.iter().enumerate() {
        let at = format!("spec.versions[{i}]");
        let name = version["name"].as_str().unwrap_or_default();
        if name.is_empty() {
            errors.push(FieldError::required(format!("{at}.name"), ""));
        } else if !is_dns_label(name) {
            errors.push(FieldError::invalid(
                format!("{at}.name"),
                format!("{name:?}"),
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            ));
        }
        if list[..i].iter().any(|v| v["name"] == version["name"]) {
            errors.push(FieldError::duplicate(
                format!("{at}.name"),
                format!("{name:?}"),
            ));
        }
        let open_api = &version["schema"]["openAPIV3Schema"];
        if !open_api.is_object() {
            errors.push(FieldError::required(
                format!("{at}.schema.openAPIV3Schema"),
                "schemas are required",
            ));
        } else {
            errors.extend(schema::problems(
                open_api,
                &format!("{at}.schema.openAPIV3Schema"),
            ));
        }
        let scale = &version["subresources"]["scale"];
        if scale.is_object() {
            for field in ["specReplicasPath", "statusReplicasPath"] {
                let path = scale[field].as_str().unwrap_or_default();
                let root = if field == "specReplicasPath" {
                    ".spec."
                } else {
                    ".status."
                };
                if path.is_empty() {
                    errors.push(FieldError::required(
                        format!("{at}.subresources.scale.{field}"),
                        "",
                    ));
                } else if !path.starts_with(root) {
                    errors.push(FieldError::invalid(
                        format!("{at}.subresources.scale.{field}"),
                        format!("{path:?}"),
                        format!("should be a json path under {}", root.trim_end_matches('.')),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widgets() -> Value {
        json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]
            }
        })
    }

    #[test]
    fn a_good_definition_passes_and_gets_its_defaults() {
        let mut definition = widgets();
        default(&mut definition);
        let mut errors = Vec::new();
        validate(&definition, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(definition["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(definition["spec"]["names"]["singular"], "widget");
        assert_eq!(definition["spec"]["conversion"]["strategy"], "None");
    }

    #[test]
    fn a_bad_definition_names_each_problem() {
        let mut definition = widgets();
        definition["metadata"]["name"] = json!("gadgets.example.com");
        definition["spec"]["scope"] = json!("Global");
        definition["spec"]["versions"][0]["storage"] = json!(false);
        definition["spec"]["versions"][0]["schema"] = json!(null);
        let mut errors = Vec::new();
        validate(&definition, &mut errors);
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group",
                "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"",
                "spec.versions: Invalid value: [{\"name\":\"v1\",\"schema\":null,\"served\":true,\"storage\":false}]: must have exactly one version marked as storage version",
                "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
            ]
        );
    }
}
