//! Events and the console's own actions, newest first.

use std::collections::VecDeque;

use egui::Color32;

use super::{ConsoleState, Panel};
use crate::model::events::LogEntry;
use crate::protocol::Command;

pub use crate::model::events::age;

/// The panel.
#[derive(Default)]
pub struct LogPanel {
    /// The namespace's Kubernetes Events (newest first, from the backend).
    pub cluster: Vec<LogEntry>,
    /// The console's own actions.
    pub console: VecDeque<LogEntry>,
}

impl LogPanel {
    /// Keeps one of the console's actions (the last 500).
    pub fn push(&mut self, entry: LogEntry) {
        self.console.push_back(entry);
        while self.console.len() > 500 {
            self.console.pop_front();
        }
    }

    /// Draws Events and console actions merged, newest first.
    fn draw(&mut self, ui: &mut egui::Ui, namespace: &str) {
        ui.horizontal(|ui| {
            ui.strong("Events and actions");
            ui.label(egui::RichText::new(format!("(Events of namespace {namespace})")).weak());
        });
        let mut merged: Vec<&LogEntry> = self.cluster.iter().chain(self.console.iter()).collect();
        merged.sort_by_key(|entry| std::cmp::Reverse(entry.at));
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for entry in merged.iter().take(400) {
                    let color = match entry.kind.as_str() {
                        "Warning" => Color32::from_rgb(218, 54, 51),
                        "Console" => Color32::from_rgb(88, 166, 255),
                        _ => ui.visuals().text_color(),
                    };
                    let message = if entry.count > 1 {
                        format!("{} (×{})", entry.message, entry.count)
                    } else {
                        entry.message.clone()
                    };
                    // One wrapped line per entry: long scheduler and image-pull messages stay readable.
                    ui.horizontal_wrapped(|ui| {
                        ui.add_sized(
                            [36.0, 14.0],
                            egui::Label::new(egui::RichText::new(age(entry.at)).weak()),
                        );
                        ui.colored_label(color, &entry.kind);
                        ui.strong(&entry.reason);
                        if !entry.object.is_empty() {
                            ui.label(egui::RichText::new(&entry.object).monospace());
                        }
                        ui.label(message);
                    });
                }
            });
    }
}

impl Panel for LogPanel {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, _commands: &mut Vec<Command>) {
        self.draw(ui, &state.events_namespace);
    }
}
