//! GETs through the API server (a service proxy path, say), reading the whole answer whatever
//! its status: the calculator panel, verification and probes show what the application said.

use bytes::Bytes;
use http_body_util::BodyExt;

/// Reads a whole response, whichever client it came from: its status and body.
pub async fn read_whole<B>(response: http::Response<B>) -> Result<(u16, Bytes), String>
where
    B: hyper::body::Body,
    B::Error: std::fmt::Display,
{
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}

/// GETs `path` from the API server (a service proxy path, say): the status and the body,
/// whatever the status.
pub async fn proxy_get(client: &kube::Client, path: &str) -> Result<(u16, Bytes), String> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .map_err(|e| e.to_string())?;
    read_whole(response).await
}
