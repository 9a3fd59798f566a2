//! GETs through the API server (a service proxy path, say), reading the whole answer whatever
//! its status: the calculator panel, verification and probes show what the application said.

use bytes::Bytes;
use http_body_util::BodyExt;

/// Why a GET through the API server has no answer to read.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The request cannot be made (the path is not a URI).
    #[error("{0}")]
    Request(#[from] http::Error),
    /// Nothing answered: the API server is not reachable, or the connection broke.
    #[error("{0}")]
    NoAnswer(#[from] kube::Error),
    /// An answer began but its body could not be read.
    #[error("{0}")]
    Body(String),
}

/// Reads a whole response, whichever client it came from: its status and body.
pub async fn read_whole<B>(response: http::Response<B>) -> Result<(u16, Bytes), ProxyError>
where
    B: hyper::body::Body,
    B::Error: std::fmt::Display,
{
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| ProxyError::Body(e.to_string()))?
        .to_bytes();
    Ok((status, body))
}

/// GETs `path` from the API server (a service proxy path, say): the status and the body,
/// whatever the status.
pub async fn proxy_get(client: &kube::Client, path: &str) -> Result<(u16, Bytes), ProxyError> {
    let request = http::Request::get(path).body(Vec::new())?;
    let response = client.send(request.map(kube::client::Body::from)).await?;
    read_whole(response).await
}
