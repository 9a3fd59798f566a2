//! The drive loop: each step of the plan in order, reported as it runs; a step that fails when
//! the API server stopped answering is repeated once it answers again; any other failure (or
//! the operator's abort) rolls the move back; once every step passed, the record is cleared.

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::errors::{MoveError, StepFailure};
use super::lease::LeaseGuard;
use super::mover::{Mover, Reporter, direction_words, started, step_event};
use super::outage::{OUTAGES_WAITED_OUT, Outage};
use crate::model::move_plan::MovePlan;
use crate::model::move_progress::{MoveEvent, MoveOutcome, StepState};
use crate::model::moves::{Control, MoveRecord, StepKind};

impl Mover {
    pub(super) async fn drive(
        &self,
        plan: MovePlan,
        mut record: MoveRecord,
        from: usize,
        report: Reporter,
        abort: CancellationToken,
        lease: LeaseGuard,
    ) -> MoveOutcome {
        let shares = (0..plan.steps.len()).map(|i| plan.share_at(i)).collect();
        report(started(&record, plan.steps.clone(), shares));
        for step in &plan.steps[..from] {
            report(step_event(
                *step,
                StepState::Done,
                "done before the console restarted",
            ));
        }
        let mut index = from;
        let mut outages = 0;
        while let Some(&step) = plan.steps.get(index) {
            if lease.lost() {
                let outcome = MoveOutcome::Interrupted {
                    step,
                    reason: "another console took over the move".into(),
                };
                report(MoveEvent::Finished(outcome.clone()));
                return outcome;
            }
            report(step_event(step, StepState::Running, ""));
            // A progressive move may be aborted from another console or the CLI (the
            // monolith's control annotation); its judged steps watch for that themselves.
            let steered_abort =
                record.progression.is_some() && self.driver.control().await == Some(Control::Abort);
            let result = if steered_abort {
                Err(StepFailure::plain(
                    "aborted by the operator (migrate --abort)".into(),
                ))
            } else {
                tokio::select! {
                    result = self.run_step(step, plan.share_at(index), &plan, &mut record, &report) => result,
                    _ = abort.cancelled() => Err(StepFailure::plain(format!("aborted by {}", self.driver.user))),
                }
            };
            let result = match result {
                // Every step is safe to repeat (a resumed move repeats the recorded one): when
                // the API server stopped answering, wait for it and repeat the step.
                Err(failure) if !abort.is_cancelled() && outages < OUTAGES_WAITED_OUT => {
                    let doing = format!("repeating step \"{}\"", step.title());
                    match self.outlast_outage(&report, &doing, Some(&abort)).await {
                        Outage::None => Err(failure),
                        Outage::Over => {
                            outages += 1;
                            continue;
                        }
                        Outage::Aborted => Err(StepFailure::plain(format!(
                            "aborted by {} while the API server did not answer",
                            self.driver.user
                        ))),
                        Outage::Lasting(why) => {
                            lease.release().await;
                            let outcome = MoveOutcome::Interrupted {
                                step,
                                reason: format!("{why} ({})", failure.reason),
                            };
                            report(MoveEvent::Finished(outcome.clone()));
                            return outcome;
                        }
                    }
                }
                other => other,
            };
            match result {
                Ok(detail) => {
                    index += 1;
                    report(step_event(step, StepState::Done, detail.clone()));
                    self.driver
                        .event(
                            "Normal",
                            "StepCompleted",
                            &format!(
                                "{} {}: {}: {detail}",
                                record.service,
                                direction_words(record.direction),
                                step.title()
                            ),
                        )
                        .await;
                }
                Err(failure) => {
                    report(step_event(
                        step,
                        StepState::Failed(failure.reason.clone()),
                        "",
                    ));
                    self.driver
                        .event(
                            "Warning",
                            "StepFailed",
                            &format!(
                                "{} {}: {}: {}",
                                record.service,
                                direction_words(record.direction),
                                step.title(),
                                failure.reason
                            ),
                        )
                        .await;
                    if step == StepKind::RemoveService {
                        // The service is back in the monolith and verified: undoing that
                        // would be worse than an object left to remove.
                        lease.release().await;
                        let outcome = MoveOutcome::Interrupted {
                            step,
                            reason: failure.reason,
                        };
                        report(MoveEvent::Finished(outcome.clone()));
                        return outcome;
                    }
                    return self.roll_back(record, step, failure, &report, lease).await;
                }
            }
        }
        if record.progression.is_some() {
            self.withdraw_control().await;
        }
        let outcome = match self.clear_record(&record, &report).await {
            Ok(()) => {
                self.driver
                    .event(
                        "Normal",
                        "MigrationCompleted",
                        &format!(
                            "{} moved {} {}",
                            record.by,
                            record.service,
                            direction_words(record.direction)
                        ),
                    )
                    .await;
                MoveOutcome::Completed
            }
            Err(e) => MoveOutcome::Interrupted {
                step: record.step,
                reason: format!("every step passed, but the record could not be cleared: {e}"),
            },
        };
        lease.release().await;
        report(MoveEvent::Finished(outcome.clone()));
        outcome
    }

    /// Removes the record of a move whose every step passed, waiting out an outage of the API
    /// server in between.
    async fn clear_record(&self, record: &MoveRecord, report: &Reporter) -> Result<(), MoveError> {
        let mut outages = 0;
        loop {
            let Err(error) = self
                .driver
                .write_record(Some(record), None, json!({}))
                .await
            else {
                return Ok(());
            };
            if outages == OUTAGES_WAITED_OUT {
                return Err(error);
            }
            match self
                .outlast_outage(report, "clearing the move's record again", None)
                .await
            {
                Outage::Over => {
                    outages += 1;
                    // The write may have landed before its answer was lost.
                    if matches!(self.recorded().await, Ok(None)) {
                        return Ok(());
                    }
                }
                Outage::Lasting(why) => {
                    return Err(MoveError::Cluster(format!("{error} ({why})")));
                }
                Outage::None | Outage::Aborted => return Err(error),
            }
        }
    }
}
