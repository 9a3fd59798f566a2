//! Retiring the monolith once it serves nothing: scale it to zero (the application must still
//! answer through the front Service), then delete its Deployment and Service. Each stage is
//! its own confirmed action; scaling to zero can be undone (scaled back to the replicas it had)
//! until the Deployment is deleted.

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::Patch;
use serde_json::json;

use super::errors::MoveError;
use super::mover::{Mover, Reporter, StepReport};
use super::{access, actions, verify, wait};
use crate::model::move_plan::{self, Location};
use crate::model::move_progress::{MoveEvent, StepState};
use crate::model::moves::{REPLICAS_BEFORE_RETIRE, RetireStage, StepKind};

/// The application fails its check once the monolith is at zero: what failed, and the undo.
fn not_answering_at_zero(reason: &str) -> MoveError {
    MoveError::Cluster(format!(
        "the monolith is at zero but the application does not answer as it should: {reason}; \
         scale it back up (`hybrid-console retire --stage scale-back`, or Scale it back up in \
         the move window)"
    ))
}

/// A move recorded on the monolith, which retiring and undoing it wait for.
fn move_in_progress(monolith: &Deployment) -> Option<String> {
    crate::model::moves::MoveRecord::from_annotations(monolith.metadata.annotations.as_ref()).map(
        |record| match record {
            Ok(r) => format!("a move is in progress: {}", r.summary()),
            Err(e) => e.to_string(),
        },
    )
}

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
        blockers.extend(move_in_progress(monolith));
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
        match stage {
            RetireStage::ScaleToZero => self.scale_to_zero(report).await,
            RetireStage::ScaleBack => self.scale_back(report).await,
            RetireStage::Delete => self.delete_monolith().await,
        }
    }

    /// The monolith's Deployment, once it serves nothing (the blockers otherwise).
    async fn retirable(&self) -> Result<(Api<Deployment>, Deployment), MoveError> {
        let blockers = self.retire_blockers().await?;
        if !blockers.is_empty() {
            return Err(MoveError::Refused(blockers));
        }
        let plan = self.plan();
        let api = Api::<Deployment>::namespaced(self.client.clone(), &plan.monolith.namespace);
        let monolith = api
            .get(&plan.monolith.deployment)
            .await
            .map_err(|e| MoveError::kube("read the monolith", e))?;
        Ok((api, monolith))
    }

    async fn scale_to_zero(&self, report: Reporter) -> Result<String, MoveError> {
        let (api, monolith) = self.retirable().await?;
        let plan = self.plan();
        let (ns, name) = (&plan.monolith.namespace, &plan.monolith.deployment);
        let selector = monolith
            .spec
            .selector
            .match_labels
            .clone()
            .unwrap_or_default();
        let before = monolith.spec.replicas.unwrap_or(1).max(1);
        api.patch(
            name,
            &actions::patch_params(),
            &Patch::Merge(json!({
                "metadata": {"annotations": {REPLICAS_BEFORE_RETIRE: before.to_string()}},
                "spec": {"replicas": 0}
            })),
        )
        .await
        .map_err(|e| MoveError::kube(&format!("scale {ns}/{name} to zero"), e))?;
        let progress = StepReport {
            step: StepKind::WaitReroute,
            report: &report,
        };
        wait::pods_gone(
            &self.client,
            ns,
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
            ns,
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
        .map_err(|f| not_answering_at_zero(&f.reason))?;
        let message = format!(
            "{} scaled the monolith {ns}/{name} to zero; the application still answers ({answered})",
            self.user()
        );
        self.done("MonolithScaledDown", message, &report).await
    }

    async fn delete_monolith(&self) -> Result<String, MoveError> {
        let (_, monolith) = self.retirable().await?;
        let plan = self.plan();
        let (ns, name) = (&plan.monolith.namespace, &plan.monolith.deployment);
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
        actions::delete(&self.client, ns, "Deployment", name).await?;
        actions::delete(&self.client, ns, "Service", &plan.monolith.service).await?;
        Ok(message)
    }

    /// Undoes scaling the monolith to zero: back to the replicas it had, and waits until they
    /// are ready. Refused while a move is in progress or once the Deployment is deleted.
    async fn scale_back(&self, report: Reporter) -> Result<String, MoveError> {
        let plan = self.plan();
        let (ns, name) = (&plan.monolith.namespace, &plan.monolith.deployment);
        let api = Api::<Deployment>::namespaced(self.client.clone(), ns);
        let Some(monolith) = api
            .get_opt(name)
            .await
            .map_err(|e| MoveError::kube("read the monolith", e))?
        else {
            return Err(MoveError::Refused(vec![format!(
                "the monolith {ns}/{name} is deleted; apply its manifest again to bring it back"
            )]));
        };
        if let Some(blocker) = move_in_progress(&monolith) {
            return Err(MoveError::Refused(vec![blocker]));
        }
        if monolith.spec.replicas.unwrap_or(1) > 0 {
            return Err(MoveError::Refused(vec![format!(
                "the monolith {ns}/{name} is not scaled to zero (it has {} replicas)",
                monolith.spec.replicas.unwrap_or(1)
            )]));
        }
        // Recorded when it was scaled to zero; a monolith scaled down by other hands comes back
        // with one replica.
        let replicas: i32 = monolith
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REPLICAS_BEFORE_RETIRE))
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1);
        api.patch(
            name,
            &actions::patch_params(),
            &Patch::Merge(json!({
                "metadata": {"annotations": {REPLICAS_BEFORE_RETIRE: null}},
                "spec": {"replicas": replicas}
            })),
        )
        .await
        .map_err(|e| MoveError::kube(&format!("scale {ns}/{name} back to {replicas}"), e))?;
        let progress = StepReport {
            step: StepKind::WaitReroute,
            report: &report,
        };
        wait::rollout(&self.client, ns, name, self.timeouts.rollout, &progress)
            .await
            .map_err(|f| MoveError::Cluster(f.reason))?;
        let message = format!(
            "{} scaled the monolith {ns}/{name} back to {replicas} replica{}; it is ready",
            self.user(),
            if replicas == 1 { "" } else { "s" }
        );
        self.done("MonolithScaledBack", message, &report).await
    }

    /// A stage done: said as an Event on the monolith and as the stage's last line.
    async fn done(
        &self,
        reason: &str,
        message: String,
        report: &Reporter,
    ) -> Result<String, MoveError> {
        self.driver.event("Normal", reason, &message).await;
        report(MoveEvent::Step {
            step: StepKind::WaitReroute,
            state: StepState::Done,
            detail: message.clone(),
            fraction: Some(1.0),
        });
        Ok(message)
    }
}
