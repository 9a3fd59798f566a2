//! The executor of moves: it carries out a [`MovePlan`] step by step against the cluster,
//! records where it stands on the monolith, reports every step, and rolls everything back by
//! itself when a step fails or the operator aborts. The window and the CLI both drive it; it
//! knows nothing of calculators, only of the plan.

pub mod access;
mod actions;
pub mod desk;
pub mod plans;
mod record;
mod retire;
mod verify;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::cluster::connection::Connection;
use crate::cluster::liveness::{self, Liveness};
use crate::model::move_plan::{self, MovePlan, Recorded};
use crate::model::moves::{
    Direction, MoveEvent, MoveOutcome, MovePhase, MoveRecord, StepKind, StepState,
};
use crate::model::plan::MigrationPlan;
use crate::model::rollout::PodProblem;
pub use record::LEASE_SECONDS;

/// Why a move could not be started, resumed or rolled back (a move that started and failed
/// ends with a [`MoveOutcome`] instead).
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// A request to the API server failed.
    #[error("cannot {context}: {detail}")]
    Kube {
        /// What the console was doing.
        context: String,
        /// The server's or the transport's words.
        detail: String,
    },
    /// Another console drives a move on this monolith.
    #[error("another console ({holder}) is driving a move on this monolith{}; wait for it, or for its claim to expire if it has stopped", if until.is_empty() { String::new() } else { format!(" (its claim runs until {until})") })]
    Busy {
        /// Its identity.
        holder: String,
        /// When its Lease expires.
        until: String,
    },
    /// The record on the monolith is not the one expected.
    #[error("{0}")]
    Conflict(String),
    /// The plan says no.
    #[error("the move is refused: {}", .0.join("; "))]
    Refused(Vec<String>),
    /// Something in the cluster is not as a move needs it.
    #[error("{0}")]
    Cluster(String),
}

impl MoveError {
    fn kube(context: &str, error: kube::Error) -> MoveError {
        let detail = match &error {
            kube::Error::Api(status) => status.message.clone(),
            other => other.to_string(),
        };
        MoveError::Kube {
            context: context.to_owned(),
            detail,
        }
    }
}

/// Why a step failed, with the pod that said so when one did.
#[derive(Clone, Debug)]
pub struct StepFailure {
    /// In words.
    pub reason: String,
    /// The pod's reason and message.
    pub problem: Option<PodProblem>,
}

impl StepFailure {
    fn plain(reason: String) -> StepFailure {
        StepFailure {
            reason,
            problem: None,
        }
    }
}

/// Where progress goes: the window's event channel, or the CLI's printer.
pub type Reporter = Arc<dyn Fn(MoveEvent) + Send + Sync>;

/// How long waits may take.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// A rollout.
    pub rollout: Duration,
    /// A new Service's first endpoints (the proxy answering 503 meanwhile), or the front's
    /// switch.
    pub settle: Duration,
    /// An API server that stopped answering, before the move gives up waiting for it and is
    /// left recorded for `--resume` or `--rollback`.
    pub outage: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            rollout: Duration::from_secs(180),
            settle: Duration::from_secs(10),
            outage: Duration::from_secs(300),
        }
    }
}

/// What became of the API server after something failed.
enum Outage {
    /// It answers: the failure stands.
    None,
    /// It had stopped answering and answers again: what failed can be repeated.
    Over,
    /// The operator aborted while it did not answer.
    Aborted,
    /// It did not come back in time: why, in words.
    Lasting(String),
}

/// How many outages one move or rollback waits out before it stops asking.
const OUTAGES_WAITED_OUT: usize = 10;

/// Moves services of one migration plan on one cluster.
#[derive(Clone)]
pub struct Mover {
    client: kube::Client,
    /// For the service proxy: no retries hiding a 503.
    proxy: kube::Client,
    plan: Arc<MigrationPlan>,
    driver: record::Driver,
    /// How long waits may take.
    pub timeouts: Timeouts,
}

struct StepReport<'a> {
    step: StepKind,
    report: &'a Reporter,
}

