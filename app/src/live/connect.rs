//! Opening the target the operator chose — the one path the window and the CLI share: a
//! kubeconfig context or the embedded cluster through [`crate::cluster::connection`], an EKS
//! cluster through its own way in ([`crate::eks::connect`]: no kubeconfig, no `aws` CLI).

use std::sync::Arc;

use crate::cluster::connection::{self, ConnectError, Connection, ConnectionTarget};
use crate::eks::{self, Aws};

/// Connects to `target` (for the embedded cluster, with its kubeconfig text).
pub async fn open(
    target: &ConnectionTarget,
    local_kubeconfig: Option<&str>,
) -> Result<Connection, ConnectError> {
    match target {
        ConnectionTarget::Eks { aws, cluster } => {
            let aws = Aws::load(aws)
                .await
                .map_err(|e| ConnectError::Aws(e.to_string()))?;
            let (_, access) = aws
                .cluster(cluster)
                .await
                .map_err(|e| ConnectError::Aws(e.to_string()))?;
            eks::connect::open(Arc::new(aws), cluster, &access).await
        }
        ConnectionTarget::Local | ConnectionTarget::Kubeconfig { .. } => {
            connection::open(target, local_kubeconfig).await
        }
    }
}
