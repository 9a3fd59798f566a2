//! The calculator as the strangler fig sees it: which operations the monolith still computes,
//! which it forwards, and which Linux services exist.

use calc_services::Operation;
use k8s_openapi::api::apps::v1::Deployment;
use serde::Serialize;

/// The label naming the application; the console recognises the calculator by it.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// The label naming the part (`monolith`, `sum`, …, `ui`).
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// The monolith Deployment and what it still holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Monolith {
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub deployment: String,
    /// Operations it computes in-process (no routing variable set).
    pub in_process: Vec<Operation>,
    /// Operations it forwards: (operation, URL from its routing variable).
    pub forwarded: Vec<(Operation, String)>,
    /// Ready replicas / desired replicas.
    pub ready: (i32, i32),
}

/// An extracted service's Deployment (`sum-service`, …, `ui-service`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExtractedService {
    /// `sum`, …, `ui`.
    pub component: String,
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub deployment: String,
    /// Ready replicas / desired replicas.
    pub ready: (i32, i32),
}

/// The calculator's shape in the cluster, if it is there.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CalculatorTopology {
    /// The monolith, while it exists.
    pub monolith: Option<Monolith>,
    /// Services already extracted.
    pub services: Vec<ExtractedService>,
}

fn ready_of(d: &Deployment) -> (i32, i32) {
    let ready = d
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    (ready, d.spec.replicas.unwrap_or(1))
}

impl CalculatorTopology {
    /// Reads the calculator's Deployments (labelled `app.kubernetes.io/name: calculator`).
    pub fn of(deployments: &[&Deployment]) -> CalculatorTopology {
        let mut topology = CalculatorTopology::default();
        for d in deployments {
            let labels = d.metadata.labels.clone().unwrap_or_default();
            if labels.get(NAME_LABEL).map(String::as_str) != Some("calculator") {
                continue;
            }
            let namespace = d.metadata.namespace.clone().unwrap_or_default();
            let name = d.metadata.name.clone().unwrap_or_default();
            match labels.get(COMPONENT_LABEL).map(String::as_str) {
                Some("monolith") => {
                    let env = d
                        .spec
                        .template
                        .spec
                        .as_ref()
                        .and_then(|s| s.containers.first())
                        .and_then(|c| c.env.clone())
                        .unwrap_or_default();
                    let mut in_process = Vec::new();
                    let mut forwarded = Vec::new();
                    for op in Operation::ALL {
                        let url = env
                            .iter()
                            .find(|e| e.name == op.routing_variable())
                            .and_then(|e| e.value.clone())
                            .filter(|v| !v.trim().is_empty());
                        match url {
                            Some(url) => forwarded.push((op, url)),
                            None => in_process.push(op),
                        }
                    }
                    topology.monolith = Some(Monolith {
                        namespace,
                        deployment: name,
                        in_process,
                        forwarded,
                        ready: ready_of(d),
                    });
                }
                Some(component) => topology.services.push(ExtractedService {
                    component: component.to_owned(),
                    namespace,
                    deployment: name,
                    ready: ready_of(d),
                }),
                None => {}
            }
        }
        topology
            .services
            .sort_by(|a, b| a.deployment.cmp(&b.deployment));
        topology
    }

    /// Whether `labels` mark a pod of the monolith.
    pub fn is_monolith_pod(labels: &std::collections::BTreeMap<String, String>) -> bool {
        labels.get(NAME_LABEL).map(String::as_str) == Some("calculator")
            && labels.get(COMPONENT_LABEL).map(String::as_str) == Some("monolith")
    }
}
