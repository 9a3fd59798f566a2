//! What the window asks of the readiness check: the check of the live cluster (with an EKS
//! cluster's node groups), and the findings for a node group about to be added.

use super::gather::{self, review_node_group};
use crate::cluster::connection::{Current, connected};
use crate::eks::Aws;
use crate::eks::desk::read_proposal;
use crate::model::eks::{AwsTarget, ProposalSource};
use crate::model::readiness::{ExpectedTaint, ReadinessOptions};
use crate::protocol::{ActionError, Event, EventSink};

/// Runs the readiness check and sends [`Event::Readiness`].
pub async fn check(
    options: ReadinessOptions,
    eks: Option<(AwsTarget, String)>,
    client: Current,
    sink: EventSink,
) {
    let outcome = async {
        let connection = connected(&client).ok_or(ActionError::NotConnected)?;
        let aws = eks.as_ref().map(|(t, _)| t.clone()).unwrap_or_default();
        let eks = match eks {
            Some((target, name)) => Some(Aws::load(&target).await?.cluster(&name).await?.0),
            None => None,
        };
        let name = eks
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_else(|| connection.server.clone());
        Ok(gather::check(&connection.api, &name, eks.as_ref(), &aws, &options).await?)
    }
    .await;
    sink.send(Event::Readiness(outcome));
}

/// The findings for a proposed group, judged against `windows_taint`: sends
/// [`Event::NodeGroupReview`].
pub async fn review(
    target: AwsTarget,
    cluster: String,
    source: ProposalSource,
    windows_taint: ExpectedTaint,
    client: Current,
    sink: EventSink,
) {
    let outcome = async {
        let proposal = read_proposal(&source).await?;
        let aws = Aws::load(&target).await?;
        let (described, _) = aws.cluster(&cluster).await?;
        let catalog = aws.instance_types(&proposal.instance_types).await;
        // Windows IPAM is read from the live connection, when there is one.
        let connection = connected(&client);
        let report = review_node_group(
            &described,
            &proposal,
            connection.as_ref().map(|c| &c.api),
            &windows_taint,
            &catalog,
        )
        .await?;
        Ok((Box::new(proposal), report.findings))
    }
    .await;
    sink.send(Event::NodeGroupReview(outcome));
}
