//! Calls an extracted operation service over HTTP, the way a frontend forwards to it.
//!
//! Calls go over HTTP/2 without TLS (h2c, prior knowledge): every calculator service speaks it,
//! and one multiplexed connection per service carries all concurrent fan-out calls, which costs
//! far fewer system calls than a pool of HTTP/1.1 connections (see BENCHMARKS.md).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::api::{ErrorBody, ExactNumber, OperationAnswer};
use crate::discovery::ServiceResolver;
use crate::error::CalcError;
use crate::operation::Operation;
use crate::routing::ServiceUrl;

/// What an operation service answered: its own result or its own error, both with its status.
#[derive(Debug)]
pub enum ServiceReply {
    /// `200` with the answer.
    Answer(OperationAnswer),
    /// A calculator error the service itself reported (e.g. `422 division_by_zero`).
    Error {
        /// The HTTP status the service answered with.
        status: u16,
        /// Its error body.
        body: ErrorBody,
    },
}

/// An HTTP/2 client with connection reuse and a per-call timeout.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    http: Client<HttpConnector<ServiceResolver>, Empty<Bytes>>,
    timeout: Duration,
}

impl ServiceClient {
    /// A client whose every call gives up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new_with_resolver(ServiceResolver::from_env());
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let http = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build(connector);
        ServiceClient { http, timeout }
    }

    /// `GET {base}/{op}/{a}/{b}` and reads the answer; the elapsed time comes back too.
    pub async fn call(
        &self,
        base: &ServiceUrl,
        op: Operation,
        a: ExactNumber,
        b: ExactNumber,
    ) -> (Result<ServiceReply, CalcError>, Duration) {
        let started = Instant::now();
        let url = format!("{}/{}/{a}/{b}", base.as_str(), op.name());
        let result = match tokio::time::timeout(self.timeout, self.call_inner(&url, op)).await {
            Ok(result) => result,
            Err(_) => Err(CalcError::BackendTimeout {
                service: op,
                url,
                after: self.timeout,
            }),
        };
        (result, started.elapsed())
    }

    async fn call_inner(&self, url: &str, op: Operation) -> Result<ServiceReply, CalcError> {
        let unavailable = |reason: String| CalcError::BackendUnavailable {
            service: op,
            url: url.to_owned(),
            reason,
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| unavailable(e.to_string()))?;
        let response = self
            .http
            .get(uri)
            .await
            .map_err(|e| unavailable(describe(&e)))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unavailable(describe(&e)))?
            .to_bytes();
        let invalid = |detail: String| CalcError::BackendInvalid {
            service: op,
            url: url.to_owned(),
            status,
            detail,
        };
        if status == 200 {
            let answer: OperationAnswer =
                serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
            if answer.operation != op {
                return Err(invalid(format!(
                    "it computed {} instead of {op}",
                    answer.operation
                )));
            }
            Ok(ServiceReply::Answer(answer))
        } else {
            let body: ErrorBody =
                serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
            Ok(ServiceReply::Error { status, body })
        }
    }
}

/// Transport errors are nested ("client error (Connect)" → "tcp connect error" → "Connection
/// refused"); the whole chain says what broke.
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
