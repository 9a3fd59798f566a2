//! The tour window: the talk, one step a screen, on the live cluster. Each step says what it
//! shows, what the cluster shows of it now, and offers its work as a button that sends the same
//! command as the board or the move window would (a move opens its plan first, as a drag does).

use egui::{Color32, RichText};

use super::{ConsoleState, Panel, Request};
use crate::cluster::connection::ConnectionTarget;
use crate::model::NodeOs;
use crate::model::eks::{AwsTarget, EksCluster, Retirement};
use crate::model::moves::{Direction, RetireStage};
use crate::model::tour::{self, Progress, Seen, TourProgress, TourStep};
use crate::protocol::{Command, EmbeddedAwsState};

/// The tour's window.
#[derive(Default)]
pub struct TourPanel {
    /// Where the operator is (kept across restarts).
    pub progress: TourProgress,
    /// Where the EKS view looks (its listed clusters are the ones the tour can change).
    pub aws: AwsTarget,
}

impl TourPanel {
    /// Shows or hides the tour (the top bar's button).
    pub fn toggle(&mut self) {
        self.progress.open = !self.progress.open;
    }

    fn go(&mut self, step: Option<TourStep>) {
        if let Some(step) = step {
            self.progress.step = step;
        }
    }
}

/// The EKS clusters the EKS view listed, each with its Windows node groups.
fn windows_groups(state: &ConsoleState) -> Vec<(&EksCluster, Vec<&str>)> {
    let listed = state.eks.clusters.as_ref().and_then(|c| c.as_ref().ok());
    listed
        .into_iter()
        .flatten()
        .map(|c| {
            let groups = c.groups_of(&NodeOs::Windows).map(|g| g.name.as_str());
            (c, groups.collect::<Vec<_>>())
        })
        .filter(|(_, groups)| !groups.is_empty())
        .collect()
}

/// What the cluster shows that the tour looks at.
fn seen(state: &ConsoleState) -> Seen<'_> {
    let count = |os: NodeOs| state.snapshot.nodes().filter(|n| n.os == os).count();
    let listed: usize = windows_groups(state).iter().map(|(_, g)| g.len()).sum();
    let connected = usize::from(matches!(state.target, ConnectionTarget::Eks { .. }));
    Seen {
        topology: state.snapshot.topology.as_ref(),
        nodes: (count(NodeOs::Windows), count(NodeOs::Linux)),
        readiness_checked: matches!(state.readiness.report, Some(Ok(_))),
        windows_groups: listed.max(connected),
        no_emulator: match (&state.target, &state.eks.embedded) {
            (ConnectionTarget::Local, Some(EmbeddedAwsState::Without { why })) => Some(why),
            _ => None,
        },
    }
}

fn plan_move(service: &str, direction: Direction) -> Request {
    Command::PlanMove {
        service: service.to_owned(),
        direction,
        progressive: None,
    }
    .into()
}

