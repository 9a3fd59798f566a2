//! The board zoomed out: lane headers and node-group summary lines that stay readable at any
//! zoom, and nodes as compact cells coloured by health and pressure, with problems marked so
//! that they are seen at every zoom.

use egui::{Align2, Color32, CornerRadius, FontId, Rect, Sense, Stroke, StrokeKind, Vec2};

use super::layout::Cell;
use super::paint::{lane_color, state_color};
use kube_units::windows_builds::WindowsBuild;

use crate::model::cost::{CostSource, GroupCost, LaneCost, dollars};
use crate::model::{GroupSummary, NodeTile, OsLane, PodState, Pressure};
use crate::ui::palette::WARN;

/// Words are never drawn smaller than this, whatever the zoom (the layout makes headers tall
/// enough at the zoom that fits the board).
const MIN_TEXT: f32 = 11.0;
/// A problem's mark is never smaller than this many points across.
const MIN_MARK: f32 = 5.0;

/// The lane's title and node count.
pub fn paint_lane_header(
    ui: &egui::Ui,
    painter: &egui::Painter,
    rect: Rect,
    lane: &OsLane,
    cost: Option<&LaneCost>,
    zoom: f32,
) {
    painter.rect_filled(
        rect,
        CornerRadius::same(6),
        lane_color(&lane.os).gamma_multiply(0.25),
    );
    let nodes = lane.node_count();
    let size = (18.0 * zoom).max(MIN_TEXT + 2.0).min(rect.height() * 0.8);
    let title = format!(
        "{}  ·  {nodes} nodes{}",
        lane.os.title(),
        cost.filter(|c| c.monthly > 0.0)
            .map(|c| format!(
                "  ·  {}{}/month",
                if c.source == CostSource::Estimate {
                    "≈ "
                } else {
                    ""
                },
                dollars(c.monthly)
            ))
            .unwrap_or_default()
    );
    let inset = 10.0 * zoom.max(0.5);
    let mut job = egui::text::LayoutJob::simple_singleline(
        title,
        FontId::proportional(size),
        ui.visuals().text_color(),
    );
    // A narrow lane's title is cut with an ellipsis rather than run into the next lane's.
    job.wrap = egui::text::TextWrapping::truncate_at_width((rect.width() - 2.0 * inset).max(0.0));
    let galley = painter.layout_job(job);
    let at = rect.left_center() + Vec2::new(inset, -galley.size().y / 2.0);
    painter.galley(at, galley, ui.visuals().text_color());
    let response = ui.interact(
        rect,
        ui.scope_id().with(("lane", lane.os.label())),
        Sense::hover(),
    );
    let title = lane.os.title();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, title.clone()));
    if nodes == 0 {
        painter.text(
            rect.left_bottom() + Vec2::new(10.0 * zoom, 24.0 * zoom),
            Align2::LEFT_CENTER,
            "no nodes",
            FontId::proportional((13.0 * zoom).max(MIN_TEXT)),
            ui.visuals().weak_text_color(),
        );
    }
}

