//! `pods/exec` and `pods/attach` over WebSocket, the way kubectl (1.31 and
//! later), kube-rs and the official Python client reach them by default.
//!
//! Exec speaks the `v5.channel.k8s.io` and `v4.channel.k8s.io` subprotocols: every binary
//! message starts with its channel (0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 terminal
//! resize; in v5 `[255, channel]` closes that channel). A container that runs as a real process
//! here (the calculator image) runs the command on this machine with the container's environment
//! (as the kubelet builds it) and working directory: exec is as powerful as the user who started
//! the cluster, and RBAC's `create` on `pods/exec` decides who may use it. A simulated container
//! has no process to run a command in, and exec fails as it does on a container that is not
//! running.
//!
//! Attach speaks the same subprotocols and carries what the container writes from the moment
//! of attaching until it ends (then a Success status), as the container's log records it: the
//! log does not keep stdout and stderr apart, so both arrive on stdout. The processes here run
//! with no standard input (as a container without `stdin: true`), so what a client sends on
//! stdin is read and dropped.
//!

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::channels::*;
use super::{ApiState, Request, Target};
use crate::errors::ApiError;
use crate::kubelet::LogOptions;
use crate::kubelet::{self, exec::not_running};

const EXEC_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// What an exec request asks for.
#[derive(Debug, Default)]
struct ExecOptions {
    command: Vec<String>,
    container: Option<String>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

impl ExecOptions {
    fn parse(query: &str) -> Result<ExecOptions, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
        let flag = |v: &str| matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True");
        let mut options = ExecOptions::default();
        for (key, value) in pairs {
            match key.as_str() {
                "command" => options.command.push(value),
                "container" if !value.is_empty() => options.container = Some(value),
                "stdin" => options.stdin = flag(&value),
                "stdout" => options.stdout = flag(&value),
                "stderr" => options.stderr = flag(&value),
                _ => {}
            }
        }
        Ok(options)
    }
}

/// `pods/exec`.
pub(super) async fn exec(state: &Arc<ApiState>, target: &Target, request: Request) -> Response {
    match prepare_exec(state, target, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn prepare_exec(
    state: &Arc<ApiState>,
    target: &Target,
    request: Request,
) -> Result<Response, ApiError> {
    let options = ExecOptions::parse(request.uri().query().unwrap_or_default())?;
    let pod = running_pod(state, target, "exec into")?;
    let container = container_of(&pod, options.container.as_deref())?;
    if options.command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if !(options.stdin || options.stdout || options.stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least one of stdin, stdout, stderr",
        ));
    }
    if let Some(why) = not_running(&pod, container) {
        return Err(ApiError::internal(format!(
            "error executing command in container: {why}"
        )));
    }
    let place = kubelet::exec::Place::of(&state.registry, &pod, container);
    let (mut parts, _body) = request.into_parts();
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|_| upgrade_required())?;
    tracing::info!(
        pod = %target.name.as_deref().unwrap_or_default(),
        command = ?options.command,
        "exec"
    );
    Ok(upgrade
        .protocols(EXEC_PROTOCOLS)
        .on_upgrade(move |socket| run_command(socket, options, place)))
}

