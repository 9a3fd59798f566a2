//! The benchmark's yardstick: the smallest axum handler returning the same JSON as `/sum/2/3`.
//!
//! `scripts/bench-calc-services.sh` runs it beside the real service so BENCHMARKS.md can say how
//! close the service comes to what this machine allows. Listens on 127.0.0.1:$PORT (default 18100).

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = Router::new().route(
        "/sum/{a}/{b}",
        get(|Path((a, b)): Path<(i64, i64)>| async move {
            Json(serde_json::json!({
                "first-number": a, "second-number": b, "operation": "sum", "total": a + b,
                "served-by": {"service": "sum", "pod": null, "node": null, "namespace": null, "os": "linux"}
            }))
        }),
    );
    let port = std::env::var("PORT").unwrap_or_else(|_| "18100".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
