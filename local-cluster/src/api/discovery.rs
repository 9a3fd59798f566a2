//! `/version`, `/api`, `/apis` and the per group-version resource lists kubectl discovers first.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiState, json_response};
use crate::errors::ApiError;
use crate::resources::{self, RESOURCES};

/// The Kubernetes version this server presents (its API follows k8s-openapi's newest types).
pub const SERVER_MINOR: &str = "33";

pub(super) async fn version() -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "major": "1",
            "minor": SERVER_MINOR,
            "gitVersion": format!("v1.{SERVER_MINOR}.0-local-hybrid"),
            "gitCommit": "local-hybrid",
            "gitTreeState": "clean",
            "buildDate": "2026-11-25T00:00:00Z",
            "goVersion": "n/a (rust)",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
        })
        .to_string(),
    )
}

pub(super) async fn core_versions(State(state): State<Arc<ApiState>>) -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": state.address}],
        })
        .to_string(),
    )
}

fn group_json(group: &str) -> Value {
    let versions: Vec<Value> = resources::group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions.first().cloned().unwrap_or(Value::Null)})
}

pub(super) async fn groups() -> Response {
    let mut names: Vec<&str> = resources::group_versions()
        .into_iter()
        .map(|(g, _)| g)
        .filter(|g| !g.is_empty())
        .collect();
    names.dedup();
    let groups: Vec<Value> = names.into_iter().map(group_json).collect();
    json_response(
        StatusCode::OK,
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}).to_string(),
    )
}

pub(super) fn group(group: &str) -> Response {
    if !resources::group_versions().iter().any(|(g, _)| *g == group) {
        return ApiError::no_route(&format!("/apis/{group}")).into_response();
    }
    let mut body = group_json(group);
    body["kind"] = json!("APIGroup");
    body["apiVersion"] = json!("v1");
    json_response(StatusCode::OK, body.to_string())
}

pub(super) fn resource_list(group: &str, version: &str) -> Response {
    let kinds: Vec<_> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if kinds.is_empty() {
        let path = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        return ApiError::no_route(&path).into_response();
    }
    let mut list = Vec::new();
    for r in kinds {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        list.push(entry);
        for sub in r.subresources {
            let (kind, group, version, verbs): (&str, Option<&str>, Option<&str>, &[&str]) =
                match *sub {
                    "status" => (r.kind, None, None, &["get", "patch", "update"]),
                    "scale" => (
                        "Scale",
                        Some("autoscaling"),
                        Some("v1"),
                        &["get", "patch", "update"],
                    ),
                    "log" => ("Pod", None, None, &["get"]),
                    "proxy" => (
                        if r.kind == "Node" {
                            "NodeProxyOptions"
                        } else if r.kind == "Pod" {
                            "PodProxyOptions"
                        } else {
                            "ServiceProxyOptions"
                        },
                        None,
                        None,
                        &["create", "delete", "get", "patch", "update"],
                    ),
                    "binding" => ("Binding", None, None, &["create"]),
                    // kubectl drain looks for exactly this entry to use policy/v1 evictions.
                    "eviction" => ("Eviction", Some("policy"), Some("v1"), &["create"]),
                    "finalize" => ("Namespace", None, None, &["update"]),
                    _ => continue,
                };
            let mut entry = json!({
                "name": format!("{}/{sub}", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if let (Some(g), Some(v)) = (group, version) {
                entry["group"] = json!(g);
                entry["version"] = json!(v);
            }
            list.push(entry);
        }
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    json_response(
        StatusCode::OK,
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list}).to_string(),
    )
}
