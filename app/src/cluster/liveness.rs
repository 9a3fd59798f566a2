//! Whether the API server is there at all: one GET of its readiness endpoint (exempt from API
//! Priority and Fairness on a real server, as kubelets' probes are), read in the two ways the
//! console needs — "anything answered" for a move waiting out an outage, "present" for the
//! board deciding whether to reconnect.

use std::time::Duration;

/// What the readiness endpoint's answer (or its absence) says.
#[derive(Debug)]
pub enum Liveness {
    /// It answered.
    Answered,
    /// It answered with a refusal (its Status).
    Refused(Box<kube::core::Status>),
    /// The request failed without an answer (refused or reset connection, TLS, credentials).
    Unreachable(kube::Error),
    /// Nothing within the time allowed.
    Silent,
}

impl Liveness {
    /// Any HTTP answer, even a refusal: the server is up.
    pub fn answered_at_all(&self) -> bool {
        matches!(self, Liveness::Answered | Liveness::Refused(_))
    }

    /// An answer or an overloaded server's refusal (429, 5xx): whether the board is current is
    /// the watches' to say. 401 and 403 are not presence, as fresh credentials may be missing.
    pub fn present(&self) -> bool {
        match self {
            Liveness::Answered => true,
            Liveness::Refused(status) => status.code == 429 || status.code >= 500,
            Liveness::Unreachable(_) | Liveness::Silent => false,
        }
    }
}

/// Asks `/readyz`, waiting at most `within`.
pub async fn ask(client: &kube::Client, within: Duration) -> Liveness {
    let request = match http::Request::get("/readyz").body(Vec::new()) {
        Ok(request) => request,
        Err(e) => return Liveness::Unreachable(kube::Error::HttpError(e)),
    };
    match tokio::time::timeout(within, client.request_text(request)).await {
        Ok(Ok(_)) => Liveness::Answered,
        Ok(Err(kube::Error::Api(status))) => Liveness::Refused(status),
        Ok(Err(e)) => Liveness::Unreachable(e),
        Err(_) => Liveness::Silent,
    }
}
