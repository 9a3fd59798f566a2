//! The move, as the operator sees it: the plan dialog shown before anything changes, the step
//! list while it runs (progress per step, elapsed time, the Events that explain a wait, Abort),
//! the move a restarted console finds recorded on the monolith, and the offer to retire the
//! monolith once it serves nothing.

use std::time::SystemTime;

use egui::{Color32, RichText};

use crate::model::ClusterSnapshot;
use crate::model::move_plan::MovePlan;
use crate::model::move_progress::{MoveOutcome, MoveProgress, StepProgress, StepState};
use crate::model::moves::Direction;
use crate::model::moves::RetireStage;
use crate::protocol::Command;

const OK: Color32 = Color32::from_rgb(46, 160, 67);
const BAD: Color32 = Color32::from_rgb(218, 54, 51);
const WARN: Color32 = Color32::from_rgb(210, 153, 34);

/// A move the operator asked for (by dragging a chip, its menu, or the keyboard).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveRequest {
    /// The plan's service.
    pub service: String,
    /// Which way.
    pub direction: Direction,
}

impl MoveRequest {
    /// `Move sum to Linux` / `Move sum back into the monolith`.
    pub fn title(&self, target_os: &str) -> String {
        match self.direction {
            Direction::Extract => format!("Move {} to {target_os}", self.service),
            Direction::Return => format!("Move {} back into the monolith", self.service),
        }
    }
}

