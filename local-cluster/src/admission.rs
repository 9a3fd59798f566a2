//! What admission does to objects before they are stored, as the real server's plugins do it.
//!
//! RuntimeClass: a pod naming a RuntimeClass gets the class's overhead, node selector and
//! tolerations merged in (so it lands on the nodes the class is for, e.g. one Windows build),
//! and is refused when the class does not exist or contradicts the pod.
//!
//! DefaultIngressClass: an Ingress created without `ingressClassName` gets the class marked
//! `ingressclass.kubernetes.io/is-default-class: "true"` (the newest, when several are).

use serde_json::{Value, json};

use crate::resources;
use crate::store::Store;

/// Merges the pod's RuntimeClass into it; `Err` is the refusal's reason, worded as the real
/// plugin words it.
pub fn runtime_class(store: &Store, pod: &mut Value) -> Result<(), String> {
    let Some(name) = pod["spec"]["runtimeClassName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
    else {
        return Ok(());
    };
    let class = store
        .get(resources::runtimeclasses(), "", &name)
        .ok_or_else(|| format!("pod rejected: RuntimeClass {name:?} not found"))?
        .value();
    let spec = &mut pod["spec"];
    if let Some(fixed) = class["overhead"]["podFixed"].as_object() {
        if spec["overhead"].is_object() && spec["overhead"].as_object() != Some(fixed) {
            return Err(
                "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
                    .to_owned(),
            );
        }
        spec["overhead"] = Value::Object(fixed.clone());
    }
    let scheduling = &class["scheduling"];
    for (key, wanted) in scheduling["nodeSelector"].as_object().into_iter().flatten() {
        let wanted = wanted.as_str().unwrap_or_default();
        match spec["nodeSelector"][key.as_str()].as_str() {
            Some(set) if set != wanted => {
                return Err(format!(
                    "conflict: runtimeClass.scheduling.nodeSelector[{key}] = {wanted}; pod.spec.nodeSelector[{key}] = {set}"
                ));
            }
            _ => {
                if !spec["nodeSelector"].is_object() {
                    spec["nodeSelector"] = json!({});
                }
                spec["nodeSelector"][key.as_str()] = json!(wanted);
            }
        }
    }
    for toleration in scheduling["tolerations"].as_array().into_iter().flatten() {
        if !spec["tolerations"].is_array() {
            spec["tolerations"] = json!([]);
        }
        if let Some(list) = spec["tolerations"].as_array_mut()
            && !list.contains(toleration)
        {
            list.push(toleration.clone());
        }
    }
    Ok(())
}

/// The annotation that makes an IngressClass the default one.
pub const DEFAULT_INGRESS_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";

/// Sets a new Ingress's class to the default class when it names none.
pub fn default_ingress_class(store: &Store, ingress: &mut Value) {
    if ingress["spec"]["ingressClassName"].is_string()
        || ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"].is_string()
    {
        return;
    }
    let default = store
        .list(resources::ingressclasses(), None, |_| true, 0, None)
        .items
        .iter()
        .map(|c| c.value())
        .filter(|c| c["metadata"]["annotations"][DEFAULT_INGRESS_CLASS] == "true")
        .max_by(|a, b| {
            let created = |c: &Value| {
                c["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            created(a).cmp(&created(b))
        });
    if let Some(class) = default {
        if !ingress["spec"].is_object() {
            ingress["spec"] = json!({});
        }
        ingress["spec"]["ingressClassName"] = class["metadata"]["name"].clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Registry, WriteOptions};

    fn with_class(class: Value) -> std::sync::Arc<Registry> {
        let registry = Registry::for_tests(10);
        registry
            .create(
                resources::runtimeclasses(),
                "",
                class,
                &WriteOptions::default(),
            )
            .expect("the class is stored");
        registry
    }

    #[test]
    fn a_class_steers_a_pod_to_its_nodes() {
        let registry = with_class(
            json!({"metadata": {"name": "windows-2019"}, "handler": "runhcs-wcow-process",
            "scheduling": {"nodeSelector": {"kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.17763"},
                "tolerations": [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}]},
            "overhead": {"podFixed": {"cpu": "100m"}}}),
        );
        let mut pod = json!({"spec": {"runtimeClassName": "windows-2019", "nodeSelector": {"kubernetes.io/os": "windows"},
            "tolerations": [{"key": "other", "operator": "Exists"}]}});
        runtime_class(&registry.store, &mut pod).unwrap();
        assert_eq!(
            pod["spec"]["nodeSelector"],
            json!({"kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.17763"})
        );
        assert_eq!(pod["spec"]["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(pod["spec"]["overhead"], json!({"cpu": "100m"}));

        let mut conflicting = json!({"spec": {"runtimeClassName": "windows-2019",
            "nodeSelector": {"node.kubernetes.io/windows-build": "10.0.20348"}}});
        assert_eq!(
            runtime_class(&registry.store, &mut conflicting).unwrap_err(),
            "conflict: runtimeClass.scheduling.nodeSelector[node.kubernetes.io/windows-build] = 10.0.17763; pod.spec.nodeSelector[node.kubernetes.io/windows-build] = 10.0.20348"
        );
        let mut unknown = json!({"spec": {"runtimeClassName": "gvisor"}});
        assert_eq!(
            runtime_class(&registry.store, &mut unknown).unwrap_err(),
            "pod rejected: RuntimeClass \"gvisor\" not found"
        );
        let mut plain = json!({"spec": {"containers": []}});
        runtime_class(&registry.store, &mut plain).unwrap();
        assert_eq!(plain, json!({"spec": {"containers": []}}));
    }
}
