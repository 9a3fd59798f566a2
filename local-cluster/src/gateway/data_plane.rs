//! The gateway's data plane: one HTTP listener per `(address, port)`, each reading its current
//! routes per request (a route change swaps them in place, so no connection is dropped). A
//! connection's requests cross by the byte relay (`relay`) until one needs the full HTTP server
//! here (hyper, with a pooled client for mirrors), which then carries the rest.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::{JoinHandle, JoinSet};

use super::decide::{Asked, Decision, decide};
use super::http1::HOP_BY_HOP;
use super::relay::{Ended, Relay};
use super::routing::{HeaderEdit, PortRoutes};

/// The largest request body kept in memory to be mirrored; a larger one is refused (413).
const MIRRORED_BODY_LIMIT: usize = 16 * 1024 * 1024;

type Routes = Arc<RwLock<Arc<PortRoutes>>>;

struct Port {
    routes: Routes,
    task: JoinHandle<()>,
}

/// Every listening port of every Gateway.
pub struct DataPlane {
    ports: Mutex<HashMap<SocketAddr, Port>>,
    client: Client<HttpConnector, Body>,
}

impl Default for DataPlane {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        DataPlane {
            ports: Mutex::new(HashMap::new()),
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }
}

impl DataPlane {
    /// Serves `wanted` from now on: new ports are opened, the routes of open ones swapped, the
    /// rest closed. Returns the addresses that could not be listened on, with why.
    pub fn apply(&self, wanted: BTreeMap<SocketAddr, PortRoutes>) -> HashMap<SocketAddr, String> {
        let mut errors = HashMap::new();
        let mut ports = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        ports.retain(|address, port| {
            let keep = wanted.contains_key(address);
            if !keep {
                port.task.abort();
            }
            keep
        });
        for (address, routes) in wanted {
            let routes = Arc::new(routes);
            if let Some(port) = ports.get(&address) {
                *port.routes.write().unwrap_or_else(|e| e.into_inner()) = routes;
                continue;
            }
            match listen(address) {
                Ok(listener) => {
                    let shared: Routes = Arc::new(RwLock::new(routes));
                    let task = tokio::spawn(serve(listener, shared.clone(), self.client.clone()));
                    tracing::info!(%address, "gateway listener open");
                    ports.insert(
                        address,
                        Port {
                            routes: shared,
                            task,
                        },
                    );
                }
                Err(e) => {
                    let why = if e.kind() == std::io::ErrorKind::PermissionDenied {
                        format!(
                            "cannot listen on {address}: {e} (ports below 1024 need root, or a lower net.ipv4.ip_unprivileged_port_start)"
                        )
                    } else {
                        format!("cannot listen on {address}: {e}")
                    };
                    tracing::warn!(%address, error = %e, "gateway listener not opened");
                    errors.insert(address, why);
                }
            }
        }
        errors
    }

    /// The addresses listened on now.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Closes every listener and its connections.
    pub fn shutdown(&self) {
        for (_, port) in self.ports.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            port.task.abort();
        }
    }
}

fn listen(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(listener)
}

