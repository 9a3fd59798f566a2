//! Service networking: a TCP proxy on every Service's ClusterIP:port and on each node's
//! InternalIP:nodePort, forwarding round-robin to ready endpoints (connection-level balancing,
//! like kube-proxy); and the API server's `proxy` and `log` subresources.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::api::{ProxyTarget, Runtime};
use crate::controllers::follow;
use crate::errors::ApiError;
use crate::gateway::http1::HOP_BY_HOP;
use crate::kubelet::LogStore;
use crate::kubelet::{LogOptions, LogOutput};
use crate::registry::Registry;
use crate::resources;
use crate::store::EventKind;

/// Ready endpoint addresses of a Service for one of its ports.
pub(crate) fn ready_endpoints(
    registry: &Registry,
    namespace: &str,
    service: &str,
    port: &Value,
) -> Vec<SocketAddr> {
    let Some(endpoints) = registry
        .store
        .get(resources::endpoints(), namespace, service)
    else {
        return Vec::new();
    };
    let endpoints = endpoints.value();
    let wanted_name = port["name"].as_str().unwrap_or_default();
    let mut out = Vec::new();
    for subset in endpoints["subsets"].as_array().into_iter().flatten() {
        let ports = subset["ports"].as_array().cloned().unwrap_or_default();
        let target = ports
            .iter()
            .find(|p| p["name"].as_str().unwrap_or_default() == wanted_name)
            .or(ports.first())
            .and_then(|p| p["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok());
        let Some(target) = target else { continue };
        for address in subset["addresses"].as_array().into_iter().flatten() {
            if let Some(ip) = address["ip"]
                .as_str()
                .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
            {
                out.push(SocketAddr::from((ip, target)));
            }
        }
    }
    out
}

/// The spec a Service's listeners were opened for, and their tasks.
type Listeners = (Value, Vec<JoinHandle<()>>);

/// The TCP listeners of every Service.
pub struct ServiceNetwork {
    registry: Arc<Registry>,
    node_ips: Mutex<Vec<Ipv4Addr>>,
    listeners: Mutex<HashMap<(String, String), Listeners>>,
    next: Arc<AtomicUsize>,
}

impl ServiceNetwork {
    /// Starts following Services.
    pub fn start(
        registry: Arc<Registry>,
        node_ips: Vec<Ipv4Addr>,
    ) -> (Arc<ServiceNetwork>, JoinHandle<()>) {
        let network = Arc::new(ServiceNetwork {
            registry: registry.clone(),
            node_ips: Mutex::new(node_ips),
            listeners: Mutex::new(HashMap::new()),
            next: Arc::new(AtomicUsize::new(0)),
        });
        let follower = network.clone();
        let task = follow(
            registry.store.clone(),
            resources::services(),
            move |change| {
                let key = (
                    change.object.index.namespace.clone(),
                    change.object.index.name.clone(),
                );
                if change.kind == EventKind::Deleted {
                    follower.close(&key);
                } else {
                    follower.open(key, change.object.value());
                }
            },
        );
        (network, task)
    }

    fn close(&self, key: &(String, String)) {
        if let Some((_, tasks)) = self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key)
        {
            for t in tasks {
                t.abort();
            }
        }
    }

    fn open(&self, key: (String, String), service: Value) {
        // What the listeners depend on: the addresses and ports. A selector switch (a frontend
        // moved) changes only where connections go, which is read per connection; reopening
        // for it raced the old listeners' teardown and left a NodePort unserved.
        let spec = json!({
            "clusterIP": service["spec"]["clusterIP"],
            "ports": service["spec"]["ports"],
        });
        {
            let listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
            if listeners.get(&key).is_some_and(|(old, _)| *old == spec) {
                return;
            }
        }
        self.close(&key);
        let mut tasks = Vec::new();
        let cluster_ip = spec["clusterIP"]
            .as_str()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
        for port in spec["ports"].as_array().cloned().unwrap_or_default() {
            let mut addresses = Vec::new();
            if let (Some(ip), Some(p)) = (
                cluster_ip,
                port["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
            ) {
                addresses.push(SocketAddr::from((ip, p)));
            }
            if let Some(node_port) = port["nodePort"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
            {
                addresses.extend(
                    self.node_ips
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .iter()
                        .map(|ip| SocketAddr::from((*ip, node_port))),
                );
            }
            for address in addresses {
                tasks.push(tokio::spawn(serve(
                    self.registry.clone(),
                    key.clone(),
                    port.clone(),
                    address,
                    self.next.clone(),
                )));
            }
        }
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (spec, tasks));
    }

    /// A node joined or left: NodePorts open on the nodes there are now.
    pub fn set_node(&self, ip: Ipv4Addr, present: bool) {
        {
            let mut ips = self.node_ips.lock().unwrap_or_else(|e| e.into_inner());
            ips.retain(|i| *i != ip);
            if present {
                ips.push(ip);
            }
        }
        let with_node_ports: Vec<((String, String), Value)> = self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, (spec, _))| {
                spec["ports"]
                    .as_array()
                    .is_some_and(|ports| ports.iter().any(|p| p["nodePort"].is_u64()))
            })
            .map(|(key, (spec, _))| (key.clone(), json!({"spec": spec})))
            .collect();
        for (key, service) in with_node_ports {
            self.close(&key);
            self.open(key, service);
        }
    }

    /// Closes every listener.
    pub fn shutdown(&self) {
        let keys: Vec<(String, String)> = self
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for key in keys {
            self.close(&key);
        }
    }
}

