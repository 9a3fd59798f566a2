//! Listing: label and field selection, pages with continue tokens, the list's resourceVersion
//! rules, and the body in the representation asked for.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
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
            let columns = context.custom_columns();
            json_response(
                StatusCode::OK,
                table_body(
                    kind,
                    columns.as_deref(),
                    page.items,
                    revision,
                    token,
                    remaining,
                    include,
                    PIECE,
                ),
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
            streamed_list_body(
                kind,
                page.items,
                revision,
                token.as_deref(),
                remaining,
                PIECE,
            ),
        ),
    })
}

/// A list's body goes out in pieces of about this size as the client reads it: each piece is
/// one write, and a list of 150,000 pods never sits whole in the server's memory (nor its
/// Table's 150,000 parsed objects).
const PIECE: usize = 64 * 1024;

/// The start of a list: `{"kind":"PodList",…,"items":[`.
fn list_head(
    kind: &ResourceKind,
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
    format!(
        "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{meta},\"items\":[",
        kind.kind,
        kind.api_version()
    )
    .into_bytes()
}

/// A JSON array's elements between `head` and `tail`, written out in pieces of about `piece`
/// bytes, each element made only when its piece is.
fn pieces(
    head: Vec<u8>,
    elements: impl Iterator<Item = Bytes> + Send + 'static,
    tail: &'static [u8],
    piece: usize,
) -> Body {
    let piece = piece.max(1);
    let mut elements = elements.peekable();
    let mut buffer = head;
    let mut first = true;
    let mut done = false;
    let stream = futures::stream::iter(std::iter::from_fn(move || {
        if done {
            return None;
        }
        while buffer.len() < piece {
            match elements.next() {
                Some(element) => {
                    if !first {
                        buffer.push(b',');
                    }
                    first = false;
                    buffer.extend_from_slice(&element);
                }
                None => {
                    buffer.extend_from_slice(tail);
                    done = true;
                    break;
                }
            }
        }
        if !done && elements.peek().is_none() {
            buffer.extend_from_slice(tail);
            done = true;
        }
        let out = std::mem::replace(&mut buffer, Vec::with_capacity(piece + 4096));
        Some(Ok::<_, std::convert::Infallible>(Bytes::from(out)))
    }));
    Body::from_stream(stream)
}

/// `{"kind":"PodList",...,"items":[...]}` from the stored bytes, streamed.
fn streamed_list_body(
    kind: &'static ResourceKind,
    items: Vec<Stored>,
    revision: u64,
    token: Option<&str>,
    remaining: Option<usize>,
    piece: usize,
) -> Body {
    let head = list_head(kind, revision, token, remaining);
    let elements = items
        .into_iter()
        .map(move |item| crate::custom_resources::in_version(kind, &item.json));
    pieces(head, elements, b"]}", piece)
}

/// The list as a Table, a row made from each object only as its piece is written.
#[allow(clippy::too_many_arguments)] // The list's own parameters, as `table::table` takes them.
fn table_body(
    kind: &'static ResourceKind,
    columns: Option<&[crate::custom_resources::PrinterColumn]>,
    items: Vec<Stored>,
    revision: u64,
    token: Option<String>,
    remaining: Option<usize>,
    include: IncludeObject,
    piece: usize,
) -> Body {
    let head = table::head(kind, columns, revision, token, remaining).to_string();
    // The keys are written sorted, so `rows` comes last: the head is everything before its `[]`.
    let head = head
        .strip_suffix("[]}")
        .map_or_else(|| head.clone(), |h| format!("{h}["));
    let rows = table::Rows::new(kind, columns, include);
    let elements = items.into_iter().map(move |item| {
        Bytes::from(serde_json::to_vec(&rows.row(&item.value())).unwrap_or_default())
    });
    pieces(head.into_bytes(), elements, b"]}", piece)
}

