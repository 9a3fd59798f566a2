//! The board: Windows and Linux lanes side by side, node groups, node tiles with their pods as
//! small squares (kube-ops-view style), the monolith's in-process services as chips. Painted by
//! hand so only what is on screen costs anything; zoom with Ctrl+wheel or pinch, pan by dragging.

use std::sync::Arc;

use egui::{Align2, Color32, CornerRadius, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};

use super::migration::MoveRequest;
use super::{ConsoleState, Panel};
use crate::backend::{Command, ConnectionStatus};
use crate::model::moves::Direction;
use crate::model::placement;
use crate::model::{ClusterSnapshot, MigrationPlan, NodeOs, NodeTile, PodPlacement, PodState};

const TILE_WIDTH: f32 = 236.0;
const TILE_HEADER: f32 = 74.0;
const SQUARE: f32 = 11.0;
const GAP: f32 = 3.0;
const PADDING: f32 = 8.0;
const LANE_GAP: f32 = 24.0;
const CHIP_HEIGHT: f32 = 18.0;

/// The colour of a pod state.
pub fn state_color(state: PodState) -> Color32 {
    match state {
        PodState::Ready => Color32::from_rgb(46, 160, 67),
        PodState::Starting => Color32::from_rgb(88, 166, 255),
        PodState::Pending => Color32::from_rgb(210, 153, 34),
        PodState::Failing => Color32::from_rgb(218, 54, 51),
        PodState::Terminating => Color32::from_rgb(139, 148, 158),
        PodState::Succeeded => Color32::from_rgb(48, 54, 61),
    }
}

fn lane_color(os: &NodeOs) -> Color32 {
    match os {
        NodeOs::Windows => Color32::from_rgb(0, 120, 212),
        NodeOs::Linux => Color32::from_rgb(240, 160, 40),
        NodeOs::Other(_) => Color32::GRAY,
    }
}

/// What the user did on the board this frame.
#[derive(Debug, Default)]
pub struct BoardResponse {
    /// A pod was clicked: (namespace, name).
    pub selected: Option<(String, String)>,
    /// A service chip was dropped on a lane that takes it, or chosen from its menu.
    pub move_request: Option<MoveRequest>,
}

/// One positioned thing, in board coordinates (zoom 1, no pan).
#[derive(Clone, Debug)]
enum Item {
    LaneHeader {
        os: NodeOs,
        nodes: usize,
    },
    GroupHeader {
        name: String,
        nodes: usize,
    },
    Tile {
        lane: usize,
        group: usize,
        node: usize,
    },
    UnscheduledHeader {
        pods: usize,
    },
    Unscheduled {
        index: usize,
    },
}

#[derive(Clone, Debug)]
struct Placed {
    rect: Rect,
    item: Item,
}

/// The computed layout of one snapshot at one width.
struct Layout {
    snapshot: Arc<ClusterSnapshot>,
    width: f32,
    items: Vec<Placed>,
    size: Vec2,
    /// Each lane's column, header to last tile: where a dragged service can be dropped.
    lanes: Vec<(NodeOs, Rect)>,
}

/// The board panel: its zoom, pan, filter and cached layout.
pub struct BoardView {
    /// Zoom factor (1 = 100 %).
    pub zoom: f32,
    /// Pan offset in screen points.
    pub pan: Vec2,
    /// Search text: non-matching pods fade.
    pub search: String,
    /// Only this namespace's pods show (None: all).
    pub namespace: Option<String>,
    layout: Option<Layout>,
    viewport: Vec2,
}

impl Default for BoardView {
    fn default() -> Self {
        BoardView {
            zoom: 1.0,
            pan: Vec2::ZERO,
            search: String::new(),
            namespace: None,
            layout: None,
            viewport: Vec2::ZERO,
        }
    }
}

fn squares_per_row() -> usize {
    ((TILE_WIDTH - 2.0 * PADDING + GAP) / (SQUARE + GAP)).floor() as usize
}

fn tile_height(node: &NodeTile, shown: usize) -> f32 {
    let rows = shown.div_ceil(squares_per_row()).max(1) as f32;
    // Four operation chips take two rows in a tile; a moved service's pod has one.
    let chip_rows: usize = node
        .pods
        .iter()
        .map(|p| p.holds.len().div_ceil(3) + usize::from(p.serves.is_some()))
        .sum();
    TILE_HEADER + rows * (SQUARE + GAP) + chip_rows as f32 * (CHIP_HEIGHT + GAP) + PADDING
}

