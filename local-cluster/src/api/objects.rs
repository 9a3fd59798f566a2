//! The object verbs: get, list, create, replace, patch, delete and deletecollection.

use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::list::{Selection, list_body};
use super::response::partial_metadata;
use super::table::{self, IncludeObject};
use super::{Representation, RequestContext, json_response, with_warnings};
use crate::custom_resources::in_version;
use crate::errors::ApiError;
use crate::registry::{DeleteOptions, Part, WriteOptions};
use crate::resources::ResourceKind;
use crate::store::Stored;
use crate::strategic;
use crate::validation::{FieldValidation, decode_checked};

/// Writes one object in the representation the client asked for.
pub(super) fn respond(
    context: &RequestContext,
    status: StatusCode,
    stored: &Stored,
) -> Result<Response, ApiError> {
    let kind = context.target.kind;
    Ok(match context.representation() {
        Representation::Object => json_response(status, in_version(kind, &stored.json)),
        Representation::Table => {
            let include = IncludeObject::parse(context.param("includeObject"))?;
            let value = stored.value();
            json_response(
                status,
                table::table(
                    kind,
                    context.custom_columns().as_deref(),
                    std::slice::from_ref(&value),
                    stored.revision,
                    None,
                    None,
                    include,
                )
                .to_string(),
            )
        }
        Representation::Metadata => {
            json_response(status, partial_metadata(&stored.value()).to_string())
        }
    })
}

fn part(context: &RequestContext) -> Part {
    if context.target.subresource.as_deref() == Some("status") {
        Part::Status
    } else {
        Part::Main
    }
}

pub(super) fn get(context: &RequestContext) -> Result<Response, ApiError> {
    let stored = context.state.registry.get(
        context.target.kind,
        context.target.namespace_or_empty(),
        context.name(),
    )?;
    respond(context, StatusCode::OK, &stored)
}

/// Reads a JSON (or YAML) body.
pub(super) fn body_value(context: &RequestContext) -> Result<Value, ApiError> {
    if context.body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; send the object as JSON",
        ));
    }
    let content_type = context
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if content_type.starts_with(super::protobuf::MEDIA_TYPE) {
        return super::protobuf::decode_any(&context.body);
    }
    if content_type.contains("yaml") {
        serde_yaml::from_slice(&context.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
    } else {
        serde_json::from_slice(&context.body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })
    }
}

/// Decodes a request's object: built-in kinds by their types, custom kinds by their schema.
fn decode(
    context: &RequestContext,
    object: &Value,
    mode: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let kind = context.target.kind;
    if kind.is_custom() {
        context.state.registry.custom.decode(kind, object, mode)
    } else {
        decode_checked(kind, object, mode)
    }
}

fn check_type(kind: &ResourceKind, object: &Value) -> Result<(), ApiError> {
    if let Some(version) = object["apiVersion"].as_str()
        && version != kind.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({version}) does not match the expected API version ({})",
            kind.api_version()
        )));
    }
    if let Some(k) = object["kind"].as_str()
        && k != kind.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            kind.kind
        )));
    }
    Ok(())
}