impl wait::WaitReport for StepReport<'_> {
    fn progress(&self, fraction: f32, message: String) {
        (self.report)(MoveEvent::Step {
            step: self.step,
            state: StepState::Running,
            detail: message,
            fraction: Some(fraction),
        });
    }

    fn explain(&self, text: String) {
        (self.report)(MoveEvent::Explain(text));
    }
}

fn step_event(step: StepKind, state: StepState, detail: impl Into<String>) -> MoveEvent {
    MoveEvent::Step {
        step,
        state,
        detail: detail.into(),
        fraction: None,
    }
}

impl Mover {
    /// A mover for `plan`, acting as whoever the connection's credentials are.
    pub async fn new(connection: &Connection, plan: Arc<MigrationPlan>) -> Mover {
        let client = connection.api.clone();
        let user = crate::cluster::access::whoami(&client).await;
        let driver = record::Driver::new(
            client.clone(),
            &plan.monolith.namespace,
            &plan.monolith.deployment,
            &user,
        );
        Mover {
            client,
            proxy: connection.proxy.clone(),
            plan,
            driver,
            timeouts: Timeouts::default(),
        }
    }

    /// The Kubernetes user moves are made as.
    pub fn user(&self) -> &str {
        &self.driver.user
    }

    /// The migration plan.
    pub fn plan(&self) -> &MigrationPlan {
        &self.plan
    }

    /// The move recorded on the monolith, if any.
    pub async fn recorded(&self) -> Result<Option<MoveRecord>, MoveError> {
        Ok(self.driver.recorded().await?.1)
    }

