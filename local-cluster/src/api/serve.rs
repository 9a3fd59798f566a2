//! Serving an authorized request for a resource: the handler its method and subresource name,
//! with work that walks every object kept off the runtime's few threads.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use super::request::{MAX_REQUEST_BODY, RequestContext, Target, query_map};
use super::state::ApiState;
use super::{
    eviction, list, metrics, objects, port_forward, reviews, streams, subresources, watch,
};
use crate::authorization::UserInfo;
use crate::errors::ApiError;

/// Runs `answer` on the blocking pool: work that walks every pod (metrics at 150,000 pods) must
/// not hold one of the runtime's few threads, or every other request and watch waits behind it.
async fn off_the_runtime(answer: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(answer)
        .await
        .unwrap_or_else(|e| ApiError::internal(format!("the answer failed: {e}")).into_response())
}

/// Serves an authorized request for `target`.
pub(super) async fn serve(state: Arc<ApiState>, target: Target, request: Request) -> Response {
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
            return port_forward::port_forward(&state, &target, request).await;
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
                list::list(&context)
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
