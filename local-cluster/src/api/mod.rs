//! The Kubernetes REST API over HTTP: routing of the irregular URL space, authentication,
//! content negotiation; the verbs themselves live in the submodules.

mod channels;
mod discovery;
mod event_versions;
mod eviction;
mod list;
mod metrics;
mod objects;
mod openapi;
mod port_forward;
pub(crate) mod protobuf;
mod request;
mod response;
mod reviews;
mod runtime;
mod serve;
mod spdy;
mod state;
mod streams;
mod subresources;
mod table;
mod version;
mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::authorization::{self, Attributes, UserInfo};
use crate::errors::ApiError;
use crate::resources::{self};

use request::{MAX_REQUEST_BODY, parse_target, verb};
pub(crate) use request::{
    Representation, RequestContext, Target, go_bool, query_map, table_selector,
};
pub(crate) use response::{json_response, with_warnings};
pub use runtime::{ProxyTarget, Runtime};
use serve::serve;
pub use state::ApiState;
pub use version::SERVER_MINOR;

/// The whole API as an axum router.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/version", get(version::version))
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/api", get(discovery::core_versions))
        .route("/apis", get(discovery::groups))
        .route(
            "/openapi/v2",
            get(
                |State(state): State<Arc<ApiState>>, headers: HeaderMap| async move {
                    openapi::v2(&state.openapi, &headers)
                },
            ),
        )
        .route(
            "/openapi/v3",
            get(|State(state): State<Arc<ApiState>>| async move {
                openapi::v3_index(&state.openapi, &state.registry.custom)
            }),
        )
        .route(
            "/openapi/v3/{*path}",
            get(
                |State(state): State<Arc<ApiState>>, Path(path): Path<String>| async move {
                    openapi::v3_document(&state.openapi, &state.registry.custom, &path)
                },
            ),
        )
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
        audit.record(&audit_event(
            &state.registry.custom,
            user.as_ref(),
            &method,
            &uri,
            code,
            received,
        ));
    }
    response
}

/// The audit Event for an answered request: its verb and object as RBAC saw them.
fn audit_event(
    custom: &crate::custom_resources::CustomKinds,
    user: Option<&UserInfo>,
    method: &Method,
    uri: &axum::http::Uri,
    code: u16,
    received: jiff::Timestamp,
) -> serde_json::Value {
    use crate::audit::Subject;
    let who = user.map(|u| (u.name.as_str(), u.groups.as_slice()));
    let path_verb = method.as_str().to_ascii_lowercase();
    let Ok(target) = parse_target(uri.path(), custom) else {
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

/// Every `/api/...` and `/apis/...` path that is not discovery.
async fn resource(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    // Discovery of one group-version, or of a group.
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::GET, ["api", version]) => {
            return discovery::resource_list(&state.registry.custom.all_kinds(), "", version);
        }
        (&Method::GET, ["apis", group, version]) => {
            return discovery::resource_list(&state.registry.custom.all_kinds(), group, version);
        }
        (&Method::GET, ["apis", group]) => {
            return discovery::group(&state.registry.custom.all_kinds(), group);
        }
        _ => {}
    }
    let target = match parse_target(&path, &state.registry.custom) {
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::custom_resources::CustomKinds;

    #[test]
    fn paths_parse_like_the_real_server() {
        let t = parse_target(
            "/api/v1/namespaces/calculator/pods/web-1/log",
            &CustomKinds::default(),
        )
        .unwrap();
        assert_eq!(
            (
                t.kind.plural,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("pods", Some("calculator"), Some("web-1"), Some("log"))
        );
        let t = parse_target("/api/v1/namespaces/calculator", &CustomKinds::default()).unwrap();
        assert_eq!(
            (t.kind.plural, t.name.as_deref()),
            ("namespaces", Some("calculator"))
        );
        let t = parse_target(
            "/api/v1/namespaces/calculator/status",
            &CustomKinds::default(),
        )
        .unwrap();
        assert_eq!(
            (t.kind.plural, t.name.as_deref(), t.subresource.as_deref()),
            ("namespaces", Some("calculator"), Some("status"))
        );
        let t = parse_target("/apis/apps/v1/deployments", &CustomKinds::default()).unwrap();
        assert_eq!((t.kind.plural, t.namespace), ("deployments", None));
        let t = parse_target(
            "/api/v1/namespaces/c/services/calculator:http/proxy/api/calculate",
            &CustomKinds::default(),
        )
        .unwrap();
        assert_eq!(
            (t.name.as_deref(), t.rest.as_str()),
            (Some("calculator:http"), "api/calculate")
        );
        assert!(
            parse_target(
                "/apis/extensions/v1beta1/deployments",
                &CustomKinds::default()
            )
            .is_err()
        );
        assert!(parse_target("/api/v1/pods/x", &CustomKinds::default()).is_err());
        assert!(
            parse_target("/api/v1/namespaces/c/pods/x/bogus", &CustomKinds::default()).is_err()
        );
    }

    #[test]
    fn empty_query_pairs_are_ignored() {
        let q = query_map(Some("&container=app&&follow=true"));
        assert_eq!(q.get("container").map(String::as_str), Some("app"));
        assert_eq!(q.len(), 2);
    }
}
