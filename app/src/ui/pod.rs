//! The selected pod: containers, images, environment, its events and the tail of its log.

use super::log::age;
use super::{ConsoleState, Panel, Request};
use crate::model::pod_details::PodDetails;
use crate::protocol::Command;

/// The selected pod's window.
pub struct PodPanel;

impl Panel for PodPanel {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>) {
        if let Some(details) = &state.details
            && !details_window(ui.ctx(), details)
        {
            requests.push(Command::SelectPod(None).into());
        }
    }
}

/// Draws the details; returns false when the user closes them.
fn details_window(ctx: &egui::Context, details: &PodDetails) -> bool {
    let mut open = true;
    egui::Window::new(format!("Pod {}", details.name))
        .id(egui::Id::unique("pod-details"))
        .open(&mut open)
        .default_width(520.0)
        .default_height(480.0)
        .show(ctx, |ui| {
            ui.label(format!(
                "{} · {} · node {} · IP {}",
                details.namespace,
                details.phase,
                details.node.as_deref().unwrap_or("none"),
                details.ip.as_deref().unwrap_or("none")
            ));
            if let Some(problem) = &details.problem {
                ui.colored_label(egui::Color32::from_rgb(210, 153, 34), problem);
            }
            egui::ScrollArea::vertical().show(ui, |ui| {
                for c in &details.containers {
                    egui::CollapsingHeader::new(format!("container {} — {}", c.name, c.state))
                        .default_open(true)
                        .show(ui, |ui| {
                            ui.label(format!("image {}", c.image));
                            ui.label(format!("ready {} · restarts {}", c.ready, c.restarts));
                            if !c.env.is_empty() {
                                egui::Grid::new(("env", &c.name))
                                    .striped(true)
                                    .show(ui, |ui| {
                                        for (k, v) in &c.env {
                                            ui.monospace(k);
                                            ui.monospace(v);
                                            ui.end_row();
                                        }
                                    });
                            }
                        });
                }
                egui::CollapsingHeader::new(format!("events ({})", details.events.len()))
                    .default_open(true)
                    .show(ui, |ui| {
                        for e in &details.events {
                            ui.label(format!(
                                "{} {} {}: {}",
                                age(e.at),
                                e.kind,
                                e.reason,
                                e.message
                            ));
                        }
                    });
                egui::CollapsingHeader::new("log")
                    .default_open(true)
                    .show(ui, |ui| {
                        let caption =
                            ui.label(egui::RichText::new("Last 40 lines, followed live").weak());
                        ui.add(
                            egui::TextEdit::multiline(&mut details.log_tail.as_str())
                                .font(egui::TextStyle::Monospace)
                                .desired_width(f32::INFINITY),
                        )
                        .labelled_by(caption.id);
                    });
            });
        });
    open
}
