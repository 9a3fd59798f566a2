//! A progressive move's live figures in its window: per step, each route's answers a second,
//! its error rate and its p50 and p99 over the step's window as judged (one reading a second),
//! the shadow's comparisons, and the operator's buttons — Pause (or Continue), Promote now.

use egui::{Color32, RichText};
use egui_plot::{Line, LineStyle, Plot, PlotPoints};

use super::Request;
use super::palette::{self, BAD};
use crate::model::analysis::RouteFigures;
use crate::model::move_progress::{MoveProgress, StepFigures};
use crate::model::moves::{Control, StepKind};
use crate::protocol::Command;

const MONOLITH: Color32 = Color32::from_rgb(0, 120, 212);
const SERVICE: Color32 = palette::OK;
const SHADOW: Color32 = palette::WARN;

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

fn series(points: &[StepFigures], value: impl Fn(&StepFigures) -> Option<f64>) -> Vec<[f64; 2]> {
    points
        .iter()
        .filter_map(|f| value(f).map(|v| [f.seconds, v]))
        .collect()
}

/// Answers a second between consecutive readings. A reading counts everything since the step
/// began, so its growth over the time since the one before is the rate (from the step's start
/// for the first).
fn per_second(points: &[StepFigures], answered: impl Fn(&StepFigures) -> u64) -> Vec<[f64; 2]> {
    let mut before = (0.0, 0);
    points
        .iter()
        .filter_map(|f| {
            let (then, count_then) = before;
            let count = answered(f);
            before = (f.seconds, count);
            let elapsed = f.seconds - then;
            (elapsed > 0.0).then(|| [f.seconds, count.saturating_sub(count_then) as f64 / elapsed])
        })
        .collect()
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

/// One chart of the step's readings: for each route, the lines `lines` draws from its figures
/// (a solid line, and optionally a dashed second one).
fn chart(
    ui: &mut egui::Ui,
    id: &str,
    unit: &str,
    points: &[StepFigures],
    lines: impl Fn(&[StepFigures], RouteOf) -> Vec<(LineStyle, Vec<[f64; 2]>)>,
) {
    let step = points.first().map_or(StepKind::Canary, |f| f.step);
    Plot::new(id)
        .height(120.0)
        .width(220.0)
        .x_axis_label("s in step")
        .y_axis_label(unit)
        // At least 0–1: a line of zeros (no failure) sits at the bottom, not mid-chart.
        .include_y(0.0)
        .include_y(1.0)
        .allow_scroll(false)
        .allow_drag(false)
        .show(ui, |plot| {
            for (name, color, route) in routes(step) {
                for (style, line) in lines(points, route) {
                    plot.line(
                        Line::new(name, PlotPoints::from(line))
                            .color(color)
                            .style(style),
                    );
                }
            }
        });
}

/// The charts of a progressive move's step judged last (in progress, or the one that ended it).
pub fn figures_ui(ui: &mut egui::Ui, progress: &MoveProgress) {
    let points = current_step(progress);
    if let Some(last) = points.last() {
        let step = match (last.step, last.share) {
            (StepKind::Canary, Some(share)) => format!("Canary {share} %"),
            (step, _) => step.title().to_owned(),
        };
        ui.strong(format!(
            "{step}: answers a second; failures and latency since the step began, as judged"
        ));
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
            chart(ui, "move-answers", "answers/s", points, |p, route| {
                vec![(LineStyle::Solid, per_second(p, |f| route(f).answered))]
            });
            chart(ui, "move-errors", "% failed", points, |p, route| {
                vec![(LineStyle::Solid, series(p, |f| Some(route(f).error_rate())))]
            });
            chart(
                ui,
                "move-latency",
                "ms: p99, p50 dashed",
                points,
                |p, route| {
                    vec![
                        (LineStyle::Solid, series(p, |f| route(f).p99_ms)),
                        (LineStyle::dashed_dense(), series(p, |f| route(f).p50_ms)),
                    ]
                },
            );
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
            for example in &last.mismatches {
                ui.colored_label(BAD, RichText::new(example).small());
            }
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
}

/// Pause (or Continue) and Promote now, for a progressive move going forward; drawn in the
/// window's bottom row beside Abort, where they stay in sight however long the window grows.
pub fn steer_ui(
    ui: &mut egui::Ui,
    progress: &MoveProgress,
    steered: Option<Control>,
    requests: &mut Vec<Request>,
) {
    if !progress.progressive() || progress.outcome.is_some() || progress.rollback_reason.is_some() {
        return;
    }
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
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.1} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::analysis::Window;

    fn reading(seconds: f64, answered: u64) -> StepFigures {
        StepFigures {
            step: StepKind::Canary,
            share: Some(10),
            seconds,
            window: Window {
                service: RouteFigures {
                    answered,
                    ..RouteFigures::default()
                },
                ..Window::default()
            },
            waiting_for: String::new(),
            mismatches: Vec::new(),
        }
    }

    #[test]
    fn answers_a_second_are_the_growth_between_readings() {
        let points = [
            reading(1.0, 20),
            reading(2.0, 40),
            reading(3.5, 100),
            reading(3.5, 100),
        ];
        let rates = per_second(&points, |f| f.window.service.answered);
        assert_eq!(rates, [[1.0, 20.0], [2.0, 20.0], [3.5, 40.0]]);
        // A counter that went down (a pod restarted) is no negative rate.
        let rates = per_second(&[reading(1.0, 50), reading(2.0, 10)], |f| {
            f.window.service.answered
        });
        assert_eq!(rates, [[1.0, 50.0], [2.0, 0.0]]);
    }
}
