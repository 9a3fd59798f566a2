//! Strategic merge patch, as the API server applies it to built-in kinds: maps merge, `null`
//! deletes, lists with a merge key merge by that key, and the `$patch`, `$setElementOrder`,
//! `$retainKeys` and `$deleteFromPrimitiveList` directives are honoured.

use serde_json::{Map, Value};

use crate::errors::ApiError;

/// How a list field merges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// Replaced wholesale by the patch.
    Replace,
    /// Items merged by these key fields.
    MergeBy(&'static [&'static str]),
    /// A list of scalars merged as a set (e.g. `finalizers`).
    MergePrimitives,
}

/// The strategy of list field `field` of the type named `owner` (`Container`, `ServiceSpec`), as
/// the OpenAPI document declares it.
pub fn list_strategy_in(owner: &str, field: &str) -> ListStrategy {
    match (owner, field) {
        ("Container" | "EphemeralContainer", "ports") => {
            ListStrategy::MergeBy(&["containerPort", "protocol"])
        }
        ("ServiceSpec", "ports") => ListStrategy::MergeBy(&["port", "protocol"]),
        (_, "ports") => ListStrategy::Replace,
        ("NodeStatus", "addresses") => ListStrategy::MergeBy(&["type"]),
        (_, "addresses") => ListStrategy::Replace,
        (_, "conditions") if owner.ends_with("Status") => ListStrategy::MergeBy(&["type"]),
        (_, "conditions") => ListStrategy::Replace,
        _ => list_strategy(field, None),
    }
}

/// The strategy of list field `field`, given one of its items (Service ports and container ports
/// share a field name but not a merge key).
pub fn list_strategy(field: &str, sample: Option<&Value>) -> ListStrategy {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "readinessGates" => ListStrategy::MergeBy(&["name"]),
        "volumeMounts" => ListStrategy::MergeBy(&["mountPath"]),
        "volumeDevices" => ListStrategy::MergeBy(&["devicePath"]),
        "conditions" => ListStrategy::MergeBy(&["type"]),
        "addresses" if sample.is_some_and(|s| s.get("type").is_some()) => {
            ListStrategy::MergeBy(&["type"])
        }
        "ownerReferences" => ListStrategy::MergeBy(&["uid"]),
        "hostAliases" | "podIPs" | "hostIPs" => ListStrategy::MergeBy(&["ip"]),
        "topologySpreadConstraints" => ListStrategy::MergeBy(&["topologyKey", "whenUnsatisfiable"]),
        "ports" => {
            if sample.is_some_and(|s| s.get("containerPort").is_some()) {
                ListStrategy::MergeBy(&["containerPort", "protocol"])
            } else {
                ListStrategy::MergeBy(&["port", "protocol"])
            }
        }
        "finalizers" => ListStrategy::MergePrimitives,
        _ => ListStrategy::Replace,
    }
}

/// Where a list's merge strategy comes from.
#[derive(Clone, Copy, Debug)]
pub enum Lists<'a> {
    /// Built-in kinds: their Go types' patch strategies, known here by field name.
    ByFieldName,
    /// A custom object: the schema node of the value at hand (`x-kubernetes-list-type` `set`
    /// or `map` with `x-kubernetes-list-map-keys`; a list is atomic otherwise). Its `metadata`
    /// is an ObjectMeta and goes by field name.
    Schema(&'a Value),
}

static NO_SCHEMA: Value = Value::Null;

impl<'a> Lists<'a> {
    /// The rules for the value under `key` of the object at hand.
    pub fn child(self, key: &str) -> Lists<'a> {
        match self {
            Lists::ByFieldName => Lists::ByFieldName,
            Lists::Schema(_) if key == "metadata" => Lists::ByFieldName,
            Lists::Schema(node) => Lists::Schema(
                node["properties"]
                    .get(key)
                    .or(node.get("additionalProperties").filter(|a| a.is_object()))
                    .unwrap_or(&NO_SCHEMA),
            ),
        }
    }

    /// The rules for the items of the list at hand.
    pub fn items(self) -> Lists<'a> {
        match self {
            Lists::ByFieldName => Lists::ByFieldName,
            Lists::Schema(node) => Lists::Schema(node.get("items").unwrap_or(&NO_SCHEMA)),
        }
    }

    /// How the list at hand (named `field`, with an item like `sample`) merges.
    pub fn strategy(self, field: &str, sample: Option<&Value>) -> ListStrategy {
        match self {
            Lists::ByFieldName => list_strategy(field, sample),
            Lists::Schema(node) => match node["x-kubernetes-list-type"].as_str() {
                Some("set") => ListStrategy::MergePrimitives,
                Some("map") => {
                    let keys: Vec<&str> = node["x-kubernetes-list-map-keys"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    if keys.is_empty() {
                        ListStrategy::Replace
                    } else {
                        ListStrategy::MergeBy(interned(&keys))
                    }
                }
                _ => ListStrategy::Replace,
            },
        }
    }
}

