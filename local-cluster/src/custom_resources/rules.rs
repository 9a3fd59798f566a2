//! `x-kubernetes-validations`: a definition's CEL rules, compiled once per served version with
//! kube-cel (the kube-rs project's Kubernetes CEL library, with the Kubernetes functions) and
//! evaluated on every write, transition rules (`oldSelf`) on updates only, reported as the real
//! server reports them.

use serde_json::Value;

use crate::errors::FieldError;

/// The rules of one schema, compiled.
pub struct Rules(kube_cel::CompiledSchema);

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rules")
    }
}

/// Whether `schema` has a rule anywhere.
fn has_rules(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => {
            map.contains_key("x-kubernetes-validations") || map.values().any(has_rules)
        }
        Value::Array(items) => items.iter().any(has_rules),
        _ => false,
    }
}

impl Rules {
    /// The compiled rules of `schema`, or `None` when it has none.
    pub fn compile(schema: &Value) -> Option<Rules> {
        has_rules(schema).then(|| Rules(kube_cel::compile_schema(schema)))
    }

    /// Every rule `object` breaks (with `old` for transition rules on an update).
    pub fn check(&self, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let validator = kube_cel::Validator::new();
        let Err(failures) = validator.validate_compiled(&self.0, object, old) else {
            return Vec::new();
        };
        failures
            .into_vec()
            .into_iter()
            .filter(|failure| {
                // A rule using a CEL feature kube-cel lacks (`optMap`, `cel.bind`, …) cannot be
                // judged here; refusing every object would make the definition unusable, so
                // the rule is skipped and said so in the log (the README lists the gap).
                let unsupported = failure.kind == kube_cel::ErrorKind::UnsupportedReference;
                if unsupported {
                    tracing::warn!(rule = %failure.rule, field = %failure.field_path, why = %failure.message,
                        "a CEL rule was not evaluated: the local cluster's CEL does not support it");
                }
                !unsupported
            })
            .map(|failure| {
                // The real server names the field by its path, `<nil>` at the root, and shows
                // the value as its schema type.
                let field = if failure.field_path.is_empty() {
                    "<nil>".to_owned()
                } else {
                    failure.field_path.clone()
                };
                let shown = type_at(object, &failure.field_path);
                match failure.reason.as_deref() {
                    Some("FieldValueForbidden") => FieldError::forbidden(field, failure.message),
                    Some("FieldValueRequired") => FieldError::required(field, failure.message),
                    Some("FieldValueDuplicate") => FieldError::duplicate(field, failure.message),
                    _ => FieldError::invalid(field, format!("{shown:?}"), failure.message),
                }
            })
            .collect()
    }
}

/// The JSON type of the value at a dotted path (`spec.replicas`), as the message shows it.
fn type_at(object: &Value, path: &str) -> &'static str {
    let mut current = object;
    for key in path.split('.').filter(|k| !k.is_empty()) {
        let (name, index) = match key.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (key, None),
        };
        current = &current[name];
        if let Some(i) = index {
            current = &current[i];
        }
    }
    match current {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    }
}

/// The rules at one schema node that do not compile, as the definition's validation reports
/// them (`…x-kubernetes-validations[0].rule: Invalid value: …: compilation failed: …`).
pub fn compile_problems(node: &Value, path: &str) -> Vec<FieldError> {
    let Some(rules) = node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let alone = serde_json::json!({"x-kubernetes-validations": [rule]});
        let compiled = kube_cel::compile_schema(&alone);
        for error in compiled.compilation_errors() {
            out.push(FieldError::invalid(
                format!("{path}.x-kubernetes-validations[{i}].rule"),
                format!("{:?}", rule["rule"].as_str().unwrap_or_default()),
                format!("compilation failed: {error}"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self.spec.min <= self.spec.max", "message": "min must not exceed max"}],
            "properties": {"spec": {"type": "object", "properties": {
                "min": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= 0"}]},
                "max": {"type": "integer"},
                "tier": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "tier is immutable"}]}
            }}}
        })
    }

    #[test]
    fn broken_rules_are_reported_as_the_real_server_words_them() {
        let rules = Rules::compile(&schema()).expect("rules");
        assert!(
            rules
                .check(&json!({"spec": {"min": 1, "max": 2, "tier": "a"}}), None)
                .is_empty()
        );
        let broken: Vec<String> = rules
            .check(&json!({"spec": {"min": -3, "max": -4, "tier": "a"}}), None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            broken
                .contains(&"<nil>: Invalid value: \"object\": min must not exceed max".to_owned()),
            "{broken:?}"
        );
        assert!(
            broken.contains(
                &"spec.min: Invalid value: \"integer\": failed rule: self >= 0".to_owned()
            ),
            "{broken:?}"
        );
        let changed = rules.check(
            &json!({"spec": {"min": 1, "max": 2, "tier": "b"}}),
            Some(&json!({"spec": {"min": 1, "max": 2, "tier": "a"}})),
        );
        assert_eq!(
            changed.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["spec.tier: Invalid value: \"string\": tier is immutable"]
        );
    }

    #[test]
    fn a_rule_that_does_not_compile_is_named() {
        let node = json!({"x-kubernetes-validations": [{"rule": "self.a >"}]});
        let problems = compile_problems(&node, "spec.versions[0].schema.openAPIV3Schema");
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].field,
            "spec.versions[0].schema.openAPIV3Schema.x-kubernetes-validations[0].rule"
        );
    }
}
