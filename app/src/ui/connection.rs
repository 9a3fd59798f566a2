//! The connection view: the kubeconfig's contexts and the local hybrid cluster, which one is
//! active, and switching between them without restarting.

use super::Request;
use crate::cluster::connection::{ConnectionTarget, ContextEntry};
use crate::protocol::{Command, ConnectionStatus};

/// The panel.
#[derive(Default)]
pub struct ConnectionView {
    /// The kubeconfig file the contexts come from (None: the default).
    pub kubeconfig: Option<std::path::PathBuf>,
}

impl ConnectionView {
    /// Draws the list; returns a Connect command when the user picks another target.
    fn draw(
        &mut self,
        ui: &mut egui::Ui,
        contexts: &[ContextEntry],
        active: &ConnectionTarget,
        status: &ConnectionStatus,
    ) -> Option<Command> {
        let mut command = None;
        ui.heading("Clusters");
        let local_active = *active == ConnectionTarget::Local;
        if ui
            .selectable_label(local_active, "Local hybrid cluster")
            .on_hover_text(
                "An embedded cluster with 2 Windows and 2 Linux nodes, running the calculator",
            )
            .clicked()
            && !local_active
        {
            command = Some(Command::Connect(ConnectionTarget::Local));
        }
        if contexts.is_empty() {
            ui.label(egui::RichText::new("No kubeconfig contexts found").weak());
        }
        for context in contexts {
            let is_active = match active {
                ConnectionTarget::Kubeconfig {
                    context: Some(c), ..
                } => c == &context.name,
                ConnectionTarget::Kubeconfig { context: None, .. } => context.current,
                ConnectionTarget::Local | ConnectionTarget::Eks { .. } => false,
            };
            let label = if context.current {
                format!("{} (current)", context.name)
            } else {
                context.name.clone()
            };
            if ui
                .selectable_label(is_active, label)
                .on_hover_text(&context.server)
                .clicked()
                && !is_active
            {
                command = Some(Command::Connect(ConnectionTarget::Kubeconfig {
                    path: self.kubeconfig.clone(),
                    context: Some(context.name.clone()),
                }));
            }
        }
        ui.separator();
        match status {
            ConnectionStatus::Failed { error, .. } => {
                ui.colored_label(egui::Color32::from_rgb(218, 54, 51), error.to_string());
                if ui.button("Retry").clicked() {
                    command = Some(Command::Connect(active.clone()));
                }
            }
            ConnectionStatus::Connecting { stage, .. } => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(stage);
                });
            }
            ConnectionStatus::Live {
                server, version, ..
            } => {
                ui.label(egui::RichText::new(format!("{server}\n{version}")).weak());
            }
            ConnectionStatus::Reconnecting { error, .. }
            | ConnectionStatus::Resuming { error, .. } => {
                ui.label(egui::RichText::new(error).weak());
            }
            ConnectionStatus::Idle => {}
        }
        command
    }
}

impl super::Panel for ConnectionView {
    fn ui(&mut self, ui: &mut egui::Ui, state: &super::ConsoleState, requests: &mut Vec<Request>) {
        requests.extend(
            self.draw(ui, &state.contexts, &state.target, &state.status)
                .map(Request::from),
        );
    }
}