/// One shared copy of each distinct list of map keys a definition names, so strategies stay
/// `'static` like the built-in ones (definitions name a handful; they are never freed).
fn interned(keys: &[&str]) -> &'static [&'static str] {
    static SEEN: std::sync::Mutex<Vec<&'static [&'static str]>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = seen.iter().find(|s| **s == keys) {
        return found;
    }
    let leaked: &'static [&'static str] = keys
        .iter()
        .map(|k| &*Box::leak(k.to_string().into_boxed_str()))
        .collect::<Vec<&'static str>>()
        .leak();
    seen.push(leaked);
    leaked
}

/// Applies a strategic merge patch to `original`.
pub fn apply(original: &Value, patch: &Value) -> Result<Value, ApiError> {
    apply_with(original, patch, Lists::ByFieldName)
}

/// Merges `patch` into `original` with the list strategies `lists` gives (server-side apply
/// of a custom object merges by its schema).
pub fn apply_with(original: &Value, patch: &Value, lists: Lists) -> Result<Value, ApiError> {
    match (original, patch) {
        (Value::Object(o), Value::Object(p)) => Ok(Value::Object(merge_map(o, p, lists)?)),
        (_, Value::Object(p)) => Ok(Value::Object(merge_map(&Map::new(), p, lists)?)),
        _ => Err(ApiError::bad_request(
            "a strategic merge patch must be a JSON object",
        )),
    }
}

fn merge_map(
    original: &Map<String, Value>,
    patch: &Map<String, Value>,
    lists: Lists,
) -> Result<Map<String, Value>, ApiError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = patch.clone();
            replaced.remove("$patch");
            return Ok(strip_directives(replaced));
        }
        Some("delete") => return Ok(Map::new()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown patch type: {other} in map"
            )));
        }
        None => {}
    }
    let mut result = original.clone();
    if let Some(retain) = patch.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        result.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch {
        // Directives are read where their field is merged, or after the merge below.
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            result.remove(key);
            continue;
        }
        let inner = lists.child(key);
        let merged = match (original.get(key), value) {
            (Some(Value::Object(o)), Value::Object(p)) => Value::Object(merge_map(o, p, inner)?),
            (Some(Value::Array(o)), Value::Array(p)) => {
                let order = patch
                    .get(&format!("$setElementOrder/{key}"))
                    .and_then(Value::as_array);
                Value::Array(merge_list(key, o, p, order, inner)?)
            }
            (None, Value::Array(p)) => {
                let order = patch
                    .get(&format!("$setElementOrder/{key}"))
                    .and_then(Value::as_array);
                Value::Array(merge_list(key, &[], p, order, inner)?)
            }
            (_, Value::Object(p)) => Value::Object(merge_map(&Map::new(), p, inner)?),
            (_, other) => other.clone(),
        };
        result.insert(key.clone(), merged);
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/")
            && let (Some(Value::Array(items)), Some(remove)) =
                (result.get_mut(field), value.as_array())
        {
            items.retain(|i| !remove.contains(i));
        }
    }
    Ok(result)
}

fn key_of<'a>(item: &'a Value, keys: &[&str]) -> Vec<Option<&'a Value>> {
    keys.iter()
        .map(|k| match (item.get(*k), *k) {
            // Protocol defaults to TCP; a patch that omits it still means the same port.
            (None, "protocol") => None,
            (v, _) => v,
        })
        .collect()
}

fn same_key(a: &Value, b: &Value, keys: &[&str]) -> bool {
    let (ka, kb) = (key_of(a, keys), key_of(b, keys));
    ka.iter()
        .zip(&kb)
        .enumerate()
        .all(|(i, (x, y))| match (x, y) {
            (Some(x), Some(y)) => x == y,
            // Only the protocol may be left out on one side.
            (None, _) | (_, None) => keys[i] == "protocol",
        })
        && ka.first().is_some_and(Option::is_some)
}

