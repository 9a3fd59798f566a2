//! Planning one move: refusals first (another move, the monolith's state, where the service is
//! now), then the routing, the changes, the nodes that can take the pod, the permissions, and
//! a digest that a resumed move must match.
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::EnvVar;
use sha2::{Digest, Sha256};

use crate::model::access::Permission;
use crate::model::fit::{self};
use crate::model::migration_plan::{MigrationPlan, ServicePlan, ServiceRoute};
use crate::model::moves::{
    Direction, FIELD_MANAGER, MoveRecord, ObjectRef, RoutingBefore, StepKind,
};

use super::contents::{MovePlan, PlannedChange, ProgressiveWay, Recorded, RouteChange};
use super::live::{LiveObjects, Location, container_of, env_value, location, node_fits};

/// A service the migration plan does not name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the plan {plan} has no service {service:?}; it has: {available}")]
pub struct UnknownService {
    /// The plan.
    pub plan: String,
    /// The service asked for.
    pub service: String,
    /// The services it has, comma-separated.
    pub available: String,
}

/// Plans moving `service` in `direction`; `image` replaces the plan's image.
pub fn plan_move(
    plan: &MigrationPlan,
    service_name: &str,
    direction: Direction,
    image: Option<&str>,
    live: &LiveObjects,
    recorded: Recorded<'_>,
) -> Result<MovePlan, UnknownService> {
    let service = plan.service(service_name).ok_or_else(|| UnknownService {
        plan: plan.name.clone(),
        service: service_name.to_owned(),
        available: plan.service_names(),
    })?;
    let service = match image {
        Some(image) => service.with_image(image),
        None => service.clone(),
    };
    let resuming = match recorded {
        Recorded::Resuming(record) => Some(record),
        Recorded::Nothing | Recorded::Other(_) => None,
    };
    let mut refusals = refusals(plan, &service, direction, live, recorded);
    let mut routing = route(plan, &service, direction, live, resuming, &mut refusals);
    if let Some(record) = resuming {
        routing.before = record.before.clone();
    }
    let mut planned = changes(plan, &service, direction, live, resuming, &routing);
    if let Some(record) = resuming {
        planned.creates = record.created.clone();
    }
    let deployment_name = service.deployment_name();
    let nodes = match direction {
        Direction::Extract => {
            let spec = routing
                .deployment
                .spec
                .template
                .spec
                .clone()
                .unwrap_or_default();
            node_fits(&live.nodes, &live.pods, &spec)
        }
        Direction::Return => Vec::new(),
    };
    if direction == Direction::Extract
        && resuming.is_none()
        && !nodes.iter().any(|n| n.why_not.is_none())
    {
        refusals.push(format!(
            "no node can take a pod of {deployment_name}: {}",
            fit::summary(&nodes)
        ));
    }
    let mut move_plan = MovePlan {
        plan: plan.name.clone(),
        service: service.name.clone(),
        direction,
        namespace: plan.monolith.namespace.clone(),
        monolith: plan.monolith.deployment.clone(),
        target_os: target_os(&routing.deployment),
        images: service.images(),
        image_override: image.map(str::to_owned),
        deployment: routing.deployment,
        service_object: service.service.clone(),
        changes: planned.changes,
        route_changes: routing.route_changes,
        front_pin: routing.front_pin,
        front_switch: routing.front_switch,
        redeploys: planned.redeploys,
        nodes,
        permissions: Vec::new(),
        refusals,
        notes: Vec::new(),
        before: routing.before,
        creates: planned.creates,
        progressive_ways: progressive_ways(plan, &service, direction),
        steps: StepKind::sequence(direction).to_vec(),
        progression: None,
        digest: String::new(),
    };
    move_plan.permissions = permissions(plan, &move_plan);
    move_plan.digest = digest(&move_plan);
    Ok(move_plan)
}