impl TourPanel {
    /// The step's work and its undoing, as buttons.
    fn actions(&self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>) {
        let busy = state.moves.running()
            || state.moves.planning.is_some()
            || state.moves.planned.is_some();
        let topology = state.snapshot.topology.as_ref();
        let left = topology.map(tour::still_in_monolith).unwrap_or_default();
        let moved = topology.map(tour::moved_out).unwrap_or_default();
        match self.progress.step {
            TourStep::Readiness => {
                let label = if state.readiness.report.is_some() {
                    "Check again"
                } else {
                    "Run the readiness check"
                };
                if ui
                    .add_enabled(!state.readiness.running, egui::Button::new(label))
                    .clicked()
                {
                    requests.push(Request::CheckReadiness(None));
                }
            }
            TourStep::MoveSum => {
                let sum_moved = moved.contains(&"sum");
                if ui
                    .add_enabled(!busy && !sum_moved, egui::Button::new("Move sum to Linux…"))
                    .on_hover_text("Opens the move's plan, as dragging the sum chip does")
                    .clicked()
                {
                    requests.push(plan_move("sum", Direction::Extract));
                }
                if ui
                    .add_enabled(
                        !busy && sum_moved,
                        egui::Button::new("Undo: move sum back…"),
                    )
                    .clicked()
                {
                    requests.push(plan_move("sum", Direction::Return));
                }
            }
            TourStep::MoveRest => {
                if let Some(next) = left.first()
                    && ui
                        .add_enabled(!busy, egui::Button::new(format!("Move {next} to Linux…")))
                        .clicked()
                {
                    requests.push(plan_move(next, Direction::Extract));
                }
                if let Some(last) = moved.iter().rev().find(|s| **s != "sum")
                    && ui
                        .add_enabled(!busy, egui::Button::new(format!("Undo: move {last} back…")))
                        .clicked()
                {
                    requests.push(plan_move(last, Direction::Return));
                }
            }
            TourStep::Retire => {
                let can = topology.is_some_and(|t| {
                    t.retirable && t.monolith.as_ref().is_some_and(|m| m.ready.1 > 0)
                });
                if ui
                    .add_enabled(
                        can && !state.moves.retiring,
                        egui::Button::new("Scale the monolith to zero"),
                    )
                    .on_hover_text(
                        "Scales its Deployment to zero replicas and checks the calculator through its front Service",
                    )
                    .clicked()
                {
                    requests.push(Command::Retire(RetireStage::ScaleToZero).into());
                }
                let at_zero = topology
                    .and_then(|t| t.monolith.as_ref())
                    .is_some_and(|m| m.ready.1 == 0);
                if ui
                    .add_enabled(
                        at_zero && !state.moves.retiring,
                        egui::Button::new("Undo: scale the monolith back up"),
                    )
                    .on_hover_text("Back to the replicas it had before it was scaled to zero")
                    .clicked()
                {
                    requests.push(Command::Retire(RetireStage::ScaleBack).into());
                }
            }
            TourStep::WindowsGroup => {
                let listed = windows_groups(state);
                if listed.is_empty() && matches!(state.target, ConnectionTarget::Eks { .. }) {
                    ui.label("Press List clusters in the EKS view on the left to see this cluster's Windows node groups.");
                }
                for (cluster, groups) in listed {
                    for group in groups {
                        if ui
                            .button(format!("Scale {}/{group} to zero…", cluster.name))
                            .on_hover_text(
                                "Opens the EKS view's dialog: the group's nodes are drained first",
                            )
                            .clicked()
                        {
                            requests.push(Request::RetireNodeGroup {
                                aws: self.aws.clone(),
                                cluster: cluster.name.clone(),
                                group: group.to_owned(),
                                retirement: Retirement::ScaleToZero,
                            });
                        }
                    }
                }
            }
            TourStep::Lanes | TourStep::Monolith | TourStep::WhatNext => {}
        }
    }
}

impl Panel for TourPanel {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>) {
        if !self.progress.open {
            return;
        }
        let step = self.progress.step;
        let mut open = true;
        let mut moved_to = None;
        // Low on the board, above the events: where a small cluster leaves room, so the tour
        // does not hide the lanes it talks about.
        let screen = ui.ctx().content_rect();
        egui::Window::new("Tour")
            .open(&mut open)
            .pivot(egui::Align2::LEFT_BOTTOM)
            .default_pos(egui::pos2(262.0, screen.bottom() - 200.0))
            .default_width(460.0)
            .resizable(false)
            .show(ui.ctx(), |ui| {
                ui.label(
                    RichText::new(format!(
                        "Step {} of {}: {}",
                        step.number(),
                        TourStep::ALL.len(),
                        step.title()
                    ))
                    .strong(),
                );
                ui.add_space(4.0);
                ui.label(step.story());
                ui.add_space(6.0);
                let (colour, text) = match tour::progress(step, &seen(state)) {
                    Progress::Done(what) => {
                        (Color32::from_rgb(46, 160, 67), format!("Done: {what}"))
                    }
                    Progress::ToDo(what) => {
                        (Color32::from_rgb(210, 153, 34), format!("Now: {what}"))
                    }
                    Progress::NotHere(why) => {
                        (Color32::from_rgb(150, 150, 150), format!("Not here: {why}"))
                    }
                };
                ui.colored_label(colour, text);
                ui.add_space(6.0);
                ui.horizontal_wrapped(|ui| self.actions(ui, state, requests));
                ui.separator();
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(step.previous().is_some(), egui::Button::new("Back"))
                        .clicked()
                    {
                        moved_to = Some(step.previous());
                    }
                    let done = tour::progress(step, &seen(state)).is_done();
                    let next = if done { "Next" } else { "Skip" };
                    if let Some(after) = step.next() {
                        if ui.button(next).clicked() {
                            moved_to = Some(Some(after));
                        }
                    } else if ui.button("Close the tour").clicked() {
                        moved_to = Some(None);
                    }
                });
            });
        match moved_to {
            Some(None) => {
                self.progress.open = false;
                self.progress.step = TourStep::default();
            }
            Some(step) => self.go(step),
            None => {}
        }
        if !open {
            self.progress.open = false;
        }
    }
}
