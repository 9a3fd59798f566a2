//! The Kubernetes REST API over HTTP: routing of the irregular URL space, authentication,
//! content negotiation; the verbs themselves live in the submodules.

mod discovery;
mod event_versions;
mod eviction;
mod metrics;
mod objects;
mod openapi;
pub(crate) mod protobuf;
mod reviews;
mod spdy;
mod streams;
mod subresources;
mod table;
mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::authorization::{self, Attributes, UserInfo, Users};
use crate::errors::ApiError;
use crate::registry::Registry;
use crate::resources::{self, ResourceKind};

pub use discovery::SERVER_MINOR;
pub use subresources::{LogOptions, LogOutput, ProxyTarget, Runtime};

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

/// What every handler shares.
pub struct ApiState {
    /// Objects and their lifecycle rules.
    pub registry: Arc<Registry>,
    /// The bearer tokens accepted, and whose they are.
    pub users: Arc<Users>,
    /// The server's own address, for discovery's serverAddressByClientCIDRs.
    pub address: String,
    /// Logs and proxying, provided by the kubelets and the service network.
    pub runtime: Option<Arc<dyn Runtime>>,
    /// EKS bearer tokens, when the cluster stands in for an EKS cluster.
    pub eks: Option<Arc<crate::eks_auth::EksAuthenticator>>,
    /// Where every answered request is recorded, if anywhere.
    pub audit: Option<crate::audit::AuditLog>,
    openapi: openapi::Documents,
}

impl ApiState {
    /// State for a server at `address` accepting the tokens of `users`.
    pub fn new(
        registry: Arc<Registry>,
        users: Arc<Users>,
        address: String,
        runtime: Option<Arc<dyn Runtime>>,
        eks: Option<crate::eks_auth::EksIdentity>,
        audit: Option<crate::audit::AuditLog>,
    ) -> Arc<ApiState> {
        Arc::new(ApiState {
            registry,
            users,
            address,
            runtime,
            eks: eks.map(|identity| Arc::new(crate::eks_auth::EksAuthenticator::new(identity))),
            audit,
            openapi: openapi::Documents::build(),
        })
    }
}

/// The most a request body may hold: a real API server's `MaxRequestBodyBytes` (3 MiB).
const MAX_REQUEST_BODY: usize = 3 * 1024 * 1024;

/// The whole API as an axum router.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/version", get(discovery::version))
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/api", get(discovery::core_versions))
        .route("/apis", get(discovery::groups))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::v3_index))
        .route("/openapi/v3/{*path}", get(openapi::v3_document))
        .fallback(resource)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

/// Every request but health and version must carry one of the cluster's bearer tokens; the
/// user it names travels with the request for authorization.
async fn authenticate(
    State(state): State<Arc<ApiState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let public = matches!(path, "/healthz" | "/livez" | "/readyz" | "/version");
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let mut user = token.as_deref().and_then(|t| state.users.authenticate(t));
    // An EKS token is checked, then STS is asked whose it is, as an EKS cluster does.
    if user.is_none()
        && let (Some(token), Some(eks)) = (&token, &state.eks)
        && token.starts_with(crate::eks_auth::TOKEN_PREFIX)
    {
        match eks
            .authenticate(token, jiff::Timestamp::now().as_second())
            .await
        {
            Ok(who) => user = Some(who),
            Err(why) => tracing::info!(%why, "EKS token refused"),
        }
    }
    // Answering an impersonated request as the caller would be a lie about whose rights
    // apply (`kubectl auth can-i --as` would say "yes" for anyone): refuse it instead.
    if let Some(header) = request
        .headers()
        .keys()
        .find(|name| name.as_str().starts_with("impersonate-"))
    {
        return ApiError::forbidden_request(format!(
                "impersonation ({header}) is not supported by the local cluster: use the credentials of the user to act as"
        ))
        .into_response();
    }
    let received = jiff::Timestamp::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = match &user {
        Some(user) => {
            request.extensions_mut().insert(user.clone());
            next.run(request).await
        }
        None if public => next.run(request).await,
        None => {
            tracing::debug!(%path, "rejected: missing or wrong bearer token");
            ApiError::unauthorized().into_response()
        }
    };
    let code = response.status().as_u16();
    tracing::debug!(%method, %uri, status = code, "request");
    if let Some(audit) = &state.audit {
        audit.record(&audit_event(user.as_ref(), &method, &uri, code, received));
    }
    response
}

