//! From Gateway API objects to what the data plane serves and what their statuses say: which
//! Gateways and listeners are this cluster's ([`plan`]), which routes attach to them
//! (`attach`), and the rules each listening address serves ([`ports`]). Pure: the cluster's
//! Services and namespaces come in as lookups, so every refusal is tested without a cluster.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{Value, json};

use super::attach::attach_route;
use super::names::{CONTROLLER_NAME, GROUP};
use super::plan::{GatewayPlan, ListenerPlan, Lookups, Plan, key, route_order, text};
use super::routing::{Entry, Hostname};

/// The plan for these objects.
pub fn plan(
    classes: &[Value],
    gateways: &[Value],
    routes: &[Value],
    lookups: &Lookups<'_>,
) -> Plan {
    let ours: Vec<Value> = classes
        .iter()
        .filter(|c| c["spec"]["controllerName"] == CONTROLLER_NAME)
        .filter(|c| c["metadata"]["deletionTimestamp"].is_null())
        .cloned()
        .collect();
    let mut gateway_plans: Vec<GatewayPlan> = gateways
        .iter()
        .filter(|g| g["metadata"]["deletionTimestamp"].is_null())
        .filter(|g| {
            ours.iter()
                .any(|c| c["metadata"]["name"] == g["spec"]["gatewayClassName"])
        })
        .map(plan_gateway)
        .collect();
    let mut route_plans = Vec::new();
    // Routes in a stable order: the oldest first, then by namespace and name.
    let mut sorted: Vec<&Value> = routes.iter().collect();
    sorted.sort_by_key(|r| (route_order(r), key(r)));
    for route in sorted {
        if let Some(plan) = attach_route(route, &mut gateway_plans, lookups) {
            route_plans.push(plan);
        }
    }
    Plan {
        classes: ours,
        gateways: gateway_plans,
        routes: route_plans,
    }
}

fn plan_gateway(gateway: &Value) -> GatewayPlan {
    let (namespace, name) = key(gateway);
    let mut unsupported_address = None;
    let mut requested_address = None;
    for address in gateway["spec"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let kind = address["type"].as_str().unwrap_or("IPAddress");
        let value = text(&address["value"]);
        match (kind, value.parse::<std::net::Ipv4Addr>()) {
            ("IPAddress", Ok(ip)) if ip.is_loopback() && requested_address.is_none() => {
                requested_address = Some(ip);
            }
            _ => {
                unsupported_address = Some(format!(
                    "address {value:?} ({kind}) cannot be served: the local cluster's gateways listen on one loopback IPAddress (127.0.0.0/8) each"
                ));
            }
        }
    }
    let mut listeners: Vec<ListenerPlan> = Vec::new();
    for listener in gateway["spec"]["listeners"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = text(&listener["name"]).to_owned();
        let port = listener["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0);
        let hostname = listener["hostname"].as_str().map(Hostname::parse);
        let protocol = text(&listener["protocol"]);
        let refused = (protocol != "HTTP").then(|| {
            (
                "UnsupportedProtocol",
                format!("protocol {protocol:?} is not served: the local cluster's gateway serves HTTP listeners (no TLS)"),
            )
        });
        let mut invalid_kinds = Vec::new();
        let mut supported_kinds = Vec::new();
        let kinds = listener["allowedRoutes"]["kinds"].as_array();
        match kinds {
            Some(kinds) if !kinds.is_empty() => {
                for k in kinds {
                    let group = k["group"].as_str().unwrap_or(GROUP);
                    let kind = text(&k["kind"]);
                    if group == GROUP && kind == "HTTPRoute" {
                        supported_kinds.push(json!({"group": GROUP, "kind": "HTTPRoute"}));
                    } else {
                        invalid_kinds.push(format!("{group}/{kind}"));
                    }
                }
            }
            _ => supported_kinds.push(json!({"group": GROUP, "kind": "HTTPRoute"})),
        }
        // The first listener on a port with a hostname keeps it; a later one conflicts.
        let conflicted = refused.is_none()
            && listeners.iter().any(|other| {
                other.port == port && other.refused.is_none() && other.hostname == hostname
            });
        listeners.push(ListenerPlan {
            name,
            port,
            hostname,
            refused,
            conflicted,
            invalid_kinds,
            supported_kinds,
            attached_routes: 0,
            entries: Vec::new(),
        });
    }
    GatewayPlan {
        object: gateway.clone(),
        namespace,
        name,
        unsupported_address,
        requested_address,
        listeners,
    }
}

/// The routes each `(address, port)` serves: every usable listener's entries on that port.
pub fn ports(
    gateways: &mut [GatewayPlan],
    address_of: impl Fn(&GatewayPlan) -> Option<std::net::Ipv4Addr>,
) -> BTreeMap<SocketAddr, Vec<Entry>> {
    let mut out: BTreeMap<SocketAddr, Vec<Entry>> = BTreeMap::new();
    for gateway in gateways.iter_mut() {
        let Some(ip) = address_of(gateway) else {
            continue;
        };
        if gateway.unsupported_address.is_some() {
            continue;
        }
        for listener in &mut gateway.listeners {
            if !listener.usable() || listener.port == 0 {
                continue;
            }
            out.entry(SocketAddr::from((ip, listener.port)))
                .or_default()
                .append(&mut listener.entries);
        }
    }
    out
}

#[cfg(test)]
mod tests;
