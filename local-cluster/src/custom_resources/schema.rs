//! A CustomResourceDefinition's structural schema applied to a custom object, in the order the
//! real server applies it: unknown fields pruned (and reported, for `fieldValidation`), defaults
//! filled in, then the value validated with the real server's messages.
//!
//! The schema stays the `openAPIV3Schema` JSON it was written as: it is walked, never compiled,
//! because definitions change rarely and objects are small.

use serde_json::{Map, Value};

use crate::errors::FieldError;

/// `x-kubernetes-preserve-unknown-fields: true` on this node.
fn preserves_unknown(schema: &Value) -> bool {
    schema["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true)
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Removes the fields `schema` does not declare (unless it preserves unknown fields there) and
/// returns their paths. At the root, `apiVersion`, `kind` and `metadata` are the server's.
pub fn prune(schema: &Value, object: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    prune_at(schema, object, "", true, &mut pruned);
    pruned
}

fn prune_at(schema: &Value, value: &mut Value, path: &str, root: bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let field = child_path(path, &key);
                let child_schema = properties
                    .and_then(|p| p.get(&key))
                    .or(additional.is_object().then_some(additional));
                match (child_schema, map.get_mut(&key)) {
                    (Some(s), Some(child)) => prune_at(s, child, &field, false, out),
                    (None, _) if preserves_unknown(schema) || additional == &Value::Bool(true) => {}
                    (None, _) => {
                        map.remove(&key);
                        out.push(field);
                    }
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            let item_schema = &schema["items"];
            if item_schema.is_object() {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_at(item_schema, item, &format!("{path}[{i}]"), false, out);
                }
            }
        }
        _ => {}
    }
}

/// Fills in the `default`s of fields that are absent, outermost first (a defaulted object then
/// gets its own fields' defaults), as the real server does when it decodes a request.
pub fn default(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema["properties"].as_object() {
                for (key, property) in properties {
                    if !map.contains_key(key)
                        && let Some(default) = property.get("default")
                    {
                        map.insert(key.clone(), default.clone());
                    }
                    if let Some(child) = map.get_mut(key) {
                        default_nested(property, child);
                    }
                }
            }
            if let Some(additional) = schema["additionalProperties"].as_object() {
                let additional = Value::Object(additional.clone());
                for child in map.values_mut() {
                    default_nested(&additional, child);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                default_nested(&schema["items"], item);
            }
        }
        _ => {}
    }
}

fn default_nested(schema: &Value, value: &mut Value) {
    if schema.is_object() {
        default(schema, value);
    }
}

/// Every way `value` breaks `schema`, with the real server's paths and messages.
pub fn validate(schema: &Value, value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_at(schema, value, "", &mut errors);
    errors
}

/// The name the OpenAPI validator gives a JSON value's type in its messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as Go's `%#v`-like quoting shows it in an `Invalid value:` message.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Object(_) => "\"object\"".to_owned(),
        Value::Array(_) => "\"array\"".to_owned(),
        Value::Null => "\"null\"".to_owned(),
        other => other.to_string(),
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    }
}

/// The path as the validator's own messages spell it (`body` for the root).
fn in_body(path: &str) -> String {
    if path.is_empty() {
        "body".to_owned()
    } else {
        format!("{path} in body")
    }
}

