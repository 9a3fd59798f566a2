//! The board: Windows and Linux lanes side by side, node groups, node tiles with their pods as
//! small squares (kube-ops-view style), the monolith's in-process services as chips. Painted by
//! hand so only what is on screen costs anything; zoom with Ctrl+wheel or pinch, pan by dragging.
//!
//! Level of detail: zoomed in, a node is a tile with its pods as squares ([`tile`]); zoomed out,
//! a compact cell coloured by health and pressure, under a summary line per node group
//! ([`overview`]). Problems (a NotReady node, a failing pod) show at every zoom.

mod drag;
mod layout;
mod overview;
mod paint;
mod tile;
mod toolbar;

use std::collections::HashMap;
use std::sync::Arc;

use egui::{Align2, CornerRadius, FontId, Pos2, Rect, Sense, Vec2};

use self::layout::{Item, Layout, PADDING, SQUARE};
use self::paint::{BoardResponse, fade, pod_interaction, state_color};
use super::{ConsoleState, MoveRequest, Panel, Request};
use crate::model::cost::CostReport;
use crate::model::{
    ClusterSnapshot, MigrationPlan, NodeTile, PodPlacement, PodState, Pressure, Search,
};
use crate::protocol::{Command, ConnectionStatus};

/// Below this zoom a node is drawn as a compact cell: a tile's words would be under 4 px.
const COMPACT_BELOW: f32 = 0.35;
/// The largest zoom.
const MAX_ZOOM: f32 = 4.0;

/// The board panel: its zoom, pan, filter and cached layout.
pub struct BoardView {
    /// Zoom factor (1 = 100 %).
    pub zoom: f32,
    /// Pan offset in screen points.
    pub pan: Vec2,
    /// Search text: non-matching pods fade; a new search zooms to its first match.
    pub search: String,
    /// Only this namespace's pods show (None: all).
    pub namespace: Option<String>,
    /// What zoomed-out node cells are coloured by.
    pub pressure: Pressure,
    layout: Option<Layout>,
    /// Where the board was last drawn, on screen.
    viewport: Rect,
    /// The search changed: zoom to its first match once the layout is there.
    search_moved: bool,
    /// The board has been fitted once for a cluster too big for the window.
    fitted: bool,
    /// Which tiles match the search: computed when the search or the layout changes, not every
    /// frame, and then only for the tiles that changed.
    hits: Option<SearchHits>,
}

/// The tiles a search found, for one layout.
struct SearchHits {
    search: Search,
    namespace: Option<String>,
    /// The snapshot the layout was built from (by address; the layout holds it).
    snapshot: usize,
    /// By item index.
    hits: Vec<bool>,
    /// By tile: a tile the next snapshot shares (its node and pods unchanged) is not looked
    /// through again. The tile is held so that its address cannot be reused by another.
    tiles: HashMap<usize, (Arc<NodeTile>, bool)>,
}

impl Default for BoardView {
    fn default() -> Self {
        BoardView {
            zoom: 1.0,
            pan: Vec2::ZERO,
            search: String::new(),
            namespace: None,
            pressure: Pressure::default(),
            layout: None,
            viewport: Rect::NOTHING,
            search_moved: false,
            fitted: false,
            hits: None,
        }
    }
}

impl BoardView {
    /// The smallest zoom: enough to see the whole board, and 10 % at least for small ones.
    fn min_zoom(&self) -> f32 {
        self.layout
            .as_ref()
            .map_or(0.1, |l| l.fit_zoom().min(0.1))
            .max(0.005)
    }

    /// Zooms (out only) so the whole board fits the last viewport, and resets the pan.
    pub fn fit(&mut self) {
        self.pan = Vec2::ZERO;
        self.zoom = self.layout.as_ref().map_or(1.0, Layout::fit_zoom);
    }

    /// Zooms to `zoom` with the board rectangle `target` in the middle of the viewport.
    fn focus(&mut self, target: Rect, zoom: f32) {
        self.zoom = zoom.clamp(self.min_zoom(), MAX_ZOOM);
        self.pan = self.viewport.size() / 2.0
            - Vec2::splat(PADDING)
            - target.center().to_vec2() * self.zoom;
    }

    /// Zooms so that `target` (a node group's area) fills the viewport, at most to 100 %.
    fn focus_area(&mut self, target: Rect) {
        let room = self.viewport.size() - Vec2::splat(2.0 * PADDING);
        let zoom = (room.x / target.width())
            .min(room.y / target.height())
            .min(1.0);
        self.focus(target, zoom);
    }

