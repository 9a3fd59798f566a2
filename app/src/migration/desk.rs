//! Moves driven from the window: plan on request, carry out what the operator confirmed, abort,
//! finish or roll back a recorded move, retire the monolith. One move at a time; progress goes
//! to the UI as [`Event::Move`].

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Mover, Reporter};
use crate::cluster::connection::Connection;
use crate::model::migration_plan::MigrationPlan;
use crate::model::move_plan::MovePlan;
use crate::model::move_progress::{MoveEvent, MoveOutcome};
use crate::model::moves::{Direction, RetireStage};
use crate::protocol::{Event, EventSink};

/// The move this console drives, if any.
#[derive(Default)]
pub struct MoveDesk {
    running: Option<(JoinHandle<()>, CancellationToken)>,
}

fn mover_for(connection: &watch::Receiver<Option<Connection>>) -> Result<Connection, String> {
    connection
        .borrow()
        .clone()
        .ok_or_else(|| "not connected to a cluster".to_owned())
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
    fn busy(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|(task, _)| !task.is_finished())
    }

    /// Plans a move and sends the plan (or why there is none).
    pub fn plan(
        &self,
        plan: &Arc<MigrationPlan>,
        connection: &watch::Receiver<Option<Connection>>,
        sink: &EventSink,
        service: String,
        direction: Direction,
    ) {
        let (plan, sink) = (plan.clone(), sink.clone());
        let connection = mover_for(connection);
        tokio::spawn(async move {
            let planned = match connection {
                Ok(c) => Mover::new(&c, plan)
                    .await
                    .prepare(&service, direction, None)
                    .await
                    .map(Box::new)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            sink.send(Event::MovePlanned(planned));
        });
    }

    fn spawn<F>(&mut self, sink: &EventSink, work: impl FnOnce(CancellationToken) -> F)
    where
        F: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        if self.busy() {
            sink.log("MoveRefused", "a move is already running in this console");
            return;
        }
        let abort = CancellationToken::new();
        let future = work(abort.clone());
        let sink = sink.clone();
        let task = tokio::spawn(async move {
            if let Err(why) = future.await {
                sink.log("MoveNotStarted", why.clone());
                sink.send(Event::MoveNotStarted(why));
            }
        });
        self.running = Some((task, abort));
    }

    /// Carries out the plan the operator confirmed.
    pub fn start(
        &mut self,
        plan: &Arc<MigrationPlan>,
        connection: &watch::Receiver<Option<Connection>>,
        sink: &EventSink,
        confirmed: MovePlan,
    ) {
        let (plan, connection, report) = (plan.clone(), mover_for(connection), reporter(sink));
        self.spawn(sink, move |abort| async move {
            let mover = Mover::new(&connection?, plan).await;
            mover
                .execute(confirmed, report, abort)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        });
    }

    /// Finishes (`resume`) or rolls back the move recorded on the monolith.
    pub fn recorded(
        &mut self,
        plan: &Arc<MigrationPlan>,
        connection: &watch::Receiver<Option<Connection>>,
        sink: &EventSink,
        resume: bool,
    ) {
        let (plan, connection, report) = (plan.clone(), mover_for(connection), reporter(sink));
        self.spawn(sink, move |abort| async move {
            let mover = Mover::new(&connection?, plan).await;
            let outcome = if resume {
                mover.resume(report, abort).await
            } else {
                mover.roll_back_recorded(report).await
            };
            outcome.map(drop).map_err(|e| e.to_string())
        });
    }

    /// Aborts the running move: it rolls back by itself.
    pub fn abort(&self, sink: &EventSink) {
        match &self.running {
            Some((task, abort)) if !task.is_finished() => {
                sink.log("MoveAborted", "abort requested: rolling back");
                abort.cancel();
            }
            _ => sink.log("MoveAborted", "no move is running in this console"),
        }
    }

    /// One stage of retiring the monolith.
    pub fn retire(
        &mut self,
        plan: &Arc<MigrationPlan>,
        connection: &watch::Receiver<Option<Connection>>,
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
        self.spawn(sink, move |_| async move {
            let mover = Mover::new(&connection?, plan).await;
            let result = mover.retire(stage, report).await.map_err(|e| e.to_string());
            match &result {
                Ok(message) => done.log("MonolithRetire", message.clone()),
                Err(why) => done.log("MonolithRetire", why.clone()),
            }
            done.send(Event::Retired(result));
            Ok(())
        });
    }

    /// Stops whatever runs (the console is closing: a move left half-way stays recorded on
    /// the monolith for the next console).
    pub fn stop(&mut self) {
        if let Some((task, _)) = self.running.take() {
            task.abort();
        }
    }
}
