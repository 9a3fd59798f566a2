use std::net::SocketAddr;

use serde_json::{Map, Value, json};

use std::time::Duration;

use super::super::compile::parse_duration;
use super::super::names::CONTROLLER_NAME;
use super::super::plan::{Lookups, ParentStatus, Plan, PortRef};
use super::*;
use crate::conditions::Condition;

fn class(name: &str, controller: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"controllerName": controller}})
}

fn gateway(namespace: &str, name: &str, class: &str, listeners: Value) -> Value {
    json!({
        "metadata": {"namespace": namespace, "name": name, "generation": 1},
        "spec": {"gatewayClassName": class, "listeners": listeners},
    })
}

fn route(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "metadata": {"namespace": namespace, "name": name, "generation": 1,
                     "creationTimestamp": "2026-12-06T00:00:00Z"},
        "spec": spec,
    })
}

fn http(name: &str, port: u16) -> Value {
    json!({"name": name, "port": port, "protocol": "HTTP",
           "allowedRoutes": {"namespaces": {"from": "Same"}}})
}

/// Namespace `team-a` is labelled `team: a`; Services `web` (port 80) exist in every namespace.
fn lookups_plan(classes: &[Value], gateways: &[Value], routes: &[Value]) -> Plan {
    let namespace_labels = |name: &str| {
        let mut labels = Map::new();
        if name == "team-a" {
            labels.insert("team".into(), json!("a"));
        }
        Some(labels)
    };
    let service_port = |_: &str, name: &str, port: PortRef<'_>| {
        let PortRef::Number(port) = port else {
            return Err("named ports are not used here".to_owned());
        };
        if name == "web" && port == 80 {
            Ok(vec![SocketAddr::from(([127, 0, 0, 9], 3000))])
        } else if name == "web" {
            Err(format!("service \"web\" has no port {port}"))
        } else {
            Err(format!("service \"{name}\" not found"))
        }
    };
    plan(
        classes,
        gateways,
        routes,
        &Lookups {
            namespace_labels: &namespace_labels,
            service_port: &service_port,
        },
    )
}

fn ours() -> Value {
    class("local-cluster", CONTROLLER_NAME)
}

fn condition<'a>(parent: &'a ParentStatus, kind: &str) -> &'a Condition {
    parent
        .conditions
        .iter()
        .find(|c| c.kind == kind)
        .expect("condition")
}

fn to_web(parent: Value) -> Value {
    json!({"parentRefs": [parent], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]})
}

#[test]
fn only_gateways_of_our_classes_are_served_and_routes_attach_to_them() {
    let gateways = [
        gateway("shop", "edge", "local-cluster", json!([http("http", 8080)])),
        gateway("shop", "other", "someone-else", json!([http("http", 8080)])),
    ];
    let routes = [
        route("shop", "to-edge", to_web(json!({"name": "edge"}))),
        route("shop", "to-other", to_web(json!({"name": "other"}))),
    ];
    let plan = lookups_plan(
        &[ours(), class("someone-else", "example.com/x")],
        &gateways,
        &routes,
    );
    assert_eq!(plan.classes.len(), 1);
    assert_eq!(plan.gateways.len(), 1);
    assert_eq!(plan.gateways[0].listeners[0].attached_routes, 1);
    assert_eq!(
        plan.routes.len(),
        1,
        "the other class's route is not ours to report"
    );
    let parent = &plan.routes[0].parents[0];
    assert!(condition(parent, "Accepted").status);
    assert!(condition(parent, "ResolvedRefs").status);
}

