//! How a move begins: planned against the live cluster with every permission asked
//! ([`Mover::prepare`]), claimed and recorded ([`Mover::execute`]), taken over from a console
//! that stopped in the middle ([`Mover::resume`]), or rolled back as recorded.

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::access;
use super::errors::{MoveError, StepFailure};
use super::lease::LeaseGuard;
use super::mover::{Mover, Reporter, direction_words, started};
use crate::model::analysis::Progression;
use crate::model::move_plan::{self, MovePlan, NotProgressive, ProgressiveWay, Recorded, SharedAt};
use crate::model::move_progress::{MoveEvent, MoveOutcome};
use crate::model::moves::{Direction, MovePhase, MoveRecord};

impl Mover {
    /// Plans a move: reads the cluster, checks every permission it needs.
    pub async fn prepare(
        &self,
        service: &str,
        direction: Direction,
        image: Option<&str>,
    ) -> Result<MovePlan, MoveError> {
        self.prepare_with(service, direction, image, None).await
    }

    /// Plans a progressive move out of the monolith: as [`Mover::prepare`], then shadow, the
    /// shares of `progression`, 100 % and settle by the monolith's routing file before the
    /// routing variable is set.
    pub async fn prepare_progressive(
        &self,
        service: &str,
        image: Option<&str>,
        progression: Progression,
        way: ProgressiveWay,
    ) -> Result<MovePlan, MoveError> {
        self.prepare_with(service, Direction::Extract, image, Some((progression, way)))
            .await
    }

    async fn prepare_with(
        &self,
        service: &str,
        direction: Direction,
        image: Option<&str>,
        progression: Option<(Progression, ProgressiveWay)>,
    ) -> Result<MovePlan, MoveError> {
        let (live, recorded) = tokio::try_join!(
            access::live_objects(&self.client, &self.plan.monolith.namespace),
            self.recorded()
        )?;
        let mut plan = move_plan::plan_move(
            &self.plan,
            service,
            direction,
            image,
            &live,
            recorded.as_ref().map_or(Recorded::Nothing, Recorded::Other),
        )
        .map_err(|e| MoveError::Refused(vec![e.to_string()]))?;
        if let Some((mut progression, way)) = progression {
            let refused = |e: NotProgressive| MoveError::Refused(vec![e.to_string()]);
            let mut notes = Vec::new();
            let at = match way {
                ProgressiveWay::Inside => {
                    let spec = self.plan.progressive.as_ref().ok_or_else(|| {
                        refused(NotProgressive::NoRoutingFile(self.plan.name.clone()))
                    })?;
                    SharedAt::Inside(self.routing_file_now(spec).await?)
                }
                ProgressiveWay::Edge => {
                    let edge = self
                        .plan
                        .service(service)
                        .and_then(|s| s.edge.clone())
                        .ok_or_else(|| refused(NotProgressive::NoEdge(service.to_owned())))?;
                    let (before, mirroring) = self.edge_rule_now(&edge).await?;
                    notes.extend(mirroring.fit(&mut progression));
                    SharedAt::Edge(before)
                }
            };
            let frontend = self.plan.service(service).is_some_and(|s| s.is_frontend());
            plan.make_progressive(progression, at, frontend)
                .map_err(refused)?;
            plan.notes.extend(notes);
        }
        let answers = access::check(&self.client, &plan.permissions).await?;
        plan.record_permissions(&answers);
        Ok(plan)
    }

    /// Carries out `plan`. Ends with the outcome; an error means it did not start.
    pub async fn execute(
        &self,
        plan: MovePlan,
        report: Reporter,
        abort: CancellationToken,
    ) -> Result<MoveOutcome, MoveError> {
        if !plan.allowed() {
            return Err(MoveError::Refused(plan.refusals.clone()));
        }
        let lease = self.driver.acquire().await?;
        if plan.progression.is_some() {
            // A word left from an earlier move must not steer this one.
            self.withdraw_control().await;
        }
        let record = MoveRecord {
            plan: plan.plan.clone(),
            service: plan.service.clone(),
            direction: plan.direction,
            step: plan.steps[0],
            phase: MovePhase::Running,
            started_at: jiff::Timestamp::now().to_string(),
            by: self.driver.user.clone(),
            digest: plan.digest.clone(),
            image: plan.image_override.clone(),
            created: plan.creates.clone(),
            before: plan.before.clone(),
            progression: plan.progression.clone(),
            share: None,
        };
        if let Err(e) = self
            .driver
            .write_record(None, Some(&record), json!({}))
            .await
        {
            lease.release().await;
            return Err(e);
        }
        self.driver
            .event(
                "Normal",
                "MigrationStarted",
                &format!(
                    "{} started moving {} {} (plan {}, {})",
                    record.by,
                    record.service,
                    direction_words(record.direction),
                    record.plan,
                    record.digest
                ),
            )
            .await;
        Ok(self.drive(plan, record, 0, report, abort, lease).await)
    }

