//! What the window asks of EKS: node groups surveyed, taken out of service and added. The
//! Kubernetes side is always the live connection.

use super::Aws;
use super::retirement;
use crate::cluster::connection::{Current, connected};
use crate::model::eks::{AwsTarget, GroupSurvey, NodeGroupProposal, ProposalSource, Retirement};
use crate::protocol::{Event, EventSink};

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
        let connection = connected(&client)?;
        let aws = Aws::load(&target).await.map_err(|e| e.to_string())?;
        retirement::survey(&aws, &connection.api, &cluster, &group)
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
        let connection = connected(&client)?;
        let aws = Aws::load(&target).await.map_err(|e| e.to_string())?;
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
        .map_err(|e| e.to_string())
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

/// The proposal a source describes (reading the file, for an eksctl source).
pub async fn read_proposal(source: &ProposalSource) -> Result<NodeGroupProposal, String> {
    match source {
        ProposalSource::Fields(p) => Ok((**p).clone()),
        ProposalSource::Eksctl {
            path,
            group,
            node_role,
        } => {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let mut proposal = NodeGroupProposal::from_eksctl(&text, group)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if proposal.node_role.is_none() {
                proposal.node_role = node_role.clone();
            }
            Ok(proposal)
        }
    }
}