#[test]
fn allowed_namespaces_same_all_and_selector() {
    let mut selector = http("by-label", 8081);
    selector["allowedRoutes"] = json!({"namespaces": {"from": "Selector",
        "selector": {"matchLabels": {"team": "a"}}}});
    let mut all = http("all", 8082);
    all["allowedRoutes"] = json!({"namespaces": {"from": "All"}});
    let gateways = [gateway(
        "infra",
        "edge",
        "local-cluster",
        json!([http("same", 8080), selector, all]),
    )];
    let parent =
        |section: &str| json!({"name": "edge", "namespace": "infra", "sectionName": section});
    let routes = [
        route("team-a", "same", to_web(parent("same"))),
        route("team-a", "label", to_web(parent("by-label"))),
        route("team-b", "label", to_web(parent("by-label"))),
        route("team-b", "all", to_web(parent("all"))),
    ];
    let plan = lookups_plan(&[ours()], &gateways, &routes);
    let accepted = |namespace: &str, name: &str| {
        let route = plan
            .routes
            .iter()
            .find(|r| {
                r.object["metadata"]["namespace"] == namespace
                    && r.object["metadata"]["name"] == name
            })
            .expect("route reported");
        let c = condition(&route.parents[0], "Accepted");
        (c.status, c.reason)
    };
    assert_eq!(accepted("team-a", "same"), (false, "NotAllowedByListeners"));
    assert_eq!(accepted("team-a", "label"), (true, "Accepted"));
    assert_eq!(
        accepted("team-b", "label"),
        (false, "NotAllowedByListeners")
    );
    assert_eq!(accepted("team-b", "all"), (true, "Accepted"));
}

#[test]
fn a_missing_section_or_hostname_mismatch_is_said() {
    let mut named = http("named", 8080);
    named["hostname"] = json!("calc.example.com");
    let gateways = [gateway("shop", "edge", "local-cluster", json!([named]))];
    let mut other_host = to_web(json!({"name": "edge"}));
    other_host["hostnames"] = json!(["shop.example.org"]);
    let mut wildcard = to_web(json!({"name": "edge"}));
    wildcard["hostnames"] = json!(["*.example.com"]);
    let routes = [
        route(
            "shop",
            "no-section",
            to_web(json!({"name": "edge", "sectionName": "nope"})),
        ),
        route("shop", "other-host", other_host),
        route("shop", "wildcard", wildcard),
    ];
    let plan = lookups_plan(&[ours()], &gateways, &routes);
    let reason = |name: &str| {
        let route = plan
            .routes
            .iter()
            .find(|r| r.object["metadata"]["name"] == name)
            .expect("route");
        condition(&route.parents[0], "Accepted").reason
    };
    assert_eq!(reason("no-section"), "NoMatchingParent");
    assert_eq!(reason("other-host"), "NoMatchingListenerHostname");
    assert_eq!(reason("wildcard"), "Accepted");
    assert_eq!(plan.gateways[0].listeners[0].attached_routes, 1);
}

#[test]
fn backend_references_that_do_not_resolve_are_named_and_the_route_still_attaches() {
    let gateways = [gateway(
        "shop",
        "edge",
        "local-cluster",
        json!([http("http", 8080)]),
    )];
    let with = |backend: Value| json!({"parentRefs": [{"name": "edge"}], "rules": [{"backendRefs": [backend]}]});
    let routes = [
        route("shop", "missing", with(json!({"name": "gone", "port": 80}))),
        route("shop", "no-port", with(json!({"name": "web"}))),
        route(
            "shop",
            "wrong-port",
            with(json!({"name": "web", "port": 81})),
        ),
        route(
            "shop",
            "elsewhere",
            with(json!({"name": "web", "namespace": "other", "port": 80})),
        ),
        route(
            "shop",
            "not-a-service",
            with(json!({"group": "example.com", "kind": "Bucket", "name": "b"})),
        ),
    ];
    let plan = lookups_plan(&[ours()], &gateways, &routes);
    let resolved = |name: &str| {
        let route = plan
            .routes
            .iter()
            .find(|r| r.object["metadata"]["name"] == name)
            .expect("route");
        assert!(
            condition(&route.parents[0], "Accepted").status,
            "{name} attaches"
        );
        let c = condition(&route.parents[0], "ResolvedRefs");
        (c.status, c.reason, c.message.clone())
    };
    let (ok, reason, message) = resolved("missing");
    assert!(!ok);
    assert_eq!(reason, "BackendNotFound");
    assert!(message.contains("service \"gone\" not found"), "{message}");
    assert_eq!(resolved("no-port").1, "UnsupportedValue");
    assert_eq!(resolved("wrong-port").1, "BackendNotFound");
    assert_eq!(resolved("elsewhere").1, "RefNotPermitted");
    assert_eq!(resolved("not-a-service").1, "InvalidKind");
}