async fn serve(
    registry: Arc<Registry>,
    (namespace, name): (String, String),
    port: Value,
    address: SocketAddr,
    next: Arc<AtomicUsize>,
) {
    // A listener just closed for this address is dropped when its task is next polled: give
    // it a moment before calling the address taken.
    let mut attempts = 0;
    let listener = loop {
        match TcpListener::bind(address).await {
            Ok(l) => break l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts < 40 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => {
                tracing::warn!(%address, service = %name, error = %e, "cannot listen for the service");
                return;
            }
        }
    };
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        let registry = registry.clone();
        let (namespace, name, port, next) =
            (namespace.clone(), name.clone(), port.clone(), next.clone());
        tokio::spawn(async move {
            let _ = inbound.set_nodelay(true);
            let targets = ready_endpoints(&registry, &namespace, &name, &port);
            if targets.is_empty() {
                return;
            }
            let start = next.fetch_add(1, Ordering::Relaxed);
            for i in 0..targets.len() {
                let target = targets[(start + i) % targets.len()];
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = outbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    return;
                }
            }
        });
    }
}

/// Logs from the kubelets and HTTP forwarding to Services and pods, for the API server.
pub struct ClusterRuntime {
    registry: Arc<Registry>,
    logs: LogStore,
    processes: crate::kubelet::ProcessTable,
    client: Client<HttpConnector, Body>,
    next: AtomicUsize,
}

impl ClusterRuntime {
    /// A runtime reading `logs`, the usage of `processes` and objects from `registry`.
    pub fn new(
        registry: Arc<Registry>,
        logs: LogStore,
        processes: crate::kubelet::ProcessTable,
    ) -> ClusterRuntime {
        ClusterRuntime {
            registry,
            logs,
            processes,
            client: Client::builder(TokioExecutor::new()).build_http(),
            next: AtomicUsize::new(0),
        }
    }

