//! What the controller computes from the Gateway API's objects, as data: each Gateway's
//! listeners and why one cannot be served, each route's status per parent, and the lookups the
//! computation needs from the cluster (Services, namespaces).

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::routing::{Entry, Hostname, RequestMatch, Rule};
use crate::conditions::Condition;

/// A Service port, as a reference names it.
#[derive(Clone, Copy, Debug)]
pub enum PortRef<'a> {
    /// By number (`port`).
    Number(u16),
    /// By name (an Ingress backend's `port.name`).
    Name(&'a str),
}

/// The ready endpoints of Service `namespace/name` at a port; `Err` says why it does not
/// resolve (no such Service, no such port).
pub type ServicePortLookup<'a> =
    &'a dyn Fn(&str, &str, PortRef<'_>) -> Result<Vec<SocketAddr>, String>;

/// A route's rules compiled: each rule's place, what it does, and its matches.
pub type CompiledRules = Vec<(usize, Arc<Rule>, Vec<RequestMatch>)>;

/// What the plan needs from the cluster.
pub struct Lookups<'a> {
    /// A namespace's labels (`None`: no such namespace).
    pub namespace_labels: &'a dyn Fn(&str) -> Option<Map<String, Value>>,
    /// The ready endpoints of a Service port.
    pub service_port: ServicePortLookup<'a>,
}

/// One listener of a Gateway this cluster serves.
#[derive(Debug)]
pub struct ListenerPlan {
    /// Its name.
    pub name: String,
    /// Its port.
    pub port: u16,
    /// Its hostname (`None`: any).
    pub hostname: Option<Hostname>,
    /// Why it cannot be served, as an `Accepted=False` reason and message.
    pub refused: Option<(&'static str, String)>,
    /// Another listener on its port took its hostname first.
    pub conflicted: bool,
    /// Route kinds it names that are not HTTPRoute.
    pub invalid_kinds: Vec<String>,
    /// The route kinds it takes.
    pub supported_kinds: Vec<Value>,
    /// How many routes attached.
    pub attached_routes: usize,
    /// The rules of those routes.
    pub entries: Vec<Entry>,
}

impl ListenerPlan {
    /// Whether it takes traffic (a bind failure is found later, by the data plane).
    pub fn usable(&self) -> bool {
        self.refused.is_none() && !self.conflicted
    }
}

/// A Gateway of one of this cluster's classes.
#[derive(Debug)]
pub struct GatewayPlan {
    /// The object as read.
    pub object: Value,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// An address it asked for that cannot be given (`spec.addresses`).
    pub unsupported_address: Option<String>,
    /// The loopback address it asked for, when it asked for a usable one.
    pub requested_address: Option<std::net::Ipv4Addr>,
    /// Its listeners.
    pub listeners: Vec<ListenerPlan>,
}

/// What a route reports for one of its parents.
#[derive(Debug)]
pub struct ParentStatus {
    /// The `parentRef`, as written.
    pub parent_ref: Value,
    /// Its conditions.
    pub conditions: Vec<Condition>,
}

/// A route with a parent of this cluster's.
#[derive(Debug)]
pub struct RoutePlan {
    /// The object as read.
    pub object: Value,
    /// What it reports per parent that is this cluster's.
    pub parents: Vec<ParentStatus>,
}

/// Everything the controller serves and reports.
#[derive(Debug, Default)]
pub struct Plan {
    /// This cluster's GatewayClasses, by name.
    pub classes: Vec<Value>,
    /// Their Gateways.
    pub gateways: Vec<GatewayPlan>,
    /// Routes with a parent among them.
    pub routes: Vec<RoutePlan>,
}

/// A string field, or empty.
pub fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The `(namespace, name)` of an object.
pub fn key(object: &Value) -> (String, String) {
    (
        text(&object["metadata"]["namespace"]).to_owned(),
        text(&object["metadata"]["name"]).to_owned(),
    )
}

/// The order routes are ranked in when everything else ties: the oldest first, then by
/// `namespace/name`.
pub fn route_order(route: &Value) -> (String, String) {
    let (namespace, name) = key(route);
    (
        text(&route["metadata"]["creationTimestamp"]).to_owned(),
        format!("{namespace}/{name}"),
    )
}
