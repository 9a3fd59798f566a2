//! `/version`, `/api`, `/apis` and the per group-version resource lists kubectl discovers first.
//!
//! `/api` and `/apis` also answer as aggregated discovery (`apidiscovery.k8s.io/v2`
//! `APIGroupDiscoveryList`: every group, version and resource in one document) when the Accept
//! header asks for it, as every API server since 1.30 does; kubectl and kube-rs's
//! `Discovery::run_aggregated` ask for it first and fall back to the legacy documents.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiState, json_response};
use crate::errors::ApiError;
use crate::resources::ResourceKind;

pub(super) async fn core_versions(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> Response {
    if let Some(version) = aggregated_version(&headers) {
        return aggregated(&state.registry.custom.all_kinds(), version, &[""]);
    }
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

fn group_json(kinds: &[&'static ResourceKind], group: &str) -> Value {
    let versions: Vec<Value> =
        crate::version_order::group_versions_of(kinds.iter().map(|k| (k.group, k.version)))
            .into_iter()
            .filter(|(g, _)| *g == group)
            .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
            .collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions.first().cloned().unwrap_or(Value::Null)})
}

pub(super) async fn groups(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let kinds = state.registry.custom.all_kinds();
    let mut names: Vec<&str> =
        crate::version_order::group_versions_of(kinds.iter().map(|k| (k.group, k.version)))
            .into_iter()
            .map(|(g, _)| g)
            .filter(|g| !g.is_empty())
            .collect();
    names.dedup();
    if let Some(version) = aggregated_version(&headers) {
        return aggregated(&kinds, version, &names);
    }
    let groups: Vec<Value> = names.into_iter().map(|g| group_json(&kinds, g)).collect();
    json_response(
        StatusCode::OK,
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}).to_string(),
    )
}

pub(super) fn group(kinds: &[&'static ResourceKind], group: &str) -> Response {
    if !kinds.iter().any(|k| k.group == group) {
        return ApiError::no_route(&format!("/apis/{group}")).into_response();
    }
    let mut body = group_json(kinds, group);
    body["kind"] = json!("APIGroup");
    body["apiVersion"] = json!("v1");
    json_response(StatusCode::OK, body.to_string())
}

pub(super) fn resource_list(
    kinds: &[&'static ResourceKind],
    group: &str,
    version: &str,
) -> Response {
    let kinds: Vec<_> = kinds
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
            let Some((kind, group, version, verbs)) = subresource(r, sub) else {
                continue;
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

/// What a subresource takes and returns (`kind`, with `group` and `version` only when they
/// are not the resource's own), and its verbs.
type Subresource = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static [&'static str],
);

fn subresource(r: &ResourceKind, sub: &str) -> Option<Subresource> {
    Some(match sub {
        "status" => (r.kind, None, None, &["get", "patch", "update"]),
        "scale" => (
            "Scale",
            Some("autoscaling"),
            Some("v1"),
            &["get", "patch", "update"],
        ),
        "log" => ("Pod", None, None, &["get"]),
        "proxy" => (
            match r.kind {
                "Node" => "NodeProxyOptions",
                "Pod" => "PodProxyOptions",
                _ => "ServiceProxyOptions",
            },
            None,
            None,
            &["create", "delete", "get", "patch", "update"],
        ),
        "binding" => ("Binding", None, None, &["create"]),
        // kubectl drain looks for exactly this entry to use policy/v1 evictions.
        "eviction" => ("Eviction", Some("policy"), Some("v1"), &["create"]),
        "finalize" => ("Namespace", None, None, &["update"]),
        "exec" => ("PodExecOptions", None, None, &["create", "get"]),
        "attach" => ("PodAttachOptions", None, None, &["create", "get"]),
        "portforward" => ("PodPortForwardOptions", None, None, &["create", "get"]),
        _ => return None,
    })
}

/// The aggregated discovery version the Accept header asks for first (`v2`, or `v2beta1` for
/// clients of 1.26 to 1.29), or `None` when it prefers the legacy documents.
fn aggregated_version(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    for choice in accept.split(',') {
        let params: Vec<&str> = choice.split(';').map(str::trim).collect();
        let media = params.first().copied().unwrap_or_default();
        let has = |p: &str| params.contains(&p);
        if media == "application/json"
            && has("g=apidiscovery.k8s.io")
            && has("as=APIGroupDiscoveryList")
        {
            if has("v=v2") {
                return Some("v2");
            }
            if has("v=v2beta1") {
                return Some("v2beta1");
            }
        } else if matches!(media, "application/json" | "*/*" | "application/*") {
            return None;
        }
    }
    None
}

/// The `APIGroupDiscoveryList` of `groups` (`""` is the core group, served at `/api`).
fn aggregated(kinds: &[&'static ResourceKind], version: &str, groups: &[&str]) -> Response {
    let items: Vec<Value> = groups
        .iter()
        .map(|group| {
            let versions: Vec<Value> =
                crate::version_order::group_versions_of(kinds.iter().map(|k| (k.group, k.version)))
                    .into_iter()
                    .filter(|(g, _)| g == group)
                    .map(|(g, v)| {
                        let resources: Vec<Value> = kinds
                            .iter()
                            .filter(|r| r.group == g && r.version == v)
                            .map(|r| resource_discovery(r))
                            .collect();
                        json!({"version": v, "resources": resources, "freshness": "Current"})
                    })
                    .collect();
            let metadata = if group.is_empty() {
                json!({"creationTimestamp": null})
            } else {
                json!({"name": group, "creationTimestamp": null})
            };
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    });
    let mut response = json_response(StatusCode::OK, body.to_string());
    let content_type =
        format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    response
}

fn resource_discovery(r: &ResourceKind) -> Value {
    let mut entry = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .filter_map(|sub| {
            let (kind, group, version, verbs) = subresource(r, sub)?;
            Some(json!({
                "subresource": sub,
                "responseKind": {
                    "group": group.unwrap_or(r.group),
                    "version": version.unwrap_or(r.version),
                    "kind": kind,
                },
                "verbs": verbs,
            }))
        })
        .collect();
    if !subresources.is_empty() {
        entry["subresources"] = json!(subresources);
    }
    entry
}
