//! Subresources: `scale`, `binding`, `finalize`, and the two that reach running workloads, `log`
//! and `proxy`, which the kubelets and the service network provide through
//! [`super::Runtime`].

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::objects::body_value;
use super::runtime::ProxyTarget;
use super::{ApiState, RequestContext, Target, json_response};
use crate::custom_resources::{ScalePaths, find, set_path};
use crate::errors::ApiError;
use crate::kubelet::LogOptions;
use crate::registry::{Part, WriteOptions};
use crate::resources;
use crate::strategic;

/// The Scale of `object`; `paths` are a custom kind's (`custom`) or the built-in workloads'.
fn scale_of(object: &Value, paths: &ScalePaths, custom: bool) -> Value {
    let selector = match &paths.label_selector {
        Some(path) => find(object, path)
            .and_then(|s| s.as_str().map(str::to_owned))
            .unwrap_or_default(),
        None if custom => String::new(),
        None => crate::api::table_selector(&object["spec"]["selector"]),
    };
    let spec_replicas = find(object, &paths.spec_replicas).unwrap_or(Value::Null);
    let status_replicas = find(object, &paths.status_replicas)
        .and_then(|r| r.as_i64())
        .unwrap_or(0);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": object["metadata"]["name"],
            "namespace": object["metadata"]["namespace"],
            "uid": object["metadata"]["uid"],
            "resourceVersion": object["metadata"]["resourceVersion"],
            "creationTimestamp": object["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": spec_replicas},
        "status": {"replicas": status_replicas, "selector": selector},
    })
}

pub(super) fn scale(context: &RequestContext) -> Result<Response, ApiError> {
    let kind = context.target.kind;
    let namespace = context.target.namespace_or_empty();
    let name = context.name();
    let registry = &context.state.registry;
    let paths = match registry.custom.get(kind) {
        Some(served) => served.scale.clone().unwrap_or_default(),
        None => ScalePaths::default(),
    };
    if context.body.is_empty() {
        let object = registry.get_value(kind, namespace, name)?;
        return Ok(json_response(
            StatusCode::OK,
            scale_of(&object, &paths, kind.is_custom()).to_string(),
        ));
    }
    let is_patch = context
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("patch"));
    let body: Value = if is_patch {
        serde_json::from_slice(&context.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    } else {
        body_value(context)?
    };
    let options = WriteOptions {
        dry_run: context.dry_run()?,
        field_manager: None,
    };
    let content_type = context
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let stored = registry.update_with(kind, namespace, name, Part::Main, &options, |old| {
        let current = scale_of(old, &paths, kind.is_custom());
        let desired = if content_type.contains("json-patch") {
            let ops: json_patch::Patch = serde_json::from_value(body.clone())
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            // A copy, dropped on error (`patch`'s undo can panic; see `objects::patch`).
            let mut doc = current.clone();
            json_patch::patch_unsafe(&mut doc, &ops)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            doc
        } else if content_type.contains("merge-patch") {
            let mut doc = current.clone();
            json_patch::merge(&mut doc, &body);
            doc
        } else if content_type.contains("strategic") {
            strategic::apply(&current, &body)?
        } else {
            body.clone()
        };
        if let Some(rv) = desired["metadata"]["resourceVersion"].as_str()
            && !rv.is_empty()
            && Some(rv) != old["metadata"]["resourceVersion"].as_str()
        {
            return Err(ApiError::modified(kind, name));
        }
        let replicas = desired["spec"]["replicas"]
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.replicas must be an integer"))?;
        let mut next = old.clone();
        set_path(&mut next, &paths.spec_replicas, json!(replicas));
        next["metadata"]["resourceVersion"] = Value::Null;
        Ok(next)
    })?;
    Ok(json_response(
        StatusCode::OK,
        scale_of(&stored.value(), &paths, kind.is_custom()).to_string(),
    ))
}

pub(super) fn binding(context: &RequestContext) -> Result<Response, ApiError> {
    let binding = body_value(context)?;
    let node = binding["target"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("target.name: Required value"))?
        .to_owned();
    let name = context.name().to_owned();
    context.state.registry.update_with(
        resources::pods(),
        context.target.namespace_or_empty(),
        &name,
        Part::Main,
        &WriteOptions::default(),
        |old| {
            if let Some(current) = old["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                return Err(ApiError::conflict(
                    resources::pods(),
                    &name,
                    &format!("pod {name} is already assigned to node \"{current}\""),
                ));
            }
            let mut next = old.clone();
            next["spec"]["nodeName"] = json!(node);
            Ok(next)
        },
    )?;
    Ok(json_response(
        StatusCode::CREATED,
        crate::errors::success_status(201),
    ))
}

