//! hybrid-console: a native desktop console for hybrid (Windows + Linux) Kubernetes clusters.
//!
//! `model` is pure data (no egui, no I/O); `backend` owns the network on its own runtime; `ui`
//! reads snapshots and sends commands; `cli` offers the same views to scripts.

pub mod backend;
pub mod cli;
pub mod model;
pub mod ui;