/// Why a move about to begin may not: another move recorded, the monolith missing or scaled to
/// zero, the service already where the move would take it (or somewhere the plan does not
/// describe). Half-way through a recorded move the service is neither here nor there, so a
/// resumed move is not asked where it is.
/// The ways `service` could be moved out step by step, as the migration plan allows.
fn progressive_ways(
    plan: &MigrationPlan,
    service: &ServicePlan,
    direction: Direction,
) -> Vec<ProgressiveWay> {
    if direction != Direction::Extract || service.is_frontend() {
        return Vec::new();
    }
    let mut ways = Vec::new();
    if plan.progressive.is_some() {
        ways.push(ProgressiveWay::Inside);
    }
    if service.edge.is_some() {
        ways.push(ProgressiveWay::Edge);
    }
    ways
}

fn refusals(
    plan: &MigrationPlan,
    service: &ServicePlan,
    direction: Direction,
    live: &LiveObjects,
    recorded: Recorded<'_>,
) -> Vec<String> {
    let namespace = &plan.monolith.namespace;
    let service_name = &service.name;
    let mut refusals = Vec::new();
    if let Recorded::Other(record) = recorded {
        refusals.push(format!(
            "another move is in progress ({}); finish or roll it back first (hybrid-console migrate --resume | --rollback)",
            record.summary()
        ));
    }
    let monolith = live.deployment(&plan.monolith.deployment);
    let monolith_running = monolith.is_some_and(|d| d.spec.replicas.unwrap_or(1) > 0);
    if monolith.is_none() {
        refusals.push(format!(
            "the monolith Deployment {namespace}/{} does not exist",
            plan.monolith.deployment
        ));
    } else if direction == Direction::Return && !monolith_running {
        refusals.push(format!(
            "the monolith {namespace}/{} is scaled to zero; scale it up before moving {service_name} back",
            plan.monolith.deployment
        ));
    } else if !matches!(recorded, Recorded::Resuming(_)) {
        match (direction, location(plan, service, live)) {
            (Direction::Extract, Location::Extracted) => refusals.push(format!(
                "{service_name} has already left the monolith (served by {namespace}/{})",
                service.deployment_name()
            )),
            (Direction::Return, Location::InMonolith) => {
                refusals.push(format!("{service_name} is already served by the monolith"))
            }
            (_, Location::Elsewhere(url)) => refusals.push(format!(
                "the monolith forwards {service_name} to {url}, which this plan does not describe; fix the monolith's routing by hand first"
            )),
            _ => {}
        }
    }
    refusals
}

/// Where the service's traffic goes after the move, and what routing there was before.
struct Routing {
    /// The service's Deployment as it will be applied (a moved frontend learns where each
    /// service is now).
    deployment: Deployment,
    route_changes: Vec<RouteChange>,
    before: RoutingBefore,
    front_pin: Option<BTreeMap<String, String>>,
    front_switch: Option<BTreeMap<String, String>>,
}

/// The routing of the move: the routing variables of the monolith (and of a moved frontend),
/// or, for the frontend itself, the front Service's selector.
fn route(
    plan: &MigrationPlan,
    service: &ServicePlan,
    direction: Direction,
    live: &LiveObjects,
    resuming: Option<&MoveRecord>,
    refusals: &mut Vec<String>,
) -> Routing {
    let mut routing = Routing {
        deployment: service.deployment.clone(),
        route_changes: Vec::new(),
        before: RoutingBefore::default(),
        front_pin: None,
        front_switch: None,
    };
    let container = plan.monolith.container.clone();
    match &service.route {
        ServiceRoute::Variable { variable, url } => {
            routing.before.variable = Some(variable.clone());
            routing.before.container = Some(container.clone());
            let mut targets = vec![(plan.monolith.deployment.clone(), container.clone())];
            let frontend_live = plan
                .frontend()
                .filter(|f| f.name != service.name)
                .and_then(|f| live.deployment(f.deployment_name()).map(|_| f));
            if let Some(f) = frontend_live {
                let c = container_of(&f.deployment, &container)
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| container.clone());
                targets.push((f.deployment_name().to_owned(), c));
            }
            for (i, (name, container)) in targets.into_iter().enumerate() {
                let current = live
                    .deployment(&name)
                    .and_then(|d| env_value(d, &container, variable));
                routing.before.variables.insert(name.clone(), current);
                let value = match (direction, i) {
                    (Direction::Extract, _) => Some(url.clone()),
                    // The monolith computes it in-process again; a moved frontend asks the monolith.
                    (Direction::Return, 0) => None,
                    (Direction::Return, _) => Some(plan.monolith.url.clone()),
                };
                routing.route_changes.push(RouteChange {
                    deployment: name,
                    container,
                    variable: variable.clone(),
                    value,
                });
            }
        }
        ServiceRoute::Frontend { selector } => {
            let current = match resuming {
                Some(record) => record.before.front_selector.clone(),
                None => live
                    .service(&plan.front.service)
                    .and_then(|s| s.spec.as_ref())
                    .and_then(|s| s.selector.clone()),
            };
            match &current {
                None => refusals.push(format!(
                    "the front Service {}/{} does not exist",
                    plan.monolith.namespace, plan.front.service
                )),
                Some(current) => {
                    routing.before.front_selector = Some(current.clone());
                    match direction {
                        Direction::Extract => {
                            if current != &plan.front.monolith_selector {
                                routing.front_pin = Some(plan.front.monolith_selector.clone());
                            }
                            routing.front_switch = Some(selector.clone());
                        }
                        Direction::Return => {
                            routing.front_switch = Some(plan.front.monolith_selector.clone());
                        }
                    }
                }
            }
            // The frontend reaches each service where it is now: its own Service, or the monolith.
            for other in &plan.services {
                if let Some((variable, url)) = other.variable() {
                    let value = match location(plan, other, live) {
                        Location::Extracted => url.to_owned(),
                        _ => plan.monolith.url.clone(),
                    };
                    set_env(&mut routing.deployment, &container, variable, &value);
                }
            }
        }
    }
    routing
}

