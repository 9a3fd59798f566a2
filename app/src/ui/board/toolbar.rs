//! The board's controls in the top bar: namespace filter, search, what a zoomed-out cell's shade
//! shows, zoom, and the counts.

use super::{BoardView, MAX_ZOOM};
use crate::model::Pressure;
use crate::protocol::Command;
use crate::ui::{ConsoleState, Request};

impl BoardView {
    /// The board's controls for the top bar: namespace filter, search, zoom, and the counts.
    pub fn toolbar(
        &mut self,
        ui: &mut egui::Ui,
        state: &ConsoleState,
        requests: &mut Vec<Request>,
    ) {
        let snapshot = state.snapshot.clone();
        let current = self
            .namespace
            .clone()
            .unwrap_or_else(|| "all namespaces".into());
        let label = ui.label("Namespace");
        egui::ComboBox::from_id_salt("namespace")
            .selected_text(current)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut self.namespace, None, "all namespaces");
                for ns in &snapshot.namespaces {
                    ui.selectable_value(&mut self.namespace, Some(ns.clone()), ns);
                }
            })
            .response
            .labelled_by(label.id);
        let search = ui.add(
            egui::TextEdit::singleline(&mut self.search)
                .hint_text("search node, pod or label")
                .desired_width(180.0),
        );
        if search.changed() {
            self.search_moved = true;
        }
        let label = ui.label("Colour by");
        egui::ComboBox::from_id_salt("pressure")
            .selected_text(self.pressure.label())
            .show_ui(ui, |ui| {
                // Use is offered when the cluster serves metrics.k8s.io (metrics-server).
                let metrics = snapshot.has_usage();
                for measure in Pressure::ALL {
                    if metrics || !measure.needs_metrics() {
                        ui.selectable_value(&mut self.pressure, measure, measure.label());
                    }
                }
            })
            .response
            .on_hover_text("What a zoomed-out node cell's shade shows")
            .labelled_by(label.id);
        if ui
            .button("−")
            .on_hover_text("Zoom out (Ctrl+wheel)")
            .clicked()
        {
            self.zoom = (self.zoom / 1.25).max(self.min_zoom());
        }
        ui.label(format!("{:.0}%", self.zoom * 100.0));
        if ui
            .button("+")
            .on_hover_text("Zoom in (Ctrl+wheel)")
            .clicked()
        {
            self.zoom = (self.zoom * 1.25).min(MAX_ZOOM);
        }
        if ui
            .button("Fit")
            .on_hover_text("Zoom out until every node shows")
            .clicked()
        {
            self.fit();
        }
        ui.label(
            egui::RichText::new(format!(
                "{} nodes · {} pods",
                snapshot.nodes().count(),
                snapshot.pod_count
            ))
            .weak(),
        );
        // The events panel follows the namespace filter (the plan's namespace for "all").
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| state.plan.monolith.namespace.clone());
        if namespace != state.events_namespace {
            requests.push(Command::EventsNamespace(namespace).into());
        }
    }
}