/// The audit Event for an answered request: its verb and object as RBAC saw them.
fn audit_event(
    user: Option<&UserInfo>,
    method: &Method,
    uri: &axum::http::Uri,
    code: u16,
    received: jiff::Timestamp,
) -> serde_json::Value {
    use crate::audit::Subject;
    let who = user.map(|u| (u.name.as_str(), u.groups.as_slice()));
    let path_verb = method.as_str().to_ascii_lowercase();
    let Ok(target) = parse_target(uri.path()) else {
        return crate::audit::event(
            who,
            &uri.to_string(),
            &Subject::Path { verb: &path_verb },
            code,
            received,
        );
    };
    let query = query_map(uri.query());
    let subject = Subject::Object {
        verb: verb(method, &target, &query),
        group: target.kind.group,
        version: target.kind.version,
        resource: target.kind.plural,
        subresource: target.subresource.as_deref(),
        namespace: target.namespace.as_deref(),
        name: target.name.as_deref(),
    };
    crate::audit::event(who, &uri.to_string(), &subject, code, received)
}

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

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...`.
fn parse_target(path: &str) -> Result<Target, ApiError> {
    let not_found = || ApiError::no_route(path);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found()),
    };
    let lookup = |plural: &str| resources::find(group, version, plural);
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

fn representation(headers: &HeaderMap) -> Representation {
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

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Adds `Warning: 299 - "…"` headers, as kubectl prints them.
pub fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - {:?}", w);
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// Every `/api/...` and `/apis/...` path that is not discovery.
async fn resource(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    // Discovery of one group-version, or of a group.
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::GET, ["api", version]) => return discovery::resource_list("", version),
        (&Method::GET, ["apis", group, version]) => {
            return discovery::resource_list(group, version);
        }
        (&Method::GET, ["apis", group]) => return discovery::group(group),
        _ => {}
    }
    let target = match parse_target(&path) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let query = query_map(request.uri().query());
    if let Err(denied) = authorize(&state, &request, &target, &query) {
        return denied.into_response();
    }
    if !std::ptr::eq(resources::stored_as(target.kind), target.kind) {
        return event_versions::serve(state, target, request).await;
    }
    serve(state, target, request).await
}

/// Runs `answer` on the blocking pool: work that walks every pod (metrics at 150,000 pods) must
/// not hold one of the runtime's few threads, or every other request and watch waits behind it.
async fn off_the_runtime(answer: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(answer)
        .await
        .unwrap_or_else(|e| ApiError::internal(format!("the answer failed: {e}")).into_response())
}

/// Serves an authorized request for `target`.
async fn serve(state: Arc<ApiState>, target: Target, request: Request) -> Response {
    let query = query_map(request.uri().query());
    let headers = request.headers().clone();
    let method = request.method().clone();
    let user = request.extensions().get::<UserInfo>().cloned();
    if target.kind.group == "metrics.k8s.io" {
        return off_the_runtime(move || metrics::serve(&state, &target, &method, &query)).await;
    }
    match target.subresource.as_deref() {
        // The kubelet's summary API, which this cluster's kubelets answer in process.
        Some("proxy") if target.kind.kind == "Node" && target.rest == "stats/summary" => {
            let node = target.name.clone().unwrap_or_default();
            return off_the_runtime(move || metrics::summary(&state, &node)).await;
        }
        Some("proxy") => return subresources::proxy(&state, &target, request).await,
        Some("exec") if target.kind.kind == "Pod" => {
            return streams::exec(&state, &target, request).await;
        }
        Some("attach") if target.kind.kind == "Pod" => {
            return streams::attach(&state, &target, request).await;
        }
        Some("portforward") if target.kind.kind == "Pod" => {
            return streams::port_forward(&state, &target, request).await;
        }
        _ => {}
    }
    let body = match axum::body::to_bytes(request.into_body(), MAX_REQUEST_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let e = e.into_inner();
            if e.is::<http_body_util::LengthLimitError>() {
                return ApiError::entity_too_large(MAX_REQUEST_BODY).into_response();
            }
            return ApiError::bad_request(format!("cannot read the request body: {e}"))
                .into_response();
        }
    };
    let context = RequestContext {
        state: state.clone(),
        target,
        query,
        headers,
        body,
        user,
    };
    if context.target.kind.is_review() {
        return match (method, context.target.name.is_some()) {
            (Method::POST, false) => reviews::create(&context),
            (method, _) => Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method})"
            ))),
        }
        .unwrap_or_else(IntoResponse::into_response);
    }
    let result = match (
        method,
        context.target.name.is_some(),
        context.target.subresource.as_deref(),
    ) {
        (Method::GET, false, None) => {
            if context.flag("watch") {
                watch::watch(context).await
            } else {
                objects::list(&context)
            }
        }
        (Method::POST, false, None) => objects::create(&context),
        (Method::DELETE, false, None) => objects::delete_collection(&context),
        (Method::GET, true, None | Some("status")) => objects::get(&context),
        (Method::PUT, true, None | Some("status")) => objects::replace(&context),
        (Method::PATCH, true, None | Some("status")) => objects::patch(&context),
        (Method::DELETE, true, None) => objects::delete(&context),
        (Method::GET | Method::PUT | Method::PATCH, true, Some("scale")) => {
            subresources::scale(&context)
        }
        (Method::POST, true, Some("binding")) => subresources::binding(&context),
        (Method::POST, true, Some("eviction")) => eviction::evict(&context),
        (Method::PUT, true, Some("finalize")) => subresources::finalize(&context),
        (Method::GET, true, Some("log")) => subresources::log(&context).await,
        (method, _, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        ))),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A boolean query parameter as Go's `strconv.ParseBool` reads it: absent or anything else is false.
pub(crate) fn go_bool(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "t" | "T" | "true" | "TRUE" | "True"))
}

/// RBAC's verb for a request, as the real server derives it from method, path and `watch`.
fn verb(method: &Method, target: &Target, query: &HashMap<String, String>) -> &'static str {
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

fn authorize(
    state: &ApiState,
    request: &Request,
    target: &Target,
    query: &HashMap<String, String>,
) -> Result<(), ApiError> {
    // `authenticate` let through only public paths without a user, and those are not resources.
    let user = request
        .extensions()
        .get::<UserInfo>()
        .ok_or_else(ApiError::unauthorized)?;
    // `GET /api/v1/namespaces/x` is a namespace object; its namespace for RBAC is its own name.
    let namespace = if std::ptr::eq(target.kind, resources::namespaces()) {
        target.name.as_deref()
    } else {
        target.namespace.as_deref()
    };
    authorization::authorize(
        &state.registry,
        user,
        target.kind,
        &Attributes::of(
            verb(request.method(), target, query),
            target.kind,
            target.subresource.as_deref(),
            namespace,
            target.name.as_deref(),
        ),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_like_the_real_server() {
        let t = parse_target("/api/v1/namespaces/calculator/pods/web-1/log").unwrap();
        assert_eq!(
            (
                t.kind.plural,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("pods", Some("calculator"), Some("web-1"), Some("log"))
        );
        let t = parse_target("/api/v1/namespaces/calculator").unwrap();
        assert_eq!(
            (t.kind.plural, t.name.as_deref()),
            ("namespaces", Some("calculator"))
        );
        let t = parse_target("/api/v1/namespaces/calculator/status").unwrap();
        assert_eq!(
            (t.kind.plural, t.name.as_deref(), t.subresource.as_deref()),
            ("namespaces", Some("calculator"), Some("status"))
        );
        let t = parse_target("/apis/apps/v1/deployments").unwrap();
        assert_eq!((t.kind.plural, t.namespace), ("deployments", None));
        let t = parse_target("/api/v1/namespaces/c/services/calculator:http/proxy/api/calculate")
            .unwrap();
        assert_eq!(
            (t.name.as_deref(), t.rest.as_str()),
            (Some("calculator:http"), "api/calculate")
        );
        assert!(parse_target("/apis/extensions/v1beta1/deployments").is_err());
        assert!(parse_target("/api/v1/pods/x").is_err());
        assert!(parse_target("/api/v1/namespaces/c/pods/x/bogus").is_err());
    }

    #[test]
    fn empty_query_pairs_are_ignored() {
        let q = query_map(Some("&container=app&&follow=true"));
        assert_eq!(q.get("container").map(String::as_str), Some("app"));
        assert_eq!(q.len(), 2);
    }
}
