//! The plan of one move, shown before anything changes: the objects to create, patch or delete,
//! the Deployments that will redeploy, the nodes that can take the pod, the permissions the move
//! needs, and the reasons it must be refused. Computed from the migration plan and the live
//! objects, with no I/O; the executor only carries it out.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{EnvVar, Node, Pod, Service};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::access::Permission;
use super::moves::{Direction, MoveRecord, ObjectRef, RoutingBefore, StepKind};
use super::placement::{self, NodeFit};
use super::plan::{MigrationPlan, ServicePlan, ServiceRoute};

/// The objects a plan is made against, all read at one moment.
#[derive(Clone, Debug, Default)]
pub struct LiveObjects {
    /// Deployments in the monolith's namespace.
    pub deployments: Vec<Deployment>,
    /// Services in the monolith's namespace.
    pub services: Vec<Service>,
    /// Every node.
    pub nodes: Vec<Node>,
    /// Every pod (for the room left on each node).
    pub pods: Vec<Pod>,
}

impl LiveObjects {
    /// The Deployment `name`, if it exists.
    pub fn deployment(&self, name: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(name))
    }

    /// The Service `name`, if it exists.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
    }
}

/// Where a service is served from now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    /// The monolith computes (or serves) it.
    InMonolith,
    /// Its own Deployment serves it.
    Extracted,
    /// The monolith forwards it somewhere this plan does not describe.
    Elsewhere(String),
}

/// The value of `variable` in `container` of `deployment` (`None`: unset or empty).
pub fn env_value(deployment: &Deployment, container: &str, variable: &str) -> Option<String> {
    container_of(deployment, container)?
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == variable)
        .and_then(|e| e.value.clone())
        .filter(|v| !v.trim().is_empty())
}

fn container_of<'a>(
    deployment: &'a Deployment,
    name: &str,
) -> Option<&'a k8s_openapi::api::core::v1::Container> {
    let containers = &deployment.spec.template.spec.as_ref()?.containers;
    containers
        .iter()
        .find(|c| c.name == name)
        .or_else(|| containers.first())
}

/// Whether the front Service's selector picks the pods `selector` describes.
fn selector_is(front: &Service, selector: &BTreeMap<String, String>) -> bool {
    front
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|current| current == selector)
}

/// Where `service` is served from now.
pub fn location(plan: &MigrationPlan, service: &ServicePlan, live: &LiveObjects) -> Location {
    match &service.route {
        ServiceRoute::Variable { variable, url } => {
            let Some(monolith) = live.deployment(&plan.monolith.deployment) else {
                // No monolith: whatever serves it, it is not the monolith.
                return Location::Extracted;
            };
            match env_value(monolith, &plan.monolith.container, variable) {
                None => Location::InMonolith,
                Some(value) if &value == url => Location::Extracted,
                Some(value) => Location::Elsewhere(value),
            }
        }
        ServiceRoute::Frontend { selector } => match live.service(&plan.front.service) {
            Some(front) if selector_is(front, selector) => Location::Extracted,
            _ => Location::InMonolith,
        },
    }
}

/// A routing variable to set (`Some`) or remove (`None`) on a Deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteChange {
    /// The Deployment.
    pub deployment: String,
    /// Its container.
    pub container: String,
    /// The variable.
    pub variable: String,
    /// Its new value; `None` removes it.
    pub value: Option<String>,
}

/// One object the move creates, changes or removes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    /// `create`, `update`, `patch` or `delete`.
    pub action: String,
    /// `Deployment/sum-service`.
    pub object: String,
    /// What changes, in words.
    pub detail: String,
}

