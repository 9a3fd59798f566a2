//! Checking a migration plan against the cluster before any move: the objects it names exist,
//! the front Service picks the monolith on the port named, and the routing names agree — each
//! service's URL names the Service its manifest creates, and the monolith sets no URL variable
//! that no service of the plan routes (a misspelt `route.variable`). Each finding names the
//! plan's file, line and field. Pure: the plan's text and the live objects come in.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Container;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::migration_plan::MigrationPlan;
use super::move_plan::{LiveObjects, is_route_variable};

/// One thing wrong with the plan against the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The plan's field (`monolith.deployment`, `services[0].route.url`).
    pub field: String,
    /// Its line in the plan file, where it can be found.
    pub line: Option<u64>,
    /// What is wrong, and what to do.
    pub problem: String,
}

/// The lines of the fields a check names (serde_yaml, which reads the plan, keeps no positions).
#[derive(Default, Deserialize)]
#[serde(default)]
struct Lines {
    monolith: MonolithLines,
    front: FrontLines,
    services: Vec<ServiceLines>,
    progressive: ProgressiveLines,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ProgressiveLines {
    routing_config_map: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct MonolithLines {
    namespace: Option<Spanned<String>>,
    deployment: Option<Spanned<String>>,
    service: Option<Spanned<String>>,
    container: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct FrontLines {
    service: Option<Spanned<String>>,
    port: Option<Spanned<String>>,
    monolith_selector: BTreeMap<String, Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ServiceLines {
    route: Option<RouteLines>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RouteLines {
    variable: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
}

fn line<T>(spanned: &Option<Spanned<T>>) -> Option<u64> {
    spanned.as_ref().map(|s| s.referenced.line())
}

fn container<'a>(deployment: &'a Deployment, name: &str) -> Option<&'a Container> {
    deployment
        .spec
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == name)
}

fn names<'a>(items: impl Iterator<Item = Option<&'a String>>) -> String {
    let names: Vec<&str> = items.flatten().map(String::as_str).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Everything wrong with `plan` (whose file reads `text`) against `live`, the objects of its
/// namespace; empty when the plan fits the cluster.
pub fn check(plan: &MigrationPlan, text: &str, live: &LiveObjects) -> Vec<Finding> {
    let lines: Lines = serde_saphyr::from_str(text).unwrap_or_default();
    let mut findings = Vec::new();
    let mut find = |field: &str, line: Option<u64>, problem: String| {
        findings.push(Finding {
            field: field.to_owned(),
            line,
            problem,
        });
    };
    let ns = &plan.monolith.namespace;
    let deployments = || names(live.deployments.iter().map(|d| d.metadata.name.as_ref()));
    let services = || names(live.services.iter().map(|s| s.metadata.name.as_ref()));

    let monolith = live.deployment(&plan.monolith.deployment);
    match monolith {
        None => find(
            "monolith.deployment",
            line(&lines.monolith.deployment).or(line(&lines.monolith.namespace)),
            format!(
                "there is no Deployment {:?} in namespace {ns:?} (Deployments there: {})",
                plan.monolith.deployment,
                deployments()
            ),
        ),
        Some(deployment) => {
            if container(deployment, &plan.monolith.container).is_none() {
                let containers = deployment
                    .spec
                    .template
                    .spec
                    .as_ref()
                    .map(|s| names(s.containers.iter().map(|c| Some(&c.name))))
                    .unwrap_or_default();
                find(
                    "monolith.container",
                    line(&lines.monolith.container),
                    format!(
                        "Deployment {:?} has no container {:?} (its containers: {containers})",
                        plan.monolith.deployment, plan.monolith.container
                    ),
                );
            }
        }
    }
    if live.service(&plan.monolith.service).is_none() {
        find(
            "monolith.service",
            line(&lines.monolith.service),
            format!(
                "there is no Service {:?} in namespace {ns:?} (Services there: {})",
                plan.monolith.service,
                services()
            ),
        );
    }

    match live.service(&plan.front.service) {
        None => find(
            "front.service",
            line(&lines.front.service),
            format!(
                "there is no Service {:?} in namespace {ns:?} (Services there: {})",
                plan.front.service,
                services()
            ),
        ),
        Some(front) => {
            let ports = front
                .spec
                .as_ref()
                .and_then(|s| s.ports.as_ref())
                .map(|p| p.as_slice())
                .unwrap_or_default();
            let named = ports.iter().any(|p| {
                p.name.as_deref() == Some(plan.front.port.as_str())
                    || p.port.to_string() == plan.front.port
            });
            if !named {
                let listed: Vec<String> = ports
                    .iter()
                    .map(|p| match &p.name {
                        Some(name) => format!("{name} ({})", p.port),
                        None => p.port.to_string(),
                    })
                    .collect();
                find(
                    "front.port",
                    line(&lines.front.port),
                    format!(
                        "Service {:?} has no port {:?} (its ports: {})",
                        plan.front.service,
                        plan.front.port,
                        if listed.is_empty() {
                            "none".to_owned()
                        } else {
                            listed.join(", ")
                        }
                    ),
                );
            }
        }
    }
    if let Some(deployment) = monolith {
        let labels = deployment
            .spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let missing: Vec<(&String, &String)> = plan
            .front
            .monolith_selector
            .iter()
            .filter(|(k, v)| labels.get(*k) != Some(*v))
            .collect();
        if let Some((first, _)) = missing.first() {
            let missing: Vec<String> = missing.iter().map(|(k, v)| format!("{k}={v}")).collect();
            find(
                "front.monolithSelector",
                lines
                    .front
                    .monolith_selector
                    .get(*first)
                    .map(|s| s.referenced.line()),
                format!(
                    "the monolith's pods are not labelled {} (their labels: {}), so this selector would send the front to no pod",
                    missing.join(", "),
                    labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }

    // Routing names: each URL's host is the Service its manifest creates, on a port it has.
    for (i, service) in plan.services.iter().enumerate() {
        let spots = lines.services.get(i);
        let Some((_, url)) = service.variable() else {
            continue;
        };
        let url_line = spots
            .and_then(|s| s.route.as_ref())
            .and_then(|r| line(&r.url));
        let host_port = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<i32>().ok()),
            None => (host_port, Some(80)),
        };
        let host = host.split('.').next().unwrap_or(host);
        let creates = service.service_name();
        if host != creates {
            find(
                &format!("services[{i}].route.url"),
                url_line,
                format!(
                    "{url} calls host {host:?}, but {} creates the Service {creates:?}; use http://{creates}:<port>",
                    service.manifest
                ),
            );
        } else if let Some(port) = port {
            let ports: Vec<i32> = service
                .service
                .spec
                .as_ref()
                .and_then(|s| s.ports.as_ref())
                .map(|p| p.iter().map(|p| p.port).collect())
                .unwrap_or_default();
            if !ports.contains(&port) {
                find(
                    &format!("services[{i}].route.url"),
                    url_line,
                    format!(
                        "{url} calls port {port}, but the Service {creates:?} of {} listens on {}",
                        service.manifest,
                        ports
                            .iter()
                            .map(i32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    }

    // A URL variable the monolith sets that no service routes: a misspelt `route.variable`?
    if let Some(container) = monolith.and_then(|d| container(d, &plan.monolith.container)) {
        let routed: Vec<&str> = plan
            .services
            .iter()
            .filter_map(|s| s.variable().map(|v| v.0))
            .collect();
        for env in container.env.iter().flatten() {
            if is_route_variable(env) && !routed.contains(&env.name.as_str()) {
                let guess = plan.services.iter().position(|s| {
                    s.variable()
                        .is_some_and(|(_, url)| env.value.as_deref() == Some(url))
                });
                let (field, at) = match guess {
                    Some(i) => (
                        format!("services[{i}].route.variable"),
                        lines
                            .services
                            .get(i)
                            .and_then(|s| s.route.as_ref())
                            .and_then(|r| line(&r.variable)),
                    ),
                    None => ("services".to_owned(), None),
                };
                find(
                    &field,
                    at,
                    format!(
                        "the monolith sets {}={}, which no service of the plan routes; is a route.variable misspelt?",
                        env.name,
                        env.value.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
    }
    if let (Some(progressive), Some(monolith)) = (&plan.progressive, monolith) {
        let mounted: Vec<&str> = monolith
            .spec
            .template
            .spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .filter_map(|v| v.config_map.as_ref().map(|c| c.name.as_str()))
            .collect();
        if !mounted.contains(&progressive.routing_config_map.as_str()) {
            find(
                "progressive.routingConfigMap",
                line(&lines.progressive.routing_config_map),
                format!(
                    "the monolith mounts no ConfigMap {:?} (it mounts: {}), so a progressive move's routing would never reach it; mount it where the monolith reads its routing file",
                    progressive.routing_config_map,
                    if mounted.is_empty() {
                        "none".to_owned()
                    } else {
                        mounted.join(", ")
                    }
                ),
            );
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{monolith_setting, starting_point};
    use crate::model::migration_plan::PlanFiles;

    /// The built-in plan with `from` replaced by `to` in its text.
    fn edited(from: &str, to: &str) -> (MigrationPlan, String) {
        let mut files = PlanFiles::built_in();
        assert!(files.plan.contains(from), "the plan has {from:?}");
        files.plan = files.plan.replacen(from, to, 1);
        let plan = MigrationPlan::parse(&files).expect("still a plan");
        (plan, files.plan)
    }

    fn line_of(text: &str, needle: &str) -> u64 {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("in the text") as u64
            + 1
    }

    #[test]
    fn the_calculator_s_plan_fits_its_starting_point() {
        let files = PlanFiles::built_in();
        let plan = MigrationPlan::parse(&files).unwrap();
        assert_eq!(check(&plan, &files.plan, &starting_point()), vec![]);
    }

    #[test]
    fn each_broken_name_is_found_at_its_line() {
        for (from, to, field, words) in [
            (
                "deployment: monolith",
                "deployment: monolit",
                "monolith.deployment",
                "no Deployment \"monolit\" in namespace \"calculator\" (Deployments there: monolith)",
            ),
            (
                "container: calculator",
                "container: calc",
                "monolith.container",
                "has no container \"calc\" (its containers: calculator)",
            ),
            (
                "  service: monolith\n",
                "  service: monolith-svc\n",
                "monolith.service",
                "no Service \"monolith-svc\"",
            ),
            (
                "  service: calculator\n",
                "  service: front\n",
                "front.service",
                "no Service \"front\"",
            ),
            (
                "  port: http\n",
                "  port: web\n",
                "front.port",
                "has no port \"web\" (its ports: http (80))",
            ),
            (
                "    app.kubernetes.io/component: monolith\n",
                "    app.kubernetes.io/component: mono\n",
                "front.monolithSelector",
                "not labelled app.kubernetes.io/component=mono",
            ),
            (
                "      url: http://sum-service:3000",
                "      url: http://sum-svc:3000",
                "services[0].route.url",
                "calls host \"sum-svc\", but calculator/services/sum-service.yaml creates the Service \"sum-service\"",
            ),
            (
                "      url: http://subtraction-service:3000",
                "      url: http://subtraction-service:8080",
                "services[1].route.url",
                "calls port 8080",
            ),
            (
                "routingConfigMap: monolith-routing",
                "routingConfigMap: monolith-routes",
                "progressive.routingConfigMap",
                "the monolith mounts no ConfigMap \"monolith-routes\" (it mounts: monolith-routing)",
            ),
        ] {
            let (plan, text) = edited(from, to);
            let findings = check(&plan, &text, &starting_point());
            assert_eq!(findings.len(), 1, "{field}: {findings:?}");
            let finding = &findings[0];
            assert_eq!(finding.field, field);
            assert!(
                finding.problem.contains(words),
                "{field}: {}",
                finding.problem
            );
            assert_eq!(finding.line, Some(line_of(&text, to.trim_end())), "{field}");
        }
    }

    #[test]
    fn a_url_variable_no_service_routes_is_a_misspelt_route() {
        let (plan, text) = edited("variable: SUM_SERVICE_URL", "variable: SUM_URL");
        let live = monolith_setting("SUM_SERVICE_URL", "http://sum-service:3000");
        let findings = check(&plan, &text, &live);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].field, "services[0].route.variable");
        assert_eq!(findings[0].line, Some(line_of(&text, "variable: SUM_URL")));
        assert!(findings[0].problem.contains(
            "SUM_SERVICE_URL=http://sum-service:3000, which no service of the plan routes"
        ));
    }
}
