//! A node's tile, zoomed in: its facts, its pods as squares, the monolith's services as chips.

use egui::{Align2, Color32, CornerRadius, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};

use super::layout::{
    CHIP_HEIGHT, GAP, PADDING, SQUARE, TILE_HEADER, TILE_WIDTH, squares_per_row, visible,
};
use super::paint::{BoardResponse, fade, lane_color, pod_interaction, state_color};
use crate::model::moves::Direction;
use crate::model::{NodeTile, PodPlacement, PodState, Pressure, Search};
use crate::ui::MoveRequest;

/// Paints one node's tile: name, instance type, readiness, pods against capacity, taints,
/// requests against allocatable, its pods as squares, and the services its pods serve as chips
/// that drag to the other lane.
#[allow(clippy::too_many_arguments)]
pub fn paint(
    ui: &egui::Ui,
    painter: &egui::Painter,
    rect: Rect,
    tile: &NodeTile,
    zoom: f32,
    search: &Search,
    namespace: Option<&str>,
    in_transit: Option<(&str, u8)>,
    out: &mut BoardResponse,
) {
    let visuals = ui.visuals();
    let font = |size: f32| FontId::proportional((size * zoom).max(1.0));
    let border = if tile.ready {
        lane_color(&tile.os)
    } else {
        state_color(PodState::Failing)
    };
    painter.rect(
        rect,
        CornerRadius::same(6),
        visuals.extreme_bg_color,
        Stroke::new(1.5, border),
        StrokeKind::Inside,
    );
    let response = ui.interact(
        rect,
        ui.scope_id().with(("node", &tile.name)),
        Sense::hover(),
    );
    let name = tile.name.clone();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, name.clone()));
    response.on_hover_ui(|ui| super::overview::node_tooltip(ui, tile));
    let x = rect.left() + PADDING * zoom;
    let mut y = rect.top() + PADDING * zoom;
    painter.text(
        Pos2::new(x, y),
        Align2::LEFT_TOP,
        &tile.name,
        font(12.5),
        visuals.strong_text_color(),
    );
    y += 16.0 * zoom;
    let ready = if tile.ready { "Ready" } else { "NotReady" };
    // A Windows node's build, by the name image tags use (`ltsc2022`): what its images must
    // be built on.
    let build = tile
        .windows_build
        .map(|b| {
            format!(
                " · {}",
                b.tag_name().map_or_else(|| b.to_string(), str::to_owned)
            )
        })
        .unwrap_or_default();
    let line = format!(
        "{}{build} · {ready} · pods {}/{}",
        tile.instance_type.as_deref().unwrap_or("?"),
        tile.pods_placed(),
        tile.pod_capacity
    );
    painter.text(
        Pos2::new(x, y),
        Align2::LEFT_TOP,
        line,
        font(11.0),
        visuals.text_color(),
    );
    y += 14.0 * zoom;
    let taints = if tile.taints.is_empty() {
        "no taints".to_owned()
    } else {
        format!("taint {}", tile.taints.join(", "))
    };
    painter.text(
        Pos2::new(x, y),
        Align2::LEFT_TOP,
        taints,
        font(10.5),
        visuals.weak_text_color(),
    );
    y += 15.0 * zoom;
    // CPU and memory requests against allocatable: a label, then its bar.
    let half = (TILE_WIDTH - 2.0 * PADDING) * zoom / 2.0;
    // Requests fill the bar; use (metrics.k8s.io), when known, is the white tick across it.
    for (i, (used, total, label, in_use)) in [
        (
            tile.cpu_requested_millis,
            tile.cpu_allocatable_millis,
            "cpu",
            tile.usage.map(|_| tile.pressure(Pressure::CpuUsage)),
        ),
        (
            tile.memory_requested_bytes,
            tile.memory_allocatable_bytes,
            "mem",
            tile.usage.map(|_| tile.pressure(Pressure::MemoryUsage)),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let fraction = if total > 0 {
            (used as f32 / total as f32).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let left = x + i as f32 * half;
        painter.text(
            Pos2::new(left, y),
            Align2::LEFT_TOP,
            format!("{label} {:.0}%", fraction * 100.0),
            font(9.5),
            visuals.weak_text_color(),
        );
        let bar = Rect::from_min_size(
            Pos2::new(left + 44.0 * zoom, y + 3.0 * zoom),
            Vec2::new(half - 52.0 * zoom, 6.0 * zoom),
        );
        painter.rect_filled(bar, CornerRadius::same(2), visuals.faint_bg_color);
        painter.rect_filled(
            Rect::from_min_size(bar.min, Vec2::new(bar.width() * fraction, bar.height())),
            CornerRadius::same(2),
            lane_color(&tile.os).gamma_multiply(0.8),
        );
        if let Some(in_use) = in_use {
            let x = bar.left() + bar.width() * in_use;
            painter.line_segment(
                [
                    Pos2::new(x, bar.top() - 2.0 * zoom),
                    Pos2::new(x, bar.bottom() + 2.0 * zoom),
                ],
                Stroke::new(2.0 * zoom.min(1.0), Color32::WHITE),
            );
        }
    }
    y = rect.top() + TILE_HEADER * zoom;
    let per_row = squares_per_row();
    let shown: Vec<&PodPlacement> = visible(&tile.pods, namespace).collect();
    for (i, pod) in shown.iter().enumerate() {
        let (row, col) = (i / per_row, i % per_row);
        let square = Rect::from_min_size(
            Pos2::new(
                x + col as f32 * (SQUARE + GAP) * zoom,
                y + row as f32 * (SQUARE + GAP) * zoom,
            ),
            Vec2::splat(SQUARE * zoom),
        );
        let faded = !search.finds(pod);
        painter.rect_filled(
            square,
            CornerRadius::same(2),
            fade(state_color(pod.state), faded),
        );
        if pod.image_mismatch.is_some() {
            painter.line_segment(
                [square.left_top(), square.right_bottom()],
                Stroke::new(1.5 * zoom, Color32::WHITE),
            );
        }
        let response = ui.interact(
            square.expand(1.0),
            ui.scope_id().with(("pod", pod.key())),
            Sense::click(),
        );
        pod_interaction(&response, pod, out);
    }
    y += shown.len().div_ceil(per_row).max(1) as f32 * (SQUARE + GAP) * zoom + GAP * zoom;
    // The monolith's pods carry the services they still serve as chips; a moved service's
    // pods carry one chip of their own. Chips drag to the other lane, or open a menu.
    for pod in tile
        .pods
        .iter()
        .filter(|p| !p.holds.is_empty() || p.serves.is_some())
    {
        let chips: Vec<(String, Direction)> = match &pod.serves {
            Some(service) => vec![(service.clone(), Direction::Return)],
            None => pod
                .holds
                .iter()
                .map(|s| (s.clone(), Direction::Extract))
                .collect(),
        };
        let mut cx = x;
        for (label, direction) in chips {
            // A service a progressive move is sharing carries its share on both sides.
            let shown = match in_transit {
                Some((service, 0)) if service == label => format!("{label} shadow"),
                Some((service, share)) if service == label => format!("{label} {share} %"),
                _ => label.clone(),
            };
            let galley =
                painter.layout_no_wrap(shown.clone(), font(10.5), visuals.strong_text_color());
            let width = galley.size().x + 12.0 * zoom;
            if cx + width > rect.right() - PADDING * zoom && cx > x {
                cx = x;
                y += (CHIP_HEIGHT + GAP) * zoom;
            }
            let chip = Rect::from_min_size(Pos2::new(cx, y), Vec2::new(width, CHIP_HEIGHT * zoom));
            let response = ui.interact(
                chip,
                ui.scope_id().with(("chip", pod.key(), label.clone())),
                Sense::click_and_drag(),
            );
            let color = lane_color(&tile.os);
            painter.rect(
                chip,
                CornerRadius::same(8),
                color.gamma_multiply(if response.hovered() { 0.55 } else { 0.3 }),
                Stroke::new(if response.has_focus() { 2.5 } else { 1.0 }, color),
                StrokeKind::Inside,
            );
            painter.galley(
                chip.center() - galley.size() / 2.0,
                galley,
                visuals.strong_text_color(),
            );
            // A drag plans the move at once; the plan dialog offers to make it progressive.
            let request = MoveRequest {
                service: label.clone(),
                direction,
                progressive: None,
            };
            let text = match direction {
                Direction::Extract => format!("{shown} (in-process in {})", pod.name),
                Direction::Return => format!("{shown} (moved out, served by {})", pod.name),
            };
            response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, text.clone()));
            response.dnd_set_drag_payload(request.clone());
            if response.clicked() {
                out.move_request = Some(request.clone());
            }
            let action = match direction {
                Direction::Extract => format!("Move {label} out of the monolith…"),
                Direction::Return => format!("Move {label} back into the monolith…"),
            };
            response
                .on_hover_text(format!("Drag to the other lane, or click: {action}"))
                .context_menu(|ui| {
                    if ui.button(&action).clicked() {
                        out.move_request = Some(request.clone());
                        ui.close();
                    }
                });
            cx = chip.right() + 4.0 * zoom;
        }
        y += (CHIP_HEIGHT + GAP) * zoom;
    }
}
