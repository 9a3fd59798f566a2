//! How a frontend finds an operation service by name (`sum-service`): first the Service's
//! environment variables (`SUM_SERVICE_SERVICE_HOST`, which a kubelet gives every pod for the
//! Services of its namespace), then DNS.
//!
//! In a cluster both answer with the Service's ClusterIP. The variables also work where there is
//! no cluster DNS, as on hybrid-console's local cluster.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower_service::Service;

/// Resolves Service names from the environment, other names with the system resolver.
#[derive(Clone)]
pub struct ServiceResolver {
    hosts: Arc<HashMap<String, IpAddr>>,
    system: GaiResolver,
}

impl std::fmt::Debug for ServiceResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceResolver")
            .field("hosts", &self.hosts)
            .finish()
    }
}

/// `sum-service.calculator.svc.cluster.local` → `SUM_SERVICE_SERVICE_HOST`.
fn variable_for(host: &str) -> String {
    let service = host.split('.').next().unwrap_or(host);
    format!("{}_SERVICE_HOST", service.to_uppercase().replace('-', "_"))
}

impl ServiceResolver {
    /// Reads every `*_SERVICE_HOST` variable through `lookup` once, at start (they do not change
    /// during a pod's life).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> ServiceResolver {
        let hosts = vars
            .into_iter()
            .filter(|(k, _)| k.ends_with("_SERVICE_HOST"))
            .filter_map(|(k, v)| v.parse::<IpAddr>().ok().map(|ip| (k, ip)))
            .collect();
        ServiceResolver {
            hosts: Arc::new(hosts),
            system: GaiResolver::new(),
        }
    }

    /// The process environment's Services.
    pub fn from_env() -> ServiceResolver {
        ServiceResolver::from_vars(std::env::vars())
    }

    /// The ClusterIP the environment gives for `host`, if any.
    pub fn service_ip(&self, host: &str) -> Option<IpAddr> {
        // Only plain Service names and their in-cluster DNS forms, never arbitrary domains.
        let parts: Vec<&str> = host.split('.').collect();
        let in_cluster = parts.len() == 1 || parts.get(2).is_none_or(|p| *p == "svc");
        if !in_cluster {
            return None;
        }
        self.hosts.get(&variable_for(host)).copied()
    }
}

type Addresses = Box<dyn Iterator<Item = SocketAddr> + Send>;

impl Service<Name> for ServiceResolver {
    type Response = Addresses;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Addresses, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.system.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(ip) = self.service_ip(name.as_str()) {
            let address: Addresses = Box::new(std::iter::once(SocketAddr::new(ip, 0)));
            return Box::pin(async move { Ok(address) });
        }
        let lookup = self.system.call(name);
        Box::pin(async move {
            let addresses = lookup.await?;
            Ok(Box::new(addresses) as Addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_resolve_from_their_variables() {
        let resolver = ServiceResolver::from_vars([
            (
                "SUM_SERVICE_SERVICE_HOST".to_string(),
                "127.96.0.7".to_string(),
            ),
            ("SUM_SERVICE_SERVICE_PORT".to_string(), "3000".to_string()),
        ]);
        let ip: IpAddr = "127.96.0.7".parse().unwrap();
        assert_eq!(resolver.service_ip("sum-service"), Some(ip));
        assert_eq!(resolver.service_ip("sum-service.calculator"), Some(ip));
        assert_eq!(
            resolver.service_ip("sum-service.calculator.svc.cluster.local"),
            Some(ip)
        );
        assert_eq!(resolver.service_ip("sum-service.example.com"), None);
        assert_eq!(resolver.service_ip("division-service"), None);
    }
}
