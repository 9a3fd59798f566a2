//! hybrid-console: a native desktop console for hybrid (Windows + Linux) Kubernetes clusters.
//!
//! The rooms, top to bottom (each imports only from the ones below it):
//!
//! - `ui`, `cli`: the faces — the window's panels, and the same views for scripts.
//! - `backend`: the runtime thread; receives the window's commands and hands them to features.
//! - features: `live` (the board's connection and watches), `migration` (the move),
//!   `eks` (AWS), `readiness` (the hybrid readiness check), `calculator` (the live app).
//! - `protocol`: what the window and the backend say to each other.
//! - `cluster`: reaching a cluster — connection, retries, liveness, the service proxy.
//! - `model`: pure data and pure decisions (no egui, no I/O, no tokio).

pub mod backend;
pub mod calculator;
pub mod cli;
pub mod cluster;
pub mod eks;
pub mod live;
pub mod migration;
pub mod model;
pub mod protocol;
pub mod readiness;
pub mod ui;