/// The panel's state.
#[derive(Default)]
pub struct MovePanel {
    /// Waiting for the backend's plan of this request.
    pub planning: Option<MoveRequest>,
    /// The plan on show, waiting for the operator.
    pub planned: Option<MovePlan>,
    /// Why the last plan or move could not be made.
    pub problem: Option<String>,
    /// The move this console drives (or drove last).
    pub progress: Option<MoveProgress>,
    /// A retire stage waiting for confirmation.
    pub confirm_retire: Option<RetireStage>,
    /// The last retire stage's result.
    pub retired: Option<Result<String, String>>,
    /// Whether a retire stage runs now.
    pub retiring: bool,
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
            format!("{}: {state}", step.step.title())
        } else {
            format!("{}: {state} ({elapsed})", step.step.title())
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
    /// Whether a move runs in this console now.
    pub fn running(&self) -> bool {
        self.progress.as_ref().is_some_and(|p| !p.finished())
    }

    fn problem_window(&mut self, ctx: &egui::Context) {
        let Some(problem) = self.problem.clone() else {
            return;
        };
        let mut open = true;
        egui::Window::new("The move cannot go ahead")
            .id(egui::Id::unique("move-problem"))
            .open(&mut open)
            .anchor(egui::Align2::CENTER_TOP, [0.0, 60.0])
            .show(ctx, |ui| {
                ui.colored_label(BAD, problem);
            });
        if !open {
            self.problem = None;
        }
    }

    fn plan_dialog(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        if let Some(request) = &self.planning {
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
        let Some(plan) = &self.planned else {
            return;
        };
        let mut decision = None;
        let title = match plan.direction {
            Direction::Extract => format!(
                "Move {} out of the monolith, onto {}",
                plan.service,
                plan.target_os
                    .as_deref()
                    .map(|os| crate::model::NodeOs::from_label(os).title())
                    .unwrap_or_else(|| "its own nodes".into())
            ),
            Direction::Return => format!("Move {} back into the monolith", plan.service),
        };
        egui::Modal::new(egui::Id::unique("move-plan")).show(ctx, |ui| {
            ui.set_max_width(720.0);
            ui.heading(&title);
            ui.label(
                RichText::new(format!(
                    "plan {} · namespace {} · image {}",
                    plan.plan,
                    plan.namespace,
                    plan.images.join(", ")
                ))
                .weak(),
            );
            ui.separator();
            ui.strong("Changes, in order");
            egui::Grid::new("plan-changes")
                .striped(true)
                .show(ui, |ui| {
                    for change in &plan.changes {
                        ui.label(&change.action);
                        ui.monospace(&change.object);
                        ui.label(&change.detail);
                        ui.end_row();
                    }
                });
            if !plan.redeploys.is_empty() {
                ui.label(format!("Rolls out new pods: {}", plan.redeploys.join(", ")));
            }
            if !plan.nodes.is_empty() {
                ui.add_space(4.0);
                ui.strong("Nodes for the new pods");
                for node in &plan.nodes {
                    match (&node.room, &node.why_not) {
                        (Some(room), _) => {
                            ui.colored_label(
                                OK,
                                format!("{} ({}): room for {room}", node.node, node.os),
                            );
                        }
                        (None, why) => {
                            ui.label(
                                RichText::new(format!(
                                    "{} ({}): {}",
                                    node.node,
                                    node.os,
                                    why.as_deref().unwrap_or("no")
                                ))
                                .weak(),
                            );
                        }
                    }
                }
            }
            ui.add_space(4.0);
            let (asked, missing) = plan.permissions_checked();
            if missing.is_empty() {
                ui.colored_label(
                    OK,
                    format!(
                        "Permissions: {asked} checked with SelfSubjectAccessReview, all allowed"
                    ),
                );
            } else {
                ui.colored_label(BAD, format!("Permissions missing: {}", missing.join(", ")));
            }
            let steps: Vec<String> = plan
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}. {}", i + 1, s.title()))
                .collect();
            ui.label(format!("Steps: {}", steps.join("   ")));
            ui.label(RichText::new("Any failure rolls everything back by itself.").weak());
            for refusal in &plan.refusals {
                ui.colored_label(BAD, format!("Refused: {refusal}"));
            }
            ui.separator();
            ui.horizontal(|ui| {
                let go = ui.add_enabled(
                    plan.allowed(),
                    egui::Button::new(RichText::new("Move").strong()),
                );
                if go.clicked() {
                    decision = Some(true);
                }
                if ui.button("Cancel").clicked() {
                    decision = Some(false);
                }
            });
        });
        match decision {
            Some(true) => {
                if let Some(plan) = self.planned.take() {
                    self.progress = Some(MoveProgress::new(
                        &plan.plan,
                        &plan.service,
                        plan.direction,
                        "",
                        &plan.steps,
                        SystemTime::now(),
                    ));
                    commands.push(Command::StartMove(Box::new(plan)));
                }
            }
            Some(false) => self.planned = None,
            None => {}
        }
    }

    fn progress_window(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        let Some(progress) = &self.progress else {
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
                if !progress.by.is_empty() {
                    ui.label(RichText::new(format!("as {}", progress.by)).weak());
                }
                for step in &progress.steps {
                    step_line(ui, step, now);
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
                ui.separator();
                match &progress.outcome {
                    None => {
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
                            commands.push(Command::AbortMove);
                        }
                    }
                    Some(outcome) => {
                        let color = match outcome {
                            MoveOutcome::Completed => OK,
                            MoveOutcome::RolledBack { .. } => WARN,
                            _ => BAD,
                        };
                        ui.colored_label(color, format!("Move {}", outcome.describe()));
                        if ui.button("Close").clicked() {
                            close = true;
                        }
                    }
                }
            });
        if close {
            self.progress = None;
        }
    }

    fn recorded_banner(
        &mut self,
        ctx: &egui::Context,
        snapshot: &ClusterSnapshot,
        commands: &mut Vec<Command>,
    ) {
        let Some(record) = snapshot.topology.as_ref().and_then(|t| t.moving.as_ref()) else {
            return;
        };
        if self.running() {
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
                        self.progress = None;
                        commands.push(Command::ResumeMove);
                    }
                    if ui.button("Roll it back").clicked() {
                        self.progress = None;
                        commands.push(Command::RollBackMove);
                    }
                });
            });
    }

    fn retire_offer(
        &mut self,
        ctx: &egui::Context,
        snapshot: &ClusterSnapshot,
        commands: &mut Vec<Command>,
    ) {
        let Some(topology) = snapshot.topology.as_ref() else {
            return;
        };
        let Some(monolith) = &topology.monolith else {
            return;
        };
        if !topology.retirable || self.running() || self.progress.is_some() {
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
                    if self.retiring {
                        ui.spinner();
                    }
                    if ui
                        .add_enabled(
                            !scaled_down && !self.retiring,
                            egui::Button::new("Scale it to zero…"),
                        )
                        .clicked()
                    {
                        self.confirm_retire = Some(RetireStage::ScaleToZero);
                    }
                    if ui
                        .add_enabled(
                            scaled_down && !self.retiring,
                            egui::Button::new("Delete it…"),
                        )
                        .clicked()
                    {
                        self.confirm_retire = Some(RetireStage::Delete);
                    }
                });
                match &self.retired {
                    Some(Ok(message)) => {
                        ui.colored_label(OK, message);
                    }
                    Some(Err(why)) => {
                        ui.colored_label(BAD, why);
                    }
                    None => {}
                }
            });
        if let Some(stage) = self.confirm_retire {
            let question = match stage {
                RetireStage::ScaleToZero => format!(
                    "Scale the monolith {}/{} to zero replicas? The application is checked through the front Service once its pods are gone.",
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
                    self.retiring = true;
                    self.retired = None;
                    commands.push(Command::Retire(stage));
                    self.confirm_retire = None;
                }
                Some(false) => self.confirm_retire = None,
                None => {}
            }
        }
    }
}

impl super::Panel for MovePanel {
    fn ui(&mut self, ui: &mut egui::Ui, state: &super::ConsoleState, commands: &mut Vec<Command>) {
        let ctx = ui.ctx().clone();
        self.plan_dialog(&ctx, commands);
        self.progress_window(&ctx, commands);
        self.recorded_banner(&ctx, &state.snapshot, commands);
        self.retire_offer(&ctx, &state.snapshot, commands);
        self.problem_window(&ctx);
    }
}