/// The group's summary line; true when it was clicked (the board then zooms to the group).
pub fn paint_group_header(
    ui: &egui::Ui,
    painter: &egui::Painter,
    rect: Rect,
    name: &str,
    summary: &GroupSummary,
    cost: Option<&GroupCost>,
    zoom: f32,
) -> bool {
    let size = (13.0 * zoom).max(MIN_TEXT).min(rect.height().max(MIN_TEXT));
    let font = FontId::proportional(size);
    let visuals = ui.visuals();
    let (head, tail) = summary_parts(name, summary);
    let words = format!("{head}{tail}");
    let mut job = egui::text::LayoutJob::default();
    let plain = egui::TextFormat::simple(font.clone(), visuals.text_color());
    job.append(&head, 0.0, plain.clone());
    // Problems right after the group's name, so that a narrow lane's cut line still shows them.
    if summary.mixed_builds() {
        job.append(
            &format!("  ·  {} Windows builds", summary.windows_builds.len()),
            0.0,
            egui::TextFormat::simple(font.clone(), WARN),
        );
    }
    if summary.pods.failing > 0 {
        job.append(
            &format!("  ·  {} failing", summary.pods.failing),
            0.0,
            egui::TextFormat::simple(font.clone(), state_color(PodState::Failing)),
        );
    }
    let not_ready = summary.nodes - summary.ready;
    if not_ready > 0 {
        job.append(
            &format!("  ·  {not_ready} NotReady"),
            0.0,
            egui::TextFormat::simple(font.clone(), state_color(PodState::Failing)),
        );
    }
    let cost = cost.filter(|c| c.monthly > 0.0);
    if let Some(cost) = cost {
        let approx = if cost.source == CostSource::Estimate {
            "≈ "
        } else {
            ""
        };
        job.append(
            &format!("  ·  {approx}{}/month", dollars(cost.monthly)),
            0.0,
            plain.clone(),
        );
    }
    job.append(&tail, 0.0, plain);
    // A narrow lane's line is cut with an ellipsis rather than run into the next lane's.
    job.wrap = egui::text::TextWrapping::truncate_at_width(rect.width());
    let galley = painter.layout_job(job);
    let at = rect.left_center() - Vec2::new(0.0, galley.size().y / 2.0);
    let response = ui.interact(
        Rect::from_min_size(at, galley.size()),
        ui.scope_id().with(("group", name)),
        Sense::click(),
    );
    if response.hovered() {
        painter.rect_filled(
            Rect::from_min_size(at, galley.size()).expand(2.0),
            CornerRadius::same(3),
            visuals.widgets.hovered.weak_bg_fill,
        );
    }
    painter.galley(at, galley, visuals.text_color());
    let label = format!("node group {name}");
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, label.clone()));
    let mut hover = words;
    if summary.mixed_builds() {
        hover.push_str(&format!(
            "\nIts Windows nodes run different builds ({}): mid-upgrade, or mixed. A workload not pinned to one build may land where its image cannot start.",
            build_counts(summary)
        ));
    }
    if let Some(cost) = cost {
        hover.push_str(&format!("\nCost: {}", cost.basis));
        if let Some(licence) = cost.windows_licence_monthly {
            hover.push_str(&format!(
                "; of which Windows licences ≈ {}/month",
                dollars(licence)
            ));
        }
    }
    hover.push_str("\nClick to zoom to this node group.");
    response.on_hover_text(hover).clicked()
}

/// The summary line's name and size (`node group linux (4,500)`), and the rest (` · 4,500
/// Ready · pods 134,850 running, 12 starting · pods 75% · CPU req 41% · memory req 38%`).
fn summary_parts(name: &str, s: &GroupSummary) -> (String, String) {
    // One build for the whole group is said in the line; several are marked after the name.
    let build = match s.windows_builds.keys().collect::<Vec<_>>()[..] {
        [build] => format!(
            " · {}",
            build
                .tag_name()
                .map_or_else(|| build.to_string(), str::to_owned)
        ),
        _ => String::new(),
    };
    (
        format!("node group {name} ({})", s.nodes),
        format!(
            "{build} · {} Ready · pods {} running, {} starting · pods {}% · CPU req {}% · memory req {}%",
            s.ready,
            s.pods.running,
            s.pods.starting,
            GroupSummary::percent((s.pods.placed as i64, s.pod_capacity)),
            GroupSummary::percent(s.cpu),
            GroupSummary::percent(s.memory),
        ),
    )
}

