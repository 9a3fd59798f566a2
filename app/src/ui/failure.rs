//! A failure as every view shows it: what happened, what to ask for when a permission is
//! missing, and the one button that fits its kind (connect, try again, plan again) — chosen by
//! the kind, never by reading the words.

use egui::RichText;

use super::palette::BAD;
use crate::protocol::{ActionError, NextAction};

/// Draws `error` and its next action; returns the action when its button was clicked.
pub fn failure_ui(ui: &mut egui::Ui, error: &ActionError) -> Option<NextAction> {
    ui.colored_label(BAD, error.to_string());
    if let ActionError::Forbidden {
        ask_for: Some(role),
        ..
    } = error
    {
        ui.label(format!("Ask your cluster administrator for {role}."));
    }
    let action = error.next_action();
    let button = match action {
        NextAction::Connect => Some("Connect again"),
        NextAction::TryAgain => Some("Try again"),
        NextAction::PlanAgain => Some("Plan again"),
        NextAction::FixInput => {
            ui.label(RichText::new("Change what is marked above, then try again.").weak());
            None
        }
        NextAction::None => None,
    };
    button
        .filter(|label| ui.button(*label).clicked())
        .map(|_| action)
}
