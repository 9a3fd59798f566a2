//! The board: Windows and Linux lanes side by side, node groups, node tiles with their pods as
//! small squares (kube-ops-view style), the monolith's in-process services as chips. Painted by
//! hand so only what is on screen costs anything; zoom with Ctrl+wheel or pinch, pan by dragging.
//!
//! Level of detail: zoomed in, a node is a tile with its pods as squares ([`tile`]); zoomed out,
//! a compact cell coloured by health and pressure, under a summary line per node group
//! ([`overview`]). Problems (a NotReady node, a failing pod) show at every zoom.

mod layout;
mod overview;
mod tile;

use std::collections::HashMap;
use std::sync::Arc;

use egui::{Align2, Color32, CornerRadius, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};

use self::layout::{Item, Layout, PADDING, SQUARE};
use super::migration::MoveRequest;
use super::{ConsoleState, Panel};
use crate::model::fit;
use crate::model::moves::Direction;
use crate::model::{
    ClusterSnapshot, MigrationPlan, NodeOs, NodeTile, PodPlacement, PodState, Pressure, Search,
};
use crate::protocol::{Command, ConnectionStatus};

/// Below this zoom a node is drawn as a compact cell: a tile's words would be under 4 px.
const COMPACT_BELOW: f32 = 0.35;
/// The largest zoom.
const MAX_ZOOM: f32 = 4.0;

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
    ) -> BoardResponse {
        let mut out = BoardResponse::default();
        let (viewport, background) =
            ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        self.viewport = viewport;
        let rebuild = self
            .layout
            .as_ref()
            .is_none_or(|l| !l.serves(snapshot, viewport.size(), self.namespace.as_deref()));
        if rebuild {
            let keep = self.layout.as_ref().and_then(|l| {
                l.keeps_width_for(snapshot, viewport.size(), self.namespace.as_deref())
            });
            self.layout = Some(Layout::new(
                snapshot,
                self.namespace.clone(),
                viewport.size(),
                keep,
            ));
            // A cluster too big for the window opens fitted: all of it, zoomed out.
            if !self.fitted && self.layout.as_ref().is_some_and(|l| l.fit_zoom() < 1.0) {
                self.fitted = true;
                self.fit();
            }
        }
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
                self.zoom = (self.zoom * zoom_delta).clamp(self.min_zoom(), MAX_ZOOM);
                self.pan = pointer - viewport.min - before * self.zoom;
            } else {
                self.pan += scroll;
            }
        }
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
        let painter = ui.painter_at(viewport);
        let origin = viewport.min + Vec2::splat(PADDING) + self.pan;
        let zoom = self.zoom;
        let to_screen =
            |r: Rect| Rect::from_min_size(origin + r.min.to_vec2() * zoom, r.size() * zoom);
        let font = |size: f32| FontId::proportional((size * zoom).max(1.0));
        let text_color = ui.visuals().text_color();
        let dragging = egui::DragAndDrop::payload::<MoveRequest>(ui.ctx()).map(|r| (*r).clone());
        let compact = zoom < COMPACT_BELOW;
        let mut group_index = 0;
        // Zooming to a clicked group waits until the layout is back in place (the zoom's
        // lower bound is read from it).
        let mut focus_group = None;
        for (index, placed) in layout.items.iter().enumerate() {
            if matches!(placed.item, Item::GroupHeader { .. }) {
                group_index += 1;
            }
            let rect = to_screen(placed.rect);
            if !viewport.intersects(rect) {
                continue;
            }
            match &placed.item {
                Item::LaneHeader { lane } => {
                    let lane = &layout.snapshot.lanes[*lane];
                    overview::paint_lane_header(ui, &painter, rect, lane, zoom);
                }
                Item::GroupHeader { lane, group } => {
                    let name = &layout.snapshot.lanes[*lane].groups[*group].name;
                    let summary = &layout.summaries[group_index - 1];
                    let clicked =
                        overview::paint_group_header(ui, &painter, rect, name, summary, zoom);
                    if clicked {
                        focus_group = Some(layout.groups[group_index - 1].1);
                    }
                }
                Item::Tile { lane, group, node } => {
                    let tile = &layout.snapshot.lanes[*lane].groups[*group].nodes[*node];
                    let hit = hits.as_ref().map(|h| h[index]);
                    if compact {
                        overview::paint_cell(
                            ui,
                            &painter,
                            rect,
                            tile,
                            &layout.cells[index],
                            self.pressure,
                            hit,
                        );
                    } else {
                        tile::paint(
                            ui,
                            &painter,
                            rect,
                            tile,
                            zoom,
                            &search,
                            self.namespace.as_deref(),
                            &mut out,
                        );
                    }
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
                    let more = pods.saturating_sub(layout::UNSCHEDULED_LISTED);
                    let words = if more > 0 {
                        format!(
                            "Unscheduled  ·  {pods} pods (the first {} listed)",
                            layout::UNSCHEDULED_LISTED
                        )
                    } else {
                        format!("Unscheduled  ·  {pods} pods")
                    };
                    painter.text(
                        rect.left_center() + Vec2::new(10.0 * zoom, 0.0),
                        Align2::LEFT_CENTER,
                        words,
                        FontId::proportional((15.0 * zoom).max(11.0)),
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
                    let faded = !search.finds(pod);
                    painter.rect_filled(
                        square,
                        CornerRadius::same(2),
                        fade(state_color(pod.state), faded),
                    );
                    if !compact {
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
                    }
                    let response = ui.interact(
                        rect,
                        ui.scope_id().with(("unscheduled", pod.key())),
                        Sense::click(),
                    );
                    pod_interaction(&response, pod, &mut out);
                }
            }
        }
        if compact
            && background.hovered()
            && let Some(pointer) = ui.input(|i| i.pointer.hover_pos())
            && let Some((_, tile)) = layout.tile_at(((pointer - origin) / zoom).to_pos2())
        {
            // Far out, one lookup under the pointer names the node instead of a hover area
            // per cell.
            let tile = tile.clone();
            background
                .clone()
                .on_hover_ui_at_pointer(|ui| overview::node_tooltip(ui, &tile));
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
        if let Some(area) = focus_group {
            self.focus_area(area);
        }
        out
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
        if let Some(banner) = state.stale_banner() {
            ui.colored_label(state_color(PodState::Pending), banner);
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

#[cfg(test)]
mod tests;