/// `10.0.17763 ×2, 10.0.20348 ×1`.
fn build_counts(summary: &GroupSummary) -> String {
    summary
        .windows_builds
        .iter()
        .map(|(build, n)| format!("{build} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A node far out: shade for pressure (darker is emptier) in its lane's colour, red when
/// NotReady, grey when cordoned; a red corner mark when a pod on it fails; a white outline
/// when it matches the search (`hit`), faded when a search is on and it does not.
pub fn paint_cell(
    ui: &egui::Ui,
    painter: &egui::Painter,
    rect: Rect,
    tile: &NodeTile,
    facts: &Cell,
    measure: Pressure,
    hit: Option<bool>,
) {
    let visuals = ui.visuals();
    let cell = rect.shrink((rect.width() * 0.04).min(1.0));
    let fill = if !tile.ready {
        state_color(PodState::Failing)
    } else if tile.unschedulable {
        Color32::GRAY
    } else {
        let pressure = facts.pressure(measure);
        visuals
            .faint_bg_color
            .lerp_to_gamma(lane_color(&tile.os), 0.2 + 0.8 * pressure)
    };
    let fill = if hit == Some(false) {
        fill.gamma_multiply(0.25)
    } else {
        fill
    };
    painter.rect_filled(cell, CornerRadius::same(1), fill);
    if hit == Some(true) {
        painter.rect_stroke(
            cell,
            CornerRadius::same(1),
            Stroke::new(1.5, Color32::WHITE),
            StrokeKind::Outside,
        );
    }
    if facts.problem {
        // A problem gets a mark of a minimum size and its own hover area (named for screen
        // readers and tests); other cells are found under the pointer by one lookup.
        let side = (cell.width().min(cell.height()) * 0.45).max(MIN_MARK);
        let mark = Rect::from_min_size(cell.right_top() - Vec2::new(side, 0.0), Vec2::splat(side));
        painter.rect_filled(mark, CornerRadius::ZERO, state_color(PodState::Failing));
        painter.rect_stroke(
            mark,
            CornerRadius::ZERO,
            Stroke::new(1.0, Color32::WHITE),
            StrokeKind::Inside,
        );
        let response = ui.interact(
            cell.union(mark),
            ui.scope_id().with(("node", &tile.name)),
            Sense::hover(),
        );
        let name = tile.name.clone();
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, name.clone()));
        response.on_hover_ui(|ui| node_tooltip(ui, tile));
    }
}

/// What hovering a node cell says: the node, its state, pods and pressure, and its problems.
pub fn node_tooltip(ui: &mut egui::Ui, tile: &NodeTile) {
    ui.strong(&tile.name);
    ui.label(format!(
        "{} · node group {} · {}",
        tile.os.title(),
        tile.group,
        tile.instance_type.as_deref().unwrap_or("?")
    ));
    if let Some(build) = tile.windows_build {
        ui.label(format!(
            "{} · build {build}: runs images built on it{}",
            tile.os_image.as_deref().unwrap_or("Windows"),
            if build > WindowsBuild::LTSC2022 {
                " and on Windows Server 2022"
            } else {
                ""
            }
        ));
    }
    ui.label(format!(
        "pods {}/{} · CPU req {:.0}% · memory req {:.0}%",
        tile.pods_placed(),
        tile.pod_capacity,
        tile.pressure(Pressure::CpuRequests) * 100.0,
        tile.pressure(Pressure::MemoryRequests) * 100.0,
    ));
    if let Some(usage) = tile.usage {
        ui.label(format!(
            "in use (metrics): CPU {}m ({:.0}%) · memory {} MiB ({:.0}%)",
            usage.cpu_millis,
            tile.pressure(Pressure::CpuUsage) * 100.0,
            usage.memory_bytes >> 20,
            tile.pressure(Pressure::MemoryUsage) * 100.0,
        ));
    }
    let problems = tile.problems();
    if problems.is_empty() {
        ui.label("Ready, no failing pods");
    }
    const LISTED: usize = 8;
    for problem in problems.iter().take(LISTED) {
        ui.colored_label(state_color(PodState::Failing), problem);
    }
    if problems.len() > LISTED {
        ui.label(format!("… and {} more", problems.len() - LISTED));
    }
}