impl BoardView {
    fn visible<'a>(&self, pods: &'a [PodPlacement]) -> impl Iterator<Item = &'a PodPlacement> {
        let namespace = self.namespace.clone();
        pods.iter()
            .filter(move |p| namespace.as_deref().is_none_or(|n| p.namespace == n))
    }

    /// Lays out lanes side by side in `width`, node tiles flowing left to right in each lane.
    fn layout(&self, snapshot: &Arc<ClusterSnapshot>, width: f32) -> Layout {
        let mut items = Vec::new();
        let lanes = snapshot.lanes.len().max(1) as f32;
        let lane_width =
            ((width - LANE_GAP * (lanes - 1.0)) / lanes).max(TILE_WIDTH + 2.0 * PADDING);
        let mut bottom: f32 = 0.0;
        let mut columns = Vec::new();
        for (li, lane) in snapshot.lanes.iter().enumerate() {
            let x0 = li as f32 * (lane_width + LANE_GAP);
            let mut y = 0.0;
            items.push(Placed {
                rect: Rect::from_min_size(Pos2::new(x0, y), Vec2::new(lane_width, 32.0)),
                item: Item::LaneHeader {
                    os: lane.os.clone(),
                    nodes: lane.node_count(),
                },
            });
            y += 40.0;
            for (gi, group) in lane.groups.iter().enumerate() {
                items.push(Placed {
                    rect: Rect::from_min_size(Pos2::new(x0, y), Vec2::new(lane_width, 22.0)),
                    item: Item::GroupHeader {
                        name: group.name.clone(),
                        nodes: group.nodes.len(),
                    },
                });
                y += 26.0;
                let per_row = ((lane_width + GAP * 2.0) / (TILE_WIDTH + GAP * 2.0))
                    .floor()
                    .max(1.0) as usize;
                for row in group.nodes.chunks(per_row).enumerate() {
                    let (ri, nodes) = row;
                    let mut row_height: f32 = 0.0;
                    for (ci, node) in nodes.iter().enumerate() {
                        let shown = self.visible(&node.pods).count();
                        let h = tile_height(node, shown);
                        row_height = row_height.max(h);
                        items.push(Placed {
                            rect: Rect::from_min_size(
                                Pos2::new(x0 + ci as f32 * (TILE_WIDTH + 2.0 * GAP), y),
                                Vec2::new(TILE_WIDTH, h),
                            ),
                            item: Item::Tile {
                                lane: li,
                                group: gi,
                                node: ri * per_row + ci,
                            },
                        });
                    }
                    y += row_height + 2.0 * GAP;
                }
                y += 10.0;
            }
            if lane.node_count() == 0 {
                y += 24.0;
            }
            columns.push((
                lane.os.clone(),
                Rect::from_min_size(Pos2::new(x0, 0.0), Vec2::new(lane_width, y.max(120.0))),
            ));
            bottom = bottom.max(y);
        }
        let unscheduled: Vec<usize> = snapshot
            .unscheduled
            .iter()
            .enumerate()
            .filter(|(_, p)| self.namespace.as_deref().is_none_or(|n| p.namespace == n))
            .map(|(i, _)| i)
            .collect();
        if !unscheduled.is_empty() {
            let mut y = bottom + 16.0;
            items.push(Placed {
                rect: Rect::from_min_size(Pos2::new(0.0, y), Vec2::new(width, 26.0)),
                item: Item::UnscheduledHeader {
                    pods: unscheduled.len(),
                },
            });
            y += 30.0;
            for index in unscheduled {
                items.push(Placed {
                    rect: Rect::from_min_size(Pos2::new(0.0, y), Vec2::new(width.min(900.0), 20.0)),
                    item: Item::Unscheduled { index },
                });
                y += 22.0;
            }
            bottom = y;
        }
        Layout {
            snapshot: snapshot.clone(),
            width,
            items,
            size: Vec2::new(width, bottom),
            lanes: columns,
        }
    }

    /// Zooms (out only) so the whole board fits the last viewport, and resets the pan.
    pub fn fit(&mut self) {
        self.pan = Vec2::ZERO;
        self.zoom = match &self.layout {
            Some(layout) if layout.size.x > 0.0 && layout.size.y > 0.0 && self.viewport.y > 0.0 => {
                ((self.viewport.x - 2.0 * PADDING) / layout.size.x)
                    .min((self.viewport.y - 2.0 * PADDING) / layout.size.y)
                    .clamp(0.1, 1.0)
            }
            _ => 1.0,
        };
    }

    /// Draws the board; `stale` greys it (the cluster stopped answering). With a migration
    /// `plan`, the services it names are chips that can be dragged between the lanes.
    pub fn draw(
        &mut self,
        ui: &mut egui::Ui,
        snapshot: &Arc<ClusterSnapshot>,
        stale: bool,
        plan: Option<&MigrationPlan>,
    ) -> BoardResponse {
        let mut out = BoardResponse::default();
        let (viewport, background) =
            ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        self.viewport = viewport.size();
        // Pan by dragging or scrolling; zoom with Ctrl+wheel or pinch, around the pointer.
        if background.dragged() {
            self.pan += background.drag_delta();
        }
        if ui.rect_contains_pointer(viewport) {
            let (zoom_delta, scroll) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta));
            if zoom_delta != 1.0 {
                let pointer = ui
                    .input(|i| i.pointer.hover_pos())
                    .unwrap_or(viewport.center());
                let before = (pointer - viewport.min - self.pan) / self.zoom;
                self.zoom = (self.zoom * zoom_delta).clamp(0.1, 4.0);
                self.pan = pointer - viewport.min - before * self.zoom;
            } else {
                self.pan += scroll;
            }
        }
        let width = viewport.width() - 2.0 * PADDING;
        let rebuild = self
            .layout
            .as_ref()
            .is_none_or(|l| !Arc::ptr_eq(&l.snapshot, snapshot) || (l.width - width).abs() > 1.0);
        if rebuild {
            self.layout = Some(self.layout(snapshot, width));
        }
        let Some(layout) = self.layout.take() else {
            return out;
        };
        let painter = ui.painter_at(viewport);
        let origin = viewport.min + Vec2::splat(PADDING) + self.pan;
        let zoom = self.zoom;
        let to_screen =
            |r: Rect| Rect::from_min_size(origin + r.min.to_vec2() * zoom, r.size() * zoom);
        let font = |size: f32| FontId::proportional((size * zoom).max(1.0));
        let text_color = ui.visuals().text_color();
        let weak = ui.visuals().weak_text_color();
        let query = self.search.trim().to_owned();
        let dragging = egui::DragAndDrop::payload::<MoveRequest>(ui.ctx()).map(|r| (*r).clone());
        for placed in &layout.items {
            let rect = to_screen(placed.rect);
            if !viewport.intersects(rect) {
                continue;
            }
            match &placed.item {
                Item::LaneHeader { os, nodes } => {
                    painter.rect_filled(
                        rect,
                        CornerRadius::same(6),
                        lane_color(os).gamma_multiply(0.25),
                    );
                    painter.text(
                        rect.left_center() + Vec2::new(10.0 * zoom, 0.0),
                        Align2::LEFT_CENTER,
                        format!("{}  ·  {nodes} nodes", os.title()),
                        font(18.0),
                        text_color,
                    );
                    let response = ui.interact(
                        rect,
                        ui.scope_id().with(("lane", os.label())),
                        Sense::hover(),
                    );
                    let title = os.title();
                    response.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Label, true, title.clone())
                    });
                    if *nodes == 0 && rect.height() > 0.0 {
                        painter.text(
                            rect.left_bottom() + Vec2::new(10.0 * zoom, 24.0 * zoom),
                            Align2::LEFT_CENTER,
                            "no nodes",
                            font(13.0),
                            weak,
                        );
                    }
                }
                Item::GroupHeader { name, nodes } => {
                    painter.text(
                        rect.left_center(),
                        Align2::LEFT_CENTER,
                        format!("node group {name} ({nodes})"),
                        font(13.0),
                        weak,
                    );
                }
                Item::Tile { lane, group, node } => {
                    let tile = &layout.snapshot.lanes[*lane].groups[*group].nodes[*node];
                    self.paint_tile(ui, &painter, rect, tile, zoom, &query, &mut out);
                    if let (Some(request), Some(plan)) = (&dragging, plan) {
                        paint_tile_verdict(
                            &painter,
                            rect,
                            zoom,
                            tile,
                            request,
                            plan,
                            &layout.snapshot,
                        );
                    }
                }
                Item::UnscheduledHeader { pods } => {
                    painter.rect_filled(
                        rect,
                        CornerRadius::same(6),
                        state_color(PodState::Pending).gamma_multiply(0.25),
                    );
                    painter.text(
                        rect.left_center() + Vec2::new(10.0 * zoom, 0.0),
                        Align2::LEFT_CENTER,
                        format!("Unscheduled  ·  {pods} pods"),
                        font(15.0),
                        text_color,
                    );
                    let response =
                        ui.interact(rect, ui.scope_id().with("unscheduled"), Sense::hover());
                    response.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Label, true, "Unscheduled")
                    });
                }
                Item::Unscheduled { index } => {
                    let pod = &layout.snapshot.unscheduled[*index];
                    let square = Rect::from_min_size(
                        rect.min + Vec2::new(4.0 * zoom, 4.0 * zoom),
                        Vec2::splat(SQUARE * zoom),
                    );
                    let faded = !pod.matches(&query);
                    painter.rect_filled(
                        square,
                        CornerRadius::same(2),
                        fade(state_color(pod.state), faded),
                    );
                    let reason = pod
                        .message
                        .clone()
                        .or(pod.reason.clone())
                        .unwrap_or_else(|| pod.phase.clone());
                    painter.text(
                        square.right_center() + Vec2::new(6.0 * zoom, 0.0),
                        Align2::LEFT_CENTER,
                        format!("{}/{} — {reason}", pod.namespace, pod.name),
                        font(12.0),
                        fade(text_color, faded),
                    );
                    let response = ui.interact(
                        rect,
                        ui.scope_id().with(("unscheduled", pod.key())),
                        Sense::click(),
                    );
                    pod_interaction(&response, pod, &mut out);
                }
            }
        }
        if let (Some(request), Some(plan)) = (&dragging, plan) {
            let pointer = ui.input(|i| i.pointer.interact_pos());
            let released = ui.input(|i| i.pointer.any_released());
            for (os, column) in &layout.lanes {
                // A lane takes a drop anywhere in its column, down to the board's bottom edge.
                let mut rect = to_screen(*column);
                rect.max.y = rect.max.y.max(viewport.max.y - 4.0);
                let verdict = lane_verdict(request, os, plan, &layout.snapshot);
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
        if stale {
            painter.rect_filled(
                viewport,
                CornerRadius::ZERO,
                ui.visuals().panel_fill.gamma_multiply(0.55),
            );
        }
        self.layout = Some(layout);
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn paint_tile(
        &self,
        ui: &egui::Ui,
        painter: &egui::Painter,
        rect: Rect,
        tile: &NodeTile,
        zoom: f32,
        query: &str,
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
        if zoom < 0.35 {
            // Far out, a tile is a coloured block: its pods' share of capacity.
            return;
        }
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
        let line = format!(
            "{} · {ready} · pods {}/{}",
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
        for (i, (used, total, label)) in [
            (
                tile.cpu_requested_millis,
                tile.cpu_allocatable_millis,
                "cpu",
            ),
            (
                tile.memory_requested_bytes,
                tile.memory_allocatable_bytes,
                "mem",
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
        }
        y = rect.top() + TILE_HEADER * zoom;
        let per_row = squares_per_row();
        let shown: Vec<&PodPlacement> = self.visible(&tile.pods).collect();
        for (i, pod) in shown.iter().enumerate() {
            let (row, col) = (i / per_row, i % per_row);
            let square = Rect::from_min_size(
                Pos2::new(
                    x + col as f32 * (SQUARE + GAP) * zoom,
                    y + row as f32 * (SQUARE + GAP) * zoom,
                ),
                Vec2::splat(SQUARE * zoom),
            );
            let faded = !pod.matches(query);
            painter.rect_filled(
                square,
                CornerRadius::same(2),
                fade(state_color(pod.state), faded),
            );
            if pod.os_mismatch {
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
                let galley =
                    painter.layout_no_wrap(label.clone(), font(10.5), visuals.strong_text_color());
                let width = galley.size().x + 12.0 * zoom;
                if cx + width > rect.right() - PADDING * zoom && cx > x {
                    cx = x;
                    y += (CHIP_HEIGHT + GAP) * zoom;
                }
                let chip =
                    Rect::from_min_size(Pos2::new(cx, y), Vec2::new(width, CHIP_HEIGHT * zoom));
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
                let request = MoveRequest {
                    service: label.clone(),
                    direction,
                };
                let text = match direction {
                    Direction::Extract => format!("{label} (in-process in {})", pod.name),
                    Direction::Return => format!("{label} (moved out, served by {})", pod.name),
                };
                response.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::Button, true, text.clone())
                });
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
}

/// Whether the lane of `os` takes the dragged service, or why not.
fn lane_verdict(
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
fn paint_tile_verdict(
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
    let (color, words) = match placement::fit(&tile.facts(), spec) {
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

impl Panel for BoardView {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, commands: &mut Vec<Command>) {
        let snapshot = state.snapshot.clone();
        if snapshot.nodes().next().is_none() {
            match &state.status {
                ConnectionStatus::Failed { error, .. } => {
                    ui.colored_label(state_color(PodState::Failing), error);
                }
                ConnectionStatus::Connecting { stage, .. } => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(stage);
                    });
                }
                _ => {
                    ui.label("Waiting for the cluster…");
                }
            }
            return;
        }
        if state.stale() {
            ui.colored_label(
                state_color(PodState::Pending),
                "reconnecting… showing the last known state",
            );
        }
        let response = self.draw(ui, &snapshot, state.stale(), Some(&state.plan));
        if let Some(request) = response.move_request {
            commands.push(Command::PlanMove {
                service: request.service,
                direction: request.direction,
            });
        }
        if let Some(pod) = response.selected {
            commands.push(Command::SelectPod(Some(pod)));
        }
    }
}

impl BoardView {
    /// The board's controls for the top bar: namespace filter, search, zoom, and the counts.
    pub fn toolbar(
        &mut self,
        ui: &mut egui::Ui,
        state: &ConsoleState,
        commands: &mut Vec<Command>,
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
        ui.add(
            egui::TextEdit::singleline(&mut self.search)
                .hint_text("search name or label")
                .desired_width(180.0),
        );
        if ui
            .button("−")
            .on_hover_text("Zoom out (Ctrl+wheel)")
            .clicked()
        {
            self.zoom = (self.zoom / 1.25).max(0.1);
        }
        ui.label(format!("{:.0}%", self.zoom * 100.0));
        if ui
            .button("+")
            .on_hover_text("Zoom in (Ctrl+wheel)")
            .clicked()
        {
            self.zoom = (self.zoom * 1.25).min(4.0);
        }
        if ui.button("Fit").clicked() {
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
            commands.push(Command::EventsNamespace(namespace));
        }
    }
}

fn fade(color: Color32, faded: bool) -> Color32 {
    if faded {
        color.gamma_multiply(0.18)
    } else {
        color
    }
}

fn pod_interaction(response: &egui::Response, pod: &PodPlacement, out: &mut BoardResponse) {
    let label = format!("pod {}", pod.name);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, label.clone()));
    if response.clicked() {
        out.selected = Some((pod.namespace.clone(), pod.name.clone()));
    }
    response.clone().on_hover_ui(|ui| {
        ui.strong(&pod.name);
        ui.label(format!("namespace {}", pod.namespace));
        let status = match &pod.reason {
            Some(r) => format!("{} ({r})", pod.phase),
            None => pod.phase.clone(),
        };
        ui.label(format!("status {status}"));
        if let Some(m) = &pod.message {
            ui.label(m);
        }
        ui.label(format!("restarts {}", pod.restarts));
        ui.label(format!("IP {}", pod.ip.as_deref().unwrap_or("none")));
        if pod.os_mismatch {
            ui.colored_label(
                state_color(PodState::Failing),
                "The image has no build for this node's operating system.",
            );
        }
    });
}
