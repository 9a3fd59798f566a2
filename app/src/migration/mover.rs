//! The mover: one migration plan on one cluster, acting as the connection's user, with the
//! record and Lease it keeps on the monolith, how long it waits, and where its progress goes.
//! Its work is spread by phase: [`super::start`] (a move begins or is taken over),
//! [`super::drive`] (the steps in order), [`super::steps`], [`super::rollback`] and
//! [`super::outage`].

use std::sync::Arc;
use std::time::Duration;

use super::errors::MoveError;
use super::readings::MetricsSource;
use super::record::Driver;
use super::wait::WaitReport;
use crate::cluster::access;
use crate::cluster::connection::Connection;
use crate::model::migration_plan::MigrationPlan;
use crate::model::move_progress::{MoveEvent, StepState};
use crate::model::moves::{Control, Direction, MoveRecord, StepKind};

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

/// Moves services of one migration plan on one cluster.
#[derive(Clone)]
pub struct Mover {
    pub(super) client: kube::Client,
    /// For the service proxy: no retries hiding a 503.
    pub(super) proxy: kube::Client,
    pub(super) plan: Arc<MigrationPlan>,
    pub(super) driver: Driver,
    /// How long waits may take.
    pub timeouts: Timeouts,
    /// Where a progressive move's figures are read.
    pub metrics: MetricsSource,
}

impl Mover {
    /// A mover for `plan`, acting as whoever the connection's credentials are.
    pub async fn new(connection: &Connection, plan: Arc<MigrationPlan>) -> Mover {
        let client = connection.api.clone();
        let user = access::whoami(&client).await;
        let driver = Driver::new(
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
            metrics: MetricsSource::default(),
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

    /// Gives the console driving a progressive move the operator's word (`None` withdraws a
    /// Pause), through the monolith's annotation.
    pub async fn steer(&self, control: Option<Control>) -> Result<(), MoveError> {
        self.driver.set_control(control).await
    }

    pub(super) fn namespace(&self) -> &str {
        &self.plan.monolith.namespace
    }
}

pub(super) struct StepReport<'a> {
    pub(super) step: StepKind,
    pub(super) report: &'a Reporter,
}

impl WaitReport for StepReport<'_> {
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

pub(super) fn step_event(step: StepKind, state: StepState, detail: impl Into<String>) -> MoveEvent {
    MoveEvent::Step {
        step,
        state,
        detail: detail.into(),
        fraction: None,
    }
}

/// The event that opens a move's progress, for a recorded move taken over.
pub(super) fn started(
    record: &MoveRecord,
    steps: Vec<StepKind>,
    shares: Vec<Option<u8>>,
) -> MoveEvent {
    MoveEvent::Started {
        plan: record.plan.clone(),
        service: record.service.clone(),
        direction: record.direction,
        by: record.by.clone(),
        steps,
        shares,
    }
}

/// `out of the monolith` / `back into the monolith`.
pub fn direction_words(direction: Direction) -> &'static str {
    match direction {
        Direction::Extract => "out of the monolith",
        Direction::Return => "back into the monolith",
    }
}
