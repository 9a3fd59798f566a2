//! Who the console is to the cluster (`kubectl auth whoami`) and what it may do
//! (`SelfSubjectAccessReview`, the question `kubectl auth can-i` asks), before an action tries.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;

use crate::model::access::Permission;

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

/// Asks the server about each permission, all at once (`kubectl auth can-i`); `true` where
/// it is granted.
pub async fn may(
    client: &kube::Client,
    permissions: &[Permission],
) -> Result<Vec<bool>, kube::Error> {
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
    let answers = futures::future::try_join_all(asks).await?;
    Ok(answers
        .into_iter()
        .map(|a| a.status.is_some_and(|s| s.allowed))
        .collect())
}
