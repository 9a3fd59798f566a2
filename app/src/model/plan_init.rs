//! A plan skeleton written from the live objects, for an operator bringing their own monolith:
//! the monolith's Deployment, container and Services, the Service in front, and the services
//! that can leave it — from the routing variables it already sets (`*_URL` with a URL), and
//! from an edge HTTPRoute's path rules when one is named. What cannot be read from the cluster
//! (manifests, checks) is marked `FILL` for the author; `plan check` then checks the result.
//! Pure: the objects come in, YAML text goes out (written by hand, for its comments).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;

use super::move_plan::{LiveObjects, is_route_variable};
use super::topology::picks;

/// Why no skeleton can be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InitError {
    /// The monolith's Deployment is not there.
    #[error(
        "there is no Deployment {name:?} in namespace {namespace:?} (Deployments there: {there})"
    )]
    NoMonolith {
        /// The namespace.
        namespace: String,
        /// The name given.
        name: String,
        /// What is there.
        there: String,
    },
    /// No Service picks the monolith's pods.
    #[error(
        "no Service in namespace {namespace:?} selects the pods of Deployment {name:?}; a plan needs the Service in front of the monolith"
    )]
    NoService {
        /// The namespace.
        namespace: String,
        /// The monolith.
        name: String,
    },
}

/// A service the skeleton lists, and how it was found.
struct Found {
    name: String,
    /// The routing variable and URL, when the monolith sets them (`None`: guessed).
    route: Option<(String, String)>,
    /// The edge route and the path of its rule, when one sends the service's path.
    edge: Option<(String, String)>,
}

fn selector(service: &Service) -> BTreeMap<String, String> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default()
}

fn first_port(service: &Service) -> (String, i32) {
    let port = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|p| p.first());
    match port {
        Some(p) => (p.name.clone().unwrap_or_else(|| p.port.to_string()), p.port),
        None => ("80".to_owned(), 80),
    }
}

fn exposed(service: &Service) -> bool {
    matches!(
        service.spec.as_ref().and_then(|s| s.type_.as_deref()),
        Some("NodePort" | "LoadBalancer")
    )
}

/// `SUM_SERVICE_URL` → `sum`; `ORDERS_URL` → `orders`.
fn service_name(variable: &str) -> String {
    let stem = variable.strip_suffix("_URL").unwrap_or(variable);
    let stem = stem.strip_suffix("_SERVICE").unwrap_or(stem);
    stem.to_lowercase().replace('_', "-")
}