/// `fieldManager`, or what the real server derives from the User-Agent (`kubectl/v1.32 …` → `kubectl`).
fn field_manager(context: &RequestContext) -> String {
    if let Some(m) = context.param("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_owned();
    }
    context
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|m| !m.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

fn write_options(context: &RequestContext) -> Result<WriteOptions, ApiError> {
    Ok(WriteOptions {
        dry_run: context.dry_run()?,
        field_manager: Some(field_manager(context)),
    })
}

pub(super) fn create(context: &RequestContext) -> Result<Response, ApiError> {
    let kind = context.target.kind;
    let object = body_value(context)?;
    check_type(kind, &object)?;
    let mode = FieldValidation::parse(context.param("fieldValidation"))?;
    let (typed, warnings) = decode(context, &object, mode)?;
    let stored = context.state.registry.create(
        kind,
        context.target.namespace_or_empty(),
        typed,
        &write_options(context)?,
    )?;
    Ok(with_warnings(
        respond(context, StatusCode::CREATED, &stored)?,
        &warnings,
    ))
}

pub(super) fn replace(context: &RequestContext) -> Result<Response, ApiError> {
    let kind = context.target.kind;
    let object = body_value(context)?;
    check_type(kind, &object)?;
    let mode = FieldValidation::parse(context.param("fieldValidation"))?;
    let (typed, warnings) = decode(context, &object, mode)?;
    let stored = context.state.registry.replace(
        kind,
        context.target.namespace_or_empty(),
        context.name(),
        part(context),
        typed,
        &write_options(context)?,
    )?;
    Ok(with_warnings(
        respond(context, StatusCode::OK, &stored)?,
        &warnings,
    ))
}

/// The four patch types, by Content-Type.
enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

pub(super) fn patch(context: &RequestContext) -> Result<Response, ApiError> {
    let kind = context.target.kind;
    let content_type = context
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let patch_type = match media {
        "application/json-patch+json" => PatchType::Json,
        "application/merge-patch+json" => PatchType::Merge,
        "application/strategic-merge-patch+json" if kind.is_custom() => {
            return Err(ApiError::unsupported_patch_for_custom(media));
        }
        "application/strategic-merge-patch+json" => PatchType::Strategic,
        "application/apply-patch+yaml" => PatchType::Apply,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    let force = context.param("force");
    let options_invalid = |field: &str, why: &str| ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("PatchOptions.meta.k8s.io \"\" is invalid: {field}: {why}"),
        details: Some(
            json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueInvalid", "message": why, "field": field}]}),
        ),
    };
    if force.is_some() && !matches!(patch_type, PatchType::Apply) {
        return Err(options_invalid(
            "force",
            "Forbidden: may not be specified for non-apply patch",
        ));
    }
    let mode = FieldValidation::parse(context.param("fieldValidation"))?;
    let namespace = context.target.namespace_or_empty();
    let name = context.name();
    let dry_run = context.dry_run()?;
    let mut warnings = Vec::new();
    if let PatchType::Apply = patch_type {
        let manager = context
            .param("fieldManager")
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                options_invalid(
                    "fieldManager",
                    "Required value: is required for apply patch",
                )
            })?;
        let applied: Value = serde_yaml::from_slice(&context.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        check_type(kind, &applied)?;
        let (typed, found) = decode(context, &applied, mode)?;
        warnings = found;
        // The typed form fills required-but-empty fields; apply only what the client sent.
        let applied = prune_to(&applied, &typed);
        let force = context.flag("force");
        let options = WriteOptions {
            dry_run,
            field_manager: None,
        };
        let request = crate::registry::ApplyPatch {
            object: applied,
            manager: manager.to_owned(),
            force,
        };
        let (stored, created) = context
            .state
            .registry
            .server_side_apply(kind, namespace, name, request, &options)?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Ok(with_warnings(respond(context, status, &stored)?, &warnings));
    }
    let patch: Value = serde_json::from_slice(&context.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let options = WriteOptions {
        dry_run,
        field_manager: Some(field_manager(context)),
    };
    let stored = context.state.registry.update_with(
        kind,
        namespace,
        name,
        part(context),
        &options,
        |stored| {
            let read = context.state.registry.custom.as_read(kind, stored);
            let old = &read;
            let patched = match patch_type {
                PatchType::Json => {
                    let ops: json_patch::Patch =
                        serde_json::from_value(patch.clone()).map_err(|e| {
                            ApiError::bad_request(format!("error decoding json patch: {e}"))
                        })?;
                    let mut doc = old.clone();
                    // On a copy, thrown away on error: `patch` would undo the applied operations
                    // on error, and its undo panics on some (a move into the root, then a
                    // failing operation), dropping the request.
                    json_patch::patch_unsafe(&mut doc, &ops).map_err(|e| ApiError {
                        code: 422,
                        reason: "Invalid",
                        message: format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ),
                        details: None,
                    })?;
                    doc
                }
                PatchType::Merge => {
                    let mut doc = old.clone();
                    json_patch::merge(&mut doc, &patch);
                    doc
                }
                PatchType::Strategic => strategic::apply(old, &patch)?,
                PatchType::Apply => unreachable!("handled above"),
            };
            let (typed, found) = decode(context, &patched, mode)?;
            warnings = found;
            Ok(typed)
        },
    )?;
    Ok(with_warnings(
        respond(context, StatusCode::OK, &stored)?,
        &warnings,
    ))
}

