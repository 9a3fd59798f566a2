//! What the model's tests build on: the calculator's shipped manifests as the live objects a
//! plan is made and checked against.

use k8s_openapi::api::core::v1::{EnvVar, Service};
use serde::Deserialize;

use super::move_plan::LiveObjects;

/// The objects of `kind` in a multi-document YAML `text`.
pub fn objects<T: serde::de::DeserializeOwned>(text: &str, kind: &str) -> Vec<T> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde_yaml::Value::deserialize(d).expect("a shipped manifest is YAML"))
        .filter(|v| v.get("kind").and_then(|k| k.as_str()) == Some(kind))
        .map(|v| serde_yaml::from_value(v).expect("a shipped manifest's object decodes"))
        .collect()
}

/// The calculator's namespace as `kubectl apply -f manifests/calculator/` leaves it (no nodes
/// or pods).
pub fn starting_point() -> LiveObjects {
    let monolith = include_str!("../../../manifests/calculator/monolith.yaml");
    let front = include_str!("../../../manifests/calculator/calculator-service.yaml");
    LiveObjects {
        deployments: objects(monolith, "Deployment"),
        services: [
            objects::<Service>(monolith, "Service"),
            objects(front, "Service"),
        ]
        .concat(),
        nodes: Vec::new(),
        pods: Vec::new(),
    }
}

/// The starting point with the monolith's container also setting `name` to `value`.
pub fn monolith_setting(name: &str, value: &str) -> LiveObjects {
    let mut live = starting_point();
    if let Some(container) = live
        .deployments
        .first_mut()
        .and_then(|d| d.spec.template.spec.as_mut())
        .and_then(|s| s.containers.first_mut())
    {
        container.env.get_or_insert_with(Vec::new).push(EnvVar {
            name: name.to_owned(),
            value: Some(value.to_owned()),
            ..EnvVar::default()
        });
    }
    live
}
