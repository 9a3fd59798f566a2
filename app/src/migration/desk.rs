//! Moves driven from the window: plan on request, carry out what the operator confirmed, abort,
//! finish or roll back a recorded move, retire the monolith. One move at a time; progress goes
//! to the UI as [`Event::Move`].

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Mover, Reporter};
use crate::cluster::connection::{Connection, Current, connected};
use crate::model::migration_plan::MigrationPlan;
use crate::model::move_plan::{MovePlan, ProgressiveWay};
use crate::model::move_progress::{MoveEvent, MoveOutcome};
use crate::model::moves::{Control, Direction, RetireStage};
use crate::protocol::{ActionError, Event, EventSink, Task, Tasks};

/// A move the operator asked to plan.
pub struct MoveAsked {
    /// The plan's service.
    pub service: String,
    /// Which way.
    pub direction: Direction,
    /// In proven steps (shadow, the plan's shares, 100 %), shared where it says; `None`: at
    /// once.
    pub progressive: Option<ProgressiveWay>,
}

/// The move this console drives, if any: its task runs in the backend's [`Tasks`] (as
/// [`Task::Move`] or [`Task::Retire`]); the desk keeps the token that asks it to roll back.
#[derive(Default)]
pub struct MoveDesk {
    abort: Option<CancellationToken>,
}

fn mover_for(connection: &Current) -> Result<Connection, ActionError> {
    connected(connection).ok_or(ActionError::NotConnected)
}

fn reporter(sink: &EventSink) -> Reporter {
    let sink = sink.clone();
    Arc::new(move |event: MoveEvent| {
        if let MoveEvent::Finished(outcome) = &event {
            let reason = match outcome {
                MoveOutcome::Completed => "MoveCompleted",
                MoveOutcome::RolledBack { .. } => "MoveRolledBack",
                MoveOutcome::Interrupted { .. } => "MoveInterrupted",
                MoveOutcome::RollbackFailed { .. } => "RollbackFailed",
            };
            sink.log(reason, outcome.describe());
        }
        sink.send(Event::Move(event));
    })
}

impl MoveDesk {
    fn busy(tasks: &Tasks) -> bool {
        tasks.running(Task::Move) || tasks.running(Task::Retire)
    }

    /// Plans a move and sends the plan (or why there is none).
    pub fn plan(
        &self,
        tasks: &mut Tasks,
        plan: &Arc<MigrationPlan>,
        connection: &Current,
        sink: &EventSink,
        asked: MoveAsked,
    ) {
        let MoveAsked {
            service,
            direction,
            progressive,
        } = asked;
        let (plan, sink) = (plan.clone(), sink.clone());
        let connection = mover_for(connection);
        tasks.spawn(Task::MovePlan, async move {
            let planned = match connection {
                Ok(c) => {
                    let progression = plan
                        .progressive
                        .as_ref()
                        .map(|p| p.analysis.clone())
                        .unwrap_or_default();
                    let mover = Mover::new(&c, plan).await;
                    let planned = match progressive {
                        Some(way) => {
                            mover
                                .prepare_progressive(&service, None, progression, way)
                                .await
                        }
                        None => mover.prepare(&service, direction, None).await,
                    };
                    planned.map(Box::new).map_err(ActionError::from)
                }
                Err(e) => Err(e),
            };
            sink.send(Event::MovePlanned(planned));
        });
    }

    fn spawn<F>(
        &mut self,
        tasks: &mut Tasks,
        task: Task,
        sink: &EventSink,
        work: impl FnOnce(CancellationToken) -> F,
    ) where
        F: std::future::Future<Output = Result<(), ActionError>> + Send + 'static,
    {
        if Self::busy(tasks) {
            sink.log("MoveRefused", "a move is already running in this console");
            return;
        }
        let abort = CancellationToken::new();
        let future = work(abort.clone());
        let sink = sink.clone();
        tasks.replace(task, async move {
            if let Err(why) = future.await {
                sink.log("MoveNotStarted", why.to_string());
                sink.send(Event::MoveNotStarted(why));
            }
        });
        self.abort = Some(abort);
    }

