//! Container probes (httpGet, tcpSocket, exec), with the result messages a kubelet reports.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// Gates Ready.
    Readiness,
    /// Restarts the container when it fails.
    Liveness,
}

impl ProbeKind {
    /// `Readiness` / `Liveness`, as the event messages say it.
    pub fn title(self) -> &'static str {
        match self {
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Liveness => "Liveness",
        }
    }

    /// The container field holding this probe.
    pub fn field(self) -> &'static str {
        match self {
            ProbeKind::Readiness => "readinessProbe",
            ProbeKind::Liveness => "livenessProbe",
        }
    }
}

/// A container port by number or by name.
pub fn resolve_port(port: &Value, container: &Value) -> Option<u16> {
    match port {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(name) => container["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_u64())
            .and_then(|p| u16::try_from(p).ok()),
        _ => None,
    }
}

/// Runs one probe (or a preStop httpGet) against a container at `ip`. `Err` holds the reason.
pub async fn run(
    probe: &Value,
    container: &Value,
    ip: Ipv4Addr,
    env: &BTreeMap<String, String>,
) -> Result<(), String> {
    let timeout = Duration::from_secs(probe["timeoutSeconds"].as_u64().unwrap_or(1).max(1));
    if let Some(get) = probe.get("httpGet").filter(|g| g.is_object()) {
        let host = get["host"]
            .as_str()
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| ip.to_string());
        let port = resolve_port(&get["port"], container)
            .ok_or_else(|| format!("invalid port {}", get["port"]))?;
        let path = get["path"].as_str().unwrap_or("/");
        let url = format!("http://{host}:{port}{path}");
        let client: Client<HttpConnector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("invalid probe URL {url:?}: {e}"))?;
        return match tokio::time::timeout(timeout, client.get(uri)).await {
            Err(_) => Err(format!(
                "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            )),
            Ok(Err(_)) => Err(format!(
                "Get \"{url}\": dial tcp {host}:{port}: connect: connection refused"
            )),
            Ok(Ok(response)) if (200..400).contains(&response.status().as_u16()) => Ok(()),
            Ok(Ok(response)) => Err(format!(
                "HTTP probe failed with statuscode: {}",
                response.status().as_u16()
            )),
        };
    }
    if let Some(socket) = probe.get("tcpSocket").filter(|s| s.is_object()) {
        let port = resolve_port(&socket["port"], container)
            .ok_or_else(|| format!("invalid port {}", socket["port"]))?;
        return match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((ip, port))).await
        {
            Ok(Ok(_)) => Ok(()),
            Err(_) => Err(format!("dial tcp {ip}:{port}: i/o timeout")),
            Ok(Err(_)) => Err(format!("dial tcp {ip}:{port}: connect: connection refused")),
        };
    }
    if let Some(command) = probe["exec"]["command"].as_array() {
        // There is no container filesystem here: the command runs on this machine, with the
        // container's environment.
        let words: Vec<&str> = command.iter().filter_map(Value::as_str).collect();
        let Some((program, args)) = words.split_first() else {
            return Err("exec probe has no command".into());
        };
        let output = tokio::process::Command::new(program)
            .args(args)
            .env_clear()
            .envs(env)
            .kill_on_drop(true)
            .output();
        return match tokio::time::timeout(timeout, output).await {
            Err(_) => Err(format!("command {words:?} timed out")),
            Ok(Err(e)) => Err(format!("command {words:?} could not start: {e}")),
            Ok(Ok(out)) if out.status.success() => Ok(()),
            Ok(Ok(out)) => Err(format!(
                "command {words:?} exited with {}",
                out.status.code().unwrap_or(-1)
            )),
        };
    }
    Ok(())
}
