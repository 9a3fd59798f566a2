//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! Each manager owns a set of leaf paths, stored in the real `fieldsV1` format
//! (`{"f:spec":{"f:replicas":{}}}`, list items by merge key as `k:{"name":"c"}`). An update
//! transfers the fields it changed to its manager; an apply claims the fields it names, fails on
//! fields another manager owns with a different value (unless forced), and removes fields that
//! the same manager applied before but no longer names, when nobody else owns them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::clock::now;
use crate::errors::ApiError;
use crate::resources::ResourceKind;
use crate::strategic::{self, ListStrategy, Lists};

/// One path segment in `fieldsV1` syntax (`f:spec`, `k:{"name":"c"}`, `v:"x"`, `.`).
type Segment = String;
/// A leaf path.
type FieldPath = Vec<Segment>;
/// The fields a manager owns.
type FieldSet = BTreeSet<FieldPath>;

/// Metadata the server owns; never part of a manager's set.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "namespace",
    "name",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The leaf paths of `object` (ignoring apiVersion, kind, status and server-owned metadata);
/// `lists` says how its lists are keyed.
fn leaves_of_object(object: &Value, lists: Lists) -> FieldSet {
    let mut out = FieldSet::new();
    if let Some(map) = object.as_object() {
        for (key, value) in map {
            match key.as_str() {
                "apiVersion" | "kind" | "status" => {}
                "metadata" => {
                    for (mk, mv) in value.as_object().into_iter().flatten() {
                        if !SERVER_METADATA.contains(&mk.as_str()) {
                            leaves(
                                mv,
                                mk,
                                vec!["f:metadata".into(), format!("f:{mk}")],
                                Lists::ByFieldName,
                                &mut out,
                            );
                        }
                    }
                }
                _ => leaves(
                    value,
                    key,
                    vec![format!("f:{key}")],
                    lists.child(key),
                    &mut out,
                ),
            }
        }
    }
    out
}

fn item_key(item: &Value, keys: &[&str]) -> Option<Segment> {
    let mut key = Map::new();
    for k in keys {
        match item.get(*k) {
            Some(v) => {
                key.insert((*k).to_owned(), v.clone());
            }
            // A missing protocol is the default TCP.
            None if *k == "protocol" => {
                key.insert("protocol".into(), json!("TCP"));
            }
            None => return None,
        }
    }
    Some(format!("k:{}", Value::Object(key)))
}

fn leaves(value: &Value, field: &str, path: FieldPath, lists: Lists, out: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let mut child = path.clone();
                child.push(format!("f:{k}"));
                leaves(v, k, child, lists.child(k), out);
            }
        }
        Value::Array(items) if !items.is_empty() => match lists.strategy(field, items.first()) {
            ListStrategy::MergeBy(keys) => {
                for item in items {
                    match item_key(item, keys) {
                        Some(segment) => {
                            let mut element = path.clone();
                            element.push(segment);
                            let mut dot = element.clone();
                            dot.push(".".into());
                            out.insert(dot);
                            for (k, v) in item.as_object().into_iter().flatten() {
                                let mut child = element.clone();
                                child.push(format!("f:{k}"));
                                leaves(v, k, child, lists.items().child(k), out);
                            }
                        }
                        None => {
                            out.insert(path.clone());
                        }
                    }
                }
            }
            ListStrategy::MergePrimitives => {
                for item in items {
                    let mut child = path.clone();
                    child.push(format!("v:{item}"));
                    out.insert(child);
                }
            }
            ListStrategy::Replace => {
                out.insert(path);
            }
        },
        _ => {
            out.insert(path);
        }
    }
}

fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for segment in path {
            node = node
                .entry(segment.clone())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("fieldsV1 nodes are objects");
        }
    }
    Value::Object(root)
}

fn from_fields_v1(value: &Value) -> FieldSet {
    fn walk(value: &Value, path: FieldPath, out: &mut FieldSet) {
        match value.as_object() {
            Some(map) if !map.is_empty() => {
                for (k, v) in map {
                    let mut child = path.clone();
                    child.push(k.clone());
                    walk(v, child, out);
                }
            }
            _ => {
                if !path.is_empty() {
                    out.insert(path);
                }
            }
        }
    }
    let mut out = FieldSet::new();
    walk(value, Vec::new(), &mut out);
    out
}

/// Whether a list item has the key named in a `k:` segment (a missing protocol means TCP).
fn has_key(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(k, v)| match item.get(k) {
        Some(x) => x == v,
        None => k == "protocol" && v == "TCP",
    })
}