#[test]
fn listeners_that_cannot_be_served_are_refused_and_conflicts_found() {
    let https = json!({"name": "https", "port": 8443, "protocol": "HTTPS"});
    let mut kinds = http("kinds", 8081);
    kinds["allowedRoutes"]["kinds"] = json!([{"kind": "TCPRoute"}, {"kind": "HTTPRoute"}]);
    let gateways = [gateway(
        "shop",
        "edge",
        "local-cluster",
        json!([http("first", 8080), http("second", 8080), https, kinds]),
    )];
    let plan = lookups_plan(&[ours()], &gateways, &[]);
    let listeners = &plan.gateways[0].listeners;
    assert!(listeners[0].usable());
    assert!(listeners[1].conflicted, "same port, same (no) hostname");
    assert_eq!(
        listeners[2].refused.as_ref().map(|r| r.0),
        Some("UnsupportedProtocol")
    );
    assert_eq!(
        listeners[3].invalid_kinds,
        vec!["gateway.networking.k8s.io/TCPRoute".to_owned()]
    );
    assert_eq!(listeners[3].supported_kinds.len(), 1);
}

#[test]
fn requested_addresses_must_be_loopback_ips() {
    let mut asked = gateway("shop", "edge", "local-cluster", json!([http("http", 8080)]));
    asked["spec"]["addresses"] = json!([{"type": "IPAddress", "value": "127.0.0.77"}]);
    let mut wrong = gateway(
        "shop",
        "wrong",
        "local-cluster",
        json!([http("http", 8080)]),
    );
    wrong["spec"]["addresses"] = json!([{"type": "Hostname", "value": "lb.example.com"}]);
    let plan = lookups_plan(&[ours()], &[asked, wrong], &[]);
    assert_eq!(
        plan.gateways[0].requested_address,
        Some(std::net::Ipv4Addr::new(127, 0, 0, 77))
    );
    assert!(plan.gateways[1].unsupported_address.is_some());
}

#[test]
fn unsupported_filters_and_bad_expressions_refuse_the_route() {
    let gateways = [gateway(
        "shop",
        "edge",
        "local-cluster",
        json!([http("http", 8080)]),
    )];
    let extension = json!({"parentRefs": [{"name": "edge"}], "rules": [{
        "filters": [{"type": "ExtensionRef", "extensionRef": {"group": "x", "kind": "Y", "name": "z"}}],
        "backendRefs": [{"name": "web", "port": 80}]}]});
    let regex = json!({"parentRefs": [{"name": "edge"}], "rules": [{
        "matches": [{"path": {"type": "RegularExpression", "value": "/(unclosed"}}],
        "backendRefs": [{"name": "web", "port": 80}]}]});
    let plan = lookups_plan(
        &[ours()],
        &gateways,
        &[
            route("shop", "ext", extension),
            route("shop", "regex", regex),
        ],
    );
    for route in &plan.routes {
        let accepted = condition(&route.parents[0], "Accepted");
        assert!(!accepted.status);
        assert_eq!(accepted.reason, "UnsupportedValue");
    }
    assert_eq!(plan.gateways[0].listeners[0].attached_routes, 0);
}

#[test]
fn the_ports_carry_every_usable_listeners_rules() {
    let gateways = [gateway(
        "shop",
        "edge",
        "local-cluster",
        json!([http("a", 8080), http("b", 9090)]),
    )];
    let routes = [route("shop", "web", to_web(json!({"name": "edge"})))];
    let mut plan = lookups_plan(&[ours()], &gateways, &routes);
    let ports = ports(&mut plan.gateways, |_| {
        Some(std::net::Ipv4Addr::new(127, 64, 255, 1))
    });
    let addresses: Vec<String> = ports.keys().map(ToString::to_string).collect();
    assert_eq!(addresses, ["127.64.255.1:8080", "127.64.255.1:9090"]);
    assert!(ports.values().all(|entries| entries.len() == 1));
}

#[test]
fn durations_read_as_the_gateway_api_writes_them() {
    assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
    assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("1x"), None);
}
