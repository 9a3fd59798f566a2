//! `?watch=true`: newline-delimited JSON events, flushed one by one.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::list::Selection;
use super::table::{self, IncludeObject};
use super::{Representation, RequestContext, json_response};
use crate::errors::ApiError;
use crate::resources::ResourceKind;
use crate::store::{Change, EventKind, WatchStart};

/// How often an idle watch with bookmarks enabled gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);
/// Watches without `timeoutSeconds` end after this long, as a real server ends them (clients re-watch).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

struct WatchOptions {
    kind: &'static ResourceKind,
    namespace: Option<String>,
    selection: Selection,
    bookmarks: bool,
    table: Option<IncludeObject>,
    /// A custom kind's printer columns, for tables.
    columns: Option<Vec<crate::custom_resources::PrinterColumn>>,
}

pub(super) async fn watch(context: RequestContext) -> Result<Response, ApiError> {
    let kind = context.target.kind;
    let selection = Selection::parse(&context)?;
    let bookmarks = context.flag("allowWatchBookmarks");
    let initial_events = context.flag("sendInitialEvents");
    let version = context.param("resourceVersion").unwrap_or_default();
    if initial_events {
        if context.param("resourceVersionMatch") != Some("NotOlderThan") {
            return Err(ApiError::bad_request(
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !bookmarks {
            return Err(ApiError::bad_request(
                "allowWatchBookmarks: Required value: sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
    }
    let start = if initial_events || version.is_empty() || version == "0" {
        WatchStart::WithCurrentState
    } else {
        WatchStart::After(version.parse().map_err(|_| {
            ApiError::bad_request(format!("resourceVersion: Invalid value: {version:?}"))
        })?)
    };
    let timeout = context
        .param("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let table = match context.representation() {
        Representation::Table => Some(IncludeObject::parse(context.param("includeObject"))?),
        _ => None,
    };
    let options = WatchOptions {
        kind,
        namespace: context.target.namespace.clone(),
        selection,
        bookmarks,
        table,
        columns: context.custom_columns(),
    };
    let (sender, receiver) = mpsc::channel::<Result<Bytes, Infallible>>(256);
    match context.state.registry.store.watch(kind, start) {
        Err(expired) => {
            // Real servers answer 200 with a single ERROR event; clients then re-list.
            let line = format!(
                "{}\n",
                crate::errors::watch_error_event(&ApiError::expired(expired.to_string()))
            );
            return Ok(json_response(StatusCode::OK, line));
        }
        Ok(feed) => {
            tokio::spawn(stream_events(
                feed,
                options,
                initial_events,
                timeout,
                sender,
            ));
        }
    }
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("transfer-encoding", "chunked")
        .body(Body::from_stream(ReceiverStream::new(receiver)))
        .unwrap_or_else(|_| json_response(StatusCode::INTERNAL_SERVER_ERROR, "")))
}

/// What one change means to this watch (after namespace and selector filtering).
fn translate(options: &WatchOptions, change: &Change) -> Option<EventKind> {
    let kind = options.kind;
    let in_scope = |index: &crate::store::ObjectIndex| {
        options
            .namespace
            .as_deref()
            .is_none_or(|ns| index.namespace == ns)
            && options.selection.matches(kind, index)
    };
    let now = in_scope(&change.object.index);
    let before = change.previous.as_deref().is_some_and(in_scope);
    match (change.kind, before, now) {
        (EventKind::Added, _, true) => Some(EventKind::Added),
        (EventKind::Modified, true, true) => Some(EventKind::Modified),
        (EventKind::Modified, false, true) => Some(EventKind::Added),
        (EventKind::Modified, true, false) => Some(EventKind::Deleted),
        (EventKind::Deleted, true, _) => Some(EventKind::Deleted),
        _ => None,
    }
}

fn event_line(options: &WatchOptions, event: EventKind, change: &Change) -> Bytes {
    let mut line = Vec::with_capacity(change.object.json.len() + 32);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(event.as_str().as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    match options.table {
        Some(include) => {
            let value = change.object.value();
            let rendered = table::table(
                options.kind,
                options.columns.as_deref(),
                std::slice::from_ref(&value),
                change.object.revision,
                None,
                None,
                include,
            );
            line.extend_from_slice(rendered.to_string().as_bytes());
        }
        None => line.extend_from_slice(&crate::custom_resources::in_version(
            options.kind,
            &change.object.json,
        )),
    }
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

fn bookmark(kind: &ResourceKind, revision: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let object: Value =
        json!({"kind": kind.kind, "apiVersion": kind.api_version(), "metadata": metadata});
    Bytes::from(format!(
        "{}\n",
        json!({"type": "BOOKMARK", "object": object})
    ))
}

async fn stream_events(
    feed: crate::store::WatchFeed,
    options: WatchOptions,
    initial_events: bool,
    timeout: Duration,
    sender: mpsc::Sender<Result<Bytes, Infallible>>,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    // The revision every event sent so far is covered by: safe to put in a bookmark.
    let mut sent_through = feed.revision;
    for change in &feed.backlog {
        if let Some(event) = translate(&options, change)
            && sender
                .send(Ok(event_line(&options, event, change)))
                .await
                .is_err()
        {
            return;
        }
    }
    if initial_events
        && sender
            .send(Ok(bookmark(options.kind, feed.revision, true)))
            .await
            .is_err()
    {
        return;
    }
    let mut live = feed.live;
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return,
            _ = sender.closed() => return,
            _ = ticker.tick(), if options.bookmarks => {
                if sender.send(Ok(bookmark(options.kind, sent_through, false))).await.is_err() {
                    return;
                }
            }
            received = live.recv() => match received {
                // The backlog and the subscription were taken under one lock: no overlap.
                Ok(change) => {
                    if let Some(event) = translate(&options, &change)
                        && sender.send(Ok(event_line(&options, event, &change))).await.is_err()
                    {
                        return;
                    }
                    sent_through = sent_through.max(change.object.revision);
                }
                // A watcher that fell too far behind is ended; it re-watches from its last
                // revision, which the history still holds.
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
