//! The move, as the operator sees it: planning (the dialog itself is its own room), the step
//! list while it runs (progress per step, elapsed time, the Events that explain a wait, Abort),
//! the move a restarted console finds recorded on the monolith, and the offer to retire the
//! monolith once it serves nothing.

use std::time::SystemTime;

use egui::{Color32, RichText};

use super::failure::failure_ui;
use super::move_charts::{figures_ui, steer_ui};
use super::move_plan_dialog::PlanDialog;
use super::palette::{BAD, OK, WARN};
use super::{ConsoleState, MoveRequest, MoveView, Panel, Request, Shown};
use crate::model::move_progress::{MoveOutcome, StepProgress, StepState};
use crate::model::moves::Direction;
use crate::model::moves::RetireStage;
use crate::protocol::{Command, NextAction};

/// The panel: only the confirmation it asks for (the move itself is the state's
/// [`MoveView`]).
#[derive(Default)]
pub struct MovePanel {
    /// A retire stage waiting for confirmation.
    pub confirm_retire: Option<RetireStage>,
    /// The move asked for last, planned again when the operator tries again.
    last_request: Option<MoveRequest>,
    /// The plan dialog's own state.
    dialog: PlanDialog,
}

fn seconds(step: &StepProgress, now: SystemTime) -> String {
    step.elapsed(now)
        .map(|d| format!("{:.1} s", d.as_secs_f64()))
        .unwrap_or_default()
}

