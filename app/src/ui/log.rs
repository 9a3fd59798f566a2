//! Events and the console's own actions, newest first.

use egui::Color32;

use super::{ConsoleState, LogView, Panel, Request};
use crate::model::events::LogEntry;

pub use crate::model::events::age;

/// The panel (its entries are the state's [`LogView`]).
#[derive(Default)]
pub struct LogPanel;

impl LogPanel {
    /// Draws Events and console actions merged, newest first.
    fn draw(&mut self, ui: &mut egui::Ui, log: &LogView, namespace: &str) {
        ui.horizontal(|ui| {
            ui.strong("Events and actions");
            ui.label(egui::RichText::new(format!("(Events of namespace {namespace})")).weak());
        });
        let mut merged: Vec<&LogEntry> = log.cluster.iter().chain(log.console.iter()).collect();
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
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, _requests: &mut Vec<Request>) {
        self.draw(ui, &state.log, &state.events_namespace);
    }
}
