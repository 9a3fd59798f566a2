//! The plan dialog, shown before anything changes: what the move will create and change, where
//! its pods can go, whether every permission is there, the choice of a progressive move and
//! where it shares the traffic (inside the monolith or at the edge), what the operator should
//! know, and why it is refused; Move or Cancel.

use egui::RichText;

use super::palette::{BAD, OK, WARN};
use super::{Request, Shown};
use crate::model::move_plan::{MovePlan, ProgressiveWay};
use crate::model::moves::{Direction, StepKind};
use crate::protocol::Command;

/// The dialog's own state.
#[derive(Default)]
pub struct PlanDialog {
    /// A Prometheus to read a progressive move's figures from (empty: the pods' /metrics).
    prometheus: String,
}

impl PlanDialog {
    /// Shows `plan`; the operator's answer (move, cancel, plan again another way) becomes a
    /// request.
    pub fn show(&mut self, ctx: &egui::Context, plan: &MovePlan, requests: &mut Vec<Request>) {
        let mut decision = None;
        let mut replan = None;
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
            if plan.direction == Direction::Extract {
                progressive_choice(ui, plan, &mut replan);
                if plan.progression.is_some() {
                    ui.horizontal(|ui| {
                        ui.label("Figures from Prometheus (optional)");
                        ui.add(
                            egui::TextEdit::singleline(&mut self.prometheus)
                                .hint_text("http://prometheus:9090 — else each pod's /metrics")
                                .desired_width(320.0),
                        );
                    });
                }
            }
            let steps: Vec<String> = plan
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| match (s, plan.share_at(i)) {
                    (StepKind::Canary, Some(share)) => {
                        format!("{}. {} {share} %", i + 1, s.title())
                    }
                    _ => format!("{}. {}", i + 1, s.title()),
                })
                .collect();
            ui.label(format!("Steps: {}", steps.join("   ")));
            ui.label(RichText::new("Any failure rolls everything back by itself.").weak());
            for note in &plan.notes {
                ui.colored_label(WARN, format!("Note: {note}"));
            }
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
        if let Some(progressive) = replan {
            requests.push(
                Command::PlanMove {
                    service: plan.service.clone(),
                    direction: plan.direction,
                    progressive,
                }
                .into(),
            );
        }
        match decision {
            Some(true) => {
                let url = self.prometheus.trim();
                requests.push(
                    Command::StartMove {
                        plan: Box::new(plan.clone()),
                        prometheus: (plan.progression.is_some() && !url.is_empty())
                            .then(|| url.to_owned()),
                    }
                    .into(),
                );
            }
            Some(false) => requests.push(Request::Dismiss(Shown::MovePlan)),
            None => {}
        }
    }
}

/// The plan dialog's choice between switching at once and proving the service step by step,
/// and where the traffic is shared (inside the monolith or at the edge) where the migration plan
/// allows both; changing either plans the move again.
fn progressive_choice(
    ui: &mut egui::Ui,
    plan: &MovePlan,
    replan: &mut Option<Option<ProgressiveWay>>,
) {
    let way = plan.shared_way();
    let mut progressive = way.is_some();
    if ui
        .checkbox(
            &mut progressive,
            "Progressive: shadow, then shares of the traffic, each proven by the pods' numbers",
        )
        .changed()
    {
        // The first way the migration plan offers (inside, where it has a routing file); with
        // none, planning says what the plan lacks.
        let first = plan.progressive_ways.first().copied().unwrap_or_default();
        *replan = Some(progressive.then_some(first));
    }
    let (Some(way), Some(p)) = (way, &plan.progression) else {
        return;
    };
    if plan.progressive_ways.len() > 1 {
        let mut chosen = way;
        ui.horizontal(|ui| {
            ui.label("Share the traffic");
            ui.radio_value(
                &mut chosen,
                ProgressiveWay::Inside,
                "inside the monolith (its routing file)",
            );
            ui.radio_value(
                &mut chosen,
                ProgressiveWay::Edge,
                "at the edge (the service's HTTPRoute rule)",
            );
        });
        if chosen != way {
            *replan = Some(Some(chosen));
        }
    }
    let shares: Vec<String> = p.weights.iter().map(|w| format!("{w} %")).collect();
    let (n, seconds) = (p.shadow_requests, p.shadow_seconds);
    let (place, shadow) = match (way, &plan.before.edge_rule) {
        (ProgressiveWay::Edge, Some(rule)) => (
            format!(
                "At the edge, by the weights of HTTPRoute {} rule {} (the monolith is not redeployed)",
                rule.route, rule.index
            ),
            format!(
                "the gateway copies every request to the service until it has answered {n} copies (at most {seconds} s), judged by its own error rate and p99; then "
            ),
        ),
        _ => (
            "Inside the monolith, by its routing file (no redeploy per step)".to_owned(),
            format!(
                "the monolith shadows the service until {n} answers compare alike (at most {seconds} s); then "
            ),
        ),
    };
    let shadow = if n > 0 { shadow } else { String::new() };
    ui.label(
        RichText::new(format!(
            "{place}: {shadow}the service answers {} of the requests, each held {} s, then 100 % watched {} s. A mismatch, or an error rate over the monolith's +{} points or a p99 over its +{} ms, rolls back by itself.",
            shares.join(", then "),
            p.hold_seconds,
            p.settle_seconds,
            p.thresholds.max_error_rate_increase,
            p.thresholds.max_p99_increase_ms
        ))
        .weak(),
    );
}