pub(super) fn finalize(context: &RequestContext) -> Result<Response, ApiError> {
    let body = body_value(context)?;
    let finalizers = body["spec"]["finalizers"].clone();
    let stored = context.state.registry.update_with(
        resources::namespaces(),
        "",
        context.name(),
        Part::Main,
        &WriteOptions::default(),
        |old| {
            let mut next = old.clone();
            next["spec"]["finalizers"] = if finalizers.is_null() {
                json!([])
            } else {
                finalizers
            };
            Ok(next)
        },
    )?;
    Ok(json_response(StatusCode::OK, stored.json.clone()))
}

pub(super) async fn log(context: &RequestContext) -> Result<Response, ApiError> {
    let pods = resources::pods();
    let pod = context.state.registry.get_value(
        pods,
        context.target.namespace_or_empty(),
        context.name(),
    )?;
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    let name = context.name();
    let container = match context.param("container").filter(|c| !c.is_empty()) {
        Some(c) if containers.iter().any(|x| x == c) => c.to_owned(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let number = |key: &str| context.param(key).and_then(|v| v.parse::<i64>().ok());
    let options = LogOptions {
        container,
        follow: context.flag("follow"),
        tail_lines: number("tailLines").map(|n| n.max(0) as usize),
        timestamps: context.flag("timestamps"),
        previous: context.flag("previous"),
        since_seconds: number("sinceSeconds").map(|n| n.max(0) as u64),
        limit_bytes: number("limitBytes").map(|n| n.max(0) as usize),
    };
    let Some(runtime) = context.state.runtime.clone() else {
        return Err(ApiError::bad_request(format!(
            "container \"{}\" in pod \"{name}\" is waiting to start: ContainerCreating",
            options.container
        )));
    };
    let output = runtime.logs(context.target.namespace_or_empty(), name, &options)?;
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::convert::Infallible>>(64);
    let limit = options.limit_bytes;
    tokio::spawn(async move {
        let mut written = 0usize;
        let mut send = |line: Bytes| {
            let allowed = limit.is_none_or(|l| written < l);
            let line = match limit {
                Some(l) if written + line.len() > l => line.slice(..l - written),
                _ => line,
            };
            written += line.len();
            (allowed, line)
        };
        for line in output.existing {
            let (allowed, line) = send(line);
            if !allowed || sender.send(Ok(line)).await.is_err() {
                return;
            }
        }
        if let Some(mut follow) = output.follow {
            loop {
                tokio::select! {
                    _ = sender.closed() => return,
                    next = follow.recv() => match next {
                        Some(line) => {
                            let (allowed, line) = send(line);
                            if !allowed || sender.send(Ok(line)).await.is_err() {
                                return;
                            }
                        }
                        None => return,
                    }
                }
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain")
        .body(Body::from_stream(ReceiverStream::new(receiver)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

/// `[scheme:]name[:port]` of a proxy path.
fn split_proxy_name(raw: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        [name] => ((*name).to_owned(), None),
        [scheme, name, port] if matches!(*scheme, "http" | "https") => {
            ((*name).to_owned(), Some((*port).to_owned()))
        }
        [scheme, name] if matches!(*scheme, "http" | "https") => ((*name).to_owned(), None),
        [name, port] => ((*name).to_owned(), Some((*port).to_owned())),
        _ => (raw.to_owned(), None),
    }
}

pub(super) async fn proxy(state: &Arc<ApiState>, target: &Target, request: Request) -> Response {
    let namespace = target.namespace_or_empty().to_owned();
    let (name, port) = split_proxy_name(target.name.as_deref().unwrap_or_default());
    let proxy_target = match target.kind.kind {
        "Service" => ProxyTarget::Service {
            namespace: namespace.clone(),
            name: name.clone(),
            port,
        },
        "Pod" => ProxyTarget::Pod {
            namespace: namespace.clone(),
            name: name.clone(),
            port,
        },
        _ => return ApiError::no_route(request.uri().path()).into_response(),
    };
    if state
        .registry
        .store
        .get(target.kind, &namespace, &name)
        .is_none()
    {
        return ApiError::not_found(target.kind, &name).into_response();
    }
    let path = format!("/{}", target.rest);
    match state.runtime.clone() {
        Some(runtime) => runtime.proxy(proxy_target, path, request).await,
        None => ApiError::unavailable(format!("no endpoints available for service \"{name}\""))
            .into_response(),
    }
}
