//! A progressive move's live figures in its window: per step, the answers by route, their
//! error rate and p99 as the step's window grows (one reading a second), the shadow's
//! comparisons, and the operator's buttons — Pause (or Continue), Promote now, Abort.

use egui::{Color32, RichText};
use egui_plot::{Line, Plot, PlotPoints};

use super::Request;
use crate::model::analysis::RouteFigures;
use crate::model::move_progress::{MoveProgress, StepFigures};
use crate::model::moves::{Control, StepKind};
use crate::protocol::Command;

const MONOLITH: Color32 = Color32::from_rgb(0, 120, 212);
const SERVICE: Color32 = Color32::from_rgb(46, 160, 67);
const SHADOW: Color32 = Color32::from_rgb(210, 153, 34);
const BAD: Color32 = Color32::from_rgb(218, 54, 51);

/// The readings of the step judged last (the one on screen).
fn current_step(progress: &MoveProgress) -> &[StepFigures] {
    let Some(last) = progress.figures.last() else {
        return &[];
    };
    let from = progress
        .figures
        .iter()
        .rposition(|f| f.step != last.step || f.share != last.share)
        .map_or(0, |i| i + 1);
    &progress.figures[from..]
}

fn series(
    points: &[StepFigures],
    value: impl Fn(&StepFigures) -> Option<f64>,
) -> PlotPoints<'static> {
    PlotPoints::from(
        points
            .iter()
            .filter_map(|f| value(f).map(|v| [f.seconds, v]))
            .collect::<Vec<[f64; 2]>>(),
    )
}

/// Which route's figures of a reading a line draws.
type RouteOf = fn(&StepFigures) -> &RouteFigures;

/// The routes a step's charts draw: the monolith's own, the service's (a share) or the
/// shadow's calls.
fn routes(step: StepKind) -> Vec<(&'static str, Color32, RouteOf)> {
    let monolith: RouteOf = |f| &f.window.monolith;
    let service: RouteOf = |f| &f.window.service;
    let shadow: RouteOf = |f| &f.window.shadow_calls;
    match step {
        StepKind::Shadow => vec![
            ("monolith (answers)", MONOLITH, monolith),
            ("service (shadow calls)", SHADOW, shadow),
        ],
        _ => vec![
            ("monolith", MONOLITH, monolith),
            ("service", SERVICE, service),
        ],
    }
}

fn chart(
    ui: &mut egui::Ui,
    id: &str,
    unit: &str,
    points: &[StepFigures],
    value: impl Fn(&RouteFigures) -> Option<f64>,
) {
    let step = points.first().map_or(StepKind::Canary, |f| f.step);
    Plot::new(id)
        .height(120.0)
        .width(220.0)
        .x_axis_label("s in step")
        .y_axis_label(unit)
        .include_y(0.0)
        .allow_scroll(false)
        .allow_drag(false)
        .show(ui, |plot| {
            for (name, color, route) in routes(step) {
                plot.line(Line::new(name, series(points, |f| value(route(f)))).color(color));
            }
        });
}

/// The charts and buttons of a progressive move in progress (or just ended).
pub fn figures_ui(
    ui: &mut egui::Ui,
    progress: &MoveProgress,
    steered: Option<Control>,
    requests: &mut Vec<Request>,
) {
    let points = current_step(progress);
    if let Some(last) = points.last() {
        let step = match (last.step, last.share) {
            (StepKind::Canary, Some(share)) => format!("Canary {share} %"),
            (step, _) => step.title().to_owned(),
        };
        ui.strong(format!("{step}: the figures since the step began"));
        // One legend for the three charts (a legend in each would cover its lines).
        ui.horizontal(|ui| {
            for (name, color, _) in routes(last.step) {
                let (swatch, _) =
                    ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                ui.painter().rect_filled(swatch, 2.0, color);
                ui.label(name);
            }
        });
        ui.horizontal(|ui| {
            chart(ui, "move-answers", "answers", points, |r| {
                Some(r.answered as f64)
            });
            chart(ui, "move-errors", "% failed", points, |r| {
                Some(r.error_rate())
            });
            chart(ui, "move-p99", "p99 ms", points, |r| r.p99_ms);
        });
        let w = &last.window;
        if last.step == StepKind::Shadow {
            let c = &w.comparisons;
            let color = if c.mismatched > 0 { BAD } else { SERVICE };
            ui.colored_label(
                color,
                format!(
                    "{} compared: {} alike, {} different · {} shadow calls failed, {} skipped",
                    c.compared(),
                    c.matched,
                    c.mismatched,
                    c.failed,
                    c.skipped
                ),
            );
        } else if let Some(share) = w.service_share() {
            ui.label(format!(
                "The service answered {share:.1} % of {} answers · monolith p99 {} · service p99 {}",
                w.service.answered + w.monolith.answered,
                ms(w.monolith.p99_ms),
                ms(w.service.p99_ms)
            ));
        }
        if !last.waiting_for.is_empty() {
            ui.label(RichText::new(format!("Waiting for {}", last.waiting_for)).weak());
        }
    }
    if progress.outcome.is_some() {
        return;
    }
    ui.horizontal(|ui| {
        if steered == Some(Control::Pause) {
            ui.colored_label(
                SHADOW,
                "Paused: the step is held (a breach still rolls back)",
            );
            if ui.button("Continue").clicked() {
                requests.push(Command::SteerMove(None).into());
            }
        } else if ui
            .button("Pause")
            .on_hover_text("Holds the step past its time; a breach still rolls it back")
            .clicked()
        {
            requests.push(Command::SteerMove(Some(Control::Pause)).into());
        }
        if ui
            .button("Promote now")
            .on_hover_text("Passes the step in progress at its next reading")
            .clicked()
        {
            requests.push(Command::SteerMove(Some(Control::Promote)).into());
        }
    });
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.1} ms"))
}