/// The changes a move makes, in order, with the objects it creates and the Deployments that
/// roll out new pods.
struct Changes {
    changes: Vec<PlannedChange>,
    creates: Vec<ObjectRef>,
    redeploys: Vec<String>,
}

fn changes(
    plan: &MigrationPlan,
    service: &ServicePlan,
    direction: Direction,
    live: &LiveObjects,
    resuming: Option<&MoveRecord>,
    routing: &Routing,
) -> Changes {
    let deployment_name = service.deployment_name().to_owned();
    let service_object_name = service.service_name().to_owned();
    let mut planned = Changes {
        changes: Vec::new(),
        creates: Vec::new(),
        redeploys: Vec::new(),
    };
    if direction == Direction::Extract {
        if let Some(pin) = &routing.front_pin {
            planned.changes.push(PlannedChange {
                action: "patch".into(),
                object: format!("Service/{}", plan.front.service),
                detail: format!(
                    "selector set to {} (only the monolith's pods, as now; the new pods get no traffic before they are verified)",
                    selector_text(pin)
                ),
            });
        }
        for (kind, name, exists) in [
            (
                "Deployment",
                &deployment_name,
                live.deployment(&deployment_name).is_some(),
            ),
            (
                "Service",
                &service_object_name,
                live.service(&service_object_name).is_some(),
            ),
        ] {
            planned.changes.push(PlannedChange {
                action: if exists { "update" } else { "create" }.into(),
                object: format!("{kind}/{name}"),
                detail: format!("server-side apply, field manager {FIELD_MANAGER}"),
            });
            if !exists && resuming.is_none() {
                planned.creates.push(ObjectRef {
                    kind: kind.into(),
                    name: name.clone(),
                });
            }
        }
        planned.redeploys.push(deployment_name.clone());
    }
    for change in &routing.route_changes {
        planned.changes.push(PlannedChange {
            action: "patch".into(),
            object: format!("Deployment/{}", change.deployment),
            detail: match &change.value {
                Some(v) => format!(
                    "set {}={v} (rolling redeploy, maxUnavailable 0)",
                    change.variable
                ),
                None => format!(
                    "remove {} (computes {} in-process again; rolling redeploy, maxUnavailable 0)",
                    change.variable, service.name
                ),
            },
        });
        planned.redeploys.push(change.deployment.clone());
    }
    if let Some(switch) = &routing.front_switch {
        planned.changes.push(PlannedChange {
            action: "patch".into(),
            object: format!("Service/{}", plan.front.service),
            detail: format!("selector set to {}", selector_text(switch)),
        });
    }
    if direction == Direction::Return {
        for (kind, name) in [
            ("Deployment", &deployment_name),
            ("Service", &service_object_name),
        ] {
            planned.changes.push(PlannedChange {
                action: "delete".into(),
                object: format!("{kind}/{name}"),
                detail: "after the monolith serves it again and answers correctly".into(),
            });
        }
    }
    planned
}

