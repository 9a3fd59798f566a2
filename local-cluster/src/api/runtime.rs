//! What the API needs from the node side — a container's log, a proxied request, a process's
//! usage — provided by the kubelets and the service network ([`crate::network`]).

use axum::extract::Request;
use axum::response::Response;
use futures::future::BoxFuture;

use crate::errors::ApiError;
use crate::kubelet::{LogOptions, LogOutput, Usage};

/// What a proxy request reaches.
#[derive(Clone, Debug)]
pub enum ProxyTarget {
    /// `services/[scheme:]name[:port]/proxy/…`
    Service {
        /// Namespace of the Service.
        namespace: String,
        /// Service name.
        name: String,
        /// Port name or number, if given.
        port: Option<String>,
    },
    /// `pods/name[:port]/proxy/…`
    Pod {
        /// Namespace of the pod.
        namespace: String,
        /// Pod name.
        name: String,
        /// Port number or name, if given.
        port: Option<String>,
    },
}

/// Access to running workloads, provided by the kubelets and the service network.
pub trait Runtime: Send + Sync {
    /// The output of one container of a pod.
    fn logs(&self, namespace: &str, pod: &str, options: &LogOptions)
    -> Result<LogOutput, ApiError>;
    /// Forwards an HTTP request to a Service or pod; `path` is what follows `/proxy`.
    fn proxy(
        &self,
        target: ProxyTarget,
        path: String,
        request: Request,
    ) -> BoxFuture<'static, Response>;
    /// What a container's process uses now; `None` when it runs no process here.
    fn usage(&self, namespace: &str, pod: &str, container: &str) -> Option<Usage>;
}
