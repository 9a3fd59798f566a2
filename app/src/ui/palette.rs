//! The few colours the windows give meaning to, the same everywhere: done or allowed, failed or
//! refused, waiting or worth a look.

use egui::Color32;

/// Done, allowed, healthy.
pub const OK: Color32 = Color32::from_rgb(46, 160, 67);
/// Failed, refused, breached.
pub const BAD: Color32 = Color32::from_rgb(218, 54, 51);
/// Waiting, paused, worth a look.
pub const WARN: Color32 = Color32::from_rgb(210, 153, 34);