/// `{"kind":"PodList",...,"items":[...]}`, written from the stored bytes without re-parsing them.
pub(super) fn list_body(
    kind: &ResourceKind,
    items: &[Stored],
    revision: u64,
    token: Option<&str>,
    remaining: Option<usize>,
) -> Vec<u8> {
    let size: usize = items.iter().map(|s| s.json.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 256);
    out.extend_from_slice(&list_head(kind, revision, token, remaining));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use super::*;
    use crate::registry::{Registry, WriteOptions};
    use crate::resources;

    async fn collected(body: Body) -> Vec<u8> {
        axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    /// A small cluster's pods: some placed, some waiting, in two namespaces.
    fn pods() -> Vec<Stored> {
        let registry = Registry::for_tests(100);
        for name in ["n1", "n2"] {
            let node = json!({"metadata": {"name": name, "labels": {"kubernetes.io/os": "linux"}},
                "status": {"allocatable": {"pods": "3", "cpu": "2", "memory": "4Gi"}}});
            registry
                .create(resources::nodes(), "", node, &WriteOptions::default())
                .unwrap();
        }
        let added = crate::load::add_simulated_pods(&registry, 9).unwrap();
        assert_eq!((added.stored, added.pending), (9, 3));
        // Created long ago, so the Age column reads the same in the buffered and the streamed
        // table however far apart they are made ("26y"; created now, they could read "0s" and
        // "1s" a second boundary apart).
        registry
            .store
            .list(resources::pods(), None, |_| true, 0, None)
            .items
            .into_iter()
            .map(|stored| {
                let mut value = stored.value();
                value["metadata"]["creationTimestamp"] = json!("2000-01-01T00:00:00Z");
                Stored {
                    json: Bytes::from(serde_json::to_vec(&value).unwrap()),
                    ..stored
                }
            })
            .collect()
    }

    /// The streamed bodies are byte for byte what the buffered ones were, whatever the piece
    /// size: one element per piece, a few, or the whole list in one.
    #[tokio::test]
    async fn a_streamed_list_is_the_buffered_one_byte_for_byte() {
        let items = pods();
        let kind = resources::pods();
        for (token, remaining) in [(None, None), (Some("abc"), Some(7))] {
            let buffered = list_body(kind, &items, 42, token, remaining);
            for piece in [0, 1, 700, 4096, 1 << 20] {
                let streamed = collected(streamed_list_body(
                    kind,
                    items.clone(),
                    42,
                    token,
                    remaining,
                    piece,
                ))
                .await;
                assert_eq!(
                    String::from_utf8(streamed).unwrap(),
                    String::from_utf8(buffered.clone()).unwrap(),
                    "piece {piece}"
                );
            }
            let values: Vec<Value> = items.iter().map(Stored::value).collect();
            for include in [
                IncludeObject::None,
                IncludeObject::Metadata,
                IncludeObject::Object,
            ] {
                let buffered = table::table(
                    kind,
                    None,
                    &values,
                    42,
                    token.map(str::to_owned),
                    remaining,
                    include,
                )
                .to_string();
                for piece in [0, 1, 700, 1 << 20] {
                    let streamed = collected(table_body(
                        kind,
                        None,
                        items.clone(),
                        42,
                        token.map(str::to_owned),
                        remaining,
                        include,
                        piece,
                    ))
                    .await;
                    assert_eq!(
                        String::from_utf8(streamed).unwrap(),
                        buffered,
                        "piece {piece}"
                    );
                }
            }
        }
        // An empty list too.
        let empty = collected(streamed_list_body(kind, Vec::new(), 1, None, None, 64)).await;
        assert_eq!(empty, list_body(kind, &[], 1, None, None));
        let empty_table = collected(table_body(
            kind,
            None,
            Vec::new(),
            1,
            None,
            None,
            IncludeObject::Metadata,
            64,
        ))
        .await;
        assert_eq!(
            String::from_utf8(empty_table).unwrap(),
            table::table(kind, None, &[], 1, None, None, IncludeObject::Metadata).to_string()
        );
    }
}
