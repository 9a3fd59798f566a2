//! What a move plan contains: every object it creates or patches, where the traffic goes
//! before and after, the nodes that can take the pod, the permissions it needs, and why it is
//! refused if it is.
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use serde::Serialize;

use crate::model::access::Permission;
use crate::model::analysis::Progression;
use crate::model::fit::NodeFit;
use crate::model::moves::{Direction, MoveRecord, ObjectRef, RoutingBefore, StepKind};

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

/// Where a progressive move is asked to share the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProgressiveWay {
    /// Inside the monolith, by its routing file (the plan's `progressive` section).
    #[default]
    Inside,
    /// At the edge, by the weights of the service's HTTPRoute rule (the service's `edge`).
    Edge,
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
    /// What the operator should know before the move goes ahead (such as a step left out
    /// because the cluster cannot carry it out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The routing as it is, for the rollback.
    pub before: RoutingBefore,
    /// Objects the move creates (they do not exist yet).
    pub creates: Vec<ObjectRef>,
    /// The ways the migration plan lets this move share the traffic step by step: inside the
    /// monolith where it has a routing file, at the edge where the service has an edge route.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub progressive_ways: Vec<ProgressiveWay>,
    /// The steps, in order.
    pub steps: Vec<StepKind>,
    /// A progressive move's shares and allowances (`None`: the switch is made at once).
    pub progression: Option<Progression>,
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