fn validate_at(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if value.is_null() {
        if schema["nullable"].as_bool() != Some(true)
            && !path.is_empty()
            && let Some(expected) = schema["type"].as_str()
        {
            errors.push(FieldError::type_invalid(
                path,
                "\"null\"",
                format!("{} must be of type {expected}: \"null\"", in_body(path)),
            ));
        }
        return;
    }
    let int_or_string = schema["x-kubernetes-int-or-string"].as_bool() == Some(true);
    if int_or_string {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            errors.push(FieldError::type_invalid(
                path,
                shown(value),
                format!(
                    "{} must be of type integer or string: {:?}",
                    in_body(path),
                    type_name(value)
                ),
            ));
            return;
        }
    } else if let Some(expected) = schema["type"].as_str()
        && !type_matches(expected, value)
    {
        errors.push(FieldError::type_invalid(
            path,
            shown(value),
            format!(
                "{} must be of type {expected}: {:?}",
                in_body(path),
                type_name(value)
            ),
        ));
        // Nothing below holds for a value of the wrong type.
        return;
    }
    if let Some(choices) = schema["enum"].as_array()
        && !choices.contains(value)
    {
        let listed: Vec<String> = choices
            .iter()
            .map(|c| match c {
                Value::String(s) => format!("{s:?}"),
                other => other.to_string(),
            })
            .collect();
        errors.push(FieldError::not_supported_listed(
            path,
            shown(value),
            &listed,
        ));
    }
    match value {
        Value::Number(n) => check_bounds(schema, n.as_f64().unwrap_or(0.0), value, path, errors),
        Value::String(s) => check_string(schema, s, path, errors),
        Value::Array(items) => {
            let count = items.len() as u64;
            if let Some(max) = schema["maxItems"].as_u64()
                && count > max
            {
                errors.push(FieldError::too_many(path, count, max));
            }
            if let Some(min) = schema["minItems"].as_u64()
                && count < min
            {
                errors.push(FieldError::invalid(
                    path,
                    shown(value),
                    format!("{} should have at least {min} items", in_body(path)),
                ));
            }
            if schema["x-kubernetes-list-type"].as_str() == Some("set") {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        errors.push(FieldError::duplicate(format!("{path}[{i}]"), shown(item)));
                    }
                }
            }
            let item_schema = &schema["items"];
            if item_schema.is_object() {
                for (i, item) in items.iter().enumerate() {
                    validate_at(item_schema, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        Value::Object(map) => validate_object(schema, map, path, errors),
        _ => {}
    }
}

/// A bound as Go's `%v` prints a float64: `10`, not `10.0` (definitions decode them as floats).
fn go_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn check_bounds(schema: &Value, n: f64, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let exclusive = |key: &str| schema[key].as_bool() == Some(true);
    if let Some(max) = schema["maximum"].as_f64() {
        let over = if exclusive("exclusiveMaximum") {
            n >= max
        } else {
            n > max
        };
        if over {
            let relation = if exclusive("exclusiveMaximum") {
                "less than"
            } else {
                "less than or equal to"
            };
            errors.push(FieldError::invalid(
                path,
                shown(value),
                format!("{} should be {relation} {}", in_body(path), go_number(max)),
            ));
        }
    }
    if let Some(min) = schema["minimum"].as_f64() {
        let under = if exclusive("exclusiveMinimum") {
            n <= min
        } else {
            n < min
        };
        if under {
            let relation = if exclusive("exclusiveMinimum") {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errors.push(FieldError::invalid(
                path,
                shown(value),
                format!("{} should be {relation} {}", in_body(path), go_number(min)),
            ));
        }
    }
    if let Some(step) = schema["multipleOf"].as_f64()
        && step > 0.0
        && (n / step).fract() != 0.0
    {
        errors.push(FieldError::invalid(
            path,
            shown(value),
            format!(
                "{} should be a multiple of {}",
                in_body(path),
                go_number(step)
            ),
        ));
    }
}

fn check_string(schema: &Value, s: &str, path: &str, errors: &mut Vec<FieldError>) {
    let length = s.chars().count() as u64;
    if let Some(max) = schema["maxLength"].as_u64()
        && length > max
    {
        errors.push(FieldError::too_long(path, max));
    }
    if let Some(min) = schema["minLength"].as_u64()
        && length < min
    {
        errors.push(FieldError::invalid(
            path,
            format!("{s:?}"),
            format!("{} should be at least {min} chars long", in_body(path)),
        ));
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        // The definition's own validation refused patterns that do not compile.
        match regex::Regex::new(pattern) {
            Ok(re) if !re.is_match(s) => errors.push(FieldError::invalid(
                path,
                format!("{s:?}"),
                format!("{} should match '{pattern}'", in_body(path)),
            )),
            _ => {}
        }
    }
}

fn validate_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for required in schema["required"].as_array().into_iter().flatten() {
        if let Some(key) = required.as_str()
            && map.get(key).is_none_or(Value::is_null)
        {
            errors.push(FieldError::required(child_path(path, key), ""));
        }
    }
    if let Some(max) = schema["maxProperties"].as_u64()
        && map.len() as u64 > max
    {
        errors.push(FieldError::too_many(path, map.len() as u64, max));
    }
    let properties = schema["properties"].as_object();
    let additional = &schema["additionalProperties"];
    for (key, child) in map {
        if path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let field = child_path(path, key);
        if let Some(s) = properties.and_then(|p| p.get(key)) {
            validate_at(s, child, &field, errors);
        } else if additional.is_object() {
            validate_at(additional, child, &field, errors);
        }
    }
}

/// Why `schema` is not one the server can apply (the definition's own validation), if it is
/// not: the checks a definition most often fails, with the real messages' paths.
pub fn problems(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    schema_problems(schema, path, true, &mut out);
    out
}

fn schema_problems(schema: &Value, path: &str, root: bool, out: &mut Vec<FieldError>) {
    let Some(node) = schema.as_object() else {
        return;
    };
    let has_type = node
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let special =
        preserves_unknown(schema) || schema["x-kubernetes-int-or-string"].as_bool() == Some(true);
    if !has_type && !special {
        out.push(FieldError::required(
            format!("{path}.type"),
            "must not be empty for specified object fields",
        ));
    }
    if root && has_type && schema["type"] != "object" {
        out.push(FieldError::invalid(
            format!("{path}.type"),
            shown(&schema["type"]),
            "must be object at the root",
        ));
    }
    out.extend(super::rules::compile_problems(schema, path));
    if let Some(pattern) = node.get("pattern").and_then(Value::as_str)
        && let Err(e) = regex::Regex::new(pattern)
    {
        out.push(FieldError::invalid(
            format!("{path}.pattern"),
            format!("{pattern:?}"),
            format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
    if node.contains_key("properties")
        && node
            .get("additionalProperties")
            .is_some_and(Value::is_object)
    {
        out.push(FieldError::forbidden(
            format!("{path}.additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    for (key, property) in node
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        schema_problems(property, &format!("{path}.properties[{key}]"), false, out);
    }
    if let Some(items) = node.get("items") {
        schema_problems(items, &format!("{path}.items"), false, out);
    } else if schema["type"] == "array" {
        out.push(FieldError::required(
            format!("{path}.items"),
            "must be specified",
        ));
    }
    if let Some(additional) = node.get("additionalProperties").filter(|a| a.is_object()) {
        schema_problems(
            additional,
            &format!("{path}.additionalProperties"),
            false,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 10},
                        "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                        "port": {"x-kubernetes-int-or-string": true},
                        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "limits": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "nested": {"type": "object", "default": {}, "properties": {
                            "level": {"type": "integer", "default": 3}
                        }}
                    }
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
            }
        })
    }

    #[test]
    fn unknown_fields_are_pruned_except_where_preserved() {
        let mut object = json!({
            "apiVersion": "x/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": 2, "bogus": 1, "extra": {"anything": {"goes": true}},
                     "limits": {"cpu": 2}, "tags": ["a"]},
            "top": true
        });
        let pruned = prune(&widget_schema(), &mut object);
        assert_eq!(pruned, vec!["spec.bogus".to_owned(), "top".to_owned()]);
        assert_eq!(object["spec"]["extra"]["anything"]["goes"], true);
        assert_eq!(object["spec"]["limits"]["cpu"], 2);
        assert_eq!(object["metadata"]["name"], "w");
    }

    #[test]
    fn defaults_fill_absent_fields_outermost_first() {
        let mut object = json!({"spec": {"size": 2}});
        default(&widget_schema(), &mut object);
        assert_eq!(object["spec"]["color"], "red");
        assert_eq!(object["spec"]["nested"]["level"], 3);
        let mut chosen = json!({"spec": {"size": 2, "color": "blue"}});
        default(&widget_schema(), &mut chosen);
        assert_eq!(chosen["spec"]["color"], "blue");
    }

    #[test]
    /// In field order (objects keep their keys sorted).
    fn validation_speaks_the_real_servers_messages() {
        let object = json!({"spec": {"size": "big", "color": "pink", "name": "Bad1",
            "port": 1.5, "tags": ["a", "b", "c"], "limits": {"cpu": "x"}}});
        let messages: Vec<String> = validate(&widget_schema(), &object)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            vec![
                "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"blue\"",
                "spec.limits.cpu: Invalid value: \"x\": spec.limits.cpu in body must be of type integer: \"string\"",
                "spec.name: Invalid value: \"Bad1\": spec.name in body should match '^[a-z]+$'",
                "spec.port: Invalid value: 1.5: spec.port in body must be of type integer or string: \"number\"",
                "spec.size: Invalid value: \"big\": spec.size in body must be of type integer: \"string\"",
                "spec.tags: Too many: 3: must have at most 2 items",
            ]
        );
        let missing = validate(&widget_schema(), &json!({"spec": {"size": 11}}));
        assert_eq!(
            missing.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"
            ]
        );
        let required = validate(&widget_schema(), &json!({"spec": {}}));
        assert_eq!(required[0].to_string(), "spec.size: Required value");
        assert!(
            validate(
                &widget_schema(),
                &json!({"spec": {"size": 3, "port": "http"}})
            )
            .is_empty()
        );
    }

    #[test]
    fn a_schema_that_cannot_be_applied_is_named() {
        let bad = json!({"type": "object", "properties": {
            "a": {"type": "string", "pattern": "("},
            "b": {"type": "array"},
            "c": {}
        }});
        let found: Vec<String> = problems(&bad, "spec.validation.openAPIV3Schema")
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(
            found,
            vec![
                "spec.validation.openAPIV3Schema.properties[a].pattern",
                "spec.validation.openAPIV3Schema.properties[b].items",
                "spec.validation.openAPIV3Schema.properties[c].type",
            ]
        );
    }
}