/// The whole plan of one move.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MovePlan {
    /// The migration plan's name.
    pub plan: String,
    /// The service.
    pub service: String,
    /// Which way.
    pub direction: Direction,
    /// The monolith's namespace, where everything happens.
    pub namespace: String,
    /// The monolith Deployment.
    pub monolith: String,
    /// The OS the service's pods go to (its `kubernetes.io/os` selector).
    pub target_os: Option<String>,
    /// The images it deploys.
    pub images: Vec<String>,
    /// The image given instead of the plan's, if any.
    pub image_override: Option<String>,
    /// The Deployment to apply (extract) or remove (return).
    pub deployment: Deployment,
    /// The Service to apply or remove.
    pub service_object: Service,
    /// Objects created, changed or removed, in order.
    pub changes: Vec<PlannedChange>,
    /// Routing variables to set or remove.
    pub route_changes: Vec<RouteChange>,
    /// The front Service's selector before the service is deployed (a frontend's move pins
    /// it to the monolith's pods so the new pods get no traffic before they are verified).
    pub front_pin: Option<BTreeMap<String, String>>,
    /// The front Service's selector after the re-route.
    pub front_switch: Option<BTreeMap<String, String>>,
    /// Deployments that roll out new pods.
    pub redeploys: Vec<String>,
    /// Every node, and whether it can take a pod of the service.
    pub nodes: Vec<NodeFit>,
    /// What the move needs to be allowed to do.
    pub permissions: Vec<Permission>,
    /// Why the move cannot go ahead (empty: it can).
    pub refusals: Vec<String>,
    /// The routing as it is, for the rollback.
    pub before: RoutingBefore,
    /// Objects the move creates (they do not exist yet).
    pub creates: Vec<ObjectRef>,
    /// The steps, in order.
    pub steps: Vec<StepKind>,
    /// A digest of what the move applies, recorded with it.
    pub digest: String,
}

impl MovePlan {
    /// Whether the move may go ahead.
    pub fn allowed(&self) -> bool {
        self.refusals.is_empty()
    }

    /// How many permissions the server was asked about, and the ones it refused.
    pub fn permissions_checked(&self) -> (usize, Vec<String>) {
        let asked = self
            .permissions
            .iter()
            .filter(|p| p.allowed.is_some())
            .count();
        let missing = self
            .permissions
            .iter()
            .filter(|p| p.allowed == Some(false))
            .map(Permission::describe)
            .collect();
        (asked, missing)
    }

    /// Records the server's answers to the permission checks, refusing the move for each
    /// permission it lacks.
    pub fn record_permissions(&mut self, answers: &[bool]) {
        for (permission, allowed) in self.permissions.iter_mut().zip(answers) {
            permission.allowed = Some(*allowed);
        }
        let (_, missing) = self.permissions_checked();
        if !missing.is_empty() {
            self.refusals.push(format!(
                "not allowed: {} (in namespace {}); ask your cluster administrator for a Role that grants these verbs",
                missing.join(", "),
                self.namespace
            ));
        }
    }

    /// The Deployment's name.
    pub fn deployment_name(&self) -> &str {
        self.deployment.metadata.name.as_deref().unwrap_or_default()
    }

    /// The Service's name.
    pub fn service_name(&self) -> &str {
        self.service_object
            .metadata
            .name
            .as_deref()
            .unwrap_or_default()
    }
}