/// Follows a path through an object; `None` if any step is missing.
fn resolve<'a>(object: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    let mut current = object;
    for segment in path {
        if segment == "." {
            return Some(current);
        }
        if let Some(field) = segment.strip_prefix("f:") {
            current = current.get(field)?;
        } else if let Some(key) = segment.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).ok()?;
            current = current
                .as_array()?
                .iter()
                .find(|item| has_key(item, &key))?;
        } else if let Some(item) = segment.strip_prefix("v:") {
            let item: Value = serde_json::from_str(item).ok()?;
            return current.as_array()?.iter().find(|x| **x == item);
        } else {
            return None;
        }
    }
    Some(current)
}

/// Removes the field at `path` from `object` (a map key, a keyed list item, a set member).
fn remove(object: &mut Value, path: &[Segment]) {
    let (last, parent_path) = match path.split_last() {
        Some((last, rest)) if last == "." => match rest.split_last() {
            Some((item, parent)) => (item, parent),
            None => return,
        },
        Some(split) => split,
        None => return,
    };
    let mut parent = &mut *object;
    for segment in parent_path {
        let next = if let Some(field) = segment.strip_prefix("f:") {
            parent.get_mut(field)
        } else if let Some(key) = segment.strip_prefix("k:") {
            let Ok(key) = serde_json::from_str::<Map<String, Value>>(key) else {
                return;
            };
            parent
                .as_array_mut()
                .and_then(|items| items.iter_mut().find(|item| has_key(item, &key)))
        } else {
            None
        };
        match next {
            Some(n) => parent = n,
            None => return,
        }
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(map) = parent.as_object_mut() {
            map.remove(field);
        }
    } else if let Some(key) = last.strip_prefix("k:") {
        if let (Ok(key), Some(items)) = (
            serde_json::from_str::<Map<String, Value>>(key),
            parent.as_array_mut(),
        ) {
            items.retain(|item| !has_key(item, &key));
        }
    } else if let Some(item) = last.strip_prefix("v:")
        && let (Ok(item), Some(items)) =
            (serde_json::from_str::<Value>(item), parent.as_array_mut())
    {
        items.retain(|x| *x != item);
    }
}

/// After `path` was removed: a map left empty by it goes too, and so on up (never the object's
/// top-level fields), as structured-merge-diff drops the maps a removal empties. Otherwise a
/// struct whose only applied field was dropped stays as `{}` and fails its own `required`.
fn remove_emptied_maps(object: &mut Value, path: &[Segment]) {
    let mut prefix = path.to_vec();
    while prefix.len() > 2 {
        prefix.pop();
        if prefix.last().is_some_and(|s| !s.starts_with("f:")) {
            return;
        }
        let emptied =
            resolve(object, &prefix).is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
        if !emptied {
            return;
        }
        remove(object, &prefix);
    }
}

/// How a conflict path is shown: `.spec.template.spec.containers[name="c"].image`.
fn display(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        if let Some(field) = segment.strip_prefix("f:") {
            text.push('.');
            text.push_str(field);
        } else if let Some(key) = segment.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            text.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(item) = segment.strip_prefix("v:") {
            text.push_str(&format!("[={item}]"));
        }
    }
    text
}

#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    fields: FieldSet,
    subresource: Option<String>,
}

fn entries(object: &Value) -> Vec<Entry> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().to_owned(),
            operation: e["operation"].as_str().unwrap_or("Update").to_owned(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().to_owned(),
            time: e["time"].as_str().unwrap_or_default().to_owned(),
            fields: from_fields_v1(&e["fieldsV1"]),
            subresource: e["subresource"].as_str().map(str::to_owned),
        })
        .collect()
}

fn write_entries(object: &mut Value, list: Vec<Entry>) {
    let rendered: Vec<Value> = list
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if let Some(s) = e.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    if let Some(meta) = object["metadata"].as_object_mut() {
        if rendered.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(rendered));
        }
    }
}

/// Records that `manager` wrote `object` with an Update (a create when `old` is `None`): it now
/// owns every field it set or changed, which other managers lose.
pub fn record(
    object: &mut Value,
    manager: &str,
    operation: &str,
    api_version: &str,
    old: Option<&Value>,
    lists: Lists,
) {
    let now_set = leaves_of_object(object, lists);
    let changed: FieldSet = match old {
        None => now_set,
        Some(old) => now_set
            .into_iter()
            .filter(|path| resolve(object, path) != resolve(old, path))
            .collect(),
    };
    let mut list = entries(old.unwrap_or(object));
    if changed.is_empty() {
        write_entries(object, list);
        return;
    }
    for entry in &mut list {
        if entry.manager != manager || entry.operation != operation {
            entry.fields.retain(|p| !changed.contains(p));
        }
    }
    match list
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == operation && e.subresource.is_none())
    {
        Some(entry) => {
            entry.fields.extend(changed);
            entry.time = now();
        }
        None => list.push(Entry {
            manager: manager.to_owned(),
            operation: operation.to_owned(),
            api_version: api_version.to_owned(),
            time: now(),
            fields: changed,
            subresource: None,
        }),
    }
    write_entries(object, list);
}

