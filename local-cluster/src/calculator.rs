//! The calculator inside the local cluster: the hidden service mode that lets the cluster's own
//! executable run `calc-services <role>` (so one binary is all a user needs), and the talk's
//! starting point (the Windows monolith) deployed on demand.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::errors::ApiError;
use crate::registry::{Registry, WriteOptions};
use crate::resources;

/// The argument that turns this executable into a calculator container.
pub const SERVICE_MODE_ARG: &str = "__calc-service";

/// If this process was started as a calculator container (`<exe> __calc-service <role>`),
/// serves that role and exits; otherwise returns at once. Call it first thing in `main` of
/// every binary that embeds the cluster, before any async runtime is started (it starts its own).
pub fn serve_if_requested() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some(SERVICE_MODE_ARG) => {}
        // An nginx or httpd container: the same executable serves its document root.
        Some(crate::static_web::STATIC_WEB_ARG) => {
            let document_root = args
                .next()
                .unwrap_or_else(|| "/usr/share/nginx/html".into());
            std::process::exit(crate::static_web::serve(&document_root));
        }
        _ => return,
    }
    let role_name = args.next().unwrap_or_default();
    calc_services::init_logging();
    crate::stdin_watch::exit_when_stdin_closes();
    let code = match <calc_services::Role as clap::ValueEnum>::from_str(&role_name, false) {
        Err(_) => {
            eprintln!(
                "error: unknown calculator role {role_name:?}; expected sum, subtraction, multiplication, division, ui or monolith"
            );
            2
        }
        Ok(role) => match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                1
            }
            Ok(runtime) => match runtime.block_on(calc_services::run_from_env(role)) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    1
                }
            },
        },
    };
    std::process::exit(code);
}

/// The manifests of the starting point: namespace, the Windows monolith, the front Service.
const STARTING_POINT: &[&str] = &[
    include_str!("../../manifests/calculator/00-namespace.yaml"),
    include_str!("../../manifests/calculator/monolith.yaml"),
    include_str!("../../manifests/calculator/calculator-service.yaml"),
];

/// Every object of the starting point, parsed.
pub fn starting_point() -> Vec<Value> {
    STARTING_POINT
        .iter()
        .flat_map(|text| {
            serde_yaml::Deserializer::from_str(text).filter_map(|doc| Value::deserialize(doc).ok())
        })
        .filter(|v| v.is_object())
        .collect()
}

/// Creates the starting point (objects that exist are left alone) and waits until the monolith
/// Deployment is Available with every replica, or `timeout` passes.
pub async fn deploy(registry: &Registry, timeout: Duration) -> Result<(), ApiError> {
    for object in starting_point() {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind_name = object["kind"].as_str().unwrap_or_default();
        let kind = resources::find_kind(api_version, kind_name)
            .ok_or_else(|| ApiError::internal(format!("the calculator manifests use {api_version} {kind_name}, which this cluster does not serve")))?;
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match registry.create(kind, &namespace, object, &WriteOptions::default()) {
            Ok(_) => {}
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => return Err(e),
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(deployment) =
            registry
                .store
                .get(resources::deployments(), "calculator", "monolith")
        {
            let d = deployment.value();
            let wanted = d["spec"]["replicas"].as_i64().unwrap_or(1);
            let available = d["status"]["availableReplicas"].as_i64().unwrap_or(0);
            let current =
                d["status"]["observedGeneration"].as_i64() >= d["metadata"]["generation"].as_i64();
            if current && available >= wanted {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::unavailable(format!(
                "the calculator monolith did not become available within {} s; see `kubectl -n calculator get pods,events`",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