/// The skeleton for the monolith `namespace/name`, with the path rules of `edge` (an HTTPRoute
/// as JSON) when given; `origin` says where the objects were read (for the header).
pub fn skeleton(
    live: &LiveObjects,
    namespace: &str,
    name: &str,
    edge: Option<&serde_json::Value>,
    origin: &str,
) -> Result<String, InitError> {
    let monolith: &Deployment = live.deployment(name).ok_or_else(|| InitError::NoMonolith {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        there: live
            .deployments
            .iter()
            .filter_map(|d| d.metadata.name.clone())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let template_labels = monolith
        .spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut in_front: Vec<&Service> = live
        .services
        .iter()
        .filter(|s| picks(&selector(s), &template_labels))
        .collect();
    in_front.sort_by_key(|s| s.metadata.name.clone());
    // The front is the Service users reach (exposed), the monolith's own the in-cluster one.
    let front = in_front
        .iter()
        .find(|s| exposed(s))
        .or(in_front.first())
        .copied()
        .ok_or_else(|| InitError::NoService {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })?;
    let own = in_front
        .iter()
        .find(|s| !exposed(s))
        .copied()
        .unwrap_or(front);
    let containers = monolith
        .spec
        .template
        .spec
        .as_ref()
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    // The container that carries routing variables, else the first.
    let container = containers
        .iter()
        .find(|c| c.env.iter().flatten().any(is_route_variable))
        .or(containers.first());
    let mut found: Vec<Found> = container
        .into_iter()
        .flat_map(|c| c.env.iter().flatten())
        .filter(|e| is_route_variable(e))
        .map(|e| Found {
            name: service_name(&e.name),
            route: Some((e.name.clone(), e.value.clone().unwrap_or_default())),
            edge: None,
        })
        .collect();
    let route_name = edge
        .and_then(|r| r["metadata"]["name"].as_str())
        .unwrap_or_default()
        .to_owned();
    // Each path rule of the edge route names a service that can move at the edge.
    for rule in edge
        .and_then(|r| r["spec"]["rules"].as_array())
        .into_iter()
        .flatten()
    {
        for matched in rule["matches"].as_array().into_iter().flatten() {
            let path = matched["path"]["value"].as_str().unwrap_or_default();
            let first = path.trim_matches('/').split('/').next().unwrap_or_default();
            if first.is_empty() {
                continue;
            }
            let at_edge = Some((route_name.clone(), path.to_owned()));
            match found.iter_mut().find(|f| f.name == first) {
                Some(known) => known.edge = known.edge.take().or(at_edge),
                None => found.push(Found {
                    name: first.to_owned(),
                    route: None,
                    edge: at_edge,
                }),
            }
        }
    }

    let (own_port_name, own_port) = first_port(own);
    let own_name = own.metadata.name.clone().unwrap_or_default();
    let (front_port, _) = first_port(front);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# A migration plan written by `hybrid-console plan init` from {origin}.\n\
         # Fields marked FILL are blanks or guesses for you to finish; then\n\
         # `hybrid-console plan check THIS-FILE` checks it against the cluster.\n\
         apiVersion: hybrid-console.io/v1alpha1\n\
         kind: MigrationPlan\n\
         metadata:\n  name: {name}\n\
         monolith:\n  namespace: {namespace}\n  deployment: {name}\n  service: {own_name}\n  container: {}\n  url: http://{own_name}:{own_port}   # its Service's port {own_port_name}",
        container.map(|c| c.name.as_str()).unwrap_or("FILL")
    );
    let _ = writeln!(
        out,
        "front:\n  service: {}\n  port: {front_port}\n  monolithSelector:",
        front.metadata.name.clone().unwrap_or_default()
    );
    // While the monolith serves the page, the front picks its pods as its Deployment does.
    for (k, v) in monolith.spec.selector.match_labels.iter().flatten() {
        let _ = writeln!(out, "    {k}: {v}");
    }
    let _ = writeln!(
        out,
        "  check:\n    path: /   # FILL: a request that exercises the whole application\n    expect: {{}}   # FILL: JSON pointer: the value it must hold"
    );
    let _ = write!(out, "{}", progressive_section(monolith, container));
    let _ = writeln!(out, "services:");
    if found.is_empty() {
        let _ = writeln!(
            out,
            "  []   # FILL: no routing variable (*_URL) is set and no edge route was named; list the services that can leave"
        );
    }
    for service in &found {
        let n = &service.name;
        let _ = writeln!(
            out,
            "  - name: {n}\n    manifest: FILL-{n}.yaml   # FILL: its own Deployment and Service, relative to this file"
        );
        match &service.route {
            Some((variable, url)) => {
                let _ = writeln!(
                    out,
                    "    route:\n      variable: {variable}\n      url: {url}"
                );
            }
            None => {
                let variable = format!("{}_SERVICE_URL", n.to_uppercase().replace('-', "_"));
                let _ = writeln!(
                    out,
                    "    route:\n      variable: {variable}   # FILL (guessed): the variable that sends {n} to its service\n      url: http://{n}-service:{own_port}   # FILL (guessed): its Service's URL"
                );
            }
        }
        if let Some((route, path)) = &service.edge {
            let _ = writeln!(
                out,
                "    edge: {{httpRoute: {route}, path: {path}, metricsPath: FILL}}   # FILL: {path} as the services' metrics count it (e.g. {path}/{{a}}/{{b}})"
            );
        }
        let _ = writeln!(
            out,
            "    answeredBy: FILL   # JSON pointer, in the front check's answer, to the pod that computed {n}\n    verify:\n      - path: /{n}   # FILL: a request its new service must answer\n        expect: {{}}   # FILL"
        );
    }
    Ok(out)
}

/// The `progressive:` section, when the monolith mounts a ConfigMap one of its variables reads
/// a file of (its routing file); a ConfigMap mounted without such a variable is named with its
/// key to fill; none, a comment.
fn progressive_section(
    monolith: &Deployment,
    container: Option<&k8s_openapi::api::core::v1::Container>,
) -> String {
    let volumes = monolith
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default();
    let Some(container) = container else {
        return String::new();
    };
    let port = container
        .ports
        .iter()
        .flatten()
        .next()
        .map(|p| {
            p.name
                .clone()
                .unwrap_or_else(|| p.container_port.to_string())
        })
        .unwrap_or_else(|| "FILL".into());
    let mut guess = None;
    for mount in container.volume_mounts.iter().flatten() {
        let Some(config_map) = volumes
            .iter()
            .find(|v| v.name == mount.name)
            .and_then(|v| v.config_map.as_ref())
        else {
            continue;
        };
        let prefix = format!("{}/", mount.mount_path.trim_end_matches('/'));
        let key = container
            .env
            .iter()
            .flatten()
            .filter_map(|e| e.value.as_deref())
            .find_map(|v| v.strip_prefix(&prefix))
            .map(str::to_owned);
        if key.is_some() || guess.is_none() {
            guess = Some((config_map.name.clone(), key));
        }
    }
    match guess {
        Some((config_map, Some(key))) => format!(
            "progressive:   # a progressive move inside the monolith writes its routing file\n  routingConfigMap: {config_map}\n  routingKey: {key}\n  metricsPort: {port}\n"
        ),
        Some((config_map, None)) => format!(
            "progressive:\n  routingConfigMap: {config_map}   # FILL (guessed): the ConfigMap holding the monolith's routing file\n  routingKey: FILL   # its key\n  metricsPort: {port}\n"
        ),
        None => "# progressive: no ConfigMap is mounted into the monolith; a progressive move inside it needs its routing file in one\n".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{monolith_setting, objects, starting_point};
    use crate::model::migration_plan::{MigrationPlan, PlanFiles};

    fn edge() -> serde_json::Value {
        let text = include_str!("../../../manifests/gateway-api/calculator-edge.yaml");
        objects::<serde_json::Value>(text, "HTTPRoute").remove(0)
    }

    /// The skeleton with its FILL fields filled as the shipped plan fills them.
    fn filled(skeleton: &str) -> String {
        let mut text = String::new();
        let mut service = String::new();
        for line in skeleton.lines() {
            let line = line.split("   # ").next().unwrap_or(line);
            if let Some(name) = line.strip_prefix("  - name: ") {
                service = name.to_owned();
            }
            let line = match line.trim() {
                l if l.starts_with("manifest: FILL") => {
                    format!("    manifest: calculator/services/{service}-service.yaml")
                }
                "answeredBy: FILL" => "    answeredBy: /results/0/served-by/pod".to_owned(),
                l if l.starts_with("edge: {") => line.replace(
                    "metricsPath: FILL",
                    &format!("metricsPath: \"/{service}/{{a}}/{{b}}\""),
                ),
                _ => line.to_owned(),
            };
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    #[test]
    fn the_calculator_s_skeleton_filled_in_means_the_shipped_plan() {
        let text = skeleton(
            &starting_point(),
            "calculator",
            "monolith",
            Some(&edge()),
            "test",
        )
        .unwrap();
        let mut files = PlanFiles::built_in();
        let shipped = MigrationPlan::parse(&files).unwrap();
        files.plan = filled(&text);
        let written =
            MigrationPlan::parse(&files).unwrap_or_else(|e| panic!("{e}\n{}", files.plan));
        assert_eq!(written.monolith, shipped.monolith);
        assert_eq!(written.front.service, shipped.front.service);
        assert_eq!(written.front.port, shipped.front.port);
        assert_eq!(
            written.front.monolith_selector,
            shipped.front.monolith_selector
        );
        // The four operations, routed as the shipped plan routes them; the ui (a frontend,
        // moved by the front Service's selector) is not found from the cluster.
        let routes = |plan: &MigrationPlan| {
            plan.services
                .iter()
                .filter_map(|s| {
                    s.variable()
                        .map(|(v, u)| (s.name.clone(), v.to_owned(), u.to_owned()))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(routes(&written), routes(&shipped));
        // Each operation's edge rule, and the routing file a progressive move writes.
        let edges = |plan: &MigrationPlan| {
            plan.services
                .iter()
                .filter_map(|s| s.edge.clone().map(|e| (s.name.clone(), e)))
                .collect::<Vec<_>>()
        };
        assert_eq!(edges(&written), edges(&shipped));
        assert_eq!(written.progressive, shipped.progressive);
        // An edge path left unfilled does not load.
        files.plan =
            filled(&text).replacen("metricsPath: \"/sum/{a}/{b}\"", "metricsPath: FILL", 1);
        let unfinished = MigrationPlan::parse(&files).unwrap_err().to_string();
        assert!(
            unfinished.contains("edge.metricsPath \"FILL\" must be a path starting with /"),
            "{unfinished}"
        );
        assert!(text.contains("# FILL"), "{text}");
    }

    #[test]
    fn routing_variables_the_monolith_sets_are_read_as_they_are() {
        let live = monolith_setting("ORDERS_URL", "http://orders.shop:8080");
        let text = skeleton(&live, "calculator", "monolith", None, "test").unwrap();
        assert!(text.contains("  - name: orders\n"), "{text}");
        assert!(
            text.contains("      variable: ORDERS_URL\n      url: http://orders.shop:8080\n"),
            "{text}"
        );
        let none = skeleton(&starting_point(), "calculator", "monolith", None, "test").unwrap();
        assert!(none.contains("services:\n  []   # FILL"), "{none}");
        assert_eq!(
            skeleton(&starting_point(), "calculator", "monolit", None, "test")
                .unwrap_err()
                .to_string(),
            "there is no Deployment \"monolit\" in namespace \"calculator\" (Deployments there: monolith)"
        );
    }
}