/// Server-side apply of `applied` by `manager` onto `current` (or a new object).
pub fn apply(
    kind: &ResourceKind,
    current: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    lists: Lists,
) -> Result<Value, ApiError> {
    let claimed = leaves_of_object(applied, lists);
    let api_version = kind.api_version();
    let Some(current) = current else {
        let mut object = applied.clone();
        write_entries(
            &mut object,
            vec![Entry {
                manager: manager.to_owned(),
                operation: "Apply".into(),
                api_version,
                time: now(),
                fields: claimed,
                subresource: None,
            }],
        );
        return Ok(object);
    };
    let mut list = entries(current);
    let mut conflicts: BTreeMap<String, Vec<FieldPath>> = BTreeMap::new();
    for entry in &list {
        if entry.manager == manager {
            continue;
        }
        for path in claimed.intersection(&entry.fields) {
            // `.` marks that a list element exists; only leaf values can conflict.
            if path.last().is_some_and(|s| s == ".") {
                continue;
            }
            if resolve(current, path) != resolve(applied, path) {
                conflicts
                    .entry(entry.manager.clone())
                    .or_default()
                    .push(path.clone());
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let count: usize = conflicts.values().map(Vec::len).sum();
        let mut parts = Vec::new();
        let mut causes = Vec::new();
        for (other, paths) in &conflicts {
            let version = list
                .iter()
                .find(|e| &e.manager == other)
                .map(|e| e.api_version.clone())
                .unwrap_or_default();
            for path in paths {
                parts.push(format!(
                    "conflict with \"{other}\" using {version}: {}",
                    display(path)
                ));
                causes.push(json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{other}\" using {version}"), "field": display(path)}));
            }
        }
        let plural = if count == 1 { "conflict" } else { "conflicts" };
        let name = current["metadata"]["name"].as_str().unwrap_or_default();
        let mut error = ApiError::conflict(kind, name, "");
        error.message = format!("Apply failed with {count} {plural}: {}", parts.join("\n"));
        if let Some(details) = error.details.as_mut() {
            details["causes"] = json!(causes);
        }
        return Err(error);
    }
    // Forced fields now belong to this manager alone; fields applied with the value another
    // manager set stay shared.
    for entry in &mut list {
        if let Some(lost) = conflicts.get(&entry.manager) {
            entry.fields.retain(|p| !lost.contains(p));
        }
    }
    let mut body = applied.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("status");
    }
    let mut merged = strategic::apply_with(current, &body, lists)?;
    let previous: FieldSet = list
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply")
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: FieldSet = list
        .iter()
        .filter(|e| !(e.manager == manager && e.operation == "Apply"))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let dropped: Vec<&FieldPath> = previous.difference(&claimed).collect();
    for path in dropped.into_iter().rev() {
        if !others.contains(path) {
            remove(&mut merged, path);
            remove_emptied_maps(&mut merged, path);
        }
    }
    list.retain(|e| !(e.manager == manager && e.operation == "Apply"));
    list.push(Entry {
        manager: manager.to_owned(),
        operation: "Apply".into(),
        api_version,
        time: now(),
        fields: claimed,
        subresource: None,
    });
    write_entries(&mut merged, list);
    Ok(merged)
}

