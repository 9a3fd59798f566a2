//! The calculator panel: two numbers, Calculate, and per operation the result and which pod, node
//! and OS answered; a probe switch that calls continuously and charts latency and failures.

use std::collections::VecDeque;
use std::time::SystemTime;

use egui::Color32;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use serde::{Deserialize, Serialize};

use super::state::PROBE_WINDOW;
use super::{CalculatorView, ConsoleState, Panel, Request};
use crate::model::ClusterSnapshot;
use crate::model::calculation::{CalcFailure, CalcOutcome, CalcTarget, ProbeSample};
use crate::protocol::Command;

/// What survives a restart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CalculatorSettings {
    /// First number field.
    pub a: String,
    /// Second number field.
    pub b: String,
    /// A URL to call instead of the service proxy (empty: the proxy).
    pub url: String,
    /// Probe calls per second.
    pub probe_rate: u32,
}

impl Default for CalculatorSettings {
    fn default() -> Self {
        CalculatorSettings {
            a: "6".into(),
            b: "3".into(),
            url: String::new(),
            probe_rate: 5,
        }
    }
}

/// The panel: the fields the operator types (what came back is in the state's
/// [`CalculatorView`]).
#[derive(Default)]
pub struct CalculatorPanel {
    /// Persisted fields.
    pub settings: CalculatorSettings,
}

impl CalculatorPanel {
    fn target(&self) -> CalcTarget {
        let url = self.settings.url.trim();
        if url.is_empty() {
            CalcTarget::default()
        } else {
            CalcTarget::Url(url.to_owned())
        }
    }

    fn draw(
        &mut self,
        ui: &mut egui::Ui,
        view: &CalculatorView,
        snapshot: &ClusterSnapshot,
    ) -> Vec<Command> {
        let mut commands = Vec::new();
        ui.heading("Calculator");
        ui.label(egui::RichText::new(format!("Calls {}", self.target().describe())).weak());
        egui::Grid::new("calc-inputs")
            .num_columns(2)
            .show(ui, |ui| {
                // Each field is labelled by its caption, for screen readers (and UI tests).
                let label = ui.label("First Number");
                ui.add(egui::TextEdit::singleline(&mut self.settings.a).desired_width(140.0))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Second Number");
                ui.add(egui::TextEdit::singleline(&mut self.settings.b).desired_width(140.0))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("URL (optional)");
                ui.add(
                    egui::TextEdit::singleline(&mut self.settings.url)
                        .hint_text("service proxy")
                        .desired_width(140.0),
                )
                .labelled_by(label.id);
                ui.end_row();
            });
        ui.horizontal(|ui| {
            if ui.button("Calculate").clicked() {
                commands.push(Command::Calculate {
                    request: view.request + 1,
                    a: self.settings.a.clone(),
                    b: self.settings.b.clone(),
                    target: self.target(),
                });
            }
            if view.waiting {
                ui.spinner();
            }
        });
        if let Some(outcome) = &view.last {
            result_table(ui, outcome, snapshot);
        }
        ui.separator();
        ui.horizontal(|ui| {
            let mut probing = view.probing;
            ui.checkbox(&mut probing, "Probe");
            let rate = ui.label("rate");
            let rate_changed = ui
                .add(
                    egui::DragValue::new(&mut self.settings.probe_rate)
                        .range(1..=50)
                        .suffix(" /s"),
                )
                .labelled_by(rate.id)
                .on_hover_text("Calls per second")
                .changed();
            if probing != view.probing || (probing && rate_changed) {
                commands.push(Command::Probe {
                    per_second: probing.then_some(self.settings.probe_rate),
                    a: self.settings.a.clone(),
                    b: self.settings.b.clone(),
                    target: self.target(),
                });
            }
        });
        if view.probing || !view.samples.is_empty() {
            chart(ui, &view.samples);
        }
        commands
    }
}

