//! What every part of the board paints alike: the colours of pod states and lanes, a faded
//! colour for what a search does not find, and a pod square's hover, name and click.

use egui::Color32;

use crate::model::{ImageMismatch, NodeOs, PodPlacement, PodState};
use crate::ui::MoveRequest;

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

pub(super) fn lane_color(os: &NodeOs) -> Color32 {
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

pub(super) fn fade(color: Color32, faded: bool) -> Color32 {
    if faded {
        color.gamma_multiply(0.18)
    } else {
        color
    }
}

pub(super) fn pod_interaction(
    response: &egui::Response,
    pod: &PodPlacement,
    out: &mut BoardResponse,
) {
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
        if let Some(mismatch) = pod.image_mismatch {
            let words = match mismatch {
                ImageMismatch::Os => "The image has no build for this node's operating system.",
                ImageMismatch::WindowsBuild => {
                    "The image's Windows build does not suit this node's: rebuild it on the node's build, or pin the workload to nodes of the image's build."
                }
            };
            ui.colored_label(state_color(PodState::Failing), words);
        }
    });
}