/// Sets `variable` in `container` of `deployment` (the first container if none is named so).
pub(super) fn set_env(deployment: &mut Deployment, container: &str, variable: &str, value: &str) {
    let Some(spec) = deployment.spec.template.spec.as_mut() else {
        return;
    };
    let index = spec
        .containers
        .iter()
        .position(|c| c.name == container)
        .unwrap_or(0);
    if let Some(c) = spec.containers.get_mut(index) {
        let env = c.env.get_or_insert_with(Vec::new);
        env.retain(|e| e.name != variable);
        env.push(EnvVar {
            name: variable.to_owned(),
            value: Some(value.to_owned()),
            value_from: None,
        });
    }
}

fn target_os(deployment: &Deployment) -> Option<String> {
    deployment
        .spec
        .template
        .spec
        .as_ref()?
        .node_selector
        .as_ref()?
        .get("kubernetes.io/os")
        .cloned()
}

fn selector_text(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A digest of what the move applies: the objects, the routing changes and the selectors.
fn digest(plan: &MovePlan) -> String {
    let material = serde_json::json!({
        "plan": plan.plan,
        "service": plan.service,
        "direction": plan.direction,
        "deployment": plan.deployment,
        "service-object": plan.service_object,
        "routes": plan.route_changes,
        "pin": plan.front_pin,
        "switch": plan.front_switch,
    });
    let hash = Sha256::digest(material.to_string().as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Every permission the move's steps (and its rollback) use.
fn permissions(plan: &MigrationPlan, move_plan: &MovePlan) -> Vec<Permission> {
    let ns = &move_plan.namespace;
    let mut list = Vec::new();
    let mut need =
        |verb: &str, group: &str, resource: &str, sub: Option<&str>, name: Option<&str>| {
            list.push(Permission {
                verb: verb.into(),
                group: group.into(),
                resource: resource.into(),
                subresource: sub.map(str::to_owned),
                namespace: ns.clone(),
                name: name.map(str::to_owned),
                allowed: None,
            });
        };
    let deployment = move_plan.deployment_name();
    let service = move_plan.service_name();
    // Watching rollouts, explaining waits, recording the move.
    for verb in ["list", "watch"] {
        need(verb, "apps", "deployments", None, None);
        need(verb, "", "pods", None, None);
        need(verb, "", "events", None, None);
    }
    need("get", "", "pods", Some("log"), None);
    need("create", "", "events", None, None);
    need("create", "coordination.k8s.io", "leases", None, None);
    need("update", "coordination.k8s.io", "leases", None, None);
    need("get", "coordination.k8s.io", "leases", None, None);
    need(
        "patch",
        "apps",
        "deployments",
        None,
        Some(&move_plan.monolith),
    );
    match move_plan.direction {
        Direction::Extract => {
            need("create", "apps", "deployments", None, None);
            need("patch", "apps", "deployments", None, Some(deployment));
            need("delete", "apps", "deployments", None, Some(deployment));
            need("create", "", "services", None, None);
            need("patch", "", "services", None, Some(service));
            need("delete", "", "services", None, Some(service));
            need("get", "", "services", Some("proxy"), Some(service));
        }
        Direction::Return => {
            need("delete", "apps", "deployments", None, Some(deployment));
            need("delete", "", "services", None, Some(service));
        }
    }
    for change in &move_plan.route_changes {
        if change.deployment != move_plan.monolith {
            need(
                "patch",
                "apps",
                "deployments",
                None,
                Some(&change.deployment),
            );
        }
    }
    if move_plan.front_pin.is_some() || move_plan.front_switch.is_some() {
        need("patch", "", "services", None, Some(&plan.front.service));
        need("list", "discovery.k8s.io", "endpointslices", None, None);
        need("watch", "discovery.k8s.io", "endpointslices", None, None);
    }
    need(
        "get",
        "",
        "services",
        Some("proxy"),
        Some(&plan.front.service),
    );
    list.sort();
    list.dedup();
    list
}