    /// Plans a move: reads the cluster, checks every permission it needs.
    pub async fn prepare(
        &self,
        service: &str,
        direction: Direction,
        image: Option<&str>,
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
        .map_err(|e| MoveError::Refused(vec![e]))?;
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
            report(started(&record, Vec::new()));
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
                return Err(MoveError::Refused(vec![e]));
            }
        };
        let from = plan
            .steps
            .iter()
            .position(|s| *s == record.step)
            .unwrap_or(0);
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
        report(started(&record, Vec::new()));
        let failure = StepFailure::plain(format!("rolled back by {}", self.driver.user));
        Ok(self
            .roll_back(record.clone(), record.step, failure, &report, lease)
            .await)
    }

    /// Takes over a recorded move: waits for a stopped console's claim to expire.
    async fn acquire_patiently(&self, report: &Reporter) -> Result<record::LeaseGuard, MoveError> {
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

    async fn drive(
        &self,
        plan: MovePlan,
        mut record: MoveRecord,
        from: usize,
        report: Reporter,
        abort: CancellationToken,
        lease: record::LeaseGuard,
    ) -> MoveOutcome {
        report(started(&record, plan.steps.clone()));
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
            let result = tokio::select! {
                result = self.run_step(step, &plan, &mut record, &report) => result,
                _ = abort.cancelled() => Err(StepFailure::plain(format!("aborted by {}", self.driver.user))),
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

    /// Advances the record to `step` (with `extra` patched into the monolith in the same write).
    async fn advance(
        &self,
        record: &mut MoveRecord,
        step: StepKind,
        extra: serde_json::Value,
    ) -> Result<(), StepFailure> {
        let mut next = record.clone();
        next.step = step;
        self.driver
            .write_record(Some(record), Some(&next), extra)
            .await
            .map_err(|e| StepFailure::plain(e.to_string()))?;
        *record = next;
        Ok(())
    }

    fn namespace(&self) -> &str {
        &self.plan.monolith.namespace
    }

    async fn run_step(
        &self,
        step: StepKind,
        plan: &MovePlan,
        record: &mut MoveRecord,
        report: &Reporter,
    ) -> Result<String, StepFailure> {
        let ns = self.namespace().to_owned();
        let client = &self.client;
        let progress = StepReport { step, report };
        let failed = |e: MoveError| StepFailure::plain(e.to_string());
        match step {
            StepKind::Deploy => {
                self.advance(record, step, json!({})).await?;
                if let Some(pin) = &plan.front_pin {
                    actions::select_front(client, &ns, &self.plan.front.service, pin)
                        .await
                        .map_err(failed)?;
                }
                actions::apply(client, &ns, &plan.deployment, &plan.service_object)
                    .await
                    .map_err(failed)?;
                Ok(format!(
                    "applied Deployment/{} and Service/{} ({})",
                    plan.deployment_name(),
                    plan.service_name(),
                    plan.images.join(", ")
                ))
            }
            StepKind::WaitService => {
                self.advance(record, step, json!({})).await?;
                wait::rollout(
                    client,
                    &ns,
                    plan.deployment_name(),
                    self.timeouts.rollout,
                    &progress,
                )
                .await?;
                Ok(format!("{} is rolled out", plan.deployment_name()))
            }
            StepKind::VerifyService => {
                self.advance(record, step, json!({})).await?;
                let service = self
                    .plan
                    .service(&plan.service)
                    .ok_or_else(|| StepFailure::plain("the service left the plan".into()))?;
                let port = service_port(&plan.service_object);
                verify::verify(
                    &self.proxy,
                    &self.client,
                    &ns,
                    plan.service_name(),
                    &port,
                    &service.verify,
                    &self.new_pods(plan),
                    1,
                    self.timeouts.settle,
                )
                .await
            }
            StepKind::Reroute => {
                // The monolith's routing changes in the same write as the record's step.
                let monolith_patch = plan
                    .route_changes
                    .iter()
                    .find(|c| c.deployment == plan.monolith)
                    .map(actions::route_patch)
                    .unwrap_or_else(|| json!({}));
                self.advance(record, step, monolith_patch).await?;
                for change in plan
                    .route_changes
                    .iter()
                    .filter(|c| c.deployment != plan.monolith)
                {
                    actions::reroute(client, &ns, change)
                        .await
                        .map_err(failed)?;
                }
                if let Some(selector) = &plan.front_switch {
                    actions::select_front(client, &ns, &self.plan.front.service, selector)
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
            StepKind::WaitReroute => {
                self.advance(record, step, json!({})).await?;
                self.wait_routing(&plan.route_changes, plan.front_switch.as_ref(), &progress)
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
            StepKind::VerifyFront => {
                self.advance(record, step, json!({})).await?;
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
                    &ns,
                    &self.plan.front.service,
                    &self.plan.front.port,
                    std::slice::from_ref(&check),
                    &answerers,
                    4,
                    self.timeouts.settle,
                )
                .await
            }
            StepKind::RemoveService => {
                self.advance(record, step, json!({})).await?;
                actions::delete(client, &ns, "Deployment", plan.deployment_name())
                    .await
                    .map_err(failed)?;
                actions::delete(client, &ns, "Service", plan.service_name())
                    .await
                    .map_err(failed)?;
                Ok(format!(
                    "deleted Deployment/{} and Service/{}",
                    plan.deployment_name(),
                    plan.service_name()
                ))
            }
            StepKind::RestoreRoute | StepKind::WaitRestore | StepKind::RemoveCreated => Err(
                StepFailure::plain(format!("{} is a rollback step", step.title())),
            ),
        }
    }

    /// Waits until routing changes are live: the rollouts of the Deployments whose variables
    /// changed, then the front Service's endpoints when its selector changed.
    async fn wait_routing(
        &self,
        changes: &[move_plan::RouteChange],
        front: Option<&std::collections::BTreeMap<String, String>>,
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
    async fn monolith_pods(&self) -> Result<verify::Answerers, StepFailure> {
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

    async fn roll_back(
        &self,
        mut record: MoveRecord,
        failed: StepKind,
        failure: StepFailure,
        report: &Reporter,
        lease: record::LeaseGuard,
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
                break Err(error);
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
                Outage::None | Outage::Aborted => break Err(error),
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

    /// Whether the API server answers at all: any HTTP answer counts, even a refusal; a refused
    /// or reset connection, or none within five seconds, does not.
    async fn server_answers(&self) -> bool {
        let answer = liveness::ask(&self.client, Duration::from_secs(5)).await;
        if let Liveness::Unreachable(e) = &answer {
            tracing::debug!(error = %e, "the API server does not answer");
        }
        answer.answered_at_all()
    }

    /// After something failed: when the API server has stopped answering, waits (saying so)
    /// until it answers again, for at most `timeouts.outage`, before `doing` (in words: what is
    /// repeated).
    async fn outlast_outage(
        &self,
        report: &Reporter,
        doing: &str,
        abort: Option<&CancellationToken>,
    ) -> Outage {
        if self.server_answers().await {
            return Outage::None;
        }
        let since = tokio::time::Instant::now();
        let patience = self.timeouts.outage;
        report(MoveEvent::Explain(format!(
            "the API server does not answer; waiting up to {} s for it before {doing}",
            patience.as_secs()
        )));
        let mut pause = Duration::from_millis(250);
        loop {
            let aborted = async {
                match abort {
                    Some(abort) => abort.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = aborted => return Outage::Aborted,
            }
            if self.server_answers().await {
                report(MoveEvent::Explain(format!(
                    "the API server answers again after {:.1} s; {doing}",
                    since.elapsed().as_secs_f64()
                )));
                return Outage::Over;
            }
            if since.elapsed() >= patience {
                return Outage::Lasting(format!(
                    "the API server did not answer for {} s; the move stays recorded on the monolith: once it answers, finish it with `hybrid-console migrate --resume` or undo it with `hybrid-console migrate --rollback`",
                    patience.as_secs()
                ));
            }
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Puts routing back as recorded, waits for it, removes what the move created, clears the
    /// record. Every part is safe to repeat.
    async fn undo(&self, record: &mut MoveRecord, report: &Reporter) -> Result<(), String> {
        let ns = self.namespace().to_owned();
        let client = &self.client;
        let mut rolling = record.clone();
        rolling.phase = MovePhase::RollingBack;
        rolling.step = StepKind::RestoreRoute;
        // Restore routing.
        report(step_event(StepKind::RestoreRoute, StepState::Running, ""));
        let live = access::live_objects(client, &ns)
            .await
            .map_err(|e| e.to_string())?;
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
            .await
            .map_err(|e| e.to_string())?;
        *record = rolling;
        for change in restores
            .iter()
            .filter(|c| c.deployment != self.plan.monolith.deployment)
        {
            actions::reroute(client, &ns, change)
                .await
                .map_err(|e| e.to_string())?;
        }
        if let Some(selector) = &record.before.front_selector
            && live.service(&self.plan.front.service).is_some()
        {
            actions::select_front(client, &ns, &self.plan.front.service, selector)
                .await
                .map_err(|e| e.to_string())?;
        }
        report(step_event(
            StepKind::RestoreRoute,
            StepState::Done,
            if restores.is_empty() && record.before.front_selector.is_none() {
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
            .map_err(|f| format!("the restored routing did not settle: {}", f.reason))?;
        report(step_event(StepKind::WaitRestore, StepState::Done, ""));
        // Remove what the move created.
        report(step_event(StepKind::RemoveCreated, StepState::Running, ""));
        let mut next = record.clone();
        next.step = StepKind::RemoveCreated;
        self.driver
            .write_record(Some(record), Some(&next), json!({}))
            .await
            .map_err(|e| e.to_string())?;
        *record = next;
        for object in &record.created {
            actions::delete(client, &ns, &object.kind, &object.name)
                .await
                .map_err(|e| e.to_string())?;
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
            .map_err(|e| e.to_string())
    }
}

/// The event that opens a move's progress, for a recorded move taken over.
fn started(record: &MoveRecord, steps: Vec<StepKind>) -> MoveEvent {
    MoveEvent::Started {
        plan: record.plan.clone(),
        service: record.service.clone(),
        direction: record.direction,
        by: record.by.clone(),
        steps,
    }
}

/// `out of the monolith` / `back into the monolith`.
pub fn direction_words(direction: Direction) -> &'static str {
    match direction {
        Direction::Extract => "out of the monolith",
        Direction::Return => "back into the monolith",
    }
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
