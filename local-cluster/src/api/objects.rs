//! The object verbs: get, list, create, replace, patch, delete and deletecollection.

use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::table::{self, IncludeObject};
use super::{Representation, RequestContext, json_response, with_warnings};
use crate::errors::ApiError;
use crate::registry::{DeleteOptions, Part, WriteOptions};
use crate::resources::ResourceKind;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{ObjectKey, Stored};
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
        Representation::Object => json_response(status, stored.json.clone()),
        Representation::Table => {
            let include = IncludeObject::parse(context.param("includeObject"))?;
            let value = stored.value();
            json_response(
                status,
                table::table(
                    kind,
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

fn partial_metadata(object: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]})
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

/// Parsed list parameters, shared by list and watch.
pub(super) struct Selection {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selection {
    pub(super) fn parse(context: &RequestContext) -> Result<Selection, ApiError> {
        let labels = LabelSelector::parse(context.param("labelSelector").unwrap_or_default())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = FieldSelector::parse(
            context.target.kind,
            context.param("fieldSelector").unwrap_or_default(),
        )
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Selection { labels, fields })
    }

    pub(super) fn matches(&self, kind: &ResourceKind, index: &crate::store::ObjectIndex) -> bool {
        self.labels.matches(&index.labels) && self.fields.matches(kind, index)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: (String, String),
}

fn encode_continue(revision: u64, key: &ObjectKey) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv: revision,
        start: key.clone(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(text: &str) -> Result<ContinueToken, ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| ApiError::bad_request(format!("continue key is not valid: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("continue key is not valid: {e}")))
}

pub(super) fn list(context: &RequestContext) -> Result<Response, ApiError> {
    let kind = context.target.kind;
    let store = &context.state.registry.store;
    let selection = Selection::parse(context)?;
    if context.param("sendInitialEvents").is_some() {
        return Err(ApiError::bad_request(
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
        ));
    }
    let limit = match context.param("limit") {
        None | Some("") => 0,
        Some(n) => n
            .parse::<i64>()
            .map_err(|_| {
                ApiError::bad_request(format!("limit: Invalid value: {n:?}: must be an integer"))
            })?
            .max(0) as usize,
    };
    let continued = context
        .param("continue")
        .filter(|c| !c.is_empty())
        .map(decode_continue)
        .transpose()?;
    if let Some(token) = &continued
        && !store.revision_retained(kind, token.rv)
    {
        return Err(ApiError::expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        ));
    }
    check_list_version(context, store.revision())?;
    let namespace = context.target.namespace.as_deref();
    let page = match selection.fields.pinned_name() {
        // `metadata.name=x` (kubectl wait, rollout status, kube-rs await_condition): no scan.
        Some(name) if continued.is_none() => {
            let revision = store.revision();
            let found: Vec<Stored> = match namespace {
                Some(ns) => store.get(kind, ns, name).into_iter().collect(),
                None if !kind.namespaced => store.get(kind, "", name).into_iter().collect(),
                None => store.list(kind, None, |i| i.name == name, 0, None).items,
            };
            crate::store::ListPage {
                items: found
                    .into_iter()
                    .filter(|s| selection.matches(kind, &s.index))
                    .collect(),
                revision,
                next: None,
            }
        }
        _ => store.list(
            kind,
            namespace,
            |index| selection.matches(kind, index),
            limit,
            continued.as_ref().map(|t| &t.start),
        ),
    };
    let revision = continued.as_ref().map_or(page.revision, |t| t.rv);
    let token = page.next.as_ref().map(|key| encode_continue(revision, key));
    // Like the real server: a count only for unselective lists, where it is a plain range count.
    let unfiltered = selection.labels.is_empty() && selection.fields.0.is_empty();
    let remaining = match (&page.next, page.items.last()) {
        (Some(_), Some(last)) if unfiltered => {
            let key = (last.index.namespace.clone(), last.index.name.clone());
            Some(store.count_after(kind, namespace, &key))
        }
        _ => None,
    };
    Ok(match context.representation() {
        Representation::Table => {
            let include = IncludeObject::parse(context.param("includeObject"))?;
            let values: Vec<Value> = page.items.iter().map(Stored::value).collect();
            json_response(
                StatusCode::OK,
                table::table(kind, &values, revision, token, remaining, include).to_string(),
            )
        }
        Representation::Metadata => {
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|s| partial_metadata(&s.value()))
                .collect();
            let mut meta = json!({"resourceVersion": revision.to_string()});
            if let Some(t) = token {
                meta["continue"] = json!(t);
            }
            json_response(
                StatusCode::OK,
                json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}).to_string(),
            )
        }
        Representation::Object => json_response(
            StatusCode::OK,
            list_body(kind, &page.items, revision, token.as_deref(), remaining),
        ),
    })
}

/// `{"kind":"PodList",...,"items":[...]}`, written from the stored bytes without re-parsing them.
fn list_body(
    kind: &ResourceKind,
    items: &[Stored],
    revision: u64,
    token: Option<&str>,
    remaining: Option<usize>,
) -> Vec<u8> {
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(t) = token {
        meta["continue"] = json!(t);
    }
    if let Some(r) = remaining {
        meta["remainingItemCount"] = json!(r);
    }
    let size: usize = items.iter().map(|s| s.json.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 256);
    out.extend_from_slice(
        format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{meta},\"items\":[",
            kind.kind,
            kind.api_version()
        )
        .as_bytes(),
    );
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&item.json);
    }
    out.extend_from_slice(b"]}");
    out
}

/// The store serves the latest state; a list pinned to an exact older revision cannot be served.
fn check_list_version(context: &RequestContext, current: u64) -> Result<(), ApiError> {
    let Some(requested) = context
        .param("resourceVersion")
        .filter(|v| !v.is_empty() && *v != "0")
    else {
        return Ok(());
    };
    let requested: u64 = requested.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "resourceVersion: Invalid value: {requested:?}: must be an integer"
        ))
    })?;
    match context.param("resourceVersionMatch") {
        Some("Exact") if requested != current => Err(ApiError::expired(format!(
            "too old resource version: {requested} ({current})"
        ))),
        Some("Exact") | Some("NotOlderThan") | None | Some("") if requested <= current => Ok(()),
        Some("Exact") | Some("NotOlderThan") | None | Some("") => Err(ApiError {
            code: 504,
            reason: "Timeout",
            message: format!("Too large resource version: {requested}, current: {current}"),
            details: None,
        }),
        Some(other) => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
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
    let (typed, warnings) = decode_checked(kind, &object, mode)?;
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
    let (typed, warnings) = decode_checked(kind, &object, mode)?;
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
        let (typed, found) = decode_checked(kind, &applied, mode)?;
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
        |old| {
            let patched = match patch_type {
                PatchType::Json => {
                    let ops: json_patch::Patch =
                        serde_json::from_value(patch.clone()).map_err(|e| {
                            ApiError::bad_request(format!("error decoding json patch: {e}"))
                        })?;
                    let mut doc = old.clone();
                    json_patch::patch(&mut doc, &ops).map_err(|e| ApiError {
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
            let (typed, found) = decode_checked(kind, &patched, mode)?;
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
    let stored = context.state.registry.delete(
        context.target.kind,
        context.target.namespace_or_empty(),
        context.name(),
        &options,
    )?;
    Ok(json_response(StatusCode::OK, stored.json.clone()))
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
