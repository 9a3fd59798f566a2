//! Listing: label and field selection, pages with continue tokens, the list's resourceVersion
//! rules, and the body in the representation asked for.

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::response::partial_metadata;
use super::table::{self, IncludeObject};
use super::{Representation, RequestContext, json_response};
use crate::errors::ApiError;
use crate::resources::ResourceKind;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{ObjectKey, Stored};

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
pub(super) struct ContinueToken {
    v: String,
    rv: u64,
    start: (String, String),
}

pub(super) fn encode_continue(revision: u64, key: &ObjectKey) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv: revision,
        start: key.clone(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&token).unwrap_or_default())
}

pub(super) fn decode_continue(text: &str) -> Result<ContinueToken, ApiError> {
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
                table::table(
                    kind,
                    context.custom_columns().as_deref(),
                    &values,
                    revision,
                    token,
                    remaining,
                    include,
                )
                .to_string(),
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
pub(super) fn list_body(
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
        out.extend_from_slice(&crate::custom_resources::in_version(kind, &item.json));
    }
    out.extend_from_slice(b"]}");
    out
}

/// The store serves the latest state; a list pinned to an exact older revision cannot be served.
pub(super) fn check_list_version(context: &RequestContext, current: u64) -> Result<(), ApiError> {
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
