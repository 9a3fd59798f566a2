//! The demo calculator that hybrid-console deploys, migrates and calls.
//!
//! One binary plays six roles (`sum`, `subtraction`, `multiplication`, `division`, `ui`,
//! `monolith`). Arithmetic is exact (96-bit decimals), errors are JSON a person can read, and the
//! frontends fan out to the operations concurrently, each either in-process or remote according
//! to the strangler-fig routing variables.

pub mod api;
pub mod backend;
pub mod config;
pub mod discovery;
pub mod error;
pub mod http;
pub mod metrics;
pub mod misbehave;
pub mod operation;
pub mod role;
pub mod routing;
pub mod served_by;
pub mod server;

pub use api::{
    CalculateAnswer, ErrorBody, ExactNumber, OperationAnswer, OperationOutcome, RouteReport,
    ServedBy,
};
pub use config::{ConfigError, ServiceConfig};
pub use operation::Operation;
pub use role::Role;

/// Reads the role's configuration from the environment and serves until SIGTERM or Ctrl-C.
pub async fn run_from_env(role: Role) -> anyhow::Result<()> {
    let config = ServiceConfig::from_env(role)?;
    server::serve(&config, server::termination_signal()).await?;
    Ok(())
}

/// Sets up `tracing` output for a calculator process: `RUST_LOG` filters, `info` by default.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}
