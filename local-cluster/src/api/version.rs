//! The Kubernetes version this server presents (`/version`, and wherever a version is named).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::json_response;

/// The Kubernetes version this server presents (its API follows k8s-openapi's newest types).
pub const SERVER_MINOR: &str = "33";

/// `/version`, as kubectl version and clients ask it.
pub(super) async fn version() -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "major": "1",
            "minor": SERVER_MINOR,
            "gitVersion": format!("v1.{SERVER_MINOR}.0-local-hybrid"),
            "gitCommit": "local-hybrid",
            "gitTreeState": "clean",
            "buildDate": "2026-11-25T00:00:00Z",
            "goVersion": "n/a (rust)",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
        })
        .to_string(),
    )
}
