//! What exec, attach and port-forward share: the channels of the remote command protocol, the
//! frames and closes on a WebSocket, the Status sent when a stream cannot go on, the running pod
//! (and container) a stream is for, and the connection to a pod's port.

use axum::extract::ws::Message;
use serde_json::{Value, json};

use super::{ApiState, Target};
use crate::errors::ApiError;
use crate::resources;

/// Channels of the remote command protocol.
pub(super) const STDIN: u8 = 0;

pub(super) const STDOUT: u8 = 1;

pub(super) const STDERR: u8 = 2;

pub(super) const ERROR: u8 = 3;

pub(super) const RESIZE: u8 = 4;

/// v5: `[CLOSE, channel]` says the sender will write no more on that channel.
pub(super) const CLOSE: u8 = 255;

/// The container of `pod` a request names, checked as the API server checks it before it
/// reaches the kubelet; `None` names the pod's only (or default) container.
pub(super) fn container_of<'a>(pod: &'a Value, name: Option<&str>) -> Result<&'a Value, ApiError> {
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
pub(super) fn running_pod(
    state: &ApiState,
    target: &Target,
    verb: &str,
) -> Result<Value, ApiError> {
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

pub(super) fn upgrade_required() -> ApiError {
    ApiError::bad_request(
        "Upgrade request required: this server takes exec and port-forward over WebSocket (v5.channel.k8s.io or v4.channel.k8s.io)",
    )
}

pub(super) fn failure(reason: &str, message: &str, exit_code: Option<i32>) -> Value {
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
pub(super) fn normal_close() -> Message {
    Message::Close(Some(axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: "".into(),
    }))
}

pub(super) fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(bytes.into())
}

/// How long a refused connection to a pod's port is tried again. A real container's server
/// (nginx, say) listens within milliseconds of its start, before the kubelet's next relist
/// reports the pod Running; here a container is a process that reports Running as it is
/// spawned and may take longer than that to listen on a loaded machine, so a client
/// port-forwarding the moment it sees Running (the Python client's own e2e test does) found
/// the port refused. A port that stays closed is still reported, this much later.
const LISTEN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Connects to the pod's `port` for either port-forward protocol, trying a refused connection again for [`LISTEN_GRACE`].
pub async fn dial_pod(
    address: std::net::IpAddr,
    port: u16,
) -> std::io::Result<tokio::net::TcpStream> {
    let deadline = tokio::time::Instant::now() + LISTEN_GRACE;
    loop {
        match tokio::net::TcpStream::connect((address, port)).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            done => return done,
        }
    }
}
