//! What the window asks of EKS: the region's clusters, and node groups surveyed, taken out of
//! service and added. The Kubernetes side is always the live connection.

use super::Aws;
use super::retirement;
use crate::cluster::connection::{Current, connected};
use crate::model::eks::{AwsTarget, GroupSurvey, NodeGroupProposal, ProposalSource, Retirement};
use crate::protocol::{ActionError, Event, EventSink};

/// Reads the group for the confirmation and sends [`Event::NodeGroupSurvey`].
pub async fn survey(
    target: AwsTarget,
    cluster: String,
    group: String,
    retirement: Retirement,
    client: Current,
    sink: EventSink,
) {
    let outcome = async {
        let connection = connected(&client).ok_or(ActionError::NotConnected)?;
        let aws = Aws::load(&target).await?;
        retirement::survey(&aws, &connection.api, &cluster, &group)
            .await
            .map(|(_, survey)| Box::new(survey))
            .map_err(ActionError::from)
    }
    .await;
    sink.send(Event::NodeGroupSurvey {
        retirement,
        survey: outcome,
    });
}

/// Asks Cost Explorer for a cluster's node-group costs: sends [`Event::NodeGroupCosts`].
pub async fn costs(target: AwsTarget, cluster: String, sink: EventSink) {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let days = match Aws::load(&target).await {
        Ok(aws) => aws.node_group_costs(&cluster, today).await,
        Err(why) => Err(format!("Cost Explorer could not be asked: {why}")),
    };
    sink.send(Event::NodeGroupCosts { cluster, days });
}

/// Lists the clusters of a region (with their node groups): sends [`Event::EksClusters`].
pub async fn list(target: AwsTarget, sink: EventSink) {
    let (region, clusters) = match Aws::load(&target).await {
        Ok(aws) => {
            let clusters = aws.clusters().await.map_err(ActionError::from);
            (aws.region.clone(), clusters)
        }
        Err(e) => (target.region.clone().unwrap_or_default(), Err(e.into())),
    };
    sink.send(Event::EksClusters { region, clusters });
}

/// Drains and retires the group, logging each step, then sends [`Event::NodeGroupChanged`].
pub async fn retire(
    target: AwsTarget,
    survey: GroupSurvey,
    retirement: Retirement,
    client: Current,
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
        let connection = connected(&client).ok_or(ActionError::NotConnected)?;
        let aws = Aws::load(&target).await?;
        let progress_sink = sink.clone();
        let progress = move |line: String| progress_sink.log("Drain", line);
        retirement::retire(
            &aws,
            &connection,
            &survey,
            retirement,
            std::time::Duration::from_secs(300),
            &progress,
        )
        .await
        .map_err(ActionError::from)
    }
    .await;
    if let Ok(done) = &outcome {
        sink.log("NodeGroup", done.clone());
    }
    sink.send(Event::NodeGroupChanged(outcome));
}

/// Creates the group: sends [`Event::NodeGroupChanged`].
pub async fn add(target: AwsTarget, cluster: String, proposal: NodeGroupProposal, sink: EventSink) {
    let outcome = async {
        let aws = Aws::load(&target).await?;
        let (described, _) = aws.cluster(&cluster).await?;
        aws.create_node_group(&described, &proposal).await?;
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

/// The proposal a source describes (reading the file, for an eksctl source).
pub async fn read_proposal(source: &ProposalSource) -> Result<NodeGroupProposal, ActionError> {
    match source {
        ProposalSource::Fields(p) => Ok((**p).clone()),
        ProposalSource::Eksctl {
            path,
            group,
            node_role,
        } => {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| ActionError::Invalid {
                    message: format!("cannot read {}: {e}", path.display()),
                })?;
            let mut proposal =
                NodeGroupProposal::from_eksctl(&text, group).map_err(|e| ActionError::Invalid {
                    message: format!("{}: {e}", path.display()),
                })?;
            if proposal.node_role.is_none() {
                proposal.node_role = node_role.clone();
            }
            Ok(proposal)
        }
    }
}
