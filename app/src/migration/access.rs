//! What the move needs to know before it starts: the live objects its plan is made against,
//! and whether the console may do each thing the move does.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::Api;
use kube::api::ListParams;

use super::MoveError;
use crate::cluster::access;
use crate::model::access::Permission;
use crate::model::move_plan::LiveObjects;

/// Reads everything a plan is made against.
pub async fn live_objects(
    client: &kube::Client,
    namespace: &str,
) -> Result<LiveObjects, MoveError> {
    let all = ListParams::default();
    let (deployments, services, nodes, pods) = (
        Api::<Deployment>::namespaced(client.clone(), namespace),
        Api::<Service>::namespaced(client.clone(), namespace),
        Api::<Node>::all(client.clone()),
        Api::<Pod>::all(client.clone()),
    );
    let (deployments, services, nodes, pods) = tokio::try_join!(
        deployments.list(&all),
        services.list(&all),
        nodes.list(&all),
        pods.list(&all),
    )
    .map_err(|e| MoveError::kube("read the cluster (deployments, services, nodes, pods)", e))?;
    Ok(LiveObjects {
        deployments: deployments.items,
        services: services.items,
        nodes: nodes.items,
        pods: pods.items,
    })
}

/// Asks the server about each permission the move needs; `true` where it is granted.
pub async fn check(
    client: &kube::Client,
    permissions: &[Permission],
) -> Result<Vec<bool>, MoveError> {
    access::may(client, permissions).await.map_err(|e| {
        MoveError::kube(
            "check permissions (create selfsubjectaccessreviews.authorization.k8s.io)",
            e,
        )
    })
}
