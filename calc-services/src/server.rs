//! Serving a role until told to stop, finishing in-flight requests first.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::ServiceConfig;
use crate::http::{AppState, router};
use crate::routing::live::{self, LiveRoutes, Reload};

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {address}: {source}. Is another process using the port? Set PORT to a free one."
    )]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The routing file cannot be used.
    #[error(transparent)]
    RoutingFile(#[from] crate::routing::live::RoutingFileError),
    /// The server failed while running.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Binds `config.listen`, serves the role, and on `shutdown` stops accepting, fails readiness and
/// finishes every in-flight request before returning.
pub async fn serve(
    config: &ServiceConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let routes = Arc::new(LiveRoutes::load(
        config.routes.clone(),
        config.routing_file.clone(),
    )?);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: config.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(ServeError::Serve)?;
    let state = AppState::new(config, routes.clone());
    tracing::info!(
        role = %config.role,
        %address,
        routes = %serde_json::to_string(&routes.current().report()).unwrap_or_default(),
        pod = config.served_by.pod.as_deref().unwrap_or("-"),
        node = config.served_by.node.as_deref().unwrap_or("-"),
        "listening"
    );
    let watcher = routes
        .file()
        .is_some()
        .then(|| tokio::spawn(follow_routing_file(state.clone())));
    let app = router(state.clone());
    let graceful = async move {
        shutdown.await;
        state.mark_shutting_down();
        tracing::info!("shutting down: finishing in-flight requests");
    };
    // Answers are a few small HTTP/2 frames: without TCP_NODELAY, Nagle's algorithm holds the
    // last one back until the peer's delayed ACK (up to 40 ms) — the fan-out's p99 was exactly
    // that (BENCHMARKS.md).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(graceful)
        .await
        .map_err(ServeError::Serve)?;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Re-reads the routing file every [`live::POLL_PERIOD`] and puts each valid change in force; an
/// invalid one is logged once and the table in force stays.
async fn follow_routing_file(state: Arc<AppState>) {
    let mut ticks = tokio::time::interval(live::POLL_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match state.routes.reload().await {
            Reload::Unchanged => {}
            Reload::Applied(table) => {
                state.metrics.reloaded("applied");
                state.metrics.routes_in_force(&table);
                state.shadows.follow(&table);
                tracing::info!(
                    routes = %serde_json::to_string(&table.report()).unwrap_or_default(),
                    "routing file applied"
                );
            }
            Reload::Rejected(why) => {
                state.metrics.reloaded("rejected");
                tracing::error!(error = %why, "routing file rejected; the routes in force stay");
            }
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C (on Windows: Ctrl-C, Ctrl-Break or the container's shutdown event).
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the service");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_break, ctrl_shutdown};
        match (ctrl_break(), ctrl_shutdown()) {
            (Ok(mut brk), Ok(mut shut)) => {
                tokio::select! {
                    _ = brk.recv() => {}
                    _ = shut.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
