//! What a handler reads from a request: the resource its path names, the query, the
//! representation asked for in `Accept`, the verb RBAC sees, and all of it together as a
//! [`RequestContext`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, header};

use super::state::ApiState;
use crate::authorization::UserInfo;
use crate::custom_resources::CustomKinds;
use crate::errors::ApiError;
use crate::resources::{self, ResourceKind};

/// A LabelSelector as the `selector` string of a Scale (`app=web,tier in (a)`).
pub fn table_selector(selector: &serde_json::Value) -> String {
    let mut parts: Vec<String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    for e in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        let key = e["key"].as_str().unwrap_or_default();
        parts.push(match e["operator"].as_str() {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("Exists") => key.to_owned(),
            _ => format!("!{key}"),
        });
    }
    parts.join(",")
}

/// The most a request body may hold: a real API server's `MaxRequestBodyBytes` (3 MiB).
pub(crate) const MAX_REQUEST_BODY: usize = 3 * 1024 * 1024;

/// A request for a resource, parsed from its path.
#[derive(Debug)]
pub struct Target {
    /// The resource.
    pub kind: &'static ResourceKind,
    /// From `/namespaces/{ns}/…`, if present.
    pub namespace: Option<String>,
    /// The object name, for item paths.
    pub name: Option<String>,
    /// `status`, `scale`, `log`, `proxy`, …
    pub subresource: Option<String>,
    /// Whatever follows a `proxy` subresource.
    pub rest: String,
}

impl Target {
    /// The namespace for storage: the URL's, or empty for cluster-scoped kinds.
    pub fn namespace_or_empty(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...`; `custom` adds the kinds the cluster's
/// CustomResourceDefinitions serve.
pub(crate) fn parse_target(path: &str, custom: &CustomKinds) -> Result<Target, ApiError> {
    let not_found = || ApiError::no_route(path);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found()),
    };
    let lookup = |plural: &str| {
        resources::find(group, version, plural).or_else(|| custom.find(group, version, plural))
    };
    let mut namespace = None;
    let mut rest = rest;
    if let ["namespaces", ns, next, ..] = rest
        && let Some(kind) = lookup(next)
        && kind.namespaced
    {
        namespace = Some((*ns).to_owned());
        rest = &rest[2..];
    }
    let (plural, tail) = rest.split_first().ok_or_else(not_found)?;
    let kind = lookup(plural).ok_or_else(not_found)?;
    if kind.namespaced && namespace.is_none() && !tail.is_empty() {
        // `/api/v1/pods/x` is not a path: an item of a namespaced kind needs its namespace.
        return Err(not_found());
    }
    let name = tail.first().map(|s| (*s).to_owned());
    let subresource = tail.get(1).map(|s| (*s).to_owned());
    if let Some(sub) = &subresource
        && !kind.subresources.contains(&sub.as_str())
    {
        return Err(not_found());
    }
    let rest_path = if tail.len() > 2 {
        tail[2..].join("/")
    } else {
        String::new()
    };
    if subresource.as_deref() != Some("proxy") && tail.len() > 2 {
        return Err(not_found());
    }
    Ok(Target {
        kind,
        namespace,
        name,
        subresource,
        rest: rest_path,
    })
}

/// The query string as a map; empty pairs (`?&container=x`, sent by older kube-rs) are skipped.
pub fn query_map(query: Option<&str>) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// What representation the client asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Representation {
    /// The objects themselves.
    Object,
    /// `meta.k8s.io/v1 Table` (kubectl get).
    Table,
    /// `PartialObjectMetadata(List)` (metadata-only clients).
    Metadata,
}

pub(crate) fn representation(headers: &HeaderMap) -> Representation {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Clients list preferences in order; the first one we can serve wins.
    for choice in accept.split(',') {
        let choice = choice.replace(' ', "");
        if choice.contains("as=Table") {
            return Representation::Table;
        }
        if choice.contains("as=PartialObjectMetadata") {
            return Representation::Metadata;
        }
        if choice.starts_with("application/json") || choice.starts_with("*/*") {
            return Representation::Object;
        }
    }
    Representation::Object
}

/// A boolean query parameter as Go's `strconv.ParseBool` reads it: absent or anything else is false.
pub(crate) fn go_bool(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "t" | "T" | "true" | "TRUE" | "True"))
}

/// RBAC's verb for a request, as the real server derives it from method, path and `watch`.
pub(crate) fn verb(
    method: &Method,
    target: &Target,
    query: &HashMap<String, String>,
) -> &'static str {
    let named = target.name.is_some();
    let watching = go_bool(query.get("watch").map(String::as_str));
    // A WebSocket stream is a GET, but opening one needs `create`, as on a real server since
    // 1.31 (and SPDY's POST always did).
    if matches!(
        target.subresource.as_deref(),
        Some("exec" | "attach" | "portforward")
    ) {
        return "create";
    }
    match *method {
        Method::GET | Method::HEAD if watching => "watch",
        Method::GET | Method::HEAD if named => "get",
        Method::GET | Method::HEAD => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => "unknown",
    }
}

/// A parsed resource request.
pub struct RequestContext {
    /// Shared state.
    pub state: Arc<ApiState>,
    /// What the path names.
    pub target: Target,
    /// Query parameters.
    pub query: HashMap<String, String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Bytes,
    /// Who asked (every resource request is authenticated).
    pub user: Option<UserInfo>,
}

impl RequestContext {
    /// The printer columns of the custom kind asked for, if it is one.
    pub fn custom_columns(&self) -> Option<Vec<crate::custom_resources::PrinterColumn>> {
        self.state
            .registry
            .custom
            .get(self.target.kind)
            .map(|served| served.columns.clone())
    }

    /// The representation asked for.
    pub fn representation(&self) -> Representation {
        representation(&self.headers)
    }

    /// The object name (item paths only).
    pub fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or_default()
    }

    /// A query parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    /// A boolean parameter, parsed as Go's `strconv.ParseBool` parses it (`true`, `True`, `1`, `t`…).
    pub fn flag(&self, key: &str) -> bool {
        go_bool(self.param(key))
    }

    /// `dryRun=All`.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.param("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
            ))),
        }
    }
}
