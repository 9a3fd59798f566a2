//! Ingresses (`networking.k8s.io/v1`) of the local cluster's IngressClass, served by the same
//! data plane as Gateways: each Ingress gets a loopback address of its own and port 80 there
//! (as the AWS Load Balancer Controller gives each Ingress its own load balancer), its rules
//! become routes by host and path (`Exact`, `Prefix`; `ImplementationSpecific` read as a
//! prefix), its default backend catches the rest. TLS sections are not served.

use std::sync::Arc;

use serde_json::Value;

use super::names::INGRESS_CONTROLLER;
use super::plan::{Lookups, PortRef, text};
use super::routing::{Backend, Entry, Hostname, PathMatch, RequestMatch, Rule, WeightedBackend};

/// An Ingress this cluster serves.
#[derive(Debug)]
pub struct IngressPlan {
    /// The object as read.
    pub object: Value,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its rules, as the data plane matches them.
    pub entries: Vec<Entry>,
}

/// The Ingresses of the classes this cluster's controller serves.
pub fn plan(ingresses: &[Value], classes: &[Value], lookups: &Lookups<'_>) -> Vec<IngressPlan> {
    let ours: Vec<&str> = classes
        .iter()
        .filter(|c| c["spec"]["controller"] == INGRESS_CONTROLLER)
        .map(|c| text(&c["metadata"]["name"]))
        .collect();
    ingresses
        .iter()
        .filter(|i| i["metadata"]["deletionTimestamp"].is_null())
        .filter(|i| {
            let class = i["spec"]["ingressClassName"]
                .as_str()
                .or_else(|| i["metadata"]["annotations"]["kubernetes.io/ingress.class"].as_str());
            class.is_some_and(|c| ours.contains(&c))
        })
        .map(|i| plan_one(i, lookups))
        .collect()
}

fn backend(backend: &Value, namespace: &str, lookups: &Lookups<'_>) -> Backend {
    let service = &backend["service"];
    let name = text(&service["name"]);
    if name.is_empty() {
        return Backend::Invalid(format!(
            "Ingress backends other than Services are not served here (resource {:?})",
            text(&backend["resource"]["kind"])
        ));
    }
    // A Protobuf body carries an unset number as 0.
    let number = service["port"]["number"].as_u64().filter(|n| *n != 0);
    let port = match (number, service["port"]["name"].as_str()) {
        (Some(n), _) => u16::try_from(n).map(PortRef::Number).ok(),
        (None, Some(port_name)) => Some(PortRef::Name(port_name)),
        (None, None) => None,
    };
    let Some(port) = port else {
        return Backend::Invalid(format!("backend {namespace}/{name} names no port"));
    };
    let shown = match port {
        PortRef::Number(n) => format!("{namespace}/{name}:{n}"),
        PortRef::Name(p) => format!("{namespace}/{name}:{p}"),
    };
    match (lookups.service_port)(namespace, name, port) {
        Ok(addresses) => Backend::endpoints(shown, addresses),
        Err(why) => Backend::Invalid(format!("backend {shown}: {why}")),
    }
}

fn rule_to(route: &str, backend: Backend) -> Arc<Rule> {
    Arc::new(Rule::new(
        route.to_owned(),
        Vec::new(),
        vec![WeightedBackend {
            weight: 1,
            backend,
            filters: Vec::new(),
        }],
        None,
    ))
}

fn plan_one(ingress: &Value, lookups: &Lookups<'_>) -> IngressPlan {
    let namespace = text(&ingress["metadata"]["namespace"]).to_owned();
    let name = text(&ingress["metadata"]["name"]).to_owned();
    let route = format!("{namespace}/{name}");
    let created = text(&ingress["metadata"]["creationTimestamp"]).to_owned();
    let mut entries = Vec::new();
    for (rule_index, rule) in ingress["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let hostnames: Vec<Hostname> = rule["host"]
            .as_str()
            .map(Hostname::parse)
            .into_iter()
            .collect();
        for (path_index, path) in rule["http"]["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let value = path["path"].as_str().unwrap_or("/");
            let matcher = match text(&path["pathType"]) {
                "Exact" => PathMatch::Exact(value.to_owned()),
                _ => PathMatch::Prefix(value.trim_end_matches('/').to_owned()),
            };
            entries.push(Entry {
                listener_hostname: None,
                hostnames: hostnames.clone(),
                matcher: RequestMatch {
                    path: matcher,
                    method: None,
                    headers: Vec::new(),
                    query: Vec::new(),
                },
                route_order: (created.clone(), route.clone()),
                position: (rule_index, path_index),
                rule: rule_to(&route, backend(&path["backend"], &namespace, lookups)),
            });
        }
    }
    if ingress["spec"]["defaultBackend"].is_object() {
        entries.push(Entry {
            listener_hostname: None,
            hostnames: Vec::new(),
            matcher: RequestMatch {
                path: PathMatch::Prefix(String::new()),
                method: None,
                headers: Vec::new(),
                query: Vec::new(),
            },
            // After every rule of equal rank.
            route_order: ("~".to_owned(), route.clone()),
            position: (usize::MAX, 0),
            rule: rule_to(
                &route,
                backend(&ingress["spec"]["defaultBackend"], &namespace, lookups),
            ),
        });
    }
    IngressPlan {
        object: ingress.clone(),
        namespace,
        name,
        entries,
    }
}