fn merge_list(
    field: &str,
    original: &[Value],
    patch: &[Value],
    order: Option<&Vec<Value>>,
    lists: Lists,
) -> Result<Vec<Value>, ApiError> {
    let sample = patch.first().or(original.first());
    match lists.strategy(field, sample) {
        ListStrategy::Replace => {
            if patch
                .iter()
                .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
            {
                return Ok(patch
                    .iter()
                    .filter(|p| p.get("$patch").is_none())
                    .cloned()
                    .collect());
            }
            Ok(patch.iter().map(|v| strip_value(v.clone())).collect())
        }
        ListStrategy::MergePrimitives => {
            let mut result = original.to_vec();
            for item in patch {
                if !result.contains(item) {
                    result.push(item.clone());
                }
            }
            if let Some(order) = order {
                result.sort_by_key(|i| order.iter().position(|o| o == i).unwrap_or(usize::MAX));
            }
            Ok(result)
        }
        ListStrategy::MergeBy(keys) => {
            if patch
                .iter()
                .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
            {
                return Ok(patch
                    .iter()
                    .filter(|p| p.get("$patch").is_none())
                    .map(|v| strip_value(v.clone()))
                    .collect());
            }
            let mut result: Vec<Value> = original.to_vec();
            for item in patch {
                let position = result.iter().position(|o| same_key(o, item, keys));
                let directive = item.get("$patch").and_then(Value::as_str);
                match (position, directive) {
                    (Some(i), Some("delete")) => {
                        result.remove(i);
                    }
                    (None, Some("delete")) => {}
                    (Some(i), _) => {
                        let merged = match (&result[i], item) {
                            (Value::Object(o), Value::Object(p)) => {
                                Value::Object(merge_map(o, p, lists.items())?)
                            }
                            (_, other) => other.clone(),
                        };
                        result[i] = merged;
                    }
                    (None, _) => result.push(strip_value(item.clone())),
                }
            }
            if let Some(order) = order {
                // Items named in $setElementOrder come in that order; others keep theirs, after.
                result.sort_by_key(|item| {
                    order
                        .iter()
                        .position(|o| same_key(item, o, keys))
                        .unwrap_or(usize::MAX)
                });
            }
            Ok(result)
        }
    }
}

fn strip_value(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(strip_directives(m)),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_value).collect()),
        other => other,
    }
}

fn strip_directives(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, v)| (k, strip_value(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_and_env_by_name() {
        let original = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
            {"name": "b", "image": "b:1"}]}});
        let patch = json!({"spec": {"containers": [
            {"name": "a", "env": [{"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}]}]}});
        let merged = apply(&original, &patch).unwrap();
        assert_eq!(merged["spec"]["containers"][0]["image"], "a:1");
        assert_eq!(
            merged["spec"]["containers"][0]["env"],
            json!([{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}])
        );
        assert_eq!(merged["spec"]["containers"][1]["name"], "b");
    }

    #[test]
    fn directives_delete_replace_and_order() {
        let original = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "labels": {"x": "1", "y": "2"}});
        let patch = json!({"env": [{"name": "A", "$patch": "delete"}], "labels": {"x": null}});
        let merged = apply(&original, &patch).unwrap();
        assert_eq!(merged["env"], json!([{"name": "B", "value": "2"}]));
        assert_eq!(merged["labels"], json!({"y": "2"}));

        let patch = json!({"$setElementOrder/env": [{"name": "B"}, {"name": "A"}], "env": [{"name": "A", "value": "9"}]});
        let merged = apply(&original, &patch).unwrap();
        assert_eq!(
            merged["env"],
            json!([{"name": "B", "value": "2"}, {"name": "A", "value": "9"}])
        );

        let patch = json!({"labels": {"$patch": "replace", "z": "3"}});
        assert_eq!(
            apply(&original, &patch).unwrap()["labels"],
            json!({"z": "3"})
        );
    }

    #[test]
    fn service_ports_merge_by_port_and_other_lists_replace() {
        let original = json!({"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}], "tolerations": [{"key": "a"}]}});
        let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}], "tolerations": [{"key": "b"}]}});
        let merged = apply(&original, &patch).unwrap();
        assert_eq!(
            merged["spec"]["ports"],
            json!([{"port": 80, "protocol": "TCP", "targetPort": 9090}])
        );
        assert_eq!(merged["spec"]["tolerations"], json!([{"key": "b"}]));
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let original = json!({"metadata": {"finalizers": ["a"]}});
        let patch = json!({"metadata": {"finalizers": ["b", "a"], "$deleteFromPrimitiveList/finalizers": ["a"]}});
        let merged = apply(&original, &patch).unwrap();
        assert_eq!(merged["metadata"]["finalizers"], json!(["b"]));
    }
}
