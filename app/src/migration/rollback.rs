//! Rolling a move back: routing put back as recorded and waited for, what the move created
//! removed, the record cleared — each part safe to repeat, so an API server outage is waited
//! out and the rollback repeated. Ends with the outcome and the Lease released.

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use serde_json::json;

use super::errors::{MoveError, StepFailure};
use super::lease::LeaseGuard;
use super::mover::{Mover, Reporter, StepReport, direction_words, step_event};
use super::outage::{OUTAGES_WAITED_OUT, Outage};
use super::{access, actions};
use crate::model::move_plan;
use crate::model::move_progress::{MoveEvent, MoveOutcome, StepState};
use crate::model::moves::{MovePhase, MoveRecord, StepKind};
use crate::model::rollout::PodProblem;

impl Mover {
    pub(super) async fn roll_back(
        &self,
        mut record: MoveRecord,
        failed: StepKind,
        failure: StepFailure,
        report: &Reporter,
        lease: LeaseGuard,
    ) -> MoveOutcome {
        report(MoveEvent::RollingBack {
            step: failed,
            why: failure.reason.clone(),
        });
        let logs = match &failure.problem {
            Some(problem) => self.logs_of(problem).await,
            None => None,
        };
        let mut outages = 0;
        let result = loop {
            let Err(error) = self.undo(&mut record, report).await else {
                break Ok(());
            };
            if outages == OUTAGES_WAITED_OUT {
                break Err(error.to_string());
            }
            // Every part of the rollback is safe to repeat: when the API server stopped
            // answering, wait for it and roll back again.
            match self
                .outlast_outage(report, "rolling back again", None)
                .await
            {
                Outage::Over => {
                    outages += 1;
                    // The write that clears the record may have landed before the answer was
                    // lost: then the rollback is over.
                    if matches!(self.recorded().await, Ok(None)) {
                        break Ok(());
                    }
                }
                Outage::Lasting(why) => break Err(format!("{error} ({why})")),
                Outage::None | Outage::Aborted => break Err(error.to_string()),
            }
        };
        let outcome = match result {
            Ok(()) => {
                self.driver
                    .event(
                        "Warning",
                        "MigrationRolledBack",
                        &format!(
                            "moving {} {} was rolled back: step \"{}\" failed: {}",
                            record.service,
                            direction_words(record.direction),
                            failed.title(),
                            failure.reason
                        ),
                    )
                    .await;
                MoveOutcome::RolledBack {
                    step: failed,
                    reason: failure.reason,
                    problem: failure.problem,
                    logs,
                }
            }
            Err(rollback_error) => {
                self.driver
                    .event(
                        "Warning",
                        "RollbackFailed",
                        &format!(
                            "moving {} {}: the rollback stopped: {rollback_error}",
                            record.service,
                            direction_words(record.direction)
                        ),
                    )
                    .await;
                MoveOutcome::RollbackFailed {
                    step: failed,
                    reason: failure.reason,
                    rollback_error,
                }
            }
        };
        if record.progression.is_some() {
            self.withdraw_control().await;
        }
        lease.release().await;
        report(MoveEvent::Finished(outcome.clone()));
        outcome
    }

    /// Puts routing back as recorded, waits for it, removes what the move created, clears the
    /// record. Every part is safe to repeat.
    async fn undo(&self, record: &mut MoveRecord, report: &Reporter) -> Result<(), MoveError> {
        let ns = self.namespace().to_owned();
        let client = &self.client;
        let mut rolling = record.clone();
        rolling.phase = MovePhase::RollingBack;
        rolling.step = StepKind::RestoreRoute;
        // Restore routing.
        report(step_event(StepKind::RestoreRoute, StepState::Running, ""));
        let live = access::live_objects(client, &ns).await?;
        let restores: Vec<move_plan::RouteChange> =
            match (&record.before.variable, &record.before.container) {
                (Some(variable), Some(container)) => record
                    .before
                    .variables
                    .iter()
                    .filter(|(d, _)| live.deployment(d).is_some())
                    .map(|(deployment, value)| move_plan::RouteChange {
                        deployment: deployment.clone(),
                        container: container.clone(),
                        variable: variable.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                _ => Vec::new(),
            };
        let monolith_patch = restores
            .iter()
            .find(|c| c.deployment == self.plan.monolith.deployment)
            .map(actions::route_patch)
            .unwrap_or_else(|| json!({}));
        self.driver
            .write_record(Some(record), Some(&rolling), monolith_patch)
            .await?;
        *record = rolling;
        // A progressive move's share goes back to the monolith first: the routing file is
        // taken up within seconds, a restored variable only by a rolling redeploy.
        let progress = StepReport {
            step: StepKind::RestoreRoute,
            report,
        };
        if let Some(file) = &record.before.routing_file {
            self.restore_routing_file(&record.service, file, &progress)
                .await?;
        }
        if let Some(rule) = &record.before.edge_rule {
            self.restore_edge_rule(rule, &progress).await?;
        }
        for change in restores
            .iter()
            .filter(|c| c.deployment != self.plan.monolith.deployment)
        {
            actions::reroute(client, &ns, change).await?;
        }
        if let Some(selector) = &record.before.front_selector
            && live.service(&self.plan.front.service).is_some()
        {
            actions::select_front(client, &ns, &self.plan.front.service, selector).await?;
        }
        report(step_event(
            StepKind::RestoreRoute,
            StepState::Done,
            if restores.is_empty()
                && record.before.front_selector.is_none()
                && record.before.routing_file.is_none()
                && record.before.edge_rule.is_none()
            {
                "nothing to restore".to_owned()
            } else {
                "routing as before the move".to_owned()
            },
        ));
        // Wait for it.
        report(step_event(StepKind::WaitRestore, StepState::Running, ""));
        let progress = StepReport {
            step: StepKind::WaitRestore,
            report,
        };
        let front = record
            .before
            .front_selector
            .as_ref()
            .filter(|_| live.service(&self.plan.front.service).is_some());
        self.wait_routing(&restores, front, &progress)
            .await
            .map_err(|f| {
                MoveError::Cluster(format!("the restored routing did not settle: {}", f.reason))
            })?;
        report(step_event(StepKind::WaitRestore, StepState::Done, ""));
        // Remove what the move created.
        report(step_event(StepKind::RemoveCreated, StepState::Running, ""));
        let mut next = record.clone();
        next.step = StepKind::RemoveCreated;
        self.driver
            .write_record(Some(record), Some(&next), json!({}))
            .await?;
        *record = next;
        for object in &record.created {
            actions::delete(client, &ns, &object.kind, &object.name).await?;
        }
        let removed: Vec<String> = record.created.iter().map(ToString::to_string).collect();
        report(step_event(
            StepKind::RemoveCreated,
            StepState::Done,
            if removed.is_empty() {
                "nothing was created".to_owned()
            } else {
                format!("deleted {}", removed.join(", "))
            },
        ));
        self.driver
            .write_record(Some(record), None, json!({}))
            .await
    }

    async fn logs_of(&self, problem: &PodProblem) -> Option<String> {
        let pod = problem.pod.as_deref()?;
        let api = Api::<Pod>::namespaced(self.client.clone(), self.namespace());
        let restarted = api
            .get(pod)
            .await
            .ok()
            .and_then(|p| p.status)
            .and_then(|s| s.container_statuses)
            .is_some_and(|cs| cs.iter().any(|c| c.restart_count > 0));
        let params = LogParams {
            tail_lines: Some(10),
            previous: restarted,
            ..LogParams::default()
        };
        api.logs(pod, &params)
            .await
            .ok()
            .filter(|l| !l.trim().is_empty())
    }
}
