//! What the move needs to know before it starts: the live objects, who the console is to the
//! cluster, and whether it may do each thing the move does (`SelfSubjectAccessReview`, the
//! question `kubectl auth can-i` asks).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::Api;
use kube::api::{ListParams, PostParams};

use super::MoveError;
use crate::model::move_plan::{LiveObjects, Permission};

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

/// The user the cluster knows the console as (`kubectl auth whoami`), or what the server will
/// not say.
pub async fn whoami(client: &kube::Client) -> String {
    let review = SelfSubjectReview::default();
    match Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
    {
        Ok(answer) => answer
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username)
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "unknown user".into()),
        Err(e) => {
            tracing::debug!(error = %e, "the server did not say who we are");
            "unknown user".into()
        }
    }
}

/// Asks the server about each permission, all at once; `true` where it is granted.
pub async fn check(
    client: &kube::Client,
    permissions: &[Permission],
) -> Result<Vec<bool>, MoveError> {
    let api = Api::<SelfSubjectAccessReview>::all(client.clone());
    let asks = permissions.iter().map(|p| {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(p.namespace.clone()),
                    verb: Some(p.verb.clone()),
                    group: Some(p.group.clone()),
                    resource: Some(p.resource.clone()),
                    subresource: p.subresource.clone(),
                    name: p.name.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api = api.clone();
        async move { api.create(&PostParams::default(), &review).await }
    });
    let answers = futures::future::try_join_all(asks).await.map_err(|e| {
        MoveError::kube(
            "check permissions (create selfsubjectaccessreviews.authorization.k8s.io)",
            e,
        )
    })?;
    Ok(answers
        .into_iter()
        .map(|a| a.status.is_some_and(|s| s.allowed))
        .collect())
}
