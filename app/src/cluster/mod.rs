//! Reaching a cluster: the connection (kubeconfig, the embedded cluster, or an endpoint, CA and
//! token source handed in by a way in such as EKS), the retries every request gets, the
//! server's liveness, and GETs through the API server's service proxy. It knows no feature.

pub mod access;
pub mod connection;
pub mod liveness;
pub mod proxy;
pub mod retry;
