//! What the window asks of the readiness check: the check of the live cluster (with an EKS
//! cluster's node groups), and the findings for a node group about to be added.

use super::gather::{self, vpc_cni};
use crate::cluster::connection::{Current, connected};
use crate::eks::Aws;
use crate::eks::desk::read_proposal;
use crate::model::eks::{AwsTarget, ProposalSource};
use crate::model::readiness::{ExpectedTaint, ReadinessOptions, for_new_node_group};
use crate::protocol::{Event, EventSink};

/// Runs the readiness check and sends [`Event::Readiness`].
pub async fn check(
    options: ReadinessOptions,
    eks: Option<(AwsTarget, String)>,
    client: Current,
    sink: EventSink,
) {
    let outcome = async {
        let connection = connected(&client)?;
        let eks = match eks {
            Some((target, name)) => {
                let aws = Aws::load(&target).await.map_err(|e| e.to_string())?;
                Some(aws.cluster(&name).await.map_err(|e| e.to_string())?.0)
            }
            None => None,
        };
        let name = eks
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_else(|| connection.server.clone());
        gather::check(&connection.api, &name, eks.as_ref(), &options)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    sink.send(Event::Readiness(outcome));
}

/// The findings for a proposed group: sends [`Event::NodeGroupReview`].
pub async fn review(
    target: AwsTarget,
    cluster: String,
    source: ProposalSource,
    client: Current,
    sink: EventSink,
) {
    let outcome = async {
        let proposal = read_proposal(&source).await?;
        let aws = Aws::load(&target).await.map_err(|e| e.to_string())?;
        let (described, _) = aws.cluster(&cluster).await.map_err(|e| e.to_string())?;
        // Windows IPAM is read from the live connection, when there is one.
        let vpc_cni = match connected(&client) {
            Ok(connection) => Some(vpc_cni(&connection.api).await.map_err(|e| e.to_string())?),
            Err(_) => None,
        };
        let findings = for_new_node_group(
            &proposal,
            &described,
            vpc_cni.as_ref().map(|c| c.as_ref()),
            &ExpectedTaint::default(),
        );
        Ok((Box::new(proposal), findings))
    }
    .await;
    sink.send(Event::NodeGroupReview(outcome));
}
