//! The steps of a move, each safe to repeat: deploy the service, wait for its rollout, verify
//! it, re-route the monolith (and the front), wait for that, verify through the front, and —
//! for a return — remove the service. Every step first advances the record on the monolith.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::json;

use super::errors::{MoveError, StepFailure};
use super::mover::{Mover, Reporter, StepReport};
use super::{actions, verify, wait};
use crate::model::move_plan::{self, MovePlan};
use crate::model::moves::{Direction, MoveRecord, StepKind};

impl Mover {
    /// Advances the record to `step` (with `extra` patched into the monolith in the same write).
    async fn advance(
        &self,
        record: &mut MoveRecord,
        step: StepKind,
        share: Option<u8>,
        extra: serde_json::Value,
    ) -> Result<(), StepFailure> {
        let mut next = record.clone();
        next.step = step;
        next.share = share;
        self.driver
            .write_record(Some(record), Some(&next), extra)
            .await
            .map_err(|e| StepFailure::plain(e.to_string()))?;
        *record = next;
        Ok(())
    }

    /// Runs `step`: what it did, in words, or why it failed.
    pub(super) async fn run_step(
        &self,
        step: StepKind,
        share: Option<u8>,
        plan: &MovePlan,
        record: &mut MoveRecord,
        report: &Reporter,
    ) -> Result<String, StepFailure> {
        let progress = StepReport { step, report };
        if step.is_rollback() {
            return Err(not_forward(step));
        }
        // The monolith's routing changes in the same write as the record's step.
        let record_patch = match step {
            StepKind::Reroute => plan
                .route_changes
                .iter()
                .find(|c| c.deployment == plan.monolith)
                .map(actions::route_patch)
                .unwrap_or_else(|| json!({})),
            _ => json!({}),
        };
        self.advance(record, step, share, record_patch).await?;
        match step {
            StepKind::Deploy => self.deploy(plan).await,
            StepKind::WaitService => self.wait_service(plan, &progress).await,
            StepKind::VerifyService => self.verify_service(plan).await,
            StepKind::Reroute => self.reroute(plan).await,
            StepKind::WaitReroute => self.wait_reroute(plan, &progress).await,
            StepKind::VerifyFront => self.verify_front(plan).await,
            StepKind::RemoveService => self.remove_service(plan).await,
            StepKind::Shadow
            | StepKind::Canary
            | StepKind::Full
            | StepKind::Settle
            | StepKind::Handover => self.progressive_step(step, share, plan, &progress).await,
            StepKind::RestoreRoute | StepKind::WaitRestore | StepKind::RemoveCreated => {
                Err(not_forward(step))
            }
        }
    }

    /// Applies the service's Deployment and Service (pinning the front first, for `ui`).
    async fn deploy(&self, plan: &MovePlan) -> Result<String, StepFailure> {
        let ns = self.namespace();
        if let Some(pin) = &plan.front_pin {
            actions::select_front(&self.client, ns, &self.plan.front.service, pin)
                .await
                .map_err(failed)?;
        }
        actions::apply(&self.client, ns, &plan.deployment, &plan.service_object)
            .await
            .map_err(failed)?;
        Ok(format!(
            "applied Deployment/{} and Service/{} ({})",
            plan.deployment_name(),
            plan.service_name(),
            plan.images.join(", ")
        ))
    }

    /// Waits for the service's rollout.
    async fn wait_service(
        &self,
        plan: &MovePlan,
        progress: &StepReport<'_>,
    ) -> Result<String, StepFailure> {
        wait::rollout(
            &self.client,
            self.namespace(),
            plan.deployment_name(),
            self.timeouts.rollout,
            progress,
        )
        .await?;
        Ok(format!("{} is rolled out", plan.deployment_name()))
    }

    /// Calls the new service as the plan says, answered by its own pods.
    async fn verify_service(&self, plan: &MovePlan) -> Result<String, StepFailure> {
        let service = self
            .plan
            .service(&plan.service)
            .ok_or_else(|| StepFailure::plain("the service left the plan".into()))?;
        let port = service_port(&plan.service_object);
        verify::verify(
            &self.proxy,
            &self.client,
            self.namespace(),
            plan.service_name(),
            &port,
            &service.verify,
            &self.new_pods(plan),
            1,
            self.timeouts.settle,
        )
        .await
    }

    /// Points the other Deployments' routing variables (the monolith's went with the record)
    /// and the front's selector where the plan says.
    async fn reroute(&self, plan: &MovePlan) -> Result<String, StepFailure> {
        let ns = self.namespace();
        for change in plan
            .route_changes
            .iter()
            .filter(|c| c.deployment != plan.monolith)
        {
            actions::reroute(&self.client, ns, change)
                .await
                .map_err(failed)?;
        }
        if let Some(selector) = &plan.front_switch {
            actions::select_front(&self.client, ns, &self.plan.front.service, selector)
                .await
                .map_err(failed)?;
        }
        let mut what: Vec<String> = plan
            .route_changes
            .iter()
            .map(|c| match &c.value {
                Some(v) => format!("{}: {}={v}", c.deployment, c.variable),
                None => format!("{}: {} removed", c.deployment, c.variable),
            })
            .collect();
        if plan.front_switch.is_some() {
            what.push(format!(
                "Service {} now selects the pods of {}",
                self.plan.front.service,
                match plan.direction {
                    Direction::Extract => plan.deployment_name(),
                    Direction::Return => &plan.monolith,
                }
            ));
        }
        Ok(what.join("; "))
    }

