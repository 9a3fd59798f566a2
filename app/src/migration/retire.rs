//! Retiring the monolith once it serves nothing: scale it to zero (the application must still
//! answer through the front Service), then delete its Deployment and Service. Each stage is
//! its own confirmed action.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::errors::MoveError;
use super::mover::{Mover, Reporter, StepReport};
use super::{access, actions, verify, wait};
use crate::model::move_plan::{self, Location};
use crate::model::move_progress::{MoveEvent, StepState};
use crate::model::moves::{FIELD_MANAGER, RetireStage, StepKind};

impl Mover {
    /// Why the monolith cannot be retired now (empty: it can).
    pub async fn retire_blockers(&self) -> Result<Vec<String>, MoveError> {
        let plan = self.plan();
        let live = access::live_objects(&self.client, &plan.monolith.namespace).await?;
        let mut blockers = Vec::new();
        let Some(monolith) = live.deployment(&plan.monolith.deployment) else {
            blockers.push(format!(
                "the monolith {}/{} is already gone",
                plan.monolith.namespace, plan.monolith.deployment
            ));
            return Ok(blockers);
        };
        if let Some(record) = crate::model::moves::MoveRecord::from_annotations(
            monolith.metadata.annotations.as_ref(),
        ) {
            blockers.push(match record {
                Ok(r) => format!("a move is in progress: {}", r.summary()),
                Err(e) => e.to_string(),
            });
        }
        let still: Vec<&str> = plan
            .services
            .iter()
            .filter(|s| move_plan::location(plan, s, &live) != Location::Extracted)
            .map(|s| s.name.as_str())
            .collect();
        if !still.is_empty() {
            blockers.push(format!(
                "the monolith still serves {}; move {} first",
                still.join(", "),
                if still.len() == 1 { "it" } else { "them" }
            ));
        }
        Ok(blockers)
    }

    /// Carries out one stage of retiring the monolith.
    pub async fn retire(&self, stage: RetireStage, report: Reporter) -> Result<String, MoveError> {
        let blockers = self.retire_blockers().await?;
        if !blockers.is_empty() {
            return Err(MoveError::Refused(blockers));
        }
        let plan = Arc::new(self.plan().clone());
        let ns = plan.monolith.namespace.clone();
        let name = plan.monolith.deployment.clone();
        let api = Api::<Deployment>::namespaced(self.client.clone(), &ns);
        let monolith = api
            .get(&name)
            .await
            .map_err(|e| MoveError::kube("read the monolith", e))?;
        let selector = monolith
            .spec
            .selector
            .match_labels
            .clone()
            .unwrap_or_default();
        match stage {
            RetireStage::ScaleToZero => {
                let params = PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PatchParams::default()
                };
                api.patch(
                    &name,
                    &params,
                    &Patch::Merge(json!({"spec": {"replicas": 0}})),
                )
                .await
                .map_err(|e| MoveError::kube(&format!("scale {ns}/{name} to zero"), e))?;
                let progress = StepReport {
                    step: StepKind::WaitReroute,
                    report: &report,
                };
                wait::pods_gone(
                    &self.client,
                    &ns,
                    &selector,
                    self.timeouts.rollout,
                    &progress,
                )
                .await
                .map_err(|f| MoveError::Cluster(f.reason))?;
                let mut check = plan.front.check.clone();
                check.answered_by = None;
                let answered = verify::verify(
                    &self.proxy,
                    &self.client,
                    &ns,
                    &plan.front.service,
                    &plan.front.port,
                    std::slice::from_ref(&check),
                    &verify::Answerers {
                        selector: Default::default(),
                        os: None,
                        description: String::new(),
                    },
                    4,
                    self.timeouts.settle,
                )
                .await
                .map_err(|f| {
                    MoveError::Cluster(format!(
                        "the monolith is at zero but the application does not answer as it should: {}; scale it back up (kubectl scale deployment/{name} -n {ns} --replicas=2)",
                        f.reason
                    ))
                })?;
                let message = format!(
                    "{} scaled the monolith {ns}/{name} to zero; the application still answers ({answered})",
                    self.user()
                );
                self.driver
                    .event("Normal", "MonolithScaledDown", &message)
                    .await;
                report(MoveEvent::Step {
                    step: StepKind::WaitReroute,
                    state: StepState::Done,
                    detail: message.clone(),
                    fraction: Some(1.0),
                });
                Ok(message)
            }
            RetireStage::Delete => {
                if monolith.spec.replicas.unwrap_or(1) > 0 {
                    return Err(MoveError::Refused(vec![format!(
                        "scale the monolith to zero first (it has {} replicas), so the application is seen to answer without it",
                        monolith.spec.replicas.unwrap_or(1)
                    )]));
                }
                let message = format!(
                    "{} retired the monolith: deleted Deployment {ns}/{name} and Service {ns}/{}",
                    self.user(),
                    plan.monolith.service
                );
                self.driver
                    .event("Normal", "MonolithRetired", &message)
                    .await;
                actions::delete(&self.client, &ns, "Deployment", &name).await?;
                actions::delete(&self.client, &ns, "Service", &plan.monolith.service).await?;
                Ok(message)
            }
        }
    }
}
