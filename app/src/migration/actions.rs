//! The writes a move makes, each idempotent so a resumed move can repeat it: server-side apply
//! of the service's objects, routing variables, the front Service's selector, deletion.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use serde_json::{Value, json};

use super::MoveError;
use crate::model::move_plan::RouteChange;
use crate::model::moves::FIELD_MANAGER;

fn apply_params() -> PatchParams {
    // Force: objects first created by `kubectl apply` are taken over, as
    // `kubectl apply --server-side --force-conflicts` would.
    PatchParams::apply(FIELD_MANAGER).force()
}

/// A patch's parameters: the console as its field manager.
pub(super) fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    }
}

/// Server-side applies the service's Deployment and Service.
pub async fn apply(
    client: &kube::Client,
    namespace: &str,
    deployment: &Deployment,
    service: &Service,
) -> Result<(), MoveError> {
    let mut deployment = deployment.clone();
    deployment.metadata.managed_fields = None;
    deployment.metadata.resource_version = None;
    let name = deployment.metadata.name.clone().unwrap_or_default();
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .patch(&name, &apply_params(), &Patch::Apply(&deployment))
        .await
        .map_err(|e| MoveError::kube(&format!("apply Deployment {namespace}/{name}"), e))?;
    let name = service.metadata.name.clone().unwrap_or_default();
    Api::<Service>::namespaced(client.clone(), namespace)
        .patch(&name, &apply_params(), &Patch::Apply(service))
        .await
        .map_err(|e| MoveError::kube(&format!("apply Service {namespace}/{name}"), e))?;
    Ok(())
}

/// The strategic merge patch that sets (or removes) a routing variable, with a rolling update
/// that never removes a pod before its replacement is Ready.
pub fn route_patch(change: &RouteChange) -> Value {
    let env = match &change.value {
        Some(value) => json!({"name": change.variable, "value": value}),
        None => json!({"name": change.variable, "$patch": "delete"}),
    };
    json!({
        "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {"spec": {"containers": [{"name": change.container, "env": [env]}]}},
        }
    })
}

/// Applies a routing change to a Deployment other than the monolith (the monolith's goes with
/// its record, in one write).
pub async fn reroute(
    client: &kube::Client,
    namespace: &str,
    change: &RouteChange,
) -> Result<(), MoveError> {
    let api = Api::<Deployment>::namespaced(client.clone(), namespace);
    let (params, patch) = (patch_params(), Patch::Strategic(route_patch(change)));
    // Setting the variable twice leaves it as setting it once.
    again_after_server_errors(|| api.patch(&change.deployment, &params, &patch))
        .await
        .map_err(|e| {
            MoveError::kube(
                &format!(
                    "set {} on Deployment {namespace}/{}",
                    change.variable, change.deployment
                ),
                e,
            )
        })?;
    Ok(())
}

/// Points the front Service at the pods `selector` picks (a JSON merge patch: keys not in
/// `selector` are removed). The patch carries the resourceVersion it was built from, so it is
/// built again from a fresh read when the Service changed meanwhile (409) or the server failed
/// (500: the switch may or may not have happened, and making it twice leaves it made once).
pub async fn select_front(
    client: &kube::Client,
    namespace: &str,
    front: &str,
    selector: &BTreeMap<String, String>,
) -> Result<(), MoveError> {
    let api = Api::<Service>::namespaced(client.clone(), namespace);
    let mut server_errors = 0;
    for _ in 0..10 {
        let current = api
            .get(front)
            .await
            .map_err(|e| MoveError::kube(&format!("read Service {namespace}/{front}"), e))?;
        let body = front_switch(&current, selector);
        match api
            .patch(front, &patch_params(), &Patch::Merge(&body))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(kube::Error::Api(s)) if s.code == 500 && server_errors < 5 => {
                server_errors += 1;
                tracing::debug!(error = %s.message, "switching the front: server error; reading it again");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) => {
                return Err(MoveError::kube(
                    &format!("switch the selector of Service {namespace}/{front}"),
                    e,
                ));
            }
        }
    }
    Err(MoveError::Cluster(format!(
        "Service {namespace}/{front} kept changing while its selector was switched"
    )))
}

/// The merge patch that makes `current`'s selector exactly `selector`, valid only against the
/// version read.
fn front_switch(current: &Service, selector: &BTreeMap<String, String>) -> Value {
    let mut patch = serde_json::Map::new();
    for key in current
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .filter(|k| !selector.contains_key(*k))
    {
        patch.insert(key.clone(), Value::Null);
    }
    for (k, v) in selector {
        patch.insert(k.clone(), json!(v));
    }
    json!({
        "metadata": {"resourceVersion": current.metadata.resource_version},
        "spec": {"selector": patch},
    })
}

/// Deletes an object the move created or retires; one already gone is fine.
pub async fn delete(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<(), MoveError> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    // Deleting twice is harmless (the second finds nothing: 404).
    let result = match kind {
        "Deployment" => {
            let api = Api::<Deployment>::namespaced(client.clone(), namespace);
            again_after_server_errors(|| api.delete(name, &params))
                .await
                .map(|_| ())
        }
        "Service" => {
            let api = Api::<Service>::namespaced(client.clone(), namespace);
            again_after_server_errors(|| api.delete(name, &params))
                .await
                .map(|_| ())
        }
        other => {
            return Err(MoveError::Cluster(format!(
                "the move does not delete {other} objects"
            )));
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(MoveError::kube(
            &format!("delete {kind} {namespace}/{name}"),
            e,
        )),
    }
}

/// Runs `write` until it is not answered with a server error (at most five times more, a second
/// apart). A 500 may come before or after the write took effect, so this is only for writes that
/// leave the same result however often they are made.
async fn again_after_server_errors<T, F, Fut>(mut write: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut server_errors = 0;
    loop {
        match write().await {
            Err(kube::Error::Api(s)) if s.code == 500 && server_errors < 5 => {
                server_errors += 1;
                tracing::debug!(error = %s.message, "server error on a repeatable write; writing again");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_front_switch_replaces_the_selector_as_of_the_version_read() {
        let current: Service = serde_json::from_value(json!({
            "metadata": {"name": "calculator", "resourceVersion": "42"},
            "spec": {"selector": {"app": "monolith", "tier": "front"}},
        }))
        .unwrap_or_default();
        let wanted = BTreeMap::from([("app".to_owned(), "ui-service".to_owned())]);
        assert_eq!(
            front_switch(&current, &wanted),
            json!({
                "metadata": {"resourceVersion": "42"},
                "spec": {"selector": {"app": "ui-service", "tier": null}},
            })
        );
    }

    #[test]
    fn a_route_patch_sets_or_deletes_one_variable_by_name() {
        let mut change = RouteChange {
            deployment: "monolith".into(),
            container: "calculator".into(),
            variable: "SUM_SERVICE_URL".into(),
            value: Some("http://sum-service:3000".into()),
        };
        assert_eq!(
            route_patch(&change)["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "calculator", "env": [{"name": "SUM_SERVICE_URL", "value": "http://sum-service:3000"}]})
        );
        change.value = None;
        assert_eq!(
            route_patch(&change)["spec"]["template"]["spec"]["containers"][0]["env"][0],
            json!({"name": "SUM_SERVICE_URL", "$patch": "delete"})
        );
        assert_eq!(
            route_patch(&change)["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
            0
        );
    }
}