    /// Waits for the re-routed Deployments' rollouts and the front's switch.
    async fn wait_reroute(
        &self,
        plan: &MovePlan,
        progress: &StepReport<'_>,
    ) -> Result<String, StepFailure> {
        self.wait_routing(&plan.route_changes, plan.front_switch.as_ref(), progress)
            .await?;
        let rolled: Vec<&str> = plan
            .route_changes
            .iter()
            .map(|c| c.deployment.as_str())
            .collect();
        Ok(if rolled.is_empty() {
            format!("Service {} switched", self.plan.front.service)
        } else {
            format!("{} rolled out", rolled.join(", "))
        })
    }

    /// Calls the application through its front, answered by the pods now serving the service.
    async fn verify_front(&self, plan: &MovePlan) -> Result<String, StepFailure> {
        let service = self
            .plan
            .service(&plan.service)
            .ok_or_else(|| StepFailure::plain("the service left the plan".into()))?;
        let mut check = self.plan.front.check.clone();
        check.answered_by = Some(service.answered_by.clone());
        let answerers = match plan.direction {
            Direction::Extract => self.new_pods(plan),
            Direction::Return => self.monolith_pods().await?,
        };
        verify::verify(
            &self.proxy,
            &self.client,
            self.namespace(),
            &self.plan.front.service,
            &self.plan.front.port,
            std::slice::from_ref(&check),
            &answerers,
            4,
            self.timeouts.settle,
        )
        .await
    }

    /// Deletes the returned service's Deployment and Service.
    async fn remove_service(&self, plan: &MovePlan) -> Result<String, StepFailure> {
        let ns = self.namespace();
        actions::delete(&self.client, ns, "Deployment", plan.deployment_name())
            .await
            .map_err(failed)?;
        actions::delete(&self.client, ns, "Service", plan.service_name())
            .await
            .map_err(failed)?;
        Ok(format!(
            "deleted Deployment/{} and Service/{}",
            plan.deployment_name(),
            plan.service_name()
        ))
    }

    /// Waits until routing changes are live: the rollouts of the Deployments whose variables
    /// changed, then the front Service's endpoints when its selector changed.
    pub(super) async fn wait_routing(
        &self,
        changes: &[move_plan::RouteChange],
        front: Option<&BTreeMap<String, String>>,
        progress: &StepReport<'_>,
    ) -> Result<(), StepFailure> {
        let ns = self.namespace();
        for change in changes {
            wait::rollout(
                &self.client,
                ns,
                &change.deployment,
                self.timeouts.rollout,
                progress,
            )
            .await?;
        }
        if let Some(selector) = front {
            wait::front_serves(
                &self.client,
                ns,
                &self.plan.front.service,
                selector,
                self.timeouts.settle,
                progress,
            )
            .await?;
        }
        Ok(())
    }

    /// The pods of the service's new Deployment, on its target OS.
    fn new_pods(&self, plan: &MovePlan) -> verify::Answerers {
        verify::Answerers {
            selector: plan
                .deployment
                .spec
                .selector
                .match_labels
                .clone()
                .unwrap_or_default(),
            os: plan.target_os.clone(),
            description: format!("the pods of Deployment {}", plan.deployment_name()),
        }
    }

    /// The monolith's pods.
    pub(super) async fn monolith_pods(&self) -> Result<verify::Answerers, StepFailure> {
        let monolith = Api::<Deployment>::namespaced(self.client.clone(), self.namespace())
            .get(&self.plan.monolith.deployment)
            .await
            .map_err(|e| StepFailure::plain(format!("cannot read the monolith: {e}")))?;
        Ok(verify::Answerers {
            selector: monolith
                .spec
                .selector
                .match_labels
                .clone()
                .unwrap_or_default(),
            os: None,
            description: format!("the pods of the monolith {}", self.plan.monolith.deployment),
        })
    }
}

/// A rollback step asked of the forward drive.
fn not_forward(step: StepKind) -> StepFailure {
    StepFailure::plain(format!("{} is a rollback step", step.title()))
}

fn failed(e: MoveError) -> StepFailure {
    StepFailure::plain(e.to_string())
}

/// The port the service proxy addresses: the Service's first port, by name if it has one.
fn service_port(service: &k8s_openapi::api::core::v1::Service) -> String {
    service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|p| p.first())
        .map(|p| {
            p.name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| p.port.to_string())
        })
        .unwrap_or_else(|| "http".into())
}
