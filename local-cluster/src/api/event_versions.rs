//! `events.k8s.io/v1` Events: the same stored objects as core `v1` Events, as on a real server,
//! where both are views of one type. A request to the new group is authorized as itself, then
//! served by the core resource with the body, the patch and the field selector translated, and
//! the answer (an object, a list, a table or a watch stream) translated back.
//!
//! The field names follow the upstream conversion: `note` is `message`, `regarding` is
//! `involvedObject`, `reportingController` is `reportingComponent`, and the old counters and
//! timestamps carry a `deprecated` prefix.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Map, Value};

use super::{ApiState, Request, Target};
use crate::errors::ApiError;
use crate::resources;

/// `(events.k8s.io/v1 name, core v1 name)` of every field that differs.
const RENAMED: [(&str, &str); 7] = [
    ("note", "message"),
    ("regarding", "involvedObject"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

const API_VERSION: &str = "events.k8s.io/v1";

/// Renames the top-level fields of an Event (or part of one, as a patch carries) from one
/// version's names to the other's, and sets its apiVersion when it has one.
fn translate(value: &mut Value, to_core: bool) {
    let Value::Object(map) = value else { return };
    let mut renamed = Map::with_capacity(map.len());
    for (key, field) in std::mem::take(map) {
        let name = RENAMED
            .iter()
            .find_map(|(view, core)| {
                let (from, to) = if to_core { (view, core) } else { (core, view) };
                (key == *from).then_some(*to)
            })
            .unwrap_or(key.as_str())
            .to_owned();
        renamed.insert(name, field);
    }
    if renamed.contains_key("apiVersion") {
        let version = if to_core { "v1" } else { API_VERSION };
        renamed.insert("apiVersion".into(), Value::String(version.into()));
    }
    *map = renamed;
}

/// A JSON patch's paths (`/note` → `/message`).
fn translate_json_patch(patch: &mut Value) {
    for operation in patch.as_array_mut().into_iter().flatten() {
        for key in ["path", "from"] {
            let Some(path) = operation[key].as_str() else {
                continue;
            };
            let mut segments: Vec<&str> = path.splitn(3, '/').collect();
            if let Some(first) = segments.get_mut(1)
                && let Some((_, core)) = RENAMED.iter().find(|(view, _)| view == first)
            {
                *first = core;
            }
            operation[key] = Value::String(segments.join("/"));
        }
    }
}

/// `regarding.name=x` → `involvedObject.name=x`, `reportingController=y` →
/// `reportingComponent=y`.
fn translate_field_selector(selector: &str) -> String {
    selector
        .split(',')
        .map(|term| {
            let field_end = term.find(['=', '!']).unwrap_or(term.len());
            let (field, rest) = term.split_at(field_end);
            let (head, tail) = field.split_once('.').map_or((field, ""), |(h, t)| (h, t));
            let head = RENAMED
                .iter()
                .find_map(|(view, core)| (*view == head).then_some(*core))
                .unwrap_or(head);
            if tail.is_empty() {
                format!("{head}{rest}")
            } else {
                format!("{head}.{tail}{rest}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// An answer of the core resource, in this version's terms.
fn translate_answer(value: &mut Value) {
    match value["kind"].as_str() {
        Some("Event") => translate(value, false),
        Some("EventList") => {
            value["apiVersion"] = Value::String(API_VERSION.into());
            for item in value["items"].as_array_mut().into_iter().flatten() {
                translate(item, false);
            }
        }
        Some("Table") => {
            for row in value["rows"].as_array_mut().into_iter().flatten() {
                if row["object"]["kind"] == "Event" {
                    translate(&mut row["object"], false);
                }
            }
        }
        // A watch event.
        _ if value.get("type").is_some() && value["object"]["kind"] == "Event" => {
            translate(&mut value["object"], false);
        }
        _ => {}
    }
}

/// Serves a request for `events.k8s.io/v1` events (already authorized) through the core
/// resource.
pub(super) async fn serve(state: Arc<ApiState>, target: Target, request: Request) -> Response {
    let core = Target {
        kind: resources::events(),
        ..target
    };
    let (mut parts, body) = request.into_parts();
    let watching = super::go_bool(
        super::query_map(parts.uri.query())
            .get("watch")
            .map(String::as_str),
    );
    // The query: only the field selector names fields.
    if let Some(query) = parts.uri.query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let translated: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| {
                if k == "fieldSelector" {
                    let v = translate_field_selector(&v);
                    (k, v)
                } else {
                    (k, v)
                }
            })
            .collect();
        let query = serde_urlencoded::to_string(&translated).unwrap_or_default();
        let uri = format!("{}?{query}", parts.uri.path());
        if let Ok(uri) = uri.parse() {
            parts.uri = uri;
        }
    }

    // The body: an Event or a patch of one.
    let body = if matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) {
        let bytes = match axum::body::to_bytes(body, super::MAX_REQUEST_BODY).await {
            Ok(b) => b,
            Err(_) => return ApiError::entity_too_large(super::MAX_REQUEST_BODY).into_response(),
        };
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let mut value: Value = if content_type.starts_with(super::protobuf::MEDIA_TYPE) {
            match super::protobuf::decode_as(API_VERSION, "Event", &bytes) {
                Ok(v) => v,
                Err(e) => return e.into_response(),
            }
        } else if content_type.contains("yaml") {
            match serde_yaml::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    return ApiError::bad_request(format!("error decoding YAML: {e}"))
                        .into_response();
                }
            }
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    return ApiError::bad_request(format!(
                        "couldn't get version/kind; json parse error: {e}"
                    ))
                    .into_response();
                }
            }
        };
        if content_type.starts_with("application/json-patch+json") {
            translate_json_patch(&mut value);
        } else {
            translate(&mut value, true);
        }
        if content_type.starts_with(super::protobuf::MEDIA_TYPE) || content_type.contains("yaml") {
            let json_type = if content_type.contains("apply-patch") {
                "application/apply-patch+yaml"
            } else {
                "application/json"
            };
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(json_type));
        }
        Body::from(value.to_string())
    } else {
        body
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    let response = super::serve::serve(state, core, Request::from_parts(parts, body)).await;
    let (parts, body) = response.into_parts();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !is_json {
        return Response::from_parts(parts, body);
    }
    if watching {
        // One event per line; a line may arrive in pieces.
        let mut pending: Vec<u8> = Vec::new();
        let stream = body.into_data_stream().map(move |chunk| {
            let chunk = chunk?;
            pending.extend_from_slice(&chunk);
            let mut out = Vec::new();
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                match serde_json::from_slice::<Value>(&line) {
                    Ok(mut event) => {
                        translate_answer(&mut event);
                        out.extend_from_slice(event.to_string().as_bytes());
                        out.push(b'\n');
                    }
                    Err(_) => out.extend_from_slice(&line),
                }
            }
            Ok::<_, axum::Error>(axum::body::Bytes::from(out))
        });
        return Response::from_parts(parts, Body::from_stream(stream));
    }
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return ApiError::internal(e.to_string()).into_response(),
    };
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut value) => {
            translate_answer(&mut value);
            Response::from_parts(parts, Body::from(value.to_string()))
        }
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_reads_the_same_in_both_versions() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "sum.1", "namespace": "calculator"},
            "involvedObject": {"kind": "Pod", "name": "sum-1"},
            "message": "Started container", "reason": "Started", "type": "Normal",
            "reportingComponent": "kubelet", "reportingInstance": "node-1",
            "source": {"component": "kubelet"}, "count": 2,
            "firstTimestamp": "2026-11-26T10:00:00Z", "lastTimestamp": "2026-11-26T10:01:00Z",
        });
        let mut view = core.clone();
        translate(&mut view, false);
        assert_eq!(view["apiVersion"], "events.k8s.io/v1");
        assert_eq!(view["note"], "Started container");
        assert_eq!(view["regarding"]["name"], "sum-1");
        assert_eq!(view["reportingController"], "kubelet");
        assert_eq!(view["deprecatedCount"], 2);
        assert_eq!(view["deprecatedSource"]["component"], "kubelet");
        assert!(view.get("message").is_none());
        let mut back = view;
        translate(&mut back, true);
        assert_eq!(back, core);
    }

    #[test]
    fn patches_and_selectors_name_the_core_fields() {
        let mut patch = json!([{"op": "replace", "path": "/note", "value": "x"}, {"op": "add", "path": "/regarding/name", "value": "y"}]);
        translate_json_patch(&mut patch);
        assert_eq!(patch[0]["path"], "/message");
        assert_eq!(patch[1]["path"], "/involvedObject/name");
        assert_eq!(
            translate_field_selector(
                "regarding.name=sum-1,reportingController!=kubelet,type=Warning"
            ),
            "involvedObject.name=sum-1,reportingComponent!=kubelet,type=Warning"
        );
    }
}
