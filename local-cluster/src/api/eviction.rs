//! `pods/eviction`: the Eviction body (JSON or Protobuf) handed to [`crate::eviction`].

use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::{RequestContext, json_response};
use crate::errors::ApiError;
use crate::registry::DeleteOptions;

/// The Eviction body, from JSON or Protobuf.
fn eviction_body(context: &RequestContext) -> Result<Value, ApiError> {
    if context.body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; send a policy/v1 Eviction",
        ));
    }
    let content_type = context
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if content_type.starts_with(super::protobuf::MEDIA_TYPE) {
        return super::protobuf::decode_as("policy/v1", "Eviction", &context.body);
    }
    serde_json::from_slice(&context.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding Eviction: {e}")))
}

fn delete_options(eviction: &Value, dry_run: bool) -> DeleteOptions {
    let options = &eviction["deleteOptions"];
    DeleteOptions {
        grace_period_seconds: options["gracePeriodSeconds"].as_i64(),
        propagation_policy: options["propagationPolicy"].as_str().map(str::to_owned),
        precondition_uid: options["preconditions"]["uid"].as_str().map(str::to_owned),
        precondition_resource_version: options["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_owned),
        dry_run: dry_run
            || options["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "All")),
    }
}

pub(super) fn evict(context: &RequestContext) -> Result<Response, ApiError> {
    let eviction = eviction_body(context)?;
    let name = context.name().to_owned();
    let namespace = context.target.namespace_or_empty().to_owned();
    if let Some(sent) = eviction["metadata"]["name"].as_str()
        && !sent.is_empty()
        && sent != name
    {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object: {name} != {sent}"
        )));
    }
    let options = delete_options(&eviction, context.dry_run()?);
    crate::eviction::evict(&context.state.registry, &namespace, &name, &options)?;
    Ok(json_response(
        StatusCode::CREATED,
        crate::errors::success_status(201),
    ))
}