    /// The tiles matching the search (by item index), recomputed only when the search or the
    /// layout changed, and then only for tiles not shared with the layout before.
    fn search_hits(&mut self, layout: &Layout, search: &Search) -> Option<&[bool]> {
        if search.is_empty() {
            self.hits = None;
            return None;
        }
        let snapshot = Arc::as_ptr(&layout.snapshot) as usize;
        let namespace = self.namespace.as_deref();
        let previous = self
            .hits
            .take()
            .filter(|h| &h.search == search && h.namespace.as_deref() == namespace);
        let current = previous
            .as_ref()
            .is_some_and(|h| h.snapshot == snapshot && h.hits.len() == layout.items.len());
        if current {
            self.hits = previous;
        } else {
            let known = previous.map(|h| h.tiles).unwrap_or_default();
            let mut tiles = HashMap::with_capacity(known.len());
            let hits = layout
                .items
                .iter()
                .map(|placed| {
                    let Some(tile) = layout.tile(&placed.item) else {
                        return false;
                    };
                    let key = Arc::as_ptr(tile) as usize;
                    let hit = match known.get(&key) {
                        Some((_, hit)) => *hit,
                        None => layout.tile_matches(tile, search),
                    };
                    tiles.insert(key, (tile.clone(), hit));
                    hit
                })
                .collect();
            self.hits = Some(SearchHits {
                search: search.clone(),
                namespace: namespace.map(str::to_owned),
                snapshot,
                hits,
                tiles,
            });
        }
        self.hits.as_ref().map(|h| h.hits.as_slice())
    }

    /// Draws the board; `stale` greys it (the cluster stopped answering). With a migration
    /// `plan`, the services it names are chips that can be dragged between the lanes.
    pub fn draw(
        &mut self,
        ui: &mut egui::Ui,
        snapshot: &Arc<ClusterSnapshot>,
        stale: bool,
        plan: Option<&MigrationPlan>,
        costs: Option<&CostReport>,
    ) -> BoardResponse {
        let mut out = BoardResponse::default();
        let (viewport, background) =
            ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        self.viewport = viewport;
        self.lay_out(snapshot, viewport.size());
        self.navigate(ui, viewport, &background);
        let search = Search::new(&self.search);
        if std::mem::take(&mut self.search_moved)
            && let Some(target) = self.layout.as_ref().and_then(|l| l.first_match(&search))
        {
            let zoom = self.zoom.max(1.0);
            self.focus(target, zoom);
        }
        let Some(layout) = self.layout.take() else {
            return out;
        };
        let hits: Option<Vec<bool>> = self.search_hits(&layout, &search).map(<[bool]>::to_vec);
        let view = View {
            painter: ui.painter_at(viewport),
            viewport,
            origin: viewport.min + Vec2::splat(PADDING) + self.pan,
            zoom: self.zoom,
        };
        let dragging = egui::DragAndDrop::payload::<MoveRequest>(ui.ctx()).map(|r| (*r).clone());
        let drag = dragging.as_ref().zip(plan);
        // Zooming to a clicked group waits until the layout is back in place (the zoom's
        // lower bound is read from it).
        let focus_group = self.paint_items(
            ui,
            &view,
            &layout,
            hits.as_deref(),
            &search,
            drag,
            costs,
            &mut out,
        );
        if view.compact()
            && background.hovered()
            && let Some(pointer) = ui.input(|i| i.pointer.hover_pos())
            && let Some((_, tile)) = layout.tile_at(((pointer - view.origin) / view.zoom).to_pos2())
        {
            // Far out, one lookup under the pointer names the node instead of a hover area
            // per cell.
            let tile = tile.clone();
            background
                .clone()
                .on_hover_ui_at_pointer(|ui| overview::node_tooltip(ui, &tile));
        }
        if let Some((request, plan)) = drag {
            let lanes = layout
                .lanes
                .iter()
                .map(|(os, column)| (os, view.to_screen(*column)));
            drag::paint_drop_targets(
                ui,
                &view.painter,
                viewport,
                lanes,
                request,
                plan,
                &layout.snapshot,
                &mut out,
            );
        }
        if stale {
            view.painter.rect_filled(
                viewport,
                CornerRadius::ZERO,
                ui.visuals().panel_fill.gamma_multiply(0.55),
            );
        }
        self.layout = Some(layout);
        if let Some(area) = focus_group {
            self.focus_area(area);
        }
        out
    }

