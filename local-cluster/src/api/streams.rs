//! `pods/exec`, `pods/attach` and `pods/portforward` over WebSocket, the way kubectl (1.31 and
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
//! Port-forward speaks `v4.channel.k8s.io` (kube-rs, the Python client): for the i-th requested
//! port, channel 2i carries data and 2i+1 errors, and each channel's first message is the port
//! number, little-endian. Each WebSocket is one connection to the pod's own address. kubectl's
//! port-forward tunnels SPDY inside the WebSocket: see [`spdy`].

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::spdy;
use super::{ApiState, Request, Target};
use crate::errors::ApiError;
use crate::kubelet::LogOptions;
use crate::kubelet::{self, exec::not_running};
use crate::resources;

/// Channels of the remote command protocol.
const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
/// v5: `[CLOSE, channel]` says the sender will write no more on that channel.
const CLOSE: u8 = 255;

const EXEC_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
const PORT_FORWARD_PROTOCOL: &str = "v4.channel.k8s.io";

/// What a client asking for SPDY without a WebSocket (kubectl before 1.31) is told.
const SPDY_PORT_FORWARD: &str = "port-forward over a bare SPDY upgrade is not served by the local cluster: use kubectl 1.31 or later (SPDY tunneled in a WebSocket), kube-rs or the Python client (v4.channel.k8s.io)";

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

/// The container of `pod` a request names, checked as the API server checks it before it
/// reaches the kubelet; `None` names the pod's only (or default) container.
fn container_of<'a>(pod: &'a Value, name: Option<&str>) -> Result<&'a Value, ApiError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let containers: Vec<&Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let wanted = match name {
        Some(n) => n.to_owned(),
        None => match pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"]
            .as_str()
        {
            Some(default) => default.to_owned(),
            None if names.len() == 1 => names[0].to_owned(),
            None => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    names.join(" ")
                )));
            }
        },
    };
    containers
        .into_iter()
        .find(|c| c["name"] == wanted.as_str())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "container {wanted} is not valid for pod {pod_name}"
            ))
        })
}

/// The pod, checked for a node and a phase that can take a stream.
fn running_pod(state: &ApiState, target: &Target, verb: &str) -> Result<Value, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
    let pod = state
        .registry
        .get_value(resources::pods(), target.namespace_or_empty(), name)?;
    if pod["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    if let Some(phase @ ("Succeeded" | "Failed")) = pod["status"]["phase"].as_str() {
        return Err(ApiError::bad_request(format!(
            "cannot {verb} a container in a completed pod; current phase is {phase}"
        )));
    }
    Ok(pod)
}

fn upgrade_required() -> ApiError {
    ApiError::bad_request(
        "Upgrade request required: this server takes exec and port-forward over WebSocket (v5.channel.k8s.io or v4.channel.k8s.io)",
    )
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
            message = incoming.next(), if !client_gone => match message {
                Some(Ok(Message::Binary(data))) => match data.first() {
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
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    // v4 clients close the socket when they are done; the command is killed
                    // when it is dropped.
                    client_gone = true;
                    stdin = None;
                }
                Some(Ok(_)) => {}
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

fn failure(reason: &str, message: &str, exit_code: Option<i32>) -> Value {
    let mut status = json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    });
    if let Some(code) = exit_code {
        status["details"] =
            json!({"causes": [{"reason": "ExitCode", "message": code.to_string()}]});
    }
    status
}

/// A close with status 1000: a bare close reads as 1005 ("no status"), which client-go reports
/// as an error after an otherwise clean command.
fn normal_close() -> Message {
    Message::Close(Some(axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: "".into(),
    }))
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(bytes.into())
}

