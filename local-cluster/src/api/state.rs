//! What every handler shares: the registry, the users and tokens it accepts, the server's
//! address, the node side's runtime, EKS authentication, the audit log, and the OpenAPI
//! documents built once.

use std::sync::Arc;

use super::openapi::Documents;
use super::runtime::Runtime;
use crate::authorization::Users;
use crate::registry::Registry;

/// What every handler shares.
pub struct ApiState {
    /// Objects and their lifecycle rules.
    pub registry: Arc<Registry>,
    /// The bearer tokens accepted, and whose they are.
    pub users: Arc<Users>,
    /// The server's own address, for discovery's serverAddressByClientCIDRs.
    pub address: String,
    /// Logs and proxying, provided by the kubelets and the service network.
    pub runtime: Option<Arc<dyn Runtime>>,
    /// EKS bearer tokens, when the cluster stands in for an EKS cluster.
    pub eks: Option<Arc<crate::eks_auth::EksAuthenticator>>,
    /// Where every answered request is recorded, if anywhere.
    pub audit: Option<crate::audit::AuditLog>,
    pub(super) openapi: Documents,
}

impl ApiState {
    /// State for a server at `address` accepting the tokens of `users`.
    pub fn new(
        registry: Arc<Registry>,
        users: Arc<Users>,
        address: String,
        runtime: Option<Arc<dyn Runtime>>,
        eks: Option<crate::eks_auth::EksIdentity>,
        audit: Option<crate::audit::AuditLog>,
    ) -> Arc<ApiState> {
        Arc::new(ApiState {
            registry,
            users,
            address,
            runtime,
            eks: eks.map(|identity| Arc::new(crate::eks_auth::EksAuthenticator::new(identity))),
            audit,
            openapi: Documents::build(),
        })
    }
}
