//! Dragging a service chip: whether a lane takes it (a service moves to the OS its manifest
//! asks for; back into the monolith only on the monolith's lane) and, on each node, whether a
//! pod of it would fit.

use egui::{Align2, Color32, CornerRadius, FontId, Pos2, Rect, Stroke, StrokeKind, Vec2};

use super::paint::{BoardResponse, lane_color, state_color};
use crate::model::fit;
use crate::model::moves::Direction;
use crate::model::{ClusterSnapshot, MigrationPlan, NodeOs, NodeTile, PodState};
use crate::ui::MoveRequest;

/// Whether the lane of `os` takes the dragged service, or why not.
pub(super) fn lane_verdict(
    request: &MoveRequest,
    os: &NodeOs,
    plan: &MigrationPlan,
    snapshot: &ClusterSnapshot,
) -> Result<(), String> {
    match request.direction {
        Direction::Extract => {
            let target = plan
                .service(&request.service)
                .and_then(|s| s.deployment.spec.template.spec.as_ref())
                .and_then(|s| s.node_selector.as_ref())
                .and_then(|s| s.get("kubernetes.io/os"))
                .map(|os| NodeOs::from_label(os));
            match target {
                Some(target) if &target == os => Ok(()),
                Some(target) => Err(format!("services move to {}", target.title())),
                None => Ok(()),
            }
        }
        Direction::Return => {
            let monolith = snapshot.topology.as_ref().and_then(|t| t.monolith.as_ref());
            let home = snapshot.nodes().find(|n| {
                n.pods.iter().any(|p| {
                    monolith.is_some_and(|m| crate::model::topology::picks(&m.selector, &p.labels))
                })
            });
            match home {
                Some(node) if &node.os == os => Ok(()),
                Some(_) => Err(format!("{} runs here already", request.service)),
                None => Err("the monolith has no pods to take it back".into()),
            }
        }
    }
}

/// While a service is dragged: whether this node could take one of its pods.
pub(super) fn paint_tile_verdict(
    painter: &egui::Painter,
    rect: Rect,
    zoom: f32,
    tile: &NodeTile,
    request: &MoveRequest,
    plan: &MigrationPlan,
    snapshot: &ClusterSnapshot,
) {
    if request.direction != Direction::Extract
        || lane_verdict(request, &tile.os, plan, snapshot).is_err()
    {
        return;
    }
    let Some(spec) = plan
        .service(&request.service)
        .and_then(|s| s.deployment.spec.template.spec.as_ref())
    else {
        return;
    };
    let (color, words) = match fit::fit(&tile.facts(), spec) {
        Ok(room) => (state_color(PodState::Ready), format!("room for {room}")),
        Err(why) if why.starts_with("no room") => {
            (state_color(PodState::Failing), "no room".to_owned())
        }
        Err(why) => (state_color(PodState::Failing), why),
    };
    painter.rect_stroke(
        rect,
        CornerRadius::same(6),
        Stroke::new(2.5, color),
        StrokeKind::Outside,
    );
    painter.text(
        rect.right_top() + Vec2::new(-6.0 * zoom, 6.0 * zoom),
        Align2::RIGHT_TOP,
        words,
        FontId::proportional((11.0 * zoom).max(8.0)),
        color,
    );
}

/// While a service is dragged: each lane framed by whether it takes the drop (and why not),
/// the chip under the pointer, and the move asked for when the chip is released on a lane that
/// takes it.
#[allow(clippy::too_many_arguments)]
pub(super) fn paint_drop_targets<'a>(
    ui: &mut egui::Ui,
    painter: &egui::Painter,
    viewport: Rect,
    lanes: impl Iterator<Item = (&'a NodeOs, Rect)>,
    request: &MoveRequest,
    plan: &MigrationPlan,
    snapshot: &ClusterSnapshot,
    out: &mut BoardResponse,
) {
    let pointer = ui.input(|i| i.pointer.interact_pos());
    let released = ui.input(|i| i.pointer.any_released());
    for (os, column) in lanes {
        // A lane takes a drop anywhere in its column, down to the board's bottom edge.
        let mut rect = column;
        rect.max.y = rect.max.y.max(viewport.max.y - 4.0);
        let verdict = lane_verdict(request, os, plan, snapshot);
        let over = pointer.is_some_and(|p| rect.contains(p));
        let color = if verdict.is_ok() {
            state_color(PodState::Ready)
        } else {
            state_color(PodState::Failing)
        };
        painter.rect_stroke(
            rect,
            CornerRadius::same(8),
            Stroke::new(if over { 3.0 } else { 1.5 }, color),
            StrokeKind::Outside,
        );
        let words = match &verdict {
            Ok(()) => format!("drop here: {}", request.title(&os.title())),
            Err(why) => why.clone(),
        };
        let galley = painter.layout_no_wrap(words, FontId::proportional(14.0), color);
        let at = Pos2::new(
            rect.center().x - galley.size().x / 2.0,
            rect.max.y - galley.size().y - 14.0,
        );
        painter.rect_filled(
            Rect::from_min_size(at, galley.size()).expand(6.0),
            CornerRadius::same(6),
            ui.visuals().extreme_bg_color,
        );
        painter.galley(at, galley, color);
        if over && released {
            egui::DragAndDrop::clear_payload(ui.ctx());
            if verdict.is_ok() {
                out.move_request = Some(request.clone());
            }
        }
    }
    // The chip travels with the pointer.
    if let Some(p) = pointer {
        let top = ui.ctx().layer_painter(egui::LayerId::new(
            egui::Order::Tooltip,
            egui::Id::unique("dragged-service"),
        ));
        let galley = top.layout_no_wrap(
            request.service.clone(),
            FontId::proportional(12.0),
            Color32::WHITE,
        );
        let chip = Rect::from_min_size(
            p + Vec2::new(10.0, 6.0),
            galley.size() + Vec2::new(14.0, 6.0),
        );
        top.rect_filled(chip, CornerRadius::same(9), lane_color(&NodeOs::Linux));
        top.galley(chip.min + Vec2::new(7.0, 3.0), galley, Color32::WHITE);
    }
}