/// Equality that ignores the `time` of managedFields entries (a no-op write is still a no-op).
pub fn equal_ignoring_times(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(list) = v["metadata"]["managedFields"].as_array_mut() {
            for e in list {
                if let Some(m) = e.as_object_mut() {
                    m.remove("time");
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployments() -> &'static ResourceKind {
        crate::resources::deployments()
    }

    #[test]
    fn field_sets_use_the_real_fields_v1_shape() {
        let object = json!({"metadata": {"name": "x", "labels": {"app": "a"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let fields = to_fields_v1(&leaves_of_object(&object, Lists::ByFieldName));
        assert_eq!(fields["f:metadata"]["f:labels"]["f:app"], json!({}));
        assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
        assert_eq!(
            fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]["f:image"],
            json!({})
        );
        assert_eq!(
            from_fields_v1(&fields),
            leaves_of_object(&object, Lists::ByFieldName)
        );
    }

    #[test]
    fn apply_conflicts_with_another_managers_field_unless_forced() {
        let first = apply(
            deployments(),
            None,
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 2}}),
            "alice",
            false,
            Lists::ByFieldName,
        )
        .unwrap();
        let err = apply(
            deployments(),
            Some(&first),
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 3}}),
            "bob",
            false,
            Lists::ByFieldName,
        )
        .unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"alice\" using apps/v1: .spec.replicas"
        );
        let forced = apply(
            deployments(),
            Some(&first),
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 3}}),
            "bob",
            true,
            Lists::ByFieldName,
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        let owners: Vec<&str> = forced["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(owners, ["bob"], "alice lost her only field");
        // Same value: shared ownership, no conflict.
        let shared = apply(
            deployments(),
            Some(&first),
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 2}}),
            "bob",
            false,
            Lists::ByFieldName,
        )
        .unwrap();
        assert_eq!(
            shared["metadata"]["managedFields"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_field_dropped_from_a_later_apply_is_removed() {
        let first = apply(
            deployments(),
            None,
            &json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}}),
            "alice",
            false,
            Lists::ByFieldName,
        )
        .unwrap();
        let second = apply(
            deployments(),
            Some(&first),
            &json!({"metadata": {"name": "x", "labels": {"a": "1"}}}),
            "alice",
            false,
            Lists::ByFieldName,
        )
        .unwrap();
        assert_eq!(second["metadata"]["labels"], json!({"a": "1"}));
    }

    #[test]
    fn an_update_takes_ownership_of_what_it_changed() {
        let mut first = apply(
            deployments(),
            None,
            &json!({"metadata": {"name": "x"}, "spec": {"replicas": 2, "paused": false}}),
            "alice",
            false,
            Lists::ByFieldName,
        )
        .unwrap();
        let old = first.clone();
        first["spec"]["replicas"] = json!(5);
        record(
            &mut first,
            "kubectl-scale",
            "Update",
            "apps/v1",
            Some(&old),
            Lists::ByFieldName,
        );
        let list = entries(&first);
        let scale = list.iter().find(|e| e.manager == "kubectl-scale").unwrap();
        assert!(
            scale
                .fields
                .contains(&vec!["f:spec".to_string(), "f:replicas".to_string()])
        );
        let alice = list.iter().find(|e| e.manager == "alice").unwrap();
        assert!(
            !alice
                .fields
                .contains(&vec!["f:spec".to_string(), "f:replicas".to_string()])
        );
    }
    /// A custom object's lists merge by its schema: a `set` is the union of what each manager
    /// applies, a `map` merges by its keys, an unmarked list is atomic (the last applier's).
    #[test]
    fn a_custom_objects_lists_follow_its_schema() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
            "hosts": {"type": "array", "items": {"type": "string"}}
        }}}});
        let lists = Lists::Schema(&schema);
        let kind = deployments();
        let first = apply(
            kind,
            None,
            &json!({"metadata": {"name": "x"}, "spec": {"tags": ["a"], "ports": [{"name": "http", "port": 80}], "hosts": ["x"]}}),
            "one",
            false,
            lists,
        )
        .unwrap();
        let second = apply(
            kind,
            Some(&first),
            &json!({"metadata": {"name": "x"}, "spec": {"tags": ["b"], "ports": [{"name": "grpc", "port": 90}], "hosts": ["y"]}}),
            "two",
            true,
            lists,
        )
        .unwrap();
        assert_eq!(second["spec"]["tags"], json!(["a", "b"]));
        assert_eq!(
            second["spec"]["ports"],
            json!([{"name": "http", "port": 80}, {"name": "grpc", "port": 90}])
        );
        assert_eq!(second["spec"]["hosts"], json!(["y"]));
        // The first manager stops applying its tag: only its own item goes.
        let third = apply(
            kind,
            Some(&second),
            &json!({"metadata": {"name": "x"}, "spec": {"ports": [{"name": "http", "port": 80}]}}),
            "one",
            false,
            lists,
        )
        .unwrap();
        assert_eq!(third["spec"]["tags"], json!(["b"]));
    }

    /// A struct whose only applied field a manager stops applying goes with it, rather than
    /// staying as `{}` (which would then fail the struct's own `required`).
    #[test]
    fn a_map_emptied_by_a_dropped_field_goes_too() {
        let kind = deployments();
        let first = apply(
            kind,
            None,
            &json!({"metadata": {"name": "x"}, "spec": {"size": 1, "sub": {"field": "a"}}}),
            "one",
            false,
            Lists::ByFieldName,
        )
        .unwrap();
        let second = apply(
            kind,
            Some(&first),
            &json!({"metadata": {"name": "x"}, "spec": {"size": 1}}),
            "one",
            false,
            Lists::ByFieldName,
        )
        .unwrap();
        assert_eq!(second["spec"], json!({"size": 1}));
    }
}