    fn resolve(&self, target: &ProxyTarget) -> Result<SocketAddr, ApiError> {
        match target {
            ProxyTarget::Service {
                namespace,
                name,
                port,
            } => {
                let service = self
                    .registry
                    .get_value(resources::services(), namespace, name)?;
                let ports = service["spec"]["ports"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let chosen = match port {
                    None => ports.first().cloned(),
                    Some(p) => ports
                        .iter()
                        .find(|sp| {
                            sp["name"].as_str() == Some(p.as_str())
                                || sp["port"].as_u64().is_some_and(|n| n.to_string() == *p)
                        })
                        .cloned(),
                }
                .ok_or_else(|| {
                    ApiError::unavailable(format!(
                        "no service port {:?} found for service \"{name}\"",
                        port.clone().unwrap_or_default()
                    ))
                })?;
                let targets = ready_endpoints(&self.registry, namespace, name, &chosen);
                if targets.is_empty() {
                    return Err(ApiError::unavailable(format!(
                        "no endpoints available for service \"{name}\""
                    )));
                }
                Ok(targets[self.next.fetch_add(1, Ordering::Relaxed) % targets.len()])
            }
            ProxyTarget::Pod {
                namespace,
                name,
                port,
            } => {
                let pod = self
                    .registry
                    .get_value(resources::pods(), namespace, name)?;
                let ip: Ipv4Addr = pod["status"]["podIP"]
                    .as_str()
                    .and_then(|ip| ip.parse().ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("pod {name} does not have a host assigned"))
                    })?;
                let containers = pod["spec"]["containers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let number = match port {
                    Some(p) => p.parse::<u16>().ok().or_else(|| {
                        containers
                            .iter()
                            .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                            .find(|cp| cp["name"].as_str() == Some(p.as_str()))
                            .and_then(|cp| cp["containerPort"].as_u64())
                            .and_then(|n| u16::try_from(n).ok())
                    }),
                    None => Some(80),
                }
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "invalid port {:?} for pod {name}",
                        port.clone().unwrap_or_default()
                    ))
                })?;
                Ok(SocketAddr::from((ip, number)))
            }
        }
    }
}

impl Runtime for ClusterRuntime {
    fn usage(&self, namespace: &str, pod: &str, container: &str) -> Option<crate::kubelet::Usage> {
        self.processes.usage(namespace, pod, container)
    }
    fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> Result<LogOutput, ApiError> {
        let object = self.registry.get_value(resources::pods(), namespace, pod)?;
        let waiting = object["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == options.container.as_str())
            .and_then(|s| s["state"]["waiting"]["reason"].as_str())
            .map(str::to_owned);
        self.logs.read(namespace, pod, options, waiting.as_deref())
    }

    fn proxy(
        &self,
        target: ProxyTarget,
        path: String,
        request: Request,
    ) -> BoxFuture<'static, Response> {
        let resolved = self.resolve(&target);
        let client = self.client.clone();
        Box::pin(async move {
            let address = match resolved {
                Ok(a) => a,
                Err(e) => return e.into_response(),
            };
            let (mut parts, body) = request.into_parts();
            let query = parts
                .uri
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let uri = format!("http://{address}{path}{query}");
            parts.uri = match uri.parse() {
                Ok(u) => u,
                Err(e) => {
                    return ApiError::bad_request(format!("invalid proxy path: {e}"))
                        .into_response();
                }
            };
            parts.headers.remove(header::AUTHORIZATION);
            parts.headers.remove(header::HOST);
            for h in HOP_BY_HOP {
                parts.headers.remove(HeaderName::from_static(h));
            }
            parts.version = axum::http::Version::HTTP_11;
            match client.request(Request::from_parts(parts, body)).await {
                Ok(response) => {
                    let (mut parts, incoming) = response.into_parts();
                    for h in HOP_BY_HOP {
                        parts.headers.remove(HeaderName::from_static(h));
                    }
                    Response::from_parts(parts, Body::new(incoming))
                }
                Err(_) => ApiError {
                    code: StatusCode::SERVICE_UNAVAILABLE.as_u16(),
                    reason: "ServiceUnavailable",
                    message: format!("error trying to reach service: dial tcp {address}: connect: connection refused"),
                    details: None,
                }
                .into_response(),
            }
        })
    }
}