    /// Finishes the move recorded on the monolith (a console stopped in the middle of it), or
    /// finishes its rollback if one had begun.
    pub async fn resume(
        &self,
        report: Reporter,
        abort: CancellationToken,
    ) -> Result<MoveOutcome, MoveError> {
        let record = self
            .recorded()
            .await?
            .ok_or_else(|| MoveError::Cluster("no move is in progress".into()))?;
        let lease = self.acquire_patiently(&report).await?;
        if record.phase == MovePhase::RollingBack {
            report(started(&record, Vec::new(), Vec::new()));
            let failure =
                StepFailure::plain("a rollback was in progress when the console stopped".into());
            return Ok(self
                .roll_back(record.clone(), record.step, failure, &report, lease)
                .await);
        }
        let live = match access::live_objects(&self.client, &self.plan.monolith.namespace).await {
            Ok(live) => live,
            Err(e) => {
                lease.release().await;
                return Err(e);
            }
        };
        let plan = move_plan::plan_move(
            &self.plan,
            &record.service,
            record.direction,
            record.image.as_deref(),
            &live,
            Recorded::Resuming(&record),
        );
        // A progressive move goes on with the shares and allowances it began with.
        let plan = plan.map(|mut plan| {
            let at = match (&record.before.routing_file, &record.before.edge_rule) {
                (Some(file), _) => Some(SharedAt::Inside(file.clone())),
                (None, Some(rule)) => Some(SharedAt::Edge(rule.clone())),
                (None, None) => None,
            };
            if let (Some(progression), Some(at)) = (&record.progression, at) {
                let frontend = self
                    .plan
                    .service(&record.service)
                    .is_some_and(|s| s.is_frontend());
                if let Err(e) = plan.make_progressive(progression.clone(), at, frontend) {
                    plan.refusals.push(e.to_string());
                }
            }
            plan
        });
        let plan = match plan {
            Ok(plan) if plan.digest == record.digest && plan.allowed() => plan,
            Ok(plan) => {
                lease.release().await;
                let why = if plan.digest != record.digest {
                    vec![format!(
                        "the plan has changed since the move began ({} then, {} now); roll the move back instead (hybrid-console migrate --rollback)",
                        record.digest, plan.digest
                    )]
                } else {
                    plan.refusals
                };
                return Err(MoveError::Refused(why));
            }
            Err(e) => {
                lease.release().await;
                return Err(MoveError::Refused(vec![e.to_string()]));
            }
        };
        let from = plan.step_index(record.step, record.share).unwrap_or(0);
        self.driver
            .event(
                "Normal",
                "MigrationResumed",
                &format!(
                    "{} resumed moving {} {} at step \"{}\"",
                    self.driver.user,
                    record.service,
                    direction_words(record.direction),
                    record.step.title()
                ),
            )
            .await;
        Ok(self.drive(plan, record, from, report, abort, lease).await)
    }

    /// Rolls back the move recorded on the monolith.
    pub async fn roll_back_recorded(&self, report: Reporter) -> Result<MoveOutcome, MoveError> {
        let record = self
            .recorded()
            .await?
            .ok_or_else(|| MoveError::Cluster("no move is in progress".into()))?;
        let lease = self.acquire_patiently(&report).await?;
        report(started(&record, Vec::new(), Vec::new()));
        let failure = StepFailure::plain(format!("rolled back by {}", self.driver.user));
        Ok(self
            .roll_back(record.clone(), record.step, failure, &report, lease)
            .await)
    }

    /// Takes over a recorded move: waits for a stopped console's claim to expire.
    async fn acquire_patiently(&self, report: &Reporter) -> Result<LeaseGuard, MoveError> {
        let said = std::sync::atomic::AtomicBool::new(false);
        self.driver
            .acquire_patiently(|holder, until| {
                if !said.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    report(MoveEvent::Explain(format!(
                        "waiting for the claim of {holder} on this move to expire (at {until})"
                    )));
                }
            })
            .await
    }
}