    /// Carries out the plan the operator confirmed.
    pub fn start(
        &mut self,
        tasks: &mut Tasks,
        plan: &Arc<MigrationPlan>,
        connection: &Current,
        sink: &EventSink,
        confirmed: MovePlan,
        prometheus: Option<String>,
    ) {
        let (plan, connection, report) = (plan.clone(), mover_for(connection), reporter(sink));
        self.spawn(tasks, Task::Move, sink, move |abort| async move {
            let mut mover = Mover::new(&connection?, plan).await;
            if let Some(url) = prometheus {
                mover.metrics = super::readings::MetricsSource::Prometheus(url);
            }
            mover.execute(confirmed, report, abort).await?;
            Ok(())
        });
    }

    /// Finishes (`resume`) or rolls back the move recorded on the monolith.
    pub fn recorded(
        &mut self,
        tasks: &mut Tasks,
        plan: &Arc<MigrationPlan>,
        connection: &Current,
        sink: &EventSink,
        resume: bool,
    ) {
        let (plan, connection, report) = (plan.clone(), mover_for(connection), reporter(sink));
        self.spawn(tasks, Task::Move, sink, move |abort| async move {
            let mover = Mover::new(&connection?, plan).await;
            if resume {
                mover.resume(report, abort).await?;
            } else {
                mover.roll_back_recorded(report).await?;
            }
            Ok(())
        });
    }

    /// Aborts the running move: it rolls back by itself.
    pub fn abort(&self, tasks: &Tasks, sink: &EventSink) {
        match &self.abort {
            Some(abort) if tasks.running(Task::Move) => {
                sink.log("MoveAborted", "abort requested: rolling back");
                abort.cancel();
            }
            _ => sink.log("MoveAborted", "no move is running in this console"),
        }
    }

    /// Gives the progressive move in progress the operator's word (through the monolith, so
    /// the console driving it obeys whether it is this one or another).
    pub fn steer(
        &self,
        tasks: &mut Tasks,
        plan: &Arc<MigrationPlan>,
        connection: &Current,
        sink: &EventSink,
        control: Option<Control>,
    ) {
        let (plan, connection, sink) = (plan.clone(), mover_for(connection), sink.clone());
        tasks.spawn(Task::Steer, async move {
            let said = match connection {
                Ok(c) => Mover::new(&c, plan)
                    .await
                    .steer(control)
                    .await
                    .map_err(ActionError::from),
                Err(e) => Err(e),
            };
            let word = control.map_or("continue", Control::as_str);
            match said {
                Ok(()) => sink.log("MoveSteered", format!("{word}: sent to the move")),
                Err(why) => sink.log("MoveSteered", format!("{word} could not be sent: {why}")),
            }
        });
    }

    /// One stage of retiring the monolith.
    pub fn retire(
        &mut self,
        tasks: &mut Tasks,
        plan: &Arc<MigrationPlan>,
        connection: &Current,
        sink: &EventSink,
        stage: RetireStage,
    ) {
        // Retiring is not a move: its progress goes to the log, not to the move's step list.
        let log = sink.clone();
        let report: Reporter = Arc::new(move |event: MoveEvent| {
            if let Some(line) = crate::model::move_progress::event_line(&event) {
                log.log("MonolithRetire", line);
            }
        });
        let (plan, connection, done) = (plan.clone(), mover_for(connection), sink.clone());
        self.spawn(tasks, Task::Retire, sink, move |_| async move {
            let result = match connection {
                Ok(connection) => Mover::new(&connection, plan)
                    .await
                    .retire(stage, report)
                    .await
                    .map_err(ActionError::from),
                Err(e) => Err(e),
            };
            match &result {
                Ok(message) => done.log("MonolithRetire", message.clone()),
                Err(why) => done.log("MonolithRetire", why.to_string()),
            }
            done.send(Event::Retired(result));
            Ok(())
        });
    }
}