    /// Lays the board out again when the snapshot, the window's size or the namespace filter
    /// changed (keeping the lanes' widths when only pods moved).
    fn lay_out(&mut self, snapshot: &Arc<ClusterSnapshot>, size: Vec2) {
        let namespace = self.namespace.as_deref();
        if self
            .layout
            .as_ref()
            .is_some_and(|l| l.serves(snapshot, size, namespace))
        {
            return;
        }
        let keep = self
            .layout
            .as_ref()
            .and_then(|l| l.keeps_width_for(snapshot, size, namespace));
        self.layout = Some(Layout::new(snapshot, self.namespace.clone(), size, keep));
        // A cluster too big for the window opens fitted: all of it, zoomed out.
        if !self.fitted && self.layout.as_ref().is_some_and(|l| l.fit_zoom() < 1.0) {
            self.fitted = true;
            self.fit();
        }
    }

    /// Pan by dragging or scrolling; zoom with Ctrl+wheel or pinch, around the pointer.
    fn navigate(&mut self, ui: &egui::Ui, viewport: Rect, background: &egui::Response) {
        if background.dragged() {
            self.pan += background.drag_delta();
        }
        if !ui.rect_contains_pointer(viewport) {
            return;
        }
        let (zoom_delta, scroll) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta));
        if zoom_delta != 1.0 {
            let pointer = ui
                .input(|i| i.pointer.hover_pos())
                .unwrap_or(viewport.center());
            let before = (pointer - viewport.min - self.pan) / self.zoom;
            self.zoom = (self.zoom * zoom_delta).clamp(self.min_zoom(), MAX_ZOOM);
            self.pan = pointer - viewport.min - before * self.zoom;
        } else {
            self.pan += scroll;
        }
    }

    /// Paints every item on screen: lane and group headers, tiles (or cells), the unscheduled
    /// pods; returns the group whose summary was clicked.
    #[allow(clippy::too_many_arguments)]
    fn paint_items(
        &self,
        ui: &mut egui::Ui,
        view: &View,
        layout: &Layout,
        hits: Option<&[bool]>,
        search: &Search,
        drag: Option<(&MoveRequest, &MigrationPlan)>,
        costs: Option<&CostReport>,
        out: &mut BoardResponse,
    ) -> Option<Rect> {
        let mut group_index = 0;
        let mut focus_group = None;
        for (index, placed) in layout.items.iter().enumerate() {
            if matches!(placed.item, Item::GroupHeader { .. }) {
                group_index += 1;
            }
            let rect = view.to_screen(placed.rect);
            if !view.viewport.intersects(rect) {
                continue;
            }
            match &placed.item {
                Item::LaneHeader { lane } => {
                    let lane = &layout.snapshot.lanes[*lane];
                    let cost = costs.and_then(|c| c.lane(&lane.os));
                    overview::paint_lane_header(ui, &view.painter, rect, lane, cost, view.zoom);
                }
                Item::GroupHeader { lane, group } => {
                    let name = &layout.snapshot.lanes[*lane].groups[*group].name;
                    let summary = &layout.summaries[group_index - 1];
                    let clicked = overview::paint_group_header(
                        ui,
                        &view.painter,
                        rect,
                        name,
                        summary,
                        costs.and_then(|c| c.group(name)),
                        view.zoom,
                    );
                    if clicked {
                        focus_group = Some(layout.groups[group_index - 1].1);
                    }
                }
                Item::Tile { lane, group, node } => {
                    let tile = &layout.snapshot.lanes[*lane].groups[*group].nodes[*node];
                    if view.compact() {
                        overview::paint_cell(
                            ui,
                            &view.painter,
                            rect,
                            tile,
                            &layout.cells[index],
                            self.pressure,
                            hits.map(|h| h[index]),
                        );
                    } else {
                        tile::paint(
                            ui,
                            &view.painter,
                            rect,
                            tile,
                            view.zoom,
                            search,
                            self.namespace.as_deref(),
                            in_transit(&layout.snapshot),
                            out,
                        );
                    }
                    if let Some((request, plan)) = drag {
                        drag::paint_tile_verdict(
                            &view.painter,
                            rect,
                            view.zoom,
                            tile,
                            request,
                            plan,
                            &layout.snapshot,
                        );
                    }
                }
                Item::UnscheduledHeader { pods } => {
                    paint_unscheduled_header(ui, view, rect, *pods);
                }
                Item::Unscheduled { index } => {
                    let pod = &layout.snapshot.unscheduled[*index];
                    paint_unscheduled_pod(ui, view, rect, pod, search, out);
                }
            }
        }
        focus_group
    }
}

