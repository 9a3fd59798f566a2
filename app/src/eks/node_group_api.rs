//! Managed node groups: create one from a proposal, scale one, delete one — the EKS API calls
//! alone. What must happen in the cluster first (cordon, drain, the refusal while workloads
//! remain) is [`crate::eks::retirement`]'s job.

use aws_sdk_eks::types::{AmiTypes, NodegroupScalingConfig, Taint, TaintEffect};

use super::{Aws, AwsError};
use crate::model::eks::{EksCluster, EksNodeGroup, NodeGroupProposal};

/// The EKS API's spelling of a Kubernetes taint effect.
fn eks_effect(effect: &str) -> Result<TaintEffect, AwsError> {
    match effect {
        "NoSchedule" => Ok(TaintEffect::NoSchedule),
        "NoExecute" => Ok(TaintEffect::NoExecute),
        "PreferNoSchedule" => Ok(TaintEffect::PreferNoSchedule),
        other => Err(AwsError::Invalid(format!(
            "{other:?} is not a taint effect: use NoSchedule, NoExecute or PreferNoSchedule"
        ))),
    }
}

fn scaling(min: i32, desired: i32, max: i32) -> NodegroupScalingConfig {
    NodegroupScalingConfig::builder()
        .min_size(min)
        .desired_size(desired)
        .max_size(max)
        .build()
}

impl Aws {
    /// Creates the node group `proposal` describes in `cluster` (its subnets, unless the
    /// proposal names some).
    pub async fn create_node_group(
        &self,
        cluster: &EksCluster,
        proposal: &NodeGroupProposal,
    ) -> Result<(), AwsError> {
        let role = proposal.node_role.as_deref().ok_or_else(|| {
            AwsError::Invalid(format!(
                "node group {} needs the IAM role its nodes run as: pass --node-role ARN (or iam.instanceRoleARN in the eksctl file)",
                proposal.name
            ))
        })?;
        let subnets = if proposal.subnets.is_empty() {
            &cluster.subnets
        } else {
            &proposal.subnets
        };
        if subnets.is_empty() {
            return Err(AwsError::Invalid(format!(
                "cluster {} reports no subnets: pass --subnet ID (repeatable)",
                cluster.name
            )));
        }
        let mut request = self
            .eks()
            .create_nodegroup()
            .cluster_name(&cluster.name)
            .nodegroup_name(&proposal.name)
            .node_role(role)
            .ami_type(AmiTypes::from(proposal.ami_type.as_str()))
            .scaling_config(scaling(proposal.min, proposal.desired, proposal.max))
            .set_instance_types(Some(proposal.instance_types.clone()))
            .set_subnets(Some(subnets.clone()));
        for (key, value) in &proposal.labels {
            request = request.labels(key, value);
        }
        for taint in &proposal.taints {
            request = request.taints(
                Taint::builder()
                    .key(&taint.key)
                    .set_value(taint.value.clone())
                    .effect(eks_effect(&taint.effect)?)
                    .build(),
            );
        }
        request.send().await.map_err(|e| self.sdk_error(e))?;
        Ok(())
    }

    /// Sets the desired size; the minimum follows it down (to allow zero) and the maximum up.
    pub async fn scale_node_group(
        &self,
        cluster: &str,
        group: &EksNodeGroup,
        size: i32,
    ) -> Result<(), AwsError> {
        if size < 0 {
            return Err(AwsError::Invalid(format!(
                "a node group cannot have {size} nodes"
            )));
        }
        self.eks()
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(&group.name)
            .scaling_config(scaling(
                group.min.min(size),
                size,
                group.max.max(size).max(1),
            ))
            .send()
            .await
            .map_err(|e| self.sdk_error(e))?;
        Ok(())
    }

    /// Deletes the node group (EKS drains and terminates its nodes).
    pub async fn delete_node_group(&self, cluster: &str, group: &str) -> Result<(), AwsError> {
        self.eks()
            .delete_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(group)
            .send()
            .await
            .map_err(|e| self.sdk_error(e))?;
        Ok(())
    }
}
