//! The strangler-fig routing table: per operation, compute here, forward to a service, or —
//! while the operation is being moved — both (`shadow`) or some of each (`split`).
//!
//! The routing variables (`SUM_SERVICE_URL` …) set the table a process starts with; the
//! monolith's routing file ([`file`], a mounted ConfigMap) overrides it per operation and is
//! re-read while the process runs ([`live`]), so a step of a move never costs a redeploy.

use std::collections::BTreeMap;
use std::fmt;

use hyper::Uri;

use crate::api::RouteReport;

use crate::operation::Operation;
use crate::role::Role;

pub mod file;
pub mod live;

/// Where one operation is computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Inside this process (the monolith before the operation is extracted).
    InProcess,
    /// By the service at this base URL (`http://sum-service:3000`).
    Remote(ServiceUrl),
    /// Inside this process, which answers; the service is also asked, off the request's path,
    /// and its answer compared with this one — for at most `per_second` requests a second, so
    /// a shadow's cost to the monolith stays bounded whatever its load.
    Shadow {
        /// Where the comparisons go.
        service: ServiceUrl,
        /// Comparisons a second at most.
        per_second: u32,
    },
    /// `percent` of the requests by the service, the rest inside this process.
    Split {
        /// Where the service's share goes.
        service: ServiceUrl,
        /// The service's share, 0 to 100.
        percent: u8,
    },
}

impl Route {
    /// The share of requests the service answers: 0 to 100.
    pub fn service_percent(&self) -> u8 {
        match self {
            Route::InProcess | Route::Shadow { .. } => 0,
            Route::Remote(_) => 100,
            Route::Split { percent, .. } => *percent,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::InProcess => f.write_str("in-process"),
            Route::Remote(url) => f.write_str(url.as_str()),
            Route::Shadow { service, .. } => write!(f, "shadow {}", service.as_str()),
            Route::Split { service, percent } => write!(f, "split {percent}% {}", service.as_str()),
        }
    }
}

/// The route of every operation for one frontend process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingTable {
    routes: BTreeMap<Operation, Route>,
}

impl RoutingTable {
    /// Reads `SUM_SERVICE_URL` … `DIVISION_SERVICE_URL` through `lookup`.
    ///
    /// In the monolith an unset (or empty) variable means in-process; in `ui` it means the
    /// conventional `http://{op}-service:3000`, because the UI computes nothing itself.
    /// Operation roles compute their own operation in-process.
    pub fn from_lookup(
        role: Role,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, RoutingUrlError> {
        let mut routes = BTreeMap::new();
        for op in Operation::ALL {
            let variable = op.routing_variable();
            let value = lookup(variable).filter(|v| !v.trim().is_empty());
            let route = match (role, value) {
                (Role::Monolith | Role::Ui, Some(value)) => {
                    Route::Remote(parse_base_url(variable, &value)?)
                }
                (Role::Ui, None) => Route::Remote(default_service_url(op)),
                (Role::Monolith, None) => Route::InProcess,
                (_, _) if role.operations().contains(&op) => Route::InProcess,
                (_, _) => continue,
            };
            routes.insert(op, route);
        }
        Ok(RoutingTable { routes })
    }

    /// Where `op` goes, or `None` when this role does not serve it at all.
    pub fn route(&self, op: Operation) -> Option<&Route> {
        self.routes.get(&op)
    }

    /// This table with `op` routed to `route` instead.
    pub fn with(mut self, op: Operation, route: Route) -> Self {
        self.routes.insert(op, route);
        self
    }

    /// Every operation this table routes, with its route.
    pub fn iter(&self) -> impl Iterator<Item = (Operation, &Route)> {
        self.routes.iter().map(|(op, route)| (*op, route))
    }

    /// The table as `/api/routes` reports it.
    pub fn report(&self) -> RouteReport {
        self.routes
            .iter()
            .map(|(op, route)| (*op, route.to_string()))
            .collect()
    }
}

/// A checked base URL of an operation service: `http://host[:port][/prefix]`, no trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceUrl(String);

impl ServiceUrl {
    /// The URL text, to which `/{op}/{a}/{b}` is appended.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `http://{op}-service:3000`, the in-cluster Service name the manifests create.
pub fn default_service_url(op: Operation) -> ServiceUrl {
    ServiceUrl(format!("http://{}-service:3000", op.name()))
}

/// A routing variable that is not a usable base URL.
#[derive(Debug, thiserror::Error)]
#[error(
    "{variable}={value:?} is not a usable base URL ({reason}); set it to e.g. http://sum-service:3000, or leave it unset"
)]
pub struct RoutingUrlError {
    /// `SUM_SERVICE_URL` …
    pub variable: &'static str,
    /// The value found.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

fn parse_base_url(variable: &'static str, value: &str) -> Result<ServiceUrl, RoutingUrlError> {
    check_base_url(value).map_err(|reason| RoutingUrlError {
        variable,
        value: value.to_owned(),
        reason,
    })
}

/// `value` as a base URL, or why it is not one.
pub(crate) fn check_base_url(value: &str) -> Result<ServiceUrl, String> {
    let trimmed = value.trim();
    let uri: Uri = trimmed
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(
                "services are called over plain HTTP inside the cluster; TLS belongs to the mesh or ingress".to_owned(),
            );
        }
        Some(other) => return Err(format!("scheme {other:?} is not http")),
        None => return Err("it has no scheme".to_owned()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("it has no host".to_owned());
    }
    if uri.query().is_some() || trimmed.contains('#') {
        return Err("a base URL cannot carry a query or fragment".to_owned());
    }
    Ok(ServiceUrl(trimmed.trim_end_matches('/').to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn monolith_computes_unset_operations_in_process() {
        let table = RoutingTable::from_lookup(
            Role::Monolith,
            env(&[("SUM_SERVICE_URL", "http://sum-service:3000/")]),
        )
        .unwrap();
        let report = table.report();
        assert_eq!(report[&Operation::Sum], "http://sum-service:3000");
        assert_eq!(report[&Operation::Division], "in-process");
        assert_eq!(report.len(), 4);
    }

    #[test]
    fn ui_defaults_every_operation_to_its_service() {
        let table =
            RoutingTable::from_lookup(Role::Ui, env(&[("DIVISION_SERVICE_URL", "")])).unwrap();
        assert_eq!(
            table.report()[&Operation::Division],
            "http://division-service:3000"
        );
        assert_eq!(table.report()[&Operation::Sum], "http://sum-service:3000");
    }

    #[test]
    fn operation_roles_serve_only_their_operation() {
        let table =
            RoutingTable::from_lookup(Role::Sum, env(&[("DIVISION_SERVICE_URL", "http://x:1")]))
                .unwrap();
        assert_eq!(table.report().len(), 1);
        assert_eq!(table.route(Operation::Sum), Some(&Route::InProcess));
    }

    #[test]
    fn bad_urls_name_the_variable() {
        for bad in [
            "sum-service:3000",
            "ftp://x",
            "http://",
            "http://x/?q=1",
            "https://x",
        ] {
            let err = RoutingTable::from_lookup(Role::Monolith, env(&[("SUM_SERVICE_URL", bad)]))
                .unwrap_err();
            assert!(err.to_string().contains("SUM_SERVICE_URL"), "{err}");
        }
    }
}