/// Where the board is painted this frame, and how layout points map to the screen.
struct View {
    painter: egui::Painter,
    viewport: Rect,
    origin: Pos2,
    zoom: f32,
}

impl View {
    /// A layout rectangle on screen.
    fn to_screen(&self, r: Rect) -> Rect {
        Rect::from_min_size(
            self.origin + r.min.to_vec2() * self.zoom,
            r.size() * self.zoom,
        )
    }

    /// Zoomed out, nodes are compact cells.
    fn compact(&self) -> bool {
        self.zoom < COMPACT_BELOW
    }
}

/// The heading of the pods no node took.
fn paint_unscheduled_header(ui: &mut egui::Ui, view: &View, rect: Rect, pods: usize) {
    view.painter.rect_filled(
        rect,
        CornerRadius::same(6),
        state_color(PodState::Pending).gamma_multiply(0.25),
    );
    let more = pods.saturating_sub(layout::UNSCHEDULED_LISTED);
    let words = if more > 0 {
        format!(
            "Unscheduled  ·  {pods} pods (the first {} listed)",
            layout::UNSCHEDULED_LISTED
        )
    } else {
        format!("Unscheduled  ·  {pods} pods")
    };
    view.painter.text(
        rect.left_center() + Vec2::new(10.0 * view.zoom, 0.0),
        Align2::LEFT_CENTER,
        &words,
        FontId::proportional((15.0 * view.zoom).max(11.0)),
        ui.visuals().text_color(),
    );
    let response = ui.interact(rect, ui.scope_id().with("unscheduled"), Sense::hover());
    // A screen reader hears the count, as the eye reads it.
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &words));
}

/// One pod no node took: its square, and (zoomed in) why it waits.
fn paint_unscheduled_pod(
    ui: &mut egui::Ui,
    view: &View,
    rect: Rect,
    pod: &PodPlacement,
    search: &Search,
    out: &mut BoardResponse,
) {
    let zoom = view.zoom;
    let square = Rect::from_min_size(
        rect.min + Vec2::new(4.0 * zoom, 4.0 * zoom),
        Vec2::splat(SQUARE * zoom),
    );
    let faded = !search.finds(pod);
    view.painter.rect_filled(
        square,
        CornerRadius::same(2),
        fade(state_color(pod.state), faded),
    );
    if !view.compact() {
        let reason = pod
            .message
            .clone()
            .or(pod.reason.clone())
            .unwrap_or_else(|| pod.phase.clone());
        view.painter.text(
            square.right_center() + Vec2::new(6.0 * zoom, 0.0),
            Align2::LEFT_CENTER,
            format!("{}/{} — {reason}", pod.namespace, pod.name),
            FontId::proportional((12.0 * zoom).max(1.0)),
            fade(ui.visuals().text_color(), faded),
        );
    }
    let response = ui.interact(
        rect,
        ui.scope_id().with(("unscheduled", pod.key())),
        Sense::click(),
    );
    pod_interaction(&response, pod, out);
}

impl Panel for BoardView {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>) {
        let snapshot = state.snapshot.clone();
        if snapshot.nodes().next().is_none() {
            match &state.status {
                ConnectionStatus::Failed { error, .. } => {
                    ui.colored_label(state_color(PodState::Failing), error.to_string());
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
        if let Some(banner) = state.stale_banner() {
            ui.colored_label(state_color(PodState::Pending), banner);
        }
        let response = self.draw(
            ui,
            &snapshot,
            state.stale(),
            Some(&state.plan),
            Some(&state.costs.report),
        );
        if let Some(request) = response.move_request {
            requests.push(
                Command::PlanMove {
                    service: request.service,
                    direction: request.direction,
                    progressive: request.progressive,
                }
                .into(),
            );
        }
        if let Some(pod) = response.selected {
            requests.push(Command::SelectPod(Some(pod)).into());
        }
    }
}

#[cfg(test)]
mod tests;

/// The service a progressive move is sharing now, with the service's share in percent.
fn in_transit(snapshot: &ClusterSnapshot) -> Option<(&str, u8)> {
    let record = snapshot.topology.as_ref()?.moving.as_ref()?;
    Some((record.service.as_str(), record.share?))
}
