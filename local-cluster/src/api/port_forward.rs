//! `pods/portforward` over WebSocket.
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
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::channels::*;
use super::spdy;
use super::{ApiState, Request, Target};
use crate::errors::ApiError;
use crate::kubelet::exec::not_running;

const PORT_FORWARD_PROTOCOL: &str = "v4.channel.k8s.io";

/// What a client asking for SPDY without a WebSocket (kubectl before 1.31) is told.
const SPDY_PORT_FORWARD: &str = "port-forward over a bare SPDY upgrade is not served by the local cluster: use kubectl 1.31 or later (SPDY tunneled in a WebSocket), kube-rs or the Python client (v4.channel.k8s.io)";

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
            let stream = match dial_pod(address, port).await {
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
