//! Routes attached to listeners: by `sectionName` and `port`, by the listeners' allowed
//! namespaces and kinds, and by hostnames; each attachment adds the route's compiled rules to
//! the listener and says in the route's `Accepted` condition why a parent took it or not.

use serde_json::Value;

use super::compile::{RefProblems, compile_rules};
use super::names::GROUP;
use super::plan::{
    CompiledRules, GatewayPlan, Lookups, ParentStatus, RoutePlan, key, route_order, text,
};
use super::routing::{Entry, Hostname};
use crate::conditions::Condition;

/// Whether `listener` of `gateway` lets a route from `namespace` attach.
fn namespace_allowed(
    gateway: &GatewayPlan,
    listener_index: usize,
    namespace: &str,
    lookups: &Lookups<'_>,
) -> bool {
    let spec = gateway.object["spec"]["listeners"]
        .as_array()
        .and_then(|l| l.get(listener_index))
        .map(|l| &l["allowedRoutes"]["namespaces"]);
    let Some(spec) = spec else { return false };
    match spec["from"].as_str().unwrap_or("Same") {
        "All" => true,
        "Selector" => (lookups.namespace_labels)(namespace).is_some_and(|labels| {
            crate::validation::selector_matches(&spec["selector"], Some(&labels))
        }),
        _ => namespace == gateway.namespace,
    }
}

/// Attaches `route` to the listeners its parents name, returning what it reports; `None` when
/// none of its parents is a Gateway of this cluster's.
pub(super) fn attach_route(
    route: &Value,
    gateways: &mut [GatewayPlan],
    lookups: &Lookups<'_>,
) -> Option<RoutePlan> {
    if !route["metadata"]["deletionTimestamp"].is_null() {
        return None;
    }
    let (namespace, _) = key(route);
    let route_hostnames: Vec<Hostname> = route["spec"]["hostnames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(Hostname::parse)
        .collect();
    let mut refs = RefProblems::default();
    let compiled = compile_rules(route, lookups, &mut refs);
    let order = route_order(route);
    let mut parents = Vec::new();
    for parent_ref in route["spec"]["parentRefs"].as_array().into_iter().flatten() {
        if parent_ref["group"].as_str().unwrap_or(GROUP) != GROUP
            || parent_ref["kind"].as_str().unwrap_or("Gateway") != "Gateway"
        {
            continue;
        }
        let gateway_namespace = parent_ref["namespace"].as_str().unwrap_or(&namespace);
        let Some(gateway) = gateways
            .iter_mut()
            .find(|g| g.namespace == gateway_namespace && g.name == text(&parent_ref["name"]))
        else {
            continue;
        };
        let mut conditions = Vec::new();
        let accepted = match &compiled {
            Err(why) => Condition::no("Accepted", "UnsupportedValue", why.clone()),
            Ok(rules) => attach_to_gateway(
                gateway,
                parent_ref,
                &namespace,
                &route_hostnames,
                rules,
                &order,
                lookups,
            ),
        };
        conditions.push(accepted);
        conditions.push(match &refs.0 {
            Some((reason, message)) => Condition::no("ResolvedRefs", reason, message.clone()),
            None => Condition::yes("ResolvedRefs", "ResolvedRefs", "All references resolved"),
        });
        parents.push(ParentStatus {
            parent_ref: parent_ref.clone(),
            conditions,
        });
    }
    (!parents.is_empty()).then(|| RoutePlan {
        object: route.clone(),
        parents,
    })
}

/// Attaches compiled rules to the listeners of `gateway` that `parent_ref` selects and admit the
/// route; the route's `Accepted` condition for this parent.
fn attach_to_gateway(
    gateway: &mut GatewayPlan,
    parent_ref: &Value,
    route_namespace: &str,
    route_hostnames: &[Hostname],
    rules: &CompiledRules,
    order: &(String, String),
    lookups: &Lookups<'_>,
) -> Condition {
    let section = parent_ref["sectionName"].as_str();
    let port = parent_ref["port"].as_u64();
    let candidates: Vec<usize> = (0..gateway.listeners.len())
        .filter(|&i| section.is_none_or(|s| gateway.listeners[i].name == s))
        .filter(|&i| port.is_none_or(|p| u64::from(gateway.listeners[i].port) == p))
        .collect();
    if candidates.is_empty() {
        return Condition::no(
            "Accepted",
            "NoMatchingParent",
            format!(
                "Gateway {}/{} has no listener {}",
                gateway.namespace,
                gateway.name,
                section.map_or_else(
                    || format!("on port {}", port.unwrap_or_default()),
                    |s| format!("named {s:?}")
                )
            ),
        );
    }
    let mut allowed_any = false;
    let mut attached_any = false;
    for i in candidates {
        let allowed = gateway.listeners[i].usable()
            && !gateway.listeners[i].supported_kinds.is_empty()
            && namespace_allowed(gateway, i, route_namespace, lookups);
        if !allowed {
            continue;
        }
        allowed_any = true;
        let listener = &mut gateway.listeners[i];
        let intersects = match &listener.hostname {
            None => true,
            Some(h) => {
                route_hostnames.is_empty() || route_hostnames.iter().any(|r| r.intersects(h))
            }
        };
        if !intersects {
            continue;
        }
        attached_any = true;
        listener.attached_routes += 1;
        for (rule_index, rule, matches) in rules {
            for (match_index, matcher) in matches.iter().enumerate() {
                listener.entries.push(Entry {
                    listener_hostname: listener.hostname.clone(),
                    hostnames: route_hostnames.to_vec(),
                    matcher: matcher.clone(),
                    route_order: order.clone(),
                    position: (*rule_index, match_index),
                    rule: rule.clone(),
                });
            }
        }
    }
    if attached_any {
        Condition::yes("Accepted", "Accepted", "Route is accepted")
    } else if allowed_any {
        Condition::no(
            "Accepted",
            "NoMatchingListenerHostname",
            "no hostname of the route matches a listener it may attach to",
        )
    } else {
        Condition::no(
            "Accepted",
            "NotAllowedByListeners",
            format!(
                "no listener of Gateway {}/{} allows HTTPRoutes from namespace {route_namespace:?}",
                gateway.namespace, gateway.name
            ),
        )
    }
}
