//! `additionalPrinterColumns`: the columns `kubectl get` shows for a custom kind, each read from
//! the object by a JSONPath and typed as the real server types its cells.

use serde_json::{Value, json};

use kube_units::durations::human_duration;

/// One printer column of a definition version.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    /// The header.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub kind: String,
    /// A format hint.
    pub format: String,
    /// Shown to `kubectl explain`-like readers.
    pub description: String,
    /// 0: always shown; more: only with `-o wide`.
    pub priority: i64,
    /// Where the value is (`.spec.replicas`).
    pub json_path: String,
}

/// The columns a definition version lists, or the server's default (`Age`) when it lists none.
pub fn columns(listed: &Value) -> Vec<PrinterColumn> {
    let columns: Vec<PrinterColumn> = listed
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| PrinterColumn {
            name: c["name"].as_str().unwrap_or_default().to_owned(),
            kind: c["type"].as_str().unwrap_or("string").to_owned(),
            format: c["format"].as_str().unwrap_or_default().to_owned(),
            description: c["description"].as_str().unwrap_or_default().to_owned(),
            priority: c["priority"].as_i64().unwrap_or(0),
            json_path: c["jsonPath"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    if columns.is_empty() {
        vec![PrinterColumn {
            name: "Age".to_owned(),
            kind: "date".to_owned(),
            format: String::new(),
            description: "CreationTimestamp is a timestamp representing the server time when this object was created.".to_owned(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".to_owned(),
        }]
    } else {
        columns
    }
}

impl PrinterColumn {
    /// This column's cell for `object`: the value at its path, as its type reads (a date as an
    /// age), or null when the object has none.
    pub fn cell(&self, object: &Value) -> Value {
        let Some(found) = find(object, &self.json_path) else {
            return Value::Null;
        };
        match (self.kind.as_str(), &found) {
            ("integer", Value::Number(n)) => n
                .as_i64()
                .map(|i| json!(i))
                .or_else(|| n.as_f64().map(|f| json!(f as i64)))
                .unwrap_or(Value::Null),
            ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) => found,
            ("string", Value::String(_)) => found,
            // A string column shows other values as their JSON text (`kubectl` does the same
            // for lists and objects).
            ("string", other) => json!(other.to_string()),
            ("date", Value::String(s)) => match s.parse::<jiff::Timestamp>() {
                Ok(t) => {
                    let seconds = (jiff::Timestamp::now().as_second() - t.as_second()).max(0);
                    json!(human_duration(seconds))
                }
                Err(_) => json!("<invalid>"),
            },
            _ => Value::Null,
        }
    }
}

/// The value at a printer column's JSONPath: `.a.b`, `.a[0]`, `.a['key.with.dots']`, and the
/// filter `.conditions[?(@.type=="Ready")]` (its first match), which is what definitions use.
pub fn find(object: &Value, path: &str) -> Option<Value> {
    let path = path.trim();
    let path = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    let mut current = object.clone();
    let mut rest = path.strip_prefix('$').unwrap_or(path);
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            rest = &after[end..];
            if key.is_empty() {
                continue;
            }
            current = current.get(key)?.clone();
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = bracket_end(after)?;
            let inside = after[..end].trim();
            rest = &after[end + 1..];
            current = step_bracket(&current, inside)?;
            if inside == "*" {
                return wildcard(&current, rest);
            }
        } else {
            return None;
        }
    }
    Some(current)
}

/// The rest of a path after `[*]`, read from each item: one result is itself, several are
/// shown space-separated as kubectl's JSONPath prints them, none is no value.
fn wildcard(items: &Value, rest: &str) -> Option<Value> {
    let found: Vec<Value> = items
        .as_array()?
        .iter()
        .filter_map(|item| find(item, rest))
        .collect();
    match found.len() {
        0 => None,
        1 => found.into_iter().next(),
        _ => Some(Value::String(
            found
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" "),
        )),
    }
}

/// Where the `]` closing a bracket that starts at `text` is (quotes may hold `]`).
fn bracket_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

fn unquote(text: &str) -> &str {
    text.trim().trim_matches(|c| c == '\'' || c == '"')
}

fn step_bracket(current: &Value, inside: &str) -> Option<Value> {
    if inside == "*" {
        // Every item (or every value of an object); what follows applies to each.
        return match current {
            Value::Array(items) => Some(Value::Array(items.clone())),
            Value::Object(map) => Some(Value::Array(map.values().cloned().collect())),
            _ => None,
        };
    }
    if let Ok(index) = inside.parse::<i64>() {
        let items = current.as_array()?;
        let at = if index < 0 {
            items.len().checked_sub(index.unsigned_abs() as usize)?
        } else {
            index as usize
        };
        return items.get(at).cloned();
    }
    if let Some(filter) = inside.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        let (left, right) = filter.split_once("==")?;
        let field = left.trim().strip_prefix("@.")?;
        let wanted = unquote(right);
        return current
            .as_array()?
            .iter()
            .find(|item| match find(item, &format!(".{field}")) {
                Some(Value::String(s)) => s == wanted,
                Some(other) => wanted.parse::<Value>().is_ok_and(|w| w == other),
                None => false,
            })
            .cloned();
    }
    current.get(unquote(inside)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_fields_items_keys_and_filters() {
        let object = json!({
            "spec": {"replicas": 3, "labels": {"app.kubernetes.io/name": "web"}},
            "status": {"conditions": [
                {"type": "Progressing", "status": "True"},
                {"type": "Ready", "status": "False"}
            ]}
        });
        assert_eq!(find(&object, ".spec.replicas"), Some(json!(3)));
        assert_eq!(
            find(&object, ".status.conditions[1].type"),
            Some(json!("Ready"))
        );
        assert_eq!(
            find(&object, ".status.conditions[-1].status"),
            Some(json!("False"))
        );
        assert_eq!(
            find(&object, ".spec.labels['app.kubernetes.io/name']"),
            Some(json!("web"))
        );
        assert_eq!(
            find(&object, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("False"))
        );
        assert_eq!(find(&object, ".spec.missing"), None);
        assert_eq!(
            find(&object, ".status.conditions[*].type"),
            Some(json!("Progressing Ready"))
        );
        let one = json!({"status": {"addresses": [{"value": "127.64.255.1"}]}});
        assert_eq!(
            find(&one, ".status.addresses[*].value"),
            Some(json!("127.64.255.1"))
        );
        assert_eq!(
            find(
                &json!({"status": {"addresses": []}}),
                ".status.addresses[*].value"
            ),
            None
        );
    }

    #[test]
    fn cells_take_their_columns_type() {
        let column = |kind: &str, path: &str| PrinterColumn {
            name: "c".into(),
            kind: kind.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: path.into(),
        };
        let object = json!({"spec": {"size": 3, "on": true, "name": "w", "tags": ["a"]},
            "metadata": {"creationTimestamp": "2000-01-01T00:00:00Z"}});
        assert_eq!(column("integer", ".spec.size").cell(&object), json!(3));
        assert_eq!(column("boolean", ".spec.on").cell(&object), json!(true));
        assert_eq!(
            column("string", ".spec.tags").cell(&object),
            json!("[\"a\"]")
        );
        assert_eq!(column("integer", ".spec.name").cell(&object), Value::Null);
        assert_eq!(column("string", ".spec.none").cell(&object), Value::Null);
        let age = column("date", ".metadata.creationTimestamp").cell(&object);
        assert!(age.as_str().is_some_and(|a| a.ends_with('y')), "{age}");
    }
}