fn step_line(ui: &mut egui::Ui, step: &StepProgress, now: SystemTime) {
    let (filled, color, state) = match &step.state {
        StepState::Pending => (false, ui.visuals().weak_text_color(), "pending".to_owned()),
        StepState::Running => (false, Color32::from_rgb(88, 166, 255), "running".to_owned()),
        StepState::Done => (true, OK, "done".to_owned()),
        StepState::Skipped => (true, ui.visuals().weak_text_color(), "skipped".to_owned()),
        StepState::Failed(why) => (true, BAD, format!("failed: {why}")),
    };
    ui.horizontal(|ui| {
        let (dot, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        if filled {
            ui.painter().circle_filled(dot.center(), 5.0, color);
        } else {
            ui.painter()
                .circle_stroke(dot.center(), 4.5, egui::Stroke::new(1.5, color));
        }
        // One label per step carries its whole outcome for screen readers.
        let elapsed = seconds(step, now);
        let text = if elapsed.is_empty() {
            format!("{}: {state}", step.label())
        } else {
            format!("{}: {state} ({elapsed})", step.label())
        };
        ui.allocate_ui_with_layout(
            egui::vec2(260.0, 16.0),
            egui::Layout::left_to_right(egui::Align::Center),
            |ui| {
                ui.set_min_width(260.0);
                ui.add(egui::Label::new(RichText::new(text).strong()).truncate());
            },
        );
        ui.add(
            egui::ProgressBar::new(step.fraction)
                .desired_width(120.0)
                .fill(color.gamma_multiply(0.8)),
        );
    });
    if !step.detail.is_empty() && step.state != StepState::Pending {
        ui.indent(("detail", step.step), |ui| {
            ui.label(RichText::new(&step.detail).small().weak());
        });
    }
}

impl MovePanel {
    fn problem_window(
        &mut self,
        ctx: &egui::Context,
        state: &ConsoleState,
        requests: &mut Vec<Request>,
    ) {
        let view = &state.moves;
        let Some(problem) = &view.problem else {
            return;
        };
        let mut open = true;
        let mut next = None;
        egui::Window::new("The move cannot go ahead")
            .id(egui::Id::unique("move-problem"))
            .open(&mut open)
            .anchor(egui::Align2::CENTER_TOP, [0.0, 60.0])
            .show(ctx, |ui| {
                next = failure_ui(ui, problem);
            });
        match next {
            Some(NextAction::Connect) => {
                requests.push(Request::Dismiss(Shown::MoveProblem));
                requests.push(Command::Connect(state.target.clone()).into());
            }
            // Trying again, or planning again, is asking for a fresh plan of the same move.
            Some(NextAction::TryAgain | NextAction::PlanAgain) => {
                if let Some(last) = &self.last_request {
                    requests.push(
                        Command::PlanMove {
                            service: last.service.clone(),
                            direction: last.direction,
                            progressive: last.progressive,
                        }
                        .into(),
                    );
                }
            }
            Some(NextAction::FixInput | NextAction::None) | None => {}
        }
        if !open {
            requests.push(Request::Dismiss(Shown::MoveProblem));
        }
    }

    fn plan_dialog(&mut self, ctx: &egui::Context, view: &MoveView, requests: &mut Vec<Request>) {
        if let Some(request) = &view.planning {
            self.last_request = Some(request.clone());
            let request = request.clone();
            egui::Modal::new(egui::Id::unique("planning")).show(ctx, |ui| {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!(
                        "Planning: {} — reading the cluster and checking permissions…",
                        request.title("Linux")
                    ));
                });
            });
            return;
        }
        if let Some(plan) = &view.planned {
            self.dialog.show(ctx, plan, requests);
        }
    }

    fn progress_window(
        &mut self,
        ctx: &egui::Context,
        view: &MoveView,
        requests: &mut Vec<Request>,
    ) {
        let Some(progress) = &view.progress else {
            return;
        };
        let now = SystemTime::now();
        let mut close = false;
        let title = match progress.direction {
            Direction::Extract => format!("Moving {} out of the monolith", progress.service),
            Direction::Return => format!("Moving {} back into the monolith", progress.service),
        };
        egui::Window::new(title)
            .id(egui::Id::unique("move-progress"))
            .default_pos(ctx.content_rect().right_bottom() - egui::vec2(960.0, 560.0))
            .resizable(false)
            .collapsible(true)
            .show(ctx, |ui| {
                ui.set_min_width(480.0);
                // A progressive move's steps, charts and rollback can outgrow a small screen:
                // they scroll, and the buttons below stay in sight.
                let room = (ctx.content_rect().bottom() - ui.cursor().top() - 80.0).max(240.0);
                egui::ScrollArea::vertical()
                    .max_height(room)
                    .show(ui, |ui| {
                        if !progress.by.is_empty() {
                            ui.label(RichText::new(format!("as {}", progress.by)).weak());
                        }
                        for step in &progress.steps {
                            step_line(ui, step, now);
                        }
                        // After a breach too: the figures that broke the step are the reason.
                        if progress.progressive() {
                            ui.separator();
                            figures_ui(ui, progress);
                        }
                        if let Some(why) = &progress.rollback_reason {
                            ui.separator();
                            ui.colored_label(WARN, format!("Rolling back: {why}"));
                            for step in &progress.rollback {
                                step_line(ui, step, now);
                            }
                        }
                        if !progress.explanations.is_empty() {
                            egui::CollapsingHeader::new("Events")
                                .default_open(progress.outcome.is_none())
                                .show(ui, |ui| {
                                    for line in progress.explanations.iter().rev().take(6) {
                                        ui.label(RichText::new(line).small());
                                    }
                                });
                        }
                    });
                ui.separator();
                match &progress.outcome {
                    None => {
                        ui.horizontal(|ui| {
                            steer_ui(ui, progress, view.steered, requests);
                            let label = if progress.past_reroute() {
                                "Roll back now"
                            } else {
                                "Abort"
                            };
                            if ui
                                .button(label)
                                .on_hover_text("Stops the move and puts everything back as it was")
                                .clicked()
                            {
                                requests.push(Command::AbortMove.into());
                            }
                        });
                    }
                    Some(outcome) => {
                        let color = match outcome {
                            MoveOutcome::Completed => OK,
                            MoveOutcome::RolledBack { .. } => WARN,
                            _ => BAD,
                        };
                        // The reason stands in full under "Rolling back" above; once is enough.
                        let shown = match outcome {
                            MoveOutcome::RolledBack { reason, .. }
                                if progress.rollback_reason.as_ref() == Some(reason) =>
                            {
                                let mut short = outcome.clone();
                                if let MoveOutcome::RolledBack { reason, .. } = &mut short {
                                    "the reason is above".clone_into(reason);
                                }
                                short.describe()
                            }
                            _ => outcome.describe(),
                        };
                        ui.colored_label(color, format!("Move {shown}"));
                        if ui.button("Close").clicked() {
                            close = true;
                        }
                    }
                }
            });
        if close {
            requests.push(Request::Dismiss(Shown::MoveProgress));
        }
    }

    fn recorded_banner(
        &mut self,
        ctx: &egui::Context,
        state: &ConsoleState,
        requests: &mut Vec<Request>,
    ) {
        let snapshot = &state.snapshot;
        let Some(record) = snapshot.topology.as_ref().and_then(|t| t.moving.as_ref()) else {
            return;
        };
        if state.moves.running() {
            return;
        }
        egui::Window::new("A move is in progress")
            .id(egui::Id::unique("recorded-move"))
            .anchor(egui::Align2::CENTER_TOP, [0.0, 60.0])
            .resizable(false)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.colored_label(WARN, record.summary());
                ui.label(
                    "If the console that started it has stopped, finish the move here or put everything back as it was. (A console still driving it keeps its claim on the move; this one waits up to 30 s for the claim to expire.)",
                );
                ui.horizontal(|ui| {
                    if ui.button("Finish the move").clicked() {
                        requests.push(Command::ResumeMove.into());
                    }
                    if ui.button("Roll it back").clicked() {
                        requests.push(Command::RollBackMove.into());
                    }
                });
            });
    }

    fn retire_offer(
        &mut self,
        ctx: &egui::Context,
        state: &ConsoleState,
        requests: &mut Vec<Request>,
    ) {
        let (snapshot, view) = (&state.snapshot, &state.moves);
        let Some(topology) = snapshot.topology.as_ref() else {
            return;
        };
        let Some(monolith) = &topology.monolith else {
            return;
        };
        if !topology.retirable || view.running() || view.progress.is_some() {
            return;
        }
        let scaled_down = monolith.ready.1 == 0;
        egui::Window::new("Retire the monolith")
            .id(egui::Id::unique("retire"))
            .anchor(egui::Align2::RIGHT_BOTTOM, [-450.0, -200.0])
            .resizable(false)
            .collapsible(true)
            .show(ctx, |ui| {
                ui.label(format!(
                    "The monolith {}/{} serves nothing any more.",
                    monolith.namespace, monolith.deployment
                ));
                ui.horizontal(|ui| {
                    if view.retiring {
                        ui.spinner();
                    }
                    if ui
                        .add_enabled(
                            !scaled_down && !view.retiring,
                            egui::Button::new("Scale it to zero…"),
                        )
                        .clicked()
                    {
                        self.confirm_retire = Some(RetireStage::ScaleToZero);
                    }
                    if ui
                        .add_enabled(
                            scaled_down && !view.retiring,
                            egui::Button::new("Scale it back up"),
                        )
                        .on_hover_text("Undoes scaling to zero: the replicas it had, ready again")
                        .clicked()
                    {
                        requests.push(Command::Retire(RetireStage::ScaleBack).into());
                    }
                    if ui
                        .add_enabled(
                            scaled_down && !view.retiring,
                            egui::Button::new("Delete it…"),
                        )
                        .clicked()
                    {
                        self.confirm_retire = Some(RetireStage::Delete);
                    }
                });
                match &view.retired {
                    Some(Ok(message)) => {
                        ui.colored_label(OK, message);
                    }
                    Some(Err(why)) => match failure_ui(ui, why) {
                        Some(NextAction::Connect) => {
                            requests.push(Command::Connect(state.target.clone()).into());
                        }
                        Some(NextAction::TryAgain) => {
                            self.confirm_retire = Some(if scaled_down {
                                RetireStage::Delete
                            } else {
                                RetireStage::ScaleToZero
                            });
                        }
                        _ => {}
                    },
                    None => {}
                }
            });
        if let Some(stage) = self.confirm_retire {
            let question = match stage {
                RetireStage::ScaleToZero => format!(
                    "Scale the monolith {}/{} to zero replicas? The application is checked through the front Service once its pods are gone.",
                    monolith.namespace, monolith.deployment
                ),
                RetireStage::ScaleBack => format!(
                    "Scale the monolith {}/{} back up to the replicas it had?",
                    monolith.namespace, monolith.deployment
                ),
                RetireStage::Delete => format!(
                    "Delete the monolith's Deployment {}/{} and its Service? This cannot be undone from the console.",
                    monolith.namespace, monolith.deployment
                ),
            };
            let mut decision = None;
            egui::Modal::new(egui::Id::unique("retire-confirm")).show(ctx, |ui| {
                ui.label(question);
                ui.horizontal(|ui| {
                    if ui.button("Yes").clicked() {
                        decision = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        decision = Some(false);
                    }
                });
            });
            match decision {
                Some(true) => {
                    requests.push(Command::Retire(stage).into());
                    self.confirm_retire = None;
                }
                Some(false) => self.confirm_retire = None,
                None => {}
            }
        }
    }
}

impl Panel for MovePanel {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>) {
        let ctx = ui.ctx().clone();
        self.plan_dialog(&ctx, &state.moves, requests);
        self.progress_window(&ctx, &state.moves, requests);
        self.recorded_banner(&ctx, state, requests);
        self.retire_offer(&ctx, state, requests);
        self.problem_window(&ctx, state, requests);
    }
}