fn set_env(deployment: &mut Deployment, container: &str, variable: &str, value: &str) {
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

/// How a plan relates to the move the monolith records.
#[derive(Clone, Copy, Debug)]
pub enum Recorded<'a> {
    /// No move is recorded.
    Nothing,
    /// Another move is recorded: this one must wait.
    Other(&'a MoveRecord),
    /// This plan finishes the recorded move: the routing to restore and the objects created
    /// are the record's, whatever the cluster shows half-way.
    Resuming(&'a MoveRecord),
}

/// Plans moving `service` in `direction`; `image` replaces the plan's image.
pub fn plan_move(
    plan: &MigrationPlan,
    service_name: &str,
    direction: Direction,
    image: Option<&str>,
    live: &LiveObjects,
    recorded: Recorded<'_>,
) -> Result<MovePlan, String> {
    let service = plan.service(service_name).ok_or_else(|| {
        format!(
            "the plan {} has no service {service_name:?}; it has: {}",
            plan.name,
            plan.service_names()
        )
    })?;
    let service = match image {
        Some(image) => service.with_image(image),
        None => service.clone(),
    };
    let namespace = plan.monolith.namespace.clone();
    let mut refusals = Vec::new();
    let resuming = match recorded {
        Recorded::Other(record) => {
            refusals.push(format!(
                "another move is in progress ({}); finish or roll it back first (hybrid-console migrate --resume | --rollback)",
                record.summary()
            ));
            None
        }
        Recorded::Resuming(record) => Some(record),
        Recorded::Nothing => None,
    };
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
    } else if resuming.is_none() {
        // Half-way through a recorded move the service is neither here nor there: these
        // checks are for a move about to begin.
        match (direction, location(plan, &service, live)) {
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
    let frontend = plan.frontend();
    let frontend_live = frontend
        .filter(|f| f.name != service.name)
        .and_then(|f| live.deployment(f.deployment_name()).map(|_| f));
    let mut deployment = service.deployment.clone();
    let mut route_changes = Vec::new();
    let mut before = RoutingBefore::default();
    let mut front_pin = None;
    let mut front_switch = None;
    let container = plan.monolith.container.clone();
    match &service.route {
        ServiceRoute::Variable { variable, url } => {
            before.variable = Some(variable.clone());
            before.container = Some(container.clone());
            let mut targets = vec![(plan.monolith.deployment.clone(), container.clone())];
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
                before.variables.insert(name.clone(), current);
                let value = match (direction, i) {
                    (Direction::Extract, _) => Some(url.clone()),
                    // The monolith computes it in-process again; a moved frontend asks the monolith.
                    (Direction::Return, 0) => None,
                    (Direction::Return, _) => Some(plan.monolith.url.clone()),
                };
                route_changes.push(RouteChange {
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
                    "the front Service {namespace}/{} does not exist",
                    plan.front.service
                )),
                Some(current) => {
                    before.front_selector = Some(current.clone());
                    match direction {
                        Direction::Extract => {
                            if current != &plan.front.monolith_selector {
                                front_pin = Some(plan.front.monolith_selector.clone());
                            }
                            front_switch = Some(selector.clone());
                        }
                        Direction::Return => {
                            front_switch = Some(plan.front.monolith_selector.clone());
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
                    set_env(&mut deployment, &container, variable, &value);
                }
            }
        }
    }
    if let Some(record) = resuming {
        before = record.before.clone();
    }
    let deployment_name = service.deployment_name().to_owned();
    let service_object_name = service.service_name().to_owned();
    let mut changes = Vec::new();
    let mut creates = Vec::new();
    let mut redeploys = Vec::new();
    let exists_deployment = live.deployment(&deployment_name).is_some();
    let exists_service = live.service(&service_object_name).is_some();
    if direction == Direction::Extract {
        if let Some(pin) = &front_pin {
            changes.push(PlannedChange {
                action: "patch".into(),
                object: format!("Service/{}", plan.front.service),
                detail: format!(
                    "selector set to {} (only the monolith's pods, as now; the new pods get no traffic before they are verified)",
                    selector_text(pin)
                ),
            });
        }
        for (kind, name, exists) in [
            ("Deployment", &deployment_name, exists_deployment),
            ("Service", &service_object_name, exists_service),
        ] {
            changes.push(PlannedChange {
                action: if exists { "update" } else { "create" }.into(),
                object: format!("{kind}/{name}"),
                detail: format!(
                    "server-side apply, field manager {}",
                    super::moves::FIELD_MANAGER
                ),
            });
            if !exists && resuming.is_none() {
                creates.push(ObjectRef {
                    kind: kind.into(),
                    name: name.clone(),
                });
            }
        }
        redeploys.push(deployment_name.clone());
    }
    for change in &route_changes {
        changes.push(PlannedChange {
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
        redeploys.push(change.deployment.clone());
    }

    if let Some(switch) = &front_switch {
        changes.push(PlannedChange {
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
            changes.push(PlannedChange {
                action: "delete".into(),
                object: format!("{kind}/{name}"),
                detail: "after the monolith serves it again and answers correctly".into(),
            });
        }
    }
    if let Some(record) = resuming {
        creates = record.created.clone();
    }
    let nodes = match direction {
        Direction::Extract => {
            let spec = deployment.spec.template.spec.clone().unwrap_or_default();
            placement::node_fits(&live.nodes, &live.pods, &spec)
        }
        Direction::Return => Vec::new(),
    };
    if direction == Direction::Extract
        && resuming.is_none()
        && !nodes.iter().any(|n| n.why_not.is_none())
    {
        refusals.push(format!(
            "no node can take a pod of {deployment_name}: {}",
            placement::summary(&nodes)
        ));
    }
    let mut move_plan = MovePlan {
        plan: plan.name.clone(),
        service: service.name.clone(),
        direction,
        namespace: namespace.clone(),
        monolith: plan.monolith.deployment.clone(),
        target_os: target_os(&deployment),
        images: service.images(),
        image_override: image.map(str::to_owned),
        deployment,
        service_object: service.service.clone(),
        changes,
        route_changes,
        front_pin,
        front_switch,
        redeploys,
        nodes,
        permissions: Vec::new(),
        refusals,
        before,
        creates,
        steps: StepKind::sequence(direction).to_vec(),
        digest: String::new(),
    };
    move_plan.permissions = permissions(plan, &move_plan);
    move_plan.digest = digest(&move_plan);
    Ok(move_plan)
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

#[cfg(test)]
mod tests;