/// `pods/portforward`.
pub(super) async fn port_forward(
    state: &Arc<ApiState>,
    target: &Target,
    request: Request,
) -> Response {
    match prepare_port_forward(state, target, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn prepare_port_forward(
    state: &Arc<ApiState>,
    target: &Target,
    request: Request,
) -> Result<Response, ApiError> {
    let tunneled = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.contains(spdy::TUNNELED_PORT_FORWARD))
        });
    let bare_spdy = request
        .headers()
        .get_all("upgrade")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("SPDY/3.1")));
    if bare_spdy {
        return Err(ApiError::bad_request(SPDY_PORT_FORWARD));
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(request.uri().query().unwrap_or_default())
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let mut ports = Vec::new();
    for (key, value) in pairs {
        if key == "ports" {
            for port in value.split(',') {
                let number: u16 = port.trim().parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                    ApiError::bad_request(format!("invalid port value \"{port}\""))
                })?;
                ports.push(number);
            }
        }
    }
    // SPDY names its ports in each stream's headers.
    if ports.is_empty() && !tunneled {
        return Err(ApiError::bad_request("at least one port must be specified"));
    }
    let pod = running_pod(state, target, "port-forward to")?;
    let containers: Vec<&Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    // A pod's ports belong to whichever of its containers listens; one real process is enough.
    let why_not = containers
        .iter()
        .map(|c| not_running(&pod, c))
        .collect::<Option<Vec<String>>>();
    if let Some(reasons) = why_not {
        return Err(ApiError::internal(format!(
            "error forwarding port to pod: {}",
            reasons.join("; ")
        )));
    }
    let address: std::net::IpAddr = pod["status"]["podIP"]
        .as_str()
        .and_then(|ip| ip.parse().ok())
        .ok_or_else(|| ApiError::internal("the pod has no address yet"))?;
    let (mut parts, _body) = request.into_parts();
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|_| upgrade_required())?;
    if tunneled {
        return Ok(upgrade
            .protocols([spdy::TUNNELED_PORT_FORWARD])
            .on_upgrade(move |socket| spdy::serve(socket, address)));
    }
    Ok(upgrade
        .protocols([PORT_FORWARD_PROTOCOL])
        .on_upgrade(move |socket| forward(socket, address, ports)))
}

/// Carries each requested port over its pair of channels until either side closes.
async fn forward(socket: WebSocket, address: std::net::IpAddr, ports: Vec<u16>) {
    let (mut sink, mut incoming) = socket.split();
    // Each channel announces its port first, as the kubelet does.
    for (i, port) in ports.iter().enumerate() {
        for channel in [2 * i, 2 * i + 1] {
            let message = frame(channel as u8, &port.to_le_bytes());
            if sink.send(message).await.is_err() {
                return;
            }
        }
    }
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(16);
    let mut writers = Vec::new();
    for (i, port) in ports.iter().copied().enumerate() {
        let data_channel = (2 * i) as u8;
        let error_channel = data_channel + 1;
        let tx = out_tx.clone();
        let (to_pod, mut from_client) = mpsc::channel::<Vec<u8>>(16);
        writers.push(to_pod);
        tokio::spawn(async move {
            let stream = match tokio::net::TcpStream::connect((address, port)).await {
                Ok(s) => s,
                Err(e) => {
                    let text = format!(
                        "error forwarding port {port} to pod, uid : failed to connect to {address}:{port}: {e}"
                    );
                    let _ = tx.send(frame(error_channel, text.as_bytes())).await;
                    return;
                }
            };
            let (mut read, mut write) = stream.into_split();
            let upstream = async move {
                while let Some(data) = from_client.recv().await {
                    if write.write_all(&data).await.is_err() {
                        break;
                    }
                }
                let _ = write.shutdown().await;
            };
            // The pod closing its side ends the stream: dropping `tx` with it lets the socket
            // close once every port is done, which is how the client sees the end.
            let downstream = async move {
                let mut buffer = vec![0u8; 32 * 1024];
                while let Ok(n) = read.read(&mut buffer).await {
                    if n == 0 || tx.send(frame(data_channel, &buffer[..n])).await.is_err() {
                        break;
                    }
                }
            };
            tokio::join!(upstream, downstream);
        });
    }
    drop(out_tx);
    loop {
        tokio::select! {
            message = out_rx.recv() => match message {
                Some(message) => {
                    if sink.send(message).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            message = incoming.next() => match message {
                Some(Ok(Message::Binary(data))) => {
                    let Some((&channel, payload)) = data.split_first() else { continue };
                    if channel % 2 == 0
                        && let Some(writer) = writers.get(usize::from(channel / 2))
                        && !payload.is_empty()
                        && writer.send(payload.to_vec()).await.is_err()
                    {
                        continue;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = sink.send(normal_close()).await;
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
