//! What the window asks of EKS beyond listing: the readiness check, and node groups reviewed,
//! added, surveyed and taken out of service. The Kubernetes side is always the live connection.

use tokio::sync::watch;

use super::connection::Connection;
use super::eks::{Aws, AwsTarget};
use super::node_groups::{self, GroupSurvey, Retirement};
use super::readiness::{self, ReadinessOptions};
use super::{Event, EventSink};
use crate::model::eks::NodeGroupProposal;
use crate::model::readiness::{ExpectedTaint, for_new_node_group};

fn live(client: &watch::Receiver<Option<Connection>>) -> Result<Connection, String> {
    client
        .borrow()
        .clone()
        .ok_or_else(|| "not connected to a cluster: connect to it first (its nodes and pods are checked through that connection)".to_owned())
}

/// Runs the readiness check and sends [`Event::Readiness`].
pub(super) async fn check(
    options: ReadinessOptions,
    eks: Option<(AwsTarget, String)>,
    client: watch::Receiver<Option<Connection>>,
    sink: EventSink,
) {
    let outcome = async {
        let connection = live(&client)?;
        let eks = match (eks, &connection.eks) {
            (Some((target, name)), _) => {
                let aws = Aws::load(&target).await.map_err(|e| e.to_string())?;
                Some(aws.cluster(&name).await.map_err(|e| e.to_string())?.0)
            }
            (None, Some((aws, name))) => {
                Some(aws.cluster(name).await.map_err(|e| e.to_string())?.0)
            }
            (None, None) => None,
        };
        let name = eks
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_else(|| connection.server.clone());
        readiness::check(&connection.api, &name, eks.as_ref(), &options)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    sink.send(Event::Readiness(outcome));
}

/// Reads the group for the confirmation and sends [`Event::NodeGroupSurvey`].
pub(super) async fn survey(
    target: AwsTarget,
    cluster: String,
    group: String,
    retirement: Retirement,
    client: watch::Receiver<Option<Connection>>,
    sink: EventSink,
) {
    let outcome = async {
        let connection = live(&client)?;
        let aws = Aws::load(&target).await.map_err(|e| e.to_string())?;
        node_groups::survey(&aws, &connection.api, &cluster, &group)
            .await
            .map(|(_, survey)| Box::new(survey))
            .map_err(|e| e.to_string())
    }
    .await;
    sink.send(Event::NodeGroupSurvey {
        retirement,
        survey: outcome,
    });
}

/// Drains and retires the group, logging each step, then sends [`Event::NodeGroupChanged`].
pub(super) async fn retire(
    target: AwsTarget,
    survey: GroupSurvey,
    retirement: Retirement,
    client: watch::Receiver<Option<Connection>>,
    sink: EventSink,
) {
    sink.log(
        "NodeGroup",
        format!(
            "starting to {}",
            retirement.describe(&survey.cluster, &survey.group.name)
        ),
    );
    let outcome = async {
        let connection = live(&client)?;
        let aws = Aws::load(&target).await.map_err(|e| e.to_string())?;
        let progress_sink = sink.clone();
        let progress = move |line: String| progress_sink.log("Drain", line);
        node_groups::retire(
            &aws,
            &connection,
            &survey,
            retirement,
            std::time::Duration::from_secs(300),
            &progress,
        )
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    if let Ok(done) = &outcome {
        sink.log("NodeGroup", done.clone());
    }
    sink.send(Event::NodeGroupChanged(outcome));
}

/// The findings for a proposed group: sends [`Event::NodeGroupReview`].
pub(super) async fn review(
    target: AwsTarget,
    cluster: String,
    source: node_groups::ProposalSource,
    client: watch::Receiver<Option<Connection>>,
    sink: EventSink,
) {
    let outcome = async {
        let proposal = source.proposal().await?;
        let aws = Aws::load(&target).await.map_err(|e| e.to_string())?;
        let (described, _) = aws.cluster(&cluster).await.map_err(|e| e.to_string())?;
        // Windows IPAM is read from the live connection, when there is one.
        let vpc_cni = match live(&client) {
            Ok(connection) => Some(
                readiness::vpc_cni(&connection.api)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
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

/// Creates the group: sends [`Event::NodeGroupChanged`].
pub(super) async fn add(
    target: AwsTarget,
    cluster: String,
    proposal: NodeGroupProposal,
    sink: EventSink,
) {
    let outcome = async {
        let aws = Aws::load(&target).await.map_err(|e| e.to_string())?;
        let (described, _) = aws.cluster(&cluster).await.map_err(|e| e.to_string())?;
        aws.create_node_group(&described, &proposal)
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "EKS is creating node group {} in cluster {cluster}",
            proposal.name
        ))
    }
    .await;
    if let Ok(done) = &outcome {
        sink.log("NodeGroup", done.clone());
    }
    sink.send(Event::NodeGroupChanged(outcome));
}