/// Runs the command and carries its streams over the socket until it exits.
async fn run_command(socket: WebSocket, options: ExecOptions, place: kubelet::exec::Place) {
    let v5 = socket
        .protocol()
        .and_then(|p| p.to_str().ok())
        .is_some_and(|p| p == EXEC_PROTOCOLS[0]);
    let (mut sink, mut incoming) = socket.split();
    let streams = kubelet::exec::Streams {
        stdin: options.stdin,
        stdout: options.stdout,
        stderr: options.stderr,
    };
    let mut child = match place.spawn(&options.command, streams) {
        Ok(child) => child,
        Err(e) => {
            let status = failure(
                "InternalError",
                &format!(
                    "error executing command in container: failed to exec in container: exec: {:?}: {e}",
                    options.command[0]
                ),
                None,
            );
            let _ = sink.send(frame(ERROR, status.to_string().as_bytes())).await;
            let _ = sink.send(normal_close()).await;
            return;
        }
    };
    // Output from both pipes funnels into one channel, so the socket has one writer.
    let (out_tx, mut out_rx) = mpsc::channel::<(u8, Vec<u8>)>(16);
    for (channel, pipe) in [
        (
            STDOUT,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
        (
            STDERR,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
    ] {
        let Some(mut pipe) = pipe else { continue };
        let tx = out_tx.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 32 * 1024];
            while let Ok(n) = pipe.read(&mut buffer).await {
                if n == 0 || tx.send((channel, buffer[..n].to_vec())).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(out_tx);
    let mut stdin = child.stdin.take();
    let mut client_gone = false;
    loop {
        tokio::select! {
            output = out_rx.recv() => match output {
                Some((channel, data)) => {
                    if sink.send(frame(channel, &data)).await.is_err() {
                        client_gone = true;
                        break;
                    }
                }
                // Both pipes closed: the command is done writing.
                None => break,
            },
            message = incoming.next(), if !client_gone => match message.map(|m| m.map(as_frame)) {
                Some(Ok(Some(data))) => match data.first() {
                    Some(&STDIN) => {
                        if let Some(pipe) = stdin.as_mut()
                            && pipe.write_all(&data[1..]).await.is_err()
                        {
                            stdin = None;
                        }
                    }
                    Some(&CLOSE) if v5 && data.get(1) == Some(&STDIN) => stdin = None,
                    // A terminal resize: there is no terminal here.
                    Some(&RESIZE) | Some(_) | None => {}
                },
                Some(Ok(None)) | Some(Err(_)) | None => {
                    // v4 clients close the socket when they are done; the command is killed
                    // when it is dropped.
                    client_gone = true;
                    stdin = None;
                }
            },
        }
    }
    if client_gone {
        let _ = child.kill().await;
        return;
    }
    drop(stdin);
    let status = match child.wait().await {
        Ok(exit) if exit.success() => json!({"metadata": {}, "status": "Success"}),
        Ok(exit) => {
            let code = exit.code().unwrap_or(137);
            failure(
                "NonZeroExitCode",
                &format!(
                    "command terminated with non-zero exit code: error executing command {:?}, exit code {code}",
                    options.command
                ),
                Some(code),
            )
        }
        Err(e) => failure(
            "InternalError",
            &format!("error executing command in container: {e}"),
            None,
        ),
    };
    let _ = sink.send(frame(ERROR, status.to_string().as_bytes())).await;
    let _ = sink.send(normal_close()).await;
}

/// `pods/attach`.
pub(super) async fn attach(state: &Arc<ApiState>, target: &Target, request: Request) -> Response {
    match prepare_attach(state, target, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn prepare_attach(
    state: &Arc<ApiState>,
    target: &Target,
    request: Request,
) -> Result<Response, ApiError> {
    let options = ExecOptions::parse(request.uri().query().unwrap_or_default())?;
    let pod = running_pod(state, target, "attach to")?;
    let container = container_of(&pod, options.container.as_deref())?;
    if !(options.stdin || options.stdout || options.stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least one of stdin, stdout, stderr",
        ));
    }
    if let Some(why) = not_running(&pod, container) {
        return Err(ApiError::internal(format!(
            "error attaching to container: {why}"
        )));
    }
    let name = target.name.as_deref().unwrap_or_default();
    let runtime = state.runtime.clone().ok_or_else(|| {
        ApiError::internal("error attaching to container: this cluster runs no kubelets")
    })?;
    let log = LogOptions {
        container: container["name"].as_str().unwrap_or_default().to_owned(),
        follow: true,
        tail_lines: Some(0),
        timestamps: false,
        previous: false,
        since_seconds: None,
        limit_bytes: None,
    };
    let output = runtime.logs(target.namespace_or_empty(), name, &log)?;
    let Some(feed) = output.follow else {
        return Err(ApiError::internal(format!(
            "error attaching to container: container {:?} is not running",
            log.container
        )));
    };
    let (mut parts, _body) = request.into_parts();
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|_| upgrade_required())?;
    tracing::info!(pod = %name, container = %log.container, "attach");
    let wants_output = options.stdout || options.stderr;
    Ok(upgrade
        .protocols(EXEC_PROTOCOLS)
        .on_upgrade(move |socket| relay_output(socket, feed, wants_output)))
}

/// Carries the container's output over the socket until the container ends (then a Success
/// status) or the client goes.
async fn relay_output(
    socket: WebSocket,
    mut feed: mpsc::Receiver<bytes::Bytes>,
    wants_output: bool,
) {
    let (mut sink, mut incoming) = socket.split();
    loop {
        tokio::select! {
            line = feed.recv() => match line {
                Some(line) => {
                    if wants_output && sink.send(frame(STDOUT, &line)).await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            message = incoming.next() => match message {
                // Standard input and terminal resizes have nowhere to go.
                Some(Ok(Message::Binary(_) | Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            },
        }
    }
    let status = json!({"metadata": {}, "status": "Success"});
    let _ = sink.send(frame(ERROR, status.to_string().as_bytes())).await;
    let _ = sink.send(normal_close()).await;
}

/// A client's message as a channel frame (its first byte the channel); `None` when the client
/// closed. Clients send frames as binary messages, and some (the official Python client, for
/// text it writes to stdin) as text ones; pings and pongs are empty frames, ignored.
fn as_frame(message: Message) -> Option<Vec<u8>> {
    match message {
        Message::Binary(data) => Some(data.to_vec()),
        Message::Text(text) => Some(text.as_bytes().to_vec()),
        Message::Close(_) => None,
        Message::Ping(_) | Message::Pong(_) => Some(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_options_read_repeated_commands_and_go_booleans() {
        let options = ExecOptions::parse(
            "command=sh&command=-c&command=echo%20hi&container=sum&stdout=true&stderr=1&stdin=false",
        )
        .unwrap();
        assert_eq!(options.command, ["sh", "-c", "echo hi"]);
        assert_eq!(options.container.as_deref(), Some("sum"));
        assert!(options.stdout && options.stderr && !options.stdin);
    }

    #[test]
    fn the_container_is_named_or_the_only_one() {
        let pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let err = container_of(&pod, None).unwrap_err();
        assert_eq!(
            err.message,
            "a container name must be specified for pod web, choose one of: [a b]"
        );
        assert_eq!(container_of(&pod, Some("b")).unwrap()["name"], "b");
        assert_eq!(
            container_of(&pod, Some("c")).unwrap_err().message,
            "container c is not valid for pod web"
        );
        let single = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "a"}]}});
        assert_eq!(container_of(&single, None).unwrap()["name"], "a");
    }
}