/// Accepts connections until aborted; the connections end with it.
async fn serve(
    listener: tokio::net::TcpListener,
    routes: Routes,
    client: Client<HttpConnector, Body>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (routes, client) = (routes.clone(), client.clone());
                connections.spawn(async move {
                    // Most requests cross by the relay; what it does not carry goes to the
                    // full HTTP server below, with the bytes the relay already read.
                    let relay = Relay::new(stream, peer).run(|| {
                        routes.read().unwrap_or_else(|e| e.into_inner()).clone()
                    });
                    let (stream, read) = match relay.await {
                        Ended::Closed => return,
                        Ended::HandOver(stream, read) => (stream, read),
                    };
                    // This connection's own connections to backends, reused request after
                    // request (its requests come one at a time).
                    let upstreams = Arc::new(Upstreams {
                        idle: Mutex::default(),
                        forwarded_for: HeaderValue::try_from(peer.ip().to_string()).ok(),
                    });
                    let service = hyper::service::service_fn(move |request| {
                        let (routes, client, upstreams) =
                            (routes.clone(), client.clone(), upstreams.clone());
                        async move {
                            Ok::<_, Infallible>(handle(request, &routes, &client, &upstreams).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .writev(false)
                        .serve_connection(TokioIo::new(Rewound::new(stream, read.freeze())), service)
                        .await;
                });
            }
            // Finished connections are reaped so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A connection whose first bytes were already read: they are read again first.
struct Rewound {
    read: bytes::Bytes,
    stream: tokio::net::TcpStream,
}

impl Rewound {
    fn new(stream: tokio::net::TcpStream, read: bytes::Bytes) -> Rewound {
        Rewound { read, stream }
    }
}

impl AsyncRead for Rewound {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.read.is_empty() {
            let n = self.read.len().min(buf.remaining());
            buf.put_slice(&self.read.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewound {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// One client connection's idle connections to backends, by address.
struct Upstreams {
    idle: Mutex<Vec<(SocketAddr, hyper::client::conn::http1::SendRequest<Body>)>>,
    /// The client's address, as `x-forwarded-for` carries it.
    forwarded_for: Option<HeaderValue>,
}

impl Upstreams {
    fn take(&self, address: SocketAddr) -> Option<hyper::client::conn::http1::SendRequest<Body>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let at = idle.iter().position(|(a, _)| *a == address)?;
        Some(idle.swap_remove(at).1)
    }

    fn put(&self, address: SocketAddr, sender: hyper::client::conn::http1::SendRequest<Body>) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((address, sender));
    }

    async fn connect(
        address: SocketAddr,
    ) -> Result<hyper::client::conn::http1::SendRequest<Body>, String> {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends `request` to `address` over this connection's idle connection to it, or a new one.
    /// A reused connection that turns out closed before the request went out is replaced once
    /// (the backend may close an idle connection at any time).
    async fn send(
        &self,
        address: SocketAddr,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, String> {
        let mut reused = false;
        let mut cached = self.take(address);
        if let Some(sender) = &mut cached
            && sender.ready().await.is_err()
        {
            cached = None;
        }
        let mut sender = match cached {
            Some(sender) => {
                reused = true;
                sender
            }
            None => Self::connect(address).await?,
        };
        let response = match sender.try_send_request(request).await {
            Ok(response) => response,
            // A reused connection the backend had closed: the request was not sent, and goes
            // on a new connection.
            Err(mut failed) if reused => match failed.take_message() {
                Some(request) => {
                    sender = Self::connect(address).await?;
                    sender
                        .send_request(request)
                        .await
                        .map_err(|e| e.to_string())?
                }
                None => return Err(failed.error().to_string()),
            },
            Err(failed) => return Err(failed.error().to_string()),
        };
        self.put(address, sender);
        Ok(response)
    }
}

fn plain(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut response = Response::new(Body::from(format!("{}\n", message.into())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn edit_headers(headers: &mut HeaderMap, edit: &HeaderEdit) {
    for (name, value) in &edit.set {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.insert(n, v);
        }
    }
    for (name, value) in &edit.add {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.append(n, v);
        }
    }
    for name in &edit.remove {
        headers.remove(name.as_str());
    }
}

async fn handle(
    request: Request<Incoming>,
    routes: &Routes,
    client: &Client<HttpConnector, Body>,
    upstreams: &Upstreams,
) -> Response<Body> {
    let table = routes.read().unwrap_or_else(|e| e.into_inner()).clone();
    let (mut parts, body) = request.into_parts();
    let uri = parts.uri.clone();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.host())
        .unwrap_or_default();
    let header_lookup = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let decision = decide(
        &table,
        &Asked {
            method: parts.method.as_str(),
            host,
            path: uri.path(),
            query: uri.query(),
            headers: &header_lookup,
        },
    );
    let forward = match decision {
        Decision::Answer { status, message } => {
            return plain(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                message,
            );
        }
        Decision::Redirect { status, location } => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            if let Ok(value) = HeaderValue::try_from(location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            return response;
        }
        Decision::Forward(forward) => forward,
    };
    let target = forward.target;
    for edit in &forward.request_edits {
        edit_headers(&mut parts.headers, edit);
    }
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    if let Some(h) = &forward.hostname
        && let Ok(value) = HeaderValue::try_from(h.as_str())
    {
        parts.headers.insert(header::HOST, value);
    }
    if let Some(value) = &upstreams.forwarded_for {
        parts.headers.append("x-forwarded-for", value.clone());
    }
    parts
        .headers
        .insert("x-forwarded-proto", HeaderValue::from_static("http"));
    // A client connection speaks to the backend in origin form (`/path?query`).
    let forwarded: Uri = match (&forward.path, uri.path_and_query()) {
        // Unchanged: the request's own.
        (None, Some(unchanged)) => Uri::from(unchanged.clone()),
        _ => match forward.path_and_query(uri.path(), uri.query()).parse() {
            Ok(uri) => uri,
            Err(e) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    format!("invalid request path: {e}"),
                );
            }
        },
    };
    let path_and_query = forwarded.path_and_query().map_or("/", |p| p.as_str());
    parts.version = axum::http::Version::HTTP_11;
    let body = if forward.mirrors.is_empty() {
        Body::new(body)
    } else {
        // A mirror gets its own copy: the body is read once, whole.
        let bytes = match http_body_util::Limited::new(body, MIRRORED_BODY_LIMIT)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large to mirror",
                );
            }
        };
        for mirror in &forward.mirrors {
            let Some(address) = mirror.next_address() else {
                continue;
            };
            let Ok(uri) = format!("http://{address}{path_and_query}").parse::<Uri>() else {
                continue;
            };
            let mut copy = Request::new(Body::from(bytes.clone()));
            *copy.method_mut() = parts.method.clone();
            *copy.uri_mut() = uri;
            *copy.headers_mut() = parts.headers.clone();
            let client = client.clone();
            // Off the request's path: its answer (or failure) is ignored.
            tokio::spawn(async move {
                if let Ok(response) = client.request(copy).await {
                    let _ = response.into_body().collect().await;
                }
            });
        }
        Body::from(bytes)
    };
    parts.uri = forwarded.clone();
    if !parts.headers.contains_key(header::HOST)
        && let Ok(value) = HeaderValue::try_from(target.to_string())
    {
        parts.headers.insert(header::HOST, value);
    }
    let sent = upstreams.send(target, Request::from_parts(parts, body));
    let answered = match forward.timeout {
        Some(limit) => match tokio::time::timeout(limit, sent).await {
            Ok(answered) => answered,
            Err(_) => return plain(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout"),
        },
        None => sent.await,
    };
    match answered {
        Ok(response) => {
            let (mut parts, incoming) = response.into_parts();
            for h in HOP_BY_HOP {
                parts.headers.remove(*h);
            }
            for edit in &forward.response_edits {
                edit_headers(&mut parts.headers, edit);
            }
            Response::from_parts(parts, Body::new(incoming))
        }
        Err(why) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("upstream connect error or disconnect/reset before headers: {target}: {why}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_edits_set_add_and_remove() {
        let mut headers = HeaderMap::new();
        headers.insert("x-lane", HeaderValue::from_static("windows"));
        headers.insert("x-debug", HeaderValue::from_static("1"));
        headers.insert("x-keep", HeaderValue::from_static("a"));
        edit_headers(
            &mut headers,
            &HeaderEdit {
                set: vec![("X-Lane".into(), "linux".into())],
                add: vec![("x-keep".into(), "b".into()), ("x-new".into(), "n".into())],
                remove: vec!["x-debug".into()],
            },
        );
        assert_eq!(headers["x-lane"], "linux");
        let kept: Vec<&str> = headers
            .get_all("x-keep")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(kept, ["a", "b"]);
        assert_eq!(headers["x-new"], "n");
        assert!(headers.get("x-debug").is_none());
    }
}
