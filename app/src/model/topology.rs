//! The strangler fig as the migration plan sees it in the cluster: which services the monolith
//! still serves, which have their own Deployment, the move in progress (from the monolith's
//! record), and whether the monolith can be retired.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use serde::Serialize;

use super::migration_plan::MigrationPlan;
use super::move_plan::{self, LiveObjects, Location};
use super::moves::MoveRecord;
use super::pods::{PodPlacement, PodState};

/// The monolith Deployment and what it still serves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Monolith {
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub deployment: String,
    /// Services it serves itself (computes in-process, or the page).
    pub in_process: Vec<String>,
    /// Services it forwards: (service, URL from its routing variable).
    pub forwarded: Vec<(String, String)>,
    /// Ready replicas / desired replicas.
    pub ready: (i32, i32),
    /// The labels that pick its pods.
    #[serde(skip)]
    pub selector: BTreeMap<String, String>,
}

/// A service of the plan and where it is served from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceState {
    /// Its name in the plan (`sum`).
    pub name: String,
    /// Where it is served from.
    pub location: Location,
    /// Its own Deployment's name.
    pub deployment: String,
    /// Ready / desired replicas of its own Deployment, when it exists.
    pub ready: Option<(i32, i32)>,
    /// The labels that pick its pods.
    #[serde(skip)]
    pub selector: BTreeMap<String, String>,
}

/// The plan's view of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonolithTopology {
    /// The plan's name.
    pub plan: String,
    /// Its namespace.
    pub namespace: String,
    /// The monolith, while it exists.
    pub monolith: Option<Monolith>,
    /// Every service of the plan.
    pub services: Vec<ServiceState>,
    /// The move the monolith records, if any.
    pub moving: Option<MoveRecord>,
    /// A record that cannot be read.
    pub record_problem: Option<String>,
    /// Whether the monolith serves nothing any more and can be retired.
    pub retirable: bool,
}

fn ready_of(d: &Deployment) -> (i32, i32) {
    let ready = d
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    (ready, d.spec.replicas.unwrap_or(1))
}

fn selector_of(d: &Deployment) -> BTreeMap<String, String> {
    d.spec.selector.match_labels.clone().unwrap_or_default()
}

impl MonolithTopology {
    /// Reads the plan's objects out of all `deployments` and `services`.
    pub fn of(
        plan: &MigrationPlan,
        deployments: &[&Deployment],
        services: &[&Service],
    ) -> MonolithTopology {
        let namespace = plan.monolith.namespace.clone();
        let here = |ns: &Option<String>| ns.as_deref() == Some(namespace.as_str());
        let live = LiveObjects {
            deployments: deployments
                .iter()
                .filter(|d| here(&d.metadata.namespace))
                .map(|d| (*d).clone())
                .collect(),
            services: services
                .iter()
                .filter(|s| here(&s.metadata.namespace))
                .map(|s| (*s).clone())
                .collect(),
            nodes: Vec::new(),
            pods: Vec::new(),
        };
        let mut states = Vec::new();
        let (mut in_process, mut forwarded) = (Vec::new(), Vec::new());
        for service in &plan.services {
            let location = move_plan::location(plan, service, &live);
            match &location {
                Location::InMonolith => in_process.push(service.name.clone()),
                Location::Elsewhere(url) => forwarded.push((service.name.clone(), url.clone())),
                Location::Extracted => {
                    if let Some((_, url)) = service.variable() {
                        forwarded.push((service.name.clone(), url.to_owned()));
                    }
                }
            }
            let own = live.deployment(service.deployment_name());
            states.push(ServiceState {
                name: service.name.clone(),
                location,
                deployment: service.deployment_name().to_owned(),
                ready: own.map(ready_of),
                selector: own
                    .map(selector_of)
                    .unwrap_or_else(|| selector_of(&service.deployment)),
            });
        }
        let monolith_object = live.deployment(&plan.monolith.deployment);
        let (moving, record_problem) = match monolith_object
            .and_then(|m| MoveRecord::from_annotations(m.metadata.annotations.as_ref()))
        {
            Some(Ok(record)) => (Some(record), None),
            Some(Err(why)) => (None, Some(why.to_string())),
            None => (None, None),
        };
        let monolith = monolith_object.map(|d| Monolith {
            namespace: namespace.clone(),
            deployment: plan.monolith.deployment.clone(),
            in_process: in_process.clone(),
            forwarded,
            ready: ready_of(d),
            selector: selector_of(d),
        });
        let retirable = monolith.is_some() && in_process.is_empty() && moving.is_none();
        MonolithTopology {
            plan: plan.name.clone(),
            namespace,
            monolith,
            services: states,
            moving,
            record_problem,
            retirable,
        }
    }

    /// The state of service `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceState> {
        self.services.iter().find(|s| s.name == name)
    }

    /// What `pod` holds in process (a monolith pod: the services it still serves) and which
    /// moved-out service (or service being shared by a progressive move) it serves on its own,
    /// as its labels say; nothing for pods outside the plan's namespace or on their way out.
    pub fn roles_of(&self, pod: &PodPlacement) -> (Vec<String>, Option<String>) {
        if pod.namespace != self.namespace || pod.state == PodState::Terminating {
            return (Vec::new(), None);
        }
        let holds = match &self.monolith {
            Some(monolith) if picks(&monolith.selector, &pod.labels) => monolith.in_process.clone(),
            _ => Vec::new(),
        };
        let serves = self
            .services
            .iter()
            .find(|s| {
                // A service a progressive move is sharing already answers from its own pods.
                let sharing = self
                    .moving
                    .as_ref()
                    .is_some_and(|r| r.service == s.name && r.share.is_some());
                (s.location == Location::Extracted || sharing)
                    && s.ready.is_some()
                    && picks(&s.selector, &pod.labels)
            })
            .map(|s| s.name.clone());
        (holds, serves)
    }
}

/// Whether `labels` carry every pair of `selector` (an empty selector picks nothing).
pub fn picks(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