/// Latency and failures of the probe calls kept.
fn chart(ui: &mut egui::Ui, samples: &VecDeque<ProbeSample>) {
    let now = SystemTime::now();
    let age = |s: &ProbeSample| -(now.duration_since(s.at).unwrap_or_default().as_secs_f64());
    let ok: Vec<[f64; 2]> = samples
        .iter()
        .filter(|s| s.ok)
        .map(|s| [age(s), s.latency_ms])
        .collect();
    let failed: Vec<[f64; 2]> = samples
        .iter()
        .filter(|s| !s.ok)
        .map(|s| [age(s), s.latency_ms])
        .collect();
    let failures = failed.len();
    ui.label(format!(
        "{} calls, {} failed{}",
        samples.len(),
        failures,
        samples
            .iter()
            .rev()
            .find_map(|s| s.error.clone())
            .map(|e| format!(" — last: {e}"))
            .unwrap_or_default()
    ));
    Plot::new("probe")
        .height(150.0)
        .legend(Legend::default())
        .x_axis_label("seconds ago")
        .y_axis_label("ms")
        .include_x(-(PROBE_WINDOW.as_secs_f64()))
        .include_x(0.0)
        .include_y(0.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.line(Line::new("latency", PlotPoints::from(ok)));
            plot.points(
                Points::new("failed", PlotPoints::from(failed))
                    .color(Color32::from_rgb(218, 54, 51))
                    .radius(3.0),
            );
        });
}

/// The per-operation table: result or error, pod, node, the node's OS, latency.
fn result_table(ui: &mut egui::Ui, outcome: &CalcOutcome, snapshot: &ClusterSnapshot) {
    let os_of = |node: &Option<String>| {
        node.as_deref()
            .and_then(|n| snapshot.os_of_node(n))
            .map(|o| o.title())
            .unwrap_or_else(|| "?".into())
    };
    match &outcome.result {
        Err(e) => {
            ui.colored_label(Color32::from_rgb(218, 54, 51), e.to_string());
            if *e == CalcFailure::NotConnected {
                ui.label("Connect to a cluster (left panel), or give a URL to call directly.");
            }
        }
        Ok(answer) => {
            egui::Grid::new("calc-results")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for header in ["Operation", "Result", "Served by", "ms"] {
                        ui.strong(header);
                    }
                    ui.end_row();
                    for r in &answer.results {
                        ui.label(r.operation.to_string());
                        match (&r.total, &r.error) {
                            (Some(total), _) => {
                                ui.label(egui::RichText::new(total.to_string()).monospace());
                            }
                            (None, Some(e)) => {
                                ui.colored_label(Color32::from_rgb(218, 54, 51), &e.message);
                            }
                            _ => {
                                ui.label("—");
                            }
                        }
                        match r.served_by.as_ref() {
                            Some(by) => {
                                // Pod and node names are read whole, never wrapped mid-name.
                                ui.vertical(|ui| {
                                    ui.add(
                                        egui::Label::new(
                                            by.pod.clone().unwrap_or_else(|| by.service.clone()),
                                        )
                                        .extend(),
                                    );
                                    ui.add(
                                        egui::Label::new(
                                            egui::RichText::new(format!(
                                                "{} node {}",
                                                os_of(&by.node),
                                                by.node.as_deref().unwrap_or("?")
                                            ))
                                            .small()
                                            .weak(),
                                        )
                                        .extend(),
                                    );
                                });
                            }
                            None => {
                                ui.label("—");
                            }
                        }
                        ui.label(if r.latency_ms < 10.0 {
                            format!("{:.2}", r.latency_ms)
                        } else {
                            format!("{:.0}", r.latency_ms)
                        });
                        ui.end_row();
                    }
                });
            let f = &answer.frontend;
            ui.label(format!(
                "Frontend: {} on {} ({}); round trip {:.1} ms",
                f.pod.clone().unwrap_or_else(|| f.service.clone()),
                f.node.clone().unwrap_or_else(|| "?".into()),
                os_of(&f.node),
                outcome.latency_ms
            ));
        }
    }
}

impl Panel for CalculatorPanel {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>) {
        let commands = self.draw(ui, &state.calculator, &state.snapshot);
        requests.extend(commands.into_iter().map(Request::from));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(request: u64) -> CalcOutcome {
        CalcOutcome {
            request,
            a: "6".into(),
            b: "3".into(),
            result: Err(CalcFailure::NoAnswer("no answer".into())),
            latency_ms: 1.0,
            at: SystemTime::now(),
        }
    }

    #[test]
    fn a_late_answer_to_an_earlier_click_is_not_shown() {
        let mut panel = CalculatorView {
            request: 2,
            waiting: true,
            ..Default::default()
        };
        panel.answered(answer(1));
        assert!(panel.last.is_none() && panel.waiting);
        panel.answered(answer(2));
        assert_eq!(panel.last.as_ref().map(|o| o.request), Some(2));
        assert!(!panel.waiting);
    }
}
