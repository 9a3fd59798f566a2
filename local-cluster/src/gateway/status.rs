//! The statuses the controller writes, from its plan and what binding the listeners gave:
//! conditions as the Gateway API specification names them (and its conformance suite reads).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

use serde_json::{Value, json};

use super::names::{CONTROLLER_NAME, SUPPORTED_FEATURES};
use super::plan::{GatewayPlan, RoutePlan};
use crate::conditions::{Condition, merge};

/// The generation Gateway API conditions say they were written for.
fn generation(object: &Value) -> Option<i64> {
    Some(object["metadata"]["generation"].as_i64().unwrap_or(0))
}

/// A GatewayClass of this cluster's.
pub fn class(class: &Value, now: &str) -> Value {
    let mut status = class["status"].as_object().cloned().unwrap_or_default();
    status.insert(
        "conditions".to_owned(),
        merge(
            &class["status"]["conditions"],
            vec![Condition::yes(
                "Accepted",
                "Accepted",
                "Handled by the local cluster's gateway controller",
            )],
            generation(class),
            now,
        ),
    );
    status.insert(
        "supportedFeatures".to_owned(),
        SUPPORTED_FEATURES
            .iter()
            .map(|name| json!({ "name": name }))
            .collect(),
    );
    Value::Object(status)
}

/// A Gateway: its address, its listeners' conditions and its own. `bind_errors` holds the
/// addresses the data plane could not listen on, with why.
pub fn gateway(
    plan: &GatewayPlan,
    address: Option<Ipv4Addr>,
    bind_errors: &HashMap<SocketAddr, String>,
    now: &str,
) -> Value {
    let old = &plan.object["status"];
    let generation = generation(&plan.object);
    let mut programmed_listeners = 0;
    let mut listeners = Vec::new();
    for listener in &plan.listeners {
        let bind_error =
            address.and_then(|ip| bind_errors.get(&SocketAddr::from((ip, listener.port))));
        let mut conditions = Vec::new();
        let accepted = match (&listener.refused, bind_error) {
            (Some((reason, message)), _) => Condition::no("Accepted", reason, message.clone()),
            (None, Some(error)) => Condition::no("Accepted", "PortUnavailable", error.clone()),
            (None, None) => Condition::yes("Accepted", "Accepted", "Listener is accepted"),
        };
        let serving = accepted.status && !listener.conflicted && address.is_some();
        conditions.push(accepted);
        conditions.push(if listener.conflicted {
            Condition::yes(
                "Conflicted",
                "HostnameConflict",
                format!(
                    "another listener on port {} has the same hostname",
                    listener.port
                ),
            )
        } else {
            Condition::no("Conflicted", "NoConflicts", "No conflicts")
        });
        conditions.push(if listener.invalid_kinds.is_empty() {
            Condition::yes("ResolvedRefs", "ResolvedRefs", "All references resolved")
        } else {
            Condition::no(
                "ResolvedRefs",
                "InvalidRouteKinds",
                format!(
                    "route kinds not served: {}",
                    listener.invalid_kinds.join(", ")
                ),
            )
        });
        conditions.push(if serving {
            programmed_listeners += 1;
            Condition::yes("Programmed", "Programmed", "Listener is programmed")
        } else {
            Condition::no("Programmed", "Invalid", "Listener is not served")
        });
        let old_conditions = old["listeners"]
            .as_array()
            .and_then(|l| l.iter().find(|o| o["name"] == listener.name.as_str()))
            .map_or(Value::Null, |o| o["conditions"].clone());
        listeners.push(json!({
            "name": listener.name,
            "supportedKinds": listener.supported_kinds,
            "attachedRoutes": listener.attached_routes,
            "conditions": merge(&old_conditions, conditions, generation, now),
        }));
    }
    let mut conditions = Vec::new();
    if let Some(why) = &plan.unsupported_address {
        conditions.push(Condition::no("Accepted", "UnsupportedAddress", why.clone()));
        conditions.push(Condition::no("Programmed", "AddressNotUsable", why.clone()));
    } else if plan.listeners.iter().all(|l| l.refused.is_some()) {
        conditions.push(Condition::no(
            "Accepted",
            "ListenersNotValid",
            "no listener can be served",
        ));
        conditions.push(Condition::no(
            "Programmed",
            "Invalid",
            "no listener is served",
        ));
    } else {
        conditions.push(Condition::yes(
            "Accepted",
            "Accepted",
            "Gateway is accepted",
        ));
        conditions.push(if programmed_listeners > 0 {
            Condition::yes("Programmed", "Programmed", "Gateway is programmed")
        } else {
            Condition::no("Programmed", "Invalid", "no listener is served")
        });
    }
    let mut status = json!({
        "conditions": merge(&old["conditions"], conditions, generation, now),
        "listeners": listeners,
    });
    if let (Some(ip), None) = (address, &plan.unsupported_address) {
        status["addresses"] = json!([{"type": "IPAddress", "value": ip.to_string()}]);
    }
    status
}

/// An HTTPRoute: its parents that are this cluster's replaced, others' kept.
pub fn route(plan: &RoutePlan, now: &str) -> Value {
    let old = &plan.object["status"];
    let generation = generation(&plan.object);
    let mut parents: Vec<Value> = old["parents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["controllerName"] != CONTROLLER_NAME)
        .cloned()
        .collect();
    for parent in &plan.parents {
        let old_conditions = old["parents"]
            .as_array()
            .and_then(|ps| {
                ps.iter().find(|p| {
                    p["controllerName"] == CONTROLLER_NAME && p["parentRef"] == parent.parent_ref
                })
            })
            .map_or(Value::Null, |p| p["conditions"].clone());
        let conditions = parent.conditions.clone();
        parents.push(json!({
            "parentRef": parent.parent_ref,
            "controllerName": CONTROLLER_NAME,
            "conditions": merge(&old_conditions, conditions, generation, now),
        }));
    }
    json!({"parents": parents})
}