/// Keeps only the fields of `typed` that `sent` contained (typed decoding may add empty
/// required fields, which an apply must not claim).
fn prune_to(sent: &Value, typed: &Value) -> Value {
    match (sent, typed) {
        (Value::Object(s), Value::Object(t)) => Value::Object(
            t.iter()
                .filter_map(|(k, v)| s.get(k).map(|sv| (k.clone(), prune_to(sv, v))))
                .collect(),
        ),
        (Value::Array(s), Value::Array(t)) => {
            Value::Array(s.iter().zip(t).map(|(a, b)| prune_to(a, b)).collect())
        }
        (_, t) => t.clone(),
    }
}

/// DeleteOptions from the body (if any) and the query string.
fn delete_options(context: &RequestContext) -> Result<DeleteOptions, ApiError> {
    let body: Value = if context.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&context.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let grace = match context.param("gracePeriodSeconds") {
        Some(g) => Some(g.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!("gracePeriodSeconds: Invalid value: {g:?}"))
        })?),
        None => body["gracePeriodSeconds"].as_i64(),
    };
    let dry_run = context.dry_run()?
        || body["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "All"));
    Ok(DeleteOptions {
        grace_period_seconds: grace,
        propagation_policy: context
            .param("propagationPolicy")
            .map(str::to_owned)
            .or_else(|| body["propagationPolicy"].as_str().map(str::to_owned)),
        precondition_uid: body["preconditions"]["uid"].as_str().map(str::to_owned),
        precondition_resource_version: body["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_owned),
        dry_run,
    })
}

pub(super) fn delete(context: &RequestContext) -> Result<Response, ApiError> {
    let options = delete_options(context)?;
    let kind = context.target.kind;
    let stored = context.state.registry.delete(
        kind,
        context.target.namespace_or_empty(),
        context.name(),
        &options,
    )?;
    let object = stored.value();
    // As the real server: a custom object removed at once is answered with a Status (clients
    // such as kube-rs tell "gone" from "going" by it), one still going with the object.
    if kind.is_custom() && object["metadata"]["deletionTimestamp"].is_null() {
        return Ok(json_response(
            StatusCode::OK,
            crate::errors::deleted_status(
                kind,
                context.name(),
                object["metadata"]["uid"].as_str().unwrap_or_default(),
            ),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        in_version(kind, &stored.json),
    ))
}

pub(super) fn delete_collection(context: &RequestContext) -> Result<Response, ApiError> {
    let kind = context.target.kind;
    if !kind.verbs.contains(&"deletecollection") {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    let selection = Selection::parse(context)?;
    let options = delete_options(context)?;
    let page = context.state.registry.store.list(
        kind,
        context.target.namespace.as_deref(),
        |index| selection.matches(kind, index),
        0,
        None,
    );
    let mut deleted = Vec::new();
    for item in page.items {
        match context
            .state
            .registry
            .delete(kind, &item.index.namespace, &item.index.name, &options)
        {
            Ok(stored) => deleted.push(stored),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let revision = context.state.registry.store.revision();
    Ok(json_response(
        StatusCode::OK,
        list_body(kind, &deleted, revision, None, None),
    ))
}
